"""Budget decisions end to end: the engine with the bundled catalog, deciding on a real
AdmissionReview against a spend snapshot fetched from the real Prometheus.

At 2026-03-03 12:00 UTC the seeded history gives cost centre Sales-5045 $297.0125 spent
this month and a 5.25 $/h run-rate, with 684 h of March left (prometheus_harness.py).
The pod (ml-train/train-a100, 4 × A100 on a p4d.24xlarge) is priced by the estimator;
each cap below is set relative to the projection so one test admits, one warns, one denies.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_harness import PrometheusServer, SettableClock
from tests.conftest import ADMISSION_FIXTURES

from costwarden import reviews
from costwarden.api import wire
from costwarden.catalog.loading import bundled_catalog
from costwarden.engine.contexts import Context, StaticNamespaces
from costwarden.engine.evaluating import evaluate
from costwarden.engine.ports import SpendSnapshot
from costwarden.engine.verdicts import Verdict
from costwarden.policies.loading import load_policies
from costwarden.reservations.ledger import ReservationLedger
from costwarden.spend import queries
from costwarden.spend.prometheus import PrometheusClient
from costwarden.spend.snapshots import SpendRefresher

pytestmark = pytest.mark.prometheus

T = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
SPENT = Decimal("297.0125")
RUN_RATE = Decimal("5.25")
HOURS_LEFT = Decimal(684)
RULE = "cc-budget"
NAMESPACES = StaticNamespaces(
    {
        "ml-train": {"cost-centre": "Sales-5045", "team": "nlp", "env": "prod"},
        "ml-dev": {"cost-centre": "RnD-1001", "team": "vision", "env": "dev"},
        "ml-infer": {"cost-centre": "Retail-2045", "team": "search", "env": "prod"},
    }
)


def request(
    name: str = "009-validate-pod-create-ml-train-train-a100.json",
) -> reviews.AdmissionRequest:
    return wire.read_review(json.loads((ADMISSION_FIXTURES / name).read_text()))


def budget_policy(tmp_path: Path, cap: Decimal, *, stale: str = "deny") -> Path:
    path = tmp_path / f"budget-{cap}.yaml"
    path.write_text(
        f"""apiVersion: costwarden.io/v1alpha1
kind: CostPolicy
metadata:
  name: budgets
spec:
  rules:
  - name: {RULE}
    action: deny
    budget:
      groupBy: label
      label: cost-centre
      period: month
      timezone: UTC
      warnAt: "0.8"
      onStaleData: {stale}
      caps:
        Sales-5045: "{cap}"
"""
    )
    return path


async def fetch(url: str, clock: SettableClock) -> tuple[SpendRefresher, PrometheusClient]:
    client = PrometheusClient(url, attempts=1, timeout_seconds=5)
    refresher = SpendRefresher(
        client=client,
        budgets=[queries.BudgetQuery(name=RULE, group_by="cost_centre")],
        clock=clock,
    )
    await refresher.refresh()
    return refresher, client


def decide(
    tmp_path: Path,
    cap: Decimal,
    snapshot: SpendSnapshot,
    *,
    now: datetime = T,
    ledger: ReservationLedger | None = None,
    stale: str = "deny",
    review: str = "009-validate-pod-create-ml-train-train-a100.json",
) -> Verdict:
    asked = request(review)
    verdict = evaluate(
        asked,
        policies=load_policies([budget_policy(tmp_path, cap, stale=stale)]),
        catalog=bundled_catalog(),
        context=Context(namespaces=NAMESPACES, now=now, spend=snapshot, reservations=ledger),
    )
    if ledger is None or not verdict.holds or asked.dry_run:
        return verdict
    # As the app does: what an allowed request reserves is committed, never for a dry run.
    refused = ledger.commit([hold.reservation for hold in verdict.holds])
    return verdict.refused(refused) if refused else verdict


@pytest.fixture
async def snapshot(prometheus: PrometheusServer) -> SpendSnapshot:
    refresher, client = await fetch(prometheus.url, SettableClock(T))
    await client.aclose()
    current = refresher.snapshot()
    assert current.error is None
    return current


def projection(verdict: Verdict) -> Decimal:
    """spent + run-rate × hours left + this pod's $/h × the rest of the period."""
    assert verdict.estimate is not None
    return SPENT + RUN_RATE * HOURS_LEFT + verdict.estimate.hourly.total * HOURS_LEFT


