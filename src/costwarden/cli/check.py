"""`costwarden check -f FILE|DIR|-`: judge manifests as admission would, before a cluster does.

Each object is evaluated as a CREATE by the same engine the webhook runs, with the namespace
labels given (`--namespace-labels-file`, plus any Namespace objects among the manifests). Prints
violations, warnings, exceptions and the cost table (`-o json` for machines). Exit 0 when
everything is allowed, 1 when anything is denied, 2 for unreadable or invalid input.
Budgets need spend data, which `check` does not have: budget rules are reported as not
checked.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from costwarden import documents, namespaces, reviews, workloads
from costwarden.catalog.loading import load_catalog
from costwarden.catalog.models import Catalog
from costwarden.cli import EXIT_DENIED, EXIT_OK, InputError, _manifests, _tables
from costwarden.engine import evaluating, wording
from costwarden.engine.contexts import Context, StaticNamespaces
from costwarden.engine.verdicts import Verdict
from costwarden.estimating import claims
from costwarden.policies import approving, loading, models, sets


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    _manifests.add_arguments(parser, what="check")
    _manifests.add_policies_argument(parser)
    parser.add_argument(
        _manifests.NAMESPACE_LABELS_FLAG,
        dest="namespace_labels_file",
        type=Path,
        metavar="FILE",
        help="the namespaces' labels in the cluster: a map {namespace: {label: value}}, or "
        "Namespace objects as `kubectl get namespaces -o yaml` prints them",
    )
    _manifests.add_namespace_labels_alias(parser, dest="namespace_labels_file")
    parser.add_argument(
        "--now",
        type=_timestamp,
        help="evaluate as of this time (RFC 3339; default: now) — exception expiries use it",
    )
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table")
    parser.set_defaults(run=run)


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a timezone (e.g. Z)")
    return moment


@dataclass(frozen=True, slots=True)
class Checked:
    source: str
    obj: Mapping[str, Any]
    verdict: Verdict


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except documents.InvalidInput as exc:
        raise InputError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    policies = loading.load_policies(args.policies) if args.policies else None
    policy_set = policies if policies is not None else loading.bundled_policies()
    catalog = load_catalog(args.catalog)
    manifests, problems = _manifests.read(args.files)
    labels_file = args.namespace_labels_file
    known = dict(namespaces.load([labels_file])) if labels_file else {}
    for manifest in manifests:
        if manifest.obj["kind"] == "Namespace":  # the file, if any, says how the cluster is
            try:
                name, labels = namespaces.of_namespace(
                    manifest.obj, document=manifest.document, path=manifest.path
                )
            except documents.InvalidInput as exc:
                problems.extend(exc.problems)
                continue
            known.setdefault(name, labels)
    exceptions = _exceptions(manifests, problems)
    if exceptions:  # as the cluster would hold them (a `kubectl get pex -A -o yaml` dump reads)
        policy_set = policy_set.with_exceptions(exceptions)
    context = Context(
        namespaces=StaticNamespaces(known),
        now=args.now or datetime.now(UTC),
        budget_stale_default="allow",
    )
        dra=_manifests.dra_objects(manifests, problems),  # what the pods' claims name
    checked = check_manifests(
        manifests, policies=policy_set, catalog=catalog, context=context, problems=problems
    )
    if args.output == "json":
        json.dump(as_json(checked), sys.stdout, indent=2)
        print()
    else:
        print_table(checked)
    return EXIT_DENIED if any(not c.verdict.allowed for c in checked) else EXIT_OK


def _exceptions(
    manifests: Sequence[_manifests.Manifest], problems: list[documents.Problem]
) -> list[models.PolicyException]:
    """The PolicyExceptions among the manifests, as the cluster holds them: only approved
    ones (a pull request adding an unapproved exception must not pass the gate with it);
    a malformed or unapproved one is a problem."""
    found = []
    for manifest in manifests:
        if manifest.obj["kind"] != "PolicyException":
            continue
        try:
            exception = approving.read(manifest.obj)
        except ValidationError as exc:
            problems.extend(
                documents.problems_from_validation(exc, manifest.document, base=manifest.path)
            )
            continue
        if not exception.metadata.annotations.get(models.APPROVED_BY):
            problems.append(
                manifest.problem(
                    f"not approved: no {models.APPROVED_BY} annotation (the cluster leaves it "
                    "out; approved ones come from the cluster, e.g. kubectl get pex -A -o yaml)",
                    ("metadata", "annotations"),
                )
            )
            continue
        found.append(exception)
    return found


_NOT_WORKLOADS = frozenset({"Namespace", "PolicyException", *claims.KINDS})
"""Kinds among the manifests that describe the world `check` judges in, not what it judges."""


def check_manifests(
    manifests: Sequence[_manifests.Manifest],
    *,
    policies: sets.PolicySet,
    catalog: Catalog,
    context: Context,
    problems: Sequence[documents.Problem] = (),
) -> list[Checked]:
    """The verdict on every object that runs pods; raises InputError listing every
    malformed one (with the `problems` found while reading)."""
    checked = []
    problems = list(problems)
    for index, manifest in enumerate(manifests):
        if manifest.obj["kind"] in _NOT_WORKLOADS:
            continue
        request = reviews.request_for(manifest.obj, uid=f"check-{index}")
        try:
            verdict = evaluating.evaluate(
                request, policies=policies, catalog=catalog, context=context
            )
        except workloads.InvalidObject as exc:
            problems.append(manifest.problem(exc.message, exc.path))
            continue
        if verdict.estimate is not None:
            source = manifest.document.source
            checked.append(Checked(source=source, obj=manifest.obj, verdict=verdict))
    if problems:
        raise InputError("\n".join(str(p) for p in problems))
    return checked


def _name(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    name = metadata.get("name") or metadata.get("generateName") or "?"
    return f"{obj.get('kind')} {metadata.get('namespace') or 'default'}/{name}"


def print_table(checked: Sequence[Checked]) -> None:
    table = _tables.Table(("OBJECT", "PODS", "GPUS", "$/H", "$/MONTH", "VERDICT"))
    total_hourly = total_monthly = Decimal(0)
    currency = "USD"
    for item in checked:
        estimate = item.verdict.estimate
        assert estimate is not None
        currency = estimate.pod.currency
        total_hourly += estimate.hourly.total
        monthly = estimate.monthly  # None: a Job's, or a CronJob's with no run length
        total_monthly += monthly or 0
        verdict = "denied" if not item.verdict.allowed else "allowed"
        if item.verdict.allowed and item.verdict.warnings:
            verdict = "warned"
        table.add(
            _name(item.obj),
            wording.number(estimate.pods),
            wording.number(estimate.accelerator_devices),
            wording.money(estimate.hourly.total, currency),
            "-" if monthly is None else wording.money(monthly, currency),
            verdict,
        )
    table.add(
        "TOTAL",
        "",
        "",
        wording.money(total_hourly, currency),
        wording.money(total_monthly, currency),
        "",
    )
    print("\n".join(table.lines()))
    for item in checked:
        lines = [f"  DENY  {v.message}" for v in item.verdict.denials]
        lines += [f"  WARN  {v.message}" for v in item.verdict.warnings]
        lines += [f"  DRYRUN {v.message}" for v in item.verdict.violations if v.action == "dryrun"]
        lines += [
            f"  EXEMPT [{e.rule}] {e.exception} until {wording.day(e.expires)}: {e.reason}"
            for e in item.verdict.exempted
        ]
        lines += [f"  NOTE  {notice}" for notice in item.verdict.notices[1:]]
        if lines:
            print(f"\n{_name(item.obj)} ({item.source})")
            print("\n".join(lines))


def as_json(checked: Sequence[Checked]) -> dict[str, Any]:
    objects = []
    for item in checked:
        verdict = item.verdict
        estimate = verdict.estimate
        assert estimate is not None
        objects.append(
            {
                "object": _name(item.obj),
                "source": item.source,
                "allowed": verdict.allowed,
                "violations": [
                    {
                        "policy": v.policy,
                        "rule": v.rule,
                        "action": v.action,
                        "message": v.message,
                        "numbers": v.numbers,
                    }
                    for v in verdict.violations
                ],
                "exempted": [
                    {
                        "policy": e.policy,
                        "rule": e.rule,
                        "exception": e.exception,
                        "reason": e.reason,
                        "expires": e.expires.astimezone(UTC).isoformat(),
                    }
                    for e in verdict.exempted
                ],
                "patches": [
                    {"op": p.op, "path": p.path, "value": p.value} for p in verdict.patches
                ],
                "notices": list(verdict.notices),
                "estimate": {
                    "currency": estimate.pod.currency,
                    "pods": str(estimate.pods),
                    "gpus": str(estimate.accelerator_devices),
                    "hourly": str(estimate.hourly.total),
                    "monthly": None if estimate.monthly is None else str(estimate.monthly),
                    "podHourly": str(estimate.pod.hourly.total),
                },
            }
        )
    return {
        "allowed": all(item.verdict.allowed for item in checked),
        "objects": objects,
    }
