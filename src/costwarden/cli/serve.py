"""`costwarden serve`: the admission webhook; `costwarden serve --demo`: see it answer.

Every setting is a flag (`--webhook-port`) and an environment variable
(`COSTWARDEN_WEBHOOK_PORT`); flags win. List settings repeat (`--policies a --policies b`;
`--catalogs` is an alias of `--catalog`). Switches take `--no-` to turn a default off.

`--demo` runs the webhook on loopback on embedded defaults — bundled policies and
catalog, the example namespaces' labels, a self-signed certificate made on the spot —
sends it an AdmissionReview for each bundled example manifest (first /mutate, then
/validate on the mutated object, as the API server does), prints what came back, and
exits. No cluster and no Prometheus needed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import socket
import ssl
import tempfile
import textwrap
import threading
import urllib.request
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonpatch
from pydantic import RootModel, ValidationError

from costwarden import DATA, tls
from costwarden import app as application
from costwarden import settings as serve_settings
from costwarden.cli import EXIT_OK, InputError, _manifests
from costwarden.documents import InvalidInput, problems_from_validation, read_files
from costwarden.engine import patching
from costwarden.engine.ports import BudgetSpend, SpendSnapshot
from costwarden.policies.suites import BudgetSpendData

DEMO_NAMESPACES = DATA / "demo" / "namespaces.yaml"
DEMO_SPEND = DATA / "demo" / "spend.yaml"
DEMO_MANIFESTS = DATA / "examples"
ALIASES = {"catalogs": ["--catalog"]}
"""Singular spellings the Helm chart renders (`--catalog PATH`)."""


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for field, info in serve_settings.Settings.model_fields.items():
        names = [*ALIASES.get(field, []), serve_settings.flag_name(field)]
        help_text = (
            f"{info.description or ''}{_default(info.default)} "
            f"[env {serve_settings.env_name(field)}]"
        )
        if serve_settings.is_list(field):
            paths = info.annotation == tuple[Path, ...]
            metavar = "PATH" if paths else field.removesuffix("s").upper()
            parser.add_argument(
                *names, dest=field, action="append", metavar=metavar, help=help_text
            )
        elif serve_settings.is_switch(field):
            parser.add_argument(
                *names,
                dest=field,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(*names, dest=field, help=help_text)
    _manifests.add_namespace_labels_alias(parser, dest="namespace_labels_file")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="serve on loopback with embedded defaults, send the bundled example reviews, "
        "print the answers and exit",
    )
    parser.set_defaults(run=run)


def _default(value: object) -> str:
    """` (default: …)` for a setting's help, from its model; nothing for one unset or empty
    by default (its description says what that means)."""
    if value is None or value == () or value == "":
        return ""
    if isinstance(value, bool):
        return f" (default: {'on' if value else 'off'})"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f" (default: {value})"


def run(args: argparse.Namespace) -> int:
    flags = {field: getattr(args, field) for field in serve_settings.Settings.model_fields}
    try:
        if args.demo:
            return demo(flags)
        settings = serve_settings.load(flags=flags, environ=os.environ)
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        application.serve(settings)
    except (
        serve_settings.SettingsError,
        InvalidInput,
        tls.CertificateError,
        application.StartupError,
    ) as exc:
        raise InputError(str(exc)) from None
    return EXIT_OK


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def demo(flags: Mapping[str, Any]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    workdir = Path(tempfile.mkdtemp(prefix="costwarden-demo-"))
    cert_file: Path | None
    key_file: Path | None
    try:
        cert_file, key_file = tls.write_self_signed(workdir, hosts=("127.0.0.1",))
    except ImportError:
        cert_file = key_file = None  # `cryptography` absent: plain HTTP, said below
    defaults: dict[str, Any] = {
        "host": "127.0.0.1",
        "webhook_port": _free_port(),
        "metrics_port": _free_port(),
        "namespace_labels_file": DEMO_NAMESPACES,
        "tls_cert_file": cert_file,
        "tls_key_file": key_file,
        "insecure_http": cert_file is None,
    }
    given = {field: value for field, value in flags.items() if value is not None}
    settings = serve_settings.load(flags={**defaults, **given}, environ={})
    # No Prometheus in the demo: budgets are checked against the embedded spend instead,
    # unless a Prometheus was given (then the demo asks it, as `serve` would).
    spend = None if settings.prometheus_url else DemoSpend(read_demo_spend(DEMO_SPEND))
    serving = application.Serving(application.create_app(settings, spend=spend))
    thread = threading.Thread(target=asyncio.run, args=(serving.run(),), daemon=True)
    thread.start()
    if not serving.wait_started(timeout=30):
        raise InputError("the demo server did not start")
    try:
        _demo_reviews(serving, settings, cert_file)
    finally:
        serving.stop()
        thread.join(timeout=30)
    return EXIT_OK


def _demo_reviews(
    serving: application.Serving, settings: serve_settings.Settings, cert_file: Path | None
) -> None:
    scheme = "http" if cert_file is None else "https"
    base = f"{scheme}://127.0.0.1:{serving.webhook_port}"
    context = ssl.create_default_context(cafile=cert_file) if cert_file else None
    print(
        f"costwarden webhook on {base}"
        + (
            " (self-signed certificate, TLS >= 1.2)"
            if cert_file
            else " (plain HTTP: install `cryptography` for HTTPS)"
        )
    )
    print(f"metrics, readiness on http://127.0.0.1:{serving.metrics_port}")
    ready = json.loads(_get(f"http://127.0.0.1:{serving.metrics_port}/readyz"))
    for name, status in ready["sources"].items():
        files = ", ".join(status["files"]) or "bundled"
        print(f"  {name}: {files}")
    if settings.prometheus_url:
        print(f"  spend: {settings.prometheus_url}")
    else:
        print(f"  spend: {DEMO_SPEND} (no Prometheus: served as if fetched just now)")
    tally = _Tally()
    for obj in demo_objects():
        metadata = obj.get("metadata", {})
        print(f"\n{obj['kind']} {metadata.get('namespace')}/{metadata.get('name')}")
        mutated = _review(base, "mutate", obj, context)
        operations = _patch_of(mutated)
        obj = jsonpatch.apply_patch(obj, operations)  # as the API server applies it
        for op in operations:
            value = op.get("value")
            values = value.items() if isinstance(value, dict) else [("", value)]
            for key, item in values:
                where = readable_path(op["path"]) + (_part(key) if key else "")
                print(f"  mutate:   {op['op']} {where} = {json.dumps(item, ensure_ascii=False)}")
        if not operations:
            print("  mutate:   no patch")
        answer = _review(base, "validate", obj, context)
        if answer["allowed"]:
            print("  validate: ALLOWED")
        else:
            print(f"  validate: DENIED ({answer['status']['code']})")
            print(textwrap.indent(answer["status"]["message"], "    "))
        for warning in answer.get("warnings", []):
            print(f"  Warning: {warning}")
        tally.add(answer, patched=bool(operations))
    metrics_text = _get(f"http://127.0.0.1:{serving.metrics_port}/metrics")
    answered = [
        line
        for line in metrics_text.splitlines()
        if line.startswith("costwarden_admission_requests_total{")
    ]
    print(f"\n/metrics: {len(answered)} request series, e.g. {answered[0] if answered else '-'}")
    print(f"\n{tally}")


class DemoSpend:
    """Embedded spend, always fresh: the demo's stand-in for the Prometheus refresher. Like
    the refresher, it hands out one snapshot until the next "refresh" (every `refresh`),
    not a new one per review: the budget rule keeps its figures per snapshot."""

    def __init__(
        self,
        budgets: Mapping[str, Mapping[str, BudgetSpend]],
        *,
        refresh: timedelta = timedelta(seconds=30),
    ) -> None:
        self._budgets = budgets
        self._refresh = refresh
        self._current = SpendSnapshot(fetched_at=datetime.now(UTC), budgets=budgets)

    def snapshot(self) -> SpendSnapshot:
        current = self._current
        now = datetime.now(UTC)
        if current.fetched_at is None or now - current.fetched_at >= self._refresh:
            current = self._current = SpendSnapshot(fetched_at=now, budgets=self._budgets)
        return current


def read_demo_spend(path: Path) -> dict[str, dict[str, BudgetSpend]]:
    """Budget rule -> group -> spend, from a YAML file of `{spent, runRateHourly}` figures
    (money as strings, as in policy test suites). Raises `InvalidInput` naming file and
    path for anything else."""
    (document,) = read_files([path])
    try:
        parsed = _DemoSpendFile.model_validate(document.data)
    except ValidationError as exc:
        raise InvalidInput(problems_from_validation(exc, document)) from None
    return {
        rule: {
            group: BudgetSpend(spent=data.spent, run_rate_hourly=data.run_rate_hourly)
            for group, data in groups.items()
        }
        for rule, groups in parsed.root.items()
    }


class _DemoSpendFile(RootModel[dict[str, dict[str, BudgetSpendData]]]):
    pass


def demo_objects() -> list[dict[str, Any]]:
    """The bundled example manifests, `List`s unpacked as kubectl does."""
    objects: list[dict[str, Any]] = []
    for document in read_files([DEMO_MANIFESTS]):
        data = document.data
        items = data.get("items") if data.get("kind") == "List" else [data]
        objects.extend(item for item in items or [] if isinstance(item, dict))
    return objects


def _review(
    base: str, webhook: str, obj: Mapping[str, Any], context: ssl.SSLContext | None
) -> dict[str, Any]:
    metadata = obj.get("metadata", {})
    group, _, version = obj["apiVersion"].rpartition("/")
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": group, "version": version, "kind": obj["kind"]},
            "resource": {"group": group, "version": version, "resource": obj["kind"].lower() + "s"},
            "name": metadata.get("name"),
            "namespace": metadata.get("namespace"),
            "operation": "CREATE",
            "userInfo": {"username": "demo"},
            "object": obj,
            "dryRun": False,
        },
    }
    request = urllib.request.Request(
        f"{base}/{webhook}",
        data=json.dumps(review).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())["response"]
    return answer


class _Tally:
    """What the demo's answers came to, in one sentence."""

    def __init__(self) -> None:
        self.objects = self.denied = self.warned = self.patched = 0

    def add(self, answer: Mapping[str, Any], *, patched: bool) -> None:
        self.objects += 1
        self.patched += patched
        if not answer["allowed"]:
            self.denied += 1
        elif any(warning.startswith("[") for warning in answer.get("warnings", [])):
            self.warned += 1  # a rule warned (not only the estimate line)

    def __str__(self) -> str:
        allowed = self.objects - self.denied - self.warned
        return (
            f"{self.objects} objects: {self.denied} denied, {self.warned} allowed with a "
            f"warning, {allowed} allowed; /mutate patched {self.patched} of them (cost "
            "annotations, labels from their namespace). The same engine answers `costwarden "
            "check -f` in CI and `costwarden audit` of what already runs."
        )


def readable_path(pointer: str) -> str:
    """An RFC 6901 pointer as a reader writes the path: `metadata.annotations` then
    `[costwarden.io/hourly-cost]` for a key holding a dot or slash, `[0]` for an index."""
    text = ""
    for token in pointer.split("/")[1:]:
        text += _part(patching.unescape(token))
    return text.lstrip(".")


def _part(key: str) -> str:
    if key.isdigit() or any(c in key for c in "./[]~ "):
        return f"[{key}]"
    return f".{key}"


def _patch_of(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSONPatch operations of a /mutate answer, as the API server reads them."""
    if "patch" not in answer:
        return []
    operations: list[dict[str, Any]] = json.loads(base64.b64decode(answer["patch"]))
    return operations


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        text: str = response.read().decode()
        return text