def budget_violations(verdict: Verdict) -> list[str]:
    return [v.message for v in verdict.violations if v.rule == RULE]


async def test_under_budget_admits_without_a_budget_warning(
    tmp_path: Path, snapshot: SpendSnapshot
) -> None:
    probe = decide(tmp_path, Decimal(10**9), snapshot)
    cap = (projection(probe) / Decimal("0.8")).quantize(Decimal(1)) + 1
    verdict = decide(tmp_path, cap, snapshot)
    assert verdict.allowed
    assert budget_violations(verdict) == []


async def test_above_the_warn_threshold_admits_with_a_warning_showing_the_terms(
    tmp_path: Path, snapshot: SpendSnapshot
) -> None:
    probe = decide(tmp_path, Decimal(10**9), snapshot)
    cap = projection(probe).quantize(Decimal(1)) + 1
    verdict = decide(tmp_path, cap, snapshot)
    assert verdict.allowed
    [warning] = [v for v in verdict.warnings if v.rule == RULE]
    assert Decimal(warning.numbers["spent"]) == SPENT
    assert Decimal(warning.numbers["run_rate_hourly"]) == RUN_RATE


async def test_over_budget_denies_with_the_right_numbers(
    tmp_path: Path, snapshot: SpendSnapshot
) -> None:
    probe = decide(tmp_path, Decimal(10**9), snapshot)
    cap = projection(probe).quantize(Decimal(1)) - 1
    verdict = decide(tmp_path, cap, snapshot)
    assert not verdict.allowed
    [denial] = [v for v in verdict.denials if v.rule == RULE]
    numbers = denial.numbers
    assert numbers["group"] == "Sales-5045"
    assert Decimal(numbers["spent"]) == SPENT
    assert Decimal(numbers["run_rate_hourly"]) == RUN_RATE
    assert Decimal(numbers["hours_left"]) == HOURS_LEFT
    assert Decimal(numbers["projected"]) == projection(probe)
    assert Decimal(numbers["cap"]) == cap
    assert denial.message.startswith(f"[{RULE}]")
    assert "$297.01" in denial.message


async def test_an_admission_reserves_its_cost_and_the_next_one_is_counted_against_it(
    tmp_path: Path, snapshot: SpendSnapshot
) -> None:
    probe = decide(tmp_path, Decimal(10**9), snapshot)
    assert probe.estimate is not None
    workload = probe.estimate.hourly.total * HOURS_LEFT
    # Room for the pod once, not twice.
    cap = (SPENT + RUN_RATE * HOURS_LEFT + workload * Decimal("1.5")).quantize(Decimal(1))
    ledger = ReservationLedger()
    assert decide(tmp_path, cap, snapshot, ledger=ledger).allowed
    assert ledger.reserved(budget=RULE, group="Sales-5045", now=T) == workload


async def test_with_prometheus_down_and_data_stale_the_rule_does_what_it_is_told(
    tmp_path: Path, own_prometheus: PrometheusServer
) -> None:
    clock = SettableClock(T)
    refresher, client = await fetch(own_prometheus.url, clock)
    own_prometheus.stop()
    clock.advance(timedelta(minutes=6))
    await refresher.refresh()
    await client.aclose()
    stale = refresher.snapshot()
    assert stale.error is not None
    denied = decide(tmp_path, Decimal(10**9), stale, now=clock.now())
    assert not denied.allowed
    [message] = budget_violations(denied)
    assert "6m ago" in message
    assert "Unavailable" in message  # the last error, so whoever reads it knows why
    warned = decide(tmp_path, Decimal(10**9), stale, now=clock.now(), stale="warn")
    assert warned.allowed
    assert budget_violations(warned)


async def test_a_dry_run_request_is_decided_but_reserves_nothing(
    tmp_path: Path, snapshot: SpendSnapshot
) -> None:
    ledger = ReservationLedger()
    verdict = decide(
        tmp_path,
        Decimal(10**9),
        snapshot,
        ledger=ledger,
        review="003-validate-pod-create-dryrun-ml-train-train-a100.json",
    )
    assert verdict.allowed
    assert ledger.reserved(budget=RULE, group="Sales-5045", now=T) == 0


