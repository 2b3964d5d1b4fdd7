"""A waiver is never silent (#20): when an exception waives a rule, /validate's answer
warns naming the rule, when it ends and the exception, and `costwarden_waivers_total`
counts the admission — once, on /validate, never for a dry run.

Through the real app (engine, policies from a file, a fixed clock) over httpx.ASGITransport;
the pod is the captured `notebook-alice` review in the dev namespace, given the labels each
test needs; its `cost-exception: FIN-1234` label asks for an approved PolicyException.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from webhook_support import NAMESPACES, fixture_paths, load_fixture, local_settings

from costwarden import app as application
from costwarden.api import responding
from costwarden.engine.verdicts import Exempted

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NOTEBOOK = next(p for p in fixture_paths() if p.name.startswith("011-validate"))
"""Pod ml-dev/notebook-alice, 1 GPU, no capacity type: `dev-on-spot` denies it."""
WAIVERS = "costwarden_waivers_total"
DEV_ON_SPOT = """\
apiVersion: costwarden.io/v1alpha1
kind: CostPolicy
metadata: {name: spot-for-dev}
spec:
  rules:
  - name: dev-on-spot
    action: deny
    match:
      namespaceSelector: {matchLabels: {env: dev}}
    exceptions:
      label: {key: cost-exception, valuePattern: "^[A-Z]+-[0-9]+$", maxDuration: 30d}
    spot: {mode: require, cloud: karpenter}
"""
GPU_LIMIT = """\
---
apiVersion: costwarden.io/v1alpha1
kind: CostPolicy
metadata: {name: gpus}
spec:
  rules:
  - name: no-gpus-in-dev
    action: deny
    match:
      namespaceSelector: {matchLabels: {env: dev}}
    gpuLimits: {maxPerPod: 0}
"""


def policy_exception(*, expires: str, reason: str = "FIN-77 demo week") -> str:
    return f"""\
---
apiVersion: costwarden.io/v1alpha1
kind: PolicyException
metadata: {{name: fin-77-notebooks}}
spec:
  rules: [dev-on-spot]
  match: {{namespaces: [ml-dev]}}
  names: ["notebook-*"]
  expires: "{expires}"
  reason: {reason}
"""


class FixedClock:
    def now(self) -> datetime:
        return NOW


def webhook(tmp_path: Path, policies: str) -> application.App:
    path = tmp_path / "policies.yaml"
    path.write_text(policies)
    return application.create_app(
        local_settings(policies=(path,)),
        namespaces=application.StaticNamespaceLabels(NAMESPACES),
        clock=FixedClock(),
    )


def notebook(
    *, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    review = copy.deepcopy(load_fixture(NOTEBOOK))
    metadata = review["request"]["object"]["metadata"]
    metadata["labels"].update(labels or {})
    metadata.setdefault("annotations", {}).update(annotations or {})
    return review


def approval(*, expires: str = "2026-12-15", reason: str = "demo week, approved by finance") -> str:
    """An approved PolicyException in ml-dev for dev-on-spot, asked for by ticket FIN-1234."""
    return f"""\
---
apiVersion: costwarden.io/v1alpha1
kind: PolicyException
metadata:
  name: fin-1234
  namespace: ml-dev
  annotations: {{costwarden.io/approved-by: fiona}}
spec:
  rules: [dev-on-spot]
  tickets: [FIN-1234]
  expires: "{expires}"
  reason: {json.dumps(reason)}
