"""A waiver is never silent (#20): when an exception waives a rule, /validate's answer
warns naming the rule, the exception and when it ends, and `costwarden_waivers_total`
counts the admission — once, on /validate, never for a dry run.

Through the real app (engine, policies from a file, a fixed clock) over httpx.ASGITransport;
the pod is the captured `notebook-alice` review in the dev namespace, given the labels and
annotations each test needs.
"""

from __future__ import annotations

import copy
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


def ticketed(
    *, expires: str = "2026-12-15", reason: str | None = "demo week, approved by finance"
) -> dict[str, Any]:
    """The notebook with a `cost-exception` label exception."""
    annotations = {"costwarden.io/exception-expires": expires}
    if reason is not None:
        annotations["costwarden.io/exception-reason"] = reason
    return notebook(labels={"cost-exception": "FIN-1234"}, annotations=annotations)


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
    return [line for line in response.get("warnings", []) if "waived by" in line]


async def test_a_pod_waived_by_a_label_exception_is_warned_naming_rule_exception_and_expiry(
    tmp_path: Path,
) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT)
    response = await answer(app, ticketed())
    assert response["allowed"] is True
    assert waiver_lines(response) == [
        "[dev-on-spot] waived by label cost-exception=FIN-1234 until 2026-12-16 00:00 UTC: "
        "demo week, approved by finance"
    ]


async def test_an_expiry_given_as_a_time_in_another_zone_is_warned_in_utc(tmp_path: Path) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT)
    response = await answer(app, ticketed(expires="2026-12-15T18:00:00+02:00"))
    (line,) = waiver_lines(response)
    assert "until 2026-12-15 16:00 UTC:" in line


async def test_a_label_exception_without_a_reason_is_warned_with_its_ticket(
    tmp_path: Path,
) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT)
    response = await answer(app, ticketed(reason=None))
    assert waiver_lines(response) == [
        "[dev-on-spot] waived by label cost-exception=FIN-1234 until 2026-12-16 00:00 UTC: "
        "ticket FIN-1234"
    ]


async def test_each_admission_on_validate_counts_the_waiver_once_and_mutate_counts_nothing(
    tmp_path: Path,
) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT)
    await answer(app, ticketed(), "/mutate")
    assert waivers(app, "dev-on-spot") == 0
    await answer(app, ticketed())
    assert waivers(app, "dev-on-spot") == 1
    await answer(app, ticketed(), "/mutate")
    await answer(app, ticketed())
    assert waivers(app, "dev-on-spot") == 2


async def test_the_waiver_count_is_exposed_on_metrics_with_its_rule(tmp_path: Path) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT)
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
    app = webhook(tmp_path, DEV_ON_SPOT)
    dry_response = await answer(app, dry(ticketed()))
    assert waivers(app, "dev-on-spot") == 0
    real_response = await answer(app, ticketed())
    assert waiver_lines(dry_response) == waiver_lines(real_response) != []
    assert waivers(app, "dev-on-spot") == 1


async def test_a_waiver_on_a_request_another_rule_denies_is_warned_but_not_counted(
    tmp_path: Path,
) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT + GPU_LIMIT)
    response = await answer(app, ticketed())
    assert response["allowed"] is False
    assert "[no-gpus-in-dev]" in response["status"]["message"]
    (line,) = waiver_lines(response)
    assert line.startswith("[dev-on-spot] waived by label cost-exception=FIN-1234 until ")
    assert waivers(app, "dev-on-spot") == 0


async def test_a_pod_waived_by_a_policy_exception_is_warned_and_counted(tmp_path: Path) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT + policy_exception(expires="2026-12-31"))
    response = await answer(app, notebook())
    assert response["allowed"] is True
    assert waiver_lines(response) == [
        "[dev-on-spot] waived by PolicyException fin-77-notebooks until 2027-01-01 00:00 UTC: "
        "FIN-77 demo week"
    ]
    assert waivers(app, "dev-on-spot") == 1
    await answer(app, dry(notebook()))
    assert waivers(app, "dev-on-spot") == 1


async def test_an_expired_label_exception_waives_nothing_and_warns_nothing(
    tmp_path: Path,
) -> None:
    app = webhook(tmp_path, DEV_ON_SPOT)
    response = await answer(app, ticketed(expires="2026-11-01"))
    assert response["allowed"] is False
    assert "ignored: expired 2026-11-02 00:00 UTC" in response["status"]["message"]
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


async def test_a_long_reason_over_several_lines_is_cut_to_one_warning_line(
    tmp_path: Path,
) -> None:
    reason = "approved by finance\nfor the demo week;\t" + "see the ticket for details " * 8
    app = webhook(tmp_path, DEV_ON_SPOT)
    response = await answer(app, ticketed(reason=reason))
    (line,) = waiver_lines(response)
    assert len(line) <= 120
    assert line.endswith("week…")
    assert line.startswith(
        "[dev-on-spot] waived by label cost-exception=FIN-1234 until 2026-12-16 00:00 UTC: "
        "approved by finance for the demo week"
    )
    assert not any(line.startswith("  ") for line in response["warnings"])


def test_a_waiver_whose_names_alone_fill_the_line_is_still_one_line_of_120_characters() -> None:
    exempted = Exempted(
        policy="p",
        rule="dev-on-spot",
        exception="PolicyException " + "fin-77-notebooks-" * 8,
        reason="FIN-77",
        expires=datetime(2027, 1, 1, tzinfo=UTC),
    )
    line = responding.waiver_warning(exempted)
    assert len(line) == 120
    assert line.startswith("[dev-on-spot] waived by PolicyException fin-77-notebooks-")