async def test_mutate_then_validate_of_the_same_pod_is_not_charged_twice(
    tmp_path: Path, snapshot: SpendSnapshot
) -> None:
    probe = decide(tmp_path, Decimal(10**9), snapshot)
    cap = (projection(probe) * Decimal("1.3")).quantize(Decimal(1))  # room for it once
    ledger = ReservationLedger()
    mutate = decide(
        tmp_path,
        cap,
        snapshot,
        ledger=ledger,
        review="008-mutate-pod-create-ml-train-train-a100.json",
    )
    assert mutate.allowed
    validate = decide(tmp_path, cap, snapshot, ledger=ledger)
    assert validate.allowed, [v.message for v in validate.violations]


async def test_a_budget_not_fetched_yet_is_stale_data_not_zero_spend(
    tmp_path: Path, snapshot: SpendSnapshot
) -> None:
    # A fresh snapshot without this rule's budget: the rule was added by a policy reload
    # after the last refresh. Its spend is unknown, so the rule's onStaleData applies.
    unfetched = SpendSnapshot(fetched_at=snapshot.fetched_at, budgets={})
    denied = decide(tmp_path, Decimal(10**9), unfetched)
    assert not denied.allowed
    [message] = budget_violations(denied)
    assert "this budget's spend has not been fetched yet" in message
    warned = decide(tmp_path, Decimal(10**9), unfetched, stale="warn")
    assert warned.allowed
    [warning] = [v.message for v in warned.warnings if v.rule == RULE]
    assert "has not been fetched yet" in warning


async def test_a_group_without_series_in_a_fetched_budget_has_spent_nothing(
    tmp_path: Path, snapshot: SpendSnapshot
) -> None:
    # The pod's cost centre has no spend series at all (a new cost centre): zero spend,
    # decided on its own cost alone — no stale-data warning.
    probe = decide(tmp_path, Decimal(10**9), snapshot)
    assert probe.estimate is not None
    workload = probe.estimate.hourly.total * HOURS_LEFT
    newcomer = StaticNamespaces({"ml-train": {"cost-centre": "NewCentre-1"}})
    policy = budget_policy(tmp_path, (workload * Decimal("1.1")).quantize(Decimal(1)))
    pod = request()
    assert pod.object is not None
    pod.object["metadata"]["labels"]["cost-centre"] = "NewCentre-1"
    policy.write_text(policy.read_text().replace("Sales-5045", "NewCentre-1"))
    verdict = evaluate(
        pod,
        policies=load_policies([policy]),
        catalog=bundled_catalog(),
        context=Context(namespaces=newcomer, now=T, spend=snapshot),
    )
    assert verdict.allowed
    [warning] = [v for v in verdict.warnings if v.rule == RULE]
    assert warning.numbers["group"] == "NewCentre-1"
    assert Decimal(warning.numbers["spent"]) == 0
    assert Decimal(warning.numbers["run_rate_hourly"]) == 0
    assert Decimal(warning.numbers["projected"]) == workload


async def test_month_rollover_resets_spent_and_hours_left_in_the_decision(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    numbers = {}
    for at in (datetime(2026, 2, 28, 23, 0, tzinfo=UTC), datetime(2026, 3, 1, 0, 30, tzinfo=UTC)):
        refresher, client = await fetch(prometheus.url, SettableClock(at))
        await client.aclose()
        verdict = decide(tmp_path, Decimal(100), refresher.snapshot(), now=at)
        [denial] = [v for v in verdict.denials if v.rule == RULE]
        numbers[at.month] = denial.numbers
    # February: train-a100 at 4.5 $/h from the history's first minute (Feb 27 00:00, inside
    # February, so counted) to 23:00 — 47 h + 1 sample — one hour left. March: the 30
    # minutes after midnight (midnight itself belongs to February).
    assert Decimal(numbers[2]["spent"]) == Decimal("4.5") * (47 * 60 + 1) / 60
    assert Decimal(numbers[2]["hours_left"]) == 1
    assert Decimal(numbers[3]["spent"]) == Decimal("4.5") / 2
    assert Decimal(numbers[3]["hours_left"]) == Decimal("743.5")