"""


def ticketed() -> dict[str, Any]:
    """The notebook asking for exception FIN-1234 with its label."""
    return notebook(labels={"cost-exception": "FIN-1234"})


LABELLED = "label cost-exception=FIN-1234, PolicyException ml-dev/fin-1234 approved by fiona"


def dry(review: dict[str, Any]) -> dict[str, Any]:
    dry_run = copy.deepcopy(review)
    dry_run["request"]["dryRun"] = True
    return dry_run


async def answer(app: application.App, review: dict[str, Any], path: str = "/validate") -> Any:
    transport = httpx.ASGITransport(app=app.admission)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.post(path, json=review)
    assert response.status_code == 200
    return response.json()["response"]


def waivers(app: application.App, rule: str) -> float:
    return app.registry.get_sample_value(WAIVERS, {"rule": rule}) or 0.0


def waiver_lines(response: dict[str, Any]) -> list[str]:
    """Each waiver warning, its continuation lines joined back (as kubectl shows them, one
    `Warning:` per line)."""
    joined: list[str] = []
    for line in response.get("warnings", []):
        if joined and line.startswith("  ") and "] waived until " in joined[-1]:
            joined[-1] += " " + line.strip()
        elif "] waived until " in line:
            joined.append(line)
    return joined


async def test_a_pod_waived_by_a_label_exception_is_warned_naming_rule_exception_and_expiry(
    tmp_path: Path,
) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT + approval())
    response = await answer(app, ticketed())
    assert response["allowed"] is True
    assert waiver_lines(response) == [
        f"[dev-on-spot] waived until 2026-12-16 00:00 UTC by {LABELLED}: "
        "demo week, approved by finance"
    ]


async def test_an_expiry_given_as_a_time_in_another_zone_is_warned_in_utc(tmp_path: Path) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT + approval(expires="2026-12-15T18:00:00+02:00"))
    response = await answer(app, ticketed())
    (line,) = waiver_lines(response)
    assert "waived until 2026-12-15 16:00 UTC by" in line


async def test_each_admission_on_validate_counts_the_waiver_once_and_mutate_counts_nothing(
    tmp_path: Path,
) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT + approval())
    await answer(app, ticketed(), "/mutate")
    assert waivers(app, "dev-on-spot") == 0
    await answer(app, ticketed())
    assert waivers(app, "dev-on-spot") == 1
    await answer(app, ticketed(), "/mutate")
    await answer(app, ticketed())
    assert waivers(app, "dev-on-spot") == 2


async def test_the_waiver_count_is_exposed_on_metrics_with_its_rule(tmp_path: Path) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT + approval())
    await answer(app, ticketed())
    transport = httpx.ASGITransport(app=app.operations)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        text = (await http.get("/metrics")).text
    (family,) = (f for f in text_string_to_metric_families(text) if f.name == "costwarden_waivers")
    assert family.type == "counter"
    assert [(s.labels, s.value) for s in family.samples if s.name == WAIVERS] == [
        ({"rule": "dev-on-spot"}, 1.0)
    ]


async def test_a_dry_run_is_warned_alike_but_not_counted(tmp_path: Path) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT + approval())
    dry_response = await answer(app, dry(ticketed()))
    assert waivers(app, "dev-on-spot") == 0
    real_response = await answer(app, ticketed())
    assert waiver_lines(dry_response) == waiver_lines(real_response) != []
    assert waivers(app, "dev-on-spot") == 1


async def test_a_waiver_on_a_request_another_rule_denies_is_warned_but_not_counted(
    tmp_path: Path,
) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT + GPU_LIMIT + approval())
    response = await answer(app, ticketed())
    assert response["allowed"] is False
    assert "[no-gpus-in-dev]" in response["status"]["message"]
    (line,) = waiver_lines(response)
    assert line.startswith("[dev-on-spot] waived until 2026-12-16 00:00 UTC by label ")
    assert waivers(app, "dev-on-spot") == 0


async def test_a_pod_waived_by_a_policy_exception_is_warned_and_counted(tmp_path: Path) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT + policy_exception(expires="2026-12-31"))
    response = await answer(app, notebook())
    assert response["allowed"] is True
    assert waiver_lines(response) == [
        "[dev-on-spot] waived until 2027-01-01 00:00 UTC by PolicyException fin-77-notebooks: "
        "FIN-77 demo week"
    ]
    assert waivers(app, "dev-on-spot") == 1
    await answer(app, dry(notebook()))
    assert waivers(app, "dev-on-spot") == 1


async def test_an_expired_label_exception_waives_nothing_and_warns_nothing(
    tmp_path: Path,
) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT + approval(expires="2026-11-01"))
    response = await answer(app, ticketed())
    assert response["allowed"] is False
    assert (
        "ignored: PolicyException ml-dev/fin-1234 expired 2026-11-02 00:00 UTC"
        in (response["status"]["message"])
    )
    assert waiver_lines(response) == []
    assert waivers(app, "dev-on-spot") == 0


async def test_an_expired_policy_exception_waives_nothing_and_warns_nothing(
    tmp_path: Path,
) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT + policy_exception(expires="2026-11-22T11:59:59Z"))
    response = await answer(app, notebook())
    assert response["allowed"] is False
    assert waiver_lines(response) == []
    assert waivers(app, "dev-on-spot") == 0


async def test_a_long_reason_over_several_lines_is_cut_and_kept_on_whole_lines(
    tmp_path: Path,
) -> None:
    reason = "approved by finance\nfor the demo week;\t" + "see the ticket for details " * 8
    app = webhook(tmp_path, DEV_ON_SPOT + approval(reason=reason))
    response = await answer(app, ticketed())
    assert all(len(line) <= 120 for line in response["warnings"])
    (line,) = waiver_lines(response)
    assert line.endswith("…")
    assert "by " + LABELLED in line
    assert ": approved by finance for the demo week; see the ticket" in line


def test_the_expiry_of_a_waiver_comes_before_names_that_may_be_long() -> None:
    exempted = Exempted(
        policy="p",
        rule="dev-on-spot",
        exception="PolicyException " + "fin-77-notebooks-" * 8,
        reason="FIN-77",
        expires=datetime(2027, 1, 1, tzinfo=UTC),
    )
    (first, *rest) = responding.warnings_of([responding.waiver_warning(exempted)])
    assert first.startswith("[dev-on-spot] waived until 2027-01-01 00:00 UTC by PolicyException")
    assert all(len(line) <= 120 for line in (first, *rest))
