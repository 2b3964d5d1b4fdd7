"""Default budget PromQL against a real Prometheus holding the seeded history.

Every expected figure is computed by hand from the scenario in prometheus_harness.py. The
subquery samples the run-rate once a minute, at each whole minute of the period after
its start (the start itself belongs to the previous period), and each sample is $/h held
for one minute: spent = Σ $/h / 60.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_harness import PrometheusServer, SettableClock

from costwarden.catalog.loading import bundled_catalog
from costwarden.engine.contexts import StaticNamespaces
from costwarden.engine.ports import BudgetSpend, Reservation
from costwarden.metrics import SpendMetrics
from costwarden.policies.loading import load_policies
from costwarden.reservations.ledger import ReservationLedger
from costwarden.spend import queries
from costwarden.spend.prometheus import PrometheusClient
from costwarden.spend.snapshots import SpendRefresher
from costwarden.spend.watched_pods import PodCostTracker, catalog_estimator

pytestmark = pytest.mark.prometheus

T = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
"""60 h into March; 36 h after the switch (llm-0 starts, notebook goes to 1.0 $/h)."""
MINUTES_SINCE_SWITCH = 36 * 60 + 1  # the switch minute itself has a sample too

SALES_SPENT = Decimal("4.5") * 60 + MINUTES_SINCE_SWITCH * Decimal("0.75") / 60
RETAIL_SPENT = Decimal("0.5") * 60
RND_SPENT = (24 * 60 - 1) * Decimal("0.25") / 60 + MINUTES_SINCE_SWITCH * Decimal("1.0") / 60


async def snapshot_at(
    server: PrometheusServer, at: datetime, *budgets: queries.BudgetQuery
) -> dict[str, dict[str, BudgetSpend]]:
    client = PrometheusClient(server.url, timeout_seconds=10)
    try:
        refresher = SpendRefresher(client=client, budgets=budgets, clock=SettableClock(at))
        snapshot = await refresher.refresh()
    finally:
        await client.aclose()
    assert snapshot.error is None
    assert snapshot.fetched_at == at
    return {name: dict(groups) for name, groups in snapshot.budgets.items()}


async def test_month_to_date_spend_and_run_rate_per_cost_centre_match_the_history(
    prometheus: PrometheusServer,
) -> None:
    budget = queries.BudgetQuery(name="cc", group_by="cost_centre")
    got = await snapshot_at(prometheus, T, budget)
    assert got["cc"] == {
        "Retail-2045": BudgetSpend(spent=RETAIL_SPENT, run_rate_hourly=Decimal("0.5")),
        "RnD-1001": BudgetSpend(spent=RND_SPENT, run_rate_hourly=Decimal("1.0")),
        "Sales-5045": BudgetSpend(spent=SALES_SPENT, run_rate_hourly=Decimal("5.25")),
    }
    assert Decimal("297.0125") == SALES_SPENT


async def test_a_pod_exported_by_two_replicas_is_counted_once(
    prometheus: PrometheusServer,
) -> None:
    client = PrometheusClient(prometheus.url)
    try:
        naive = await client.query_by(
            "sum by (cost_centre) (costwarden_pod_hourly_cost)", time=T, label="cost_centre"
        )
    finally:
        await client.aclose()
    # train-a100 is in the history twice (replica-a and replica-b): a plain sum doubles it.
    assert naive["Sales-5045"] == Decimal("9.75")
    got = await snapshot_at(prometheus, T, queries.BudgetQuery(name="cc", group_by="cost_centre"))
    assert got["cc"]["Sales-5045"].run_rate_hourly == Decimal("5.25")


async def test_budgets_group_by_team_and_by_namespace(prometheus: PrometheusServer) -> None:
    got = await snapshot_at(
        prometheus,
        T,
        queries.BudgetQuery(name="teams", group_by="team"),
        queries.BudgetQuery(name="namespaces", group_by="namespace"),
    )
    assert got["teams"]["nlp"].spent == SALES_SPENT
    assert got["teams"]["vision"].run_rate_hourly == Decimal("1.0")
    assert got["namespaces"]["ml-train"] == got["teams"]["nlp"]
    assert got["namespaces"]["ml-infer"].spent == RETAIL_SPENT
    assert set(got["namespaces"]) == {"ml-train", "ml-infer", "ml-dev"}


async def test_spend_resets_when_a_new_month_starts(prometheus: PrometheusServer) -> None:
    budget = queries.BudgetQuery(name="cc", group_by="cost_centre")
    # Last minute of February: the history starts 2026-02-27T00:00, 2 days of minutes.
    february = await snapshot_at(prometheus, datetime(2026, 2, 28, 23, 59, tzinfo=UTC), budget)
    assert february["cc"]["Sales-5045"].spent == Decimal("4.5") * 2880 / 60
    # Half an hour into March only March's 30 minutes count.
    march = await snapshot_at(prometheus, datetime(2026, 3, 1, 0, 30, tzinfo=UTC), budget)
    assert march["cc"]["Sales-5045"].spent == Decimal("4.5") * 30 / 60
    assert march["cc"]["RnD-1001"].spent == Decimal("0.25") * 30 / 60
    # Within the first minute nothing is spent yet, but the run-rate is already committed.
    first = await snapshot_at(prometheus, datetime(2026, 3, 1, 0, 0, 30, tzinfo=UTC), budget)
    assert first["cc"]["Sales-5045"] == BudgetSpend(
        spent=Decimal(0), run_rate_hourly=Decimal("4.5")
    )


async def test_the_month_starts_at_midnight_in_the_budget_timezone(
    prometheus: PrometheusServer,
) -> None:
    berlin = queries.BudgetQuery(name="cc", group_by="cost_centre", timezone="Europe/Berlin")
    # 00:30 UTC is 01:30 in Berlin (CET, UTC+1): 90 minutes of March so far.
    got = await snapshot_at(prometheus, datetime(2026, 3, 1, 0, 30, tzinfo=UTC), berlin)
    assert got["cc"]["Sales-5045"].spent == Decimal("4.5") * 90 / 60


async def test_a_weekly_budget_counts_from_monday(prometheus: PrometheusServer) -> None:
    weekly = queries.BudgetQuery(name="wk", group_by="cost_centre", period="week")
    got = await snapshot_at(prometheus, T, weekly)
    # Tuesday noon: 36 h since Monday 00:00, when llm-0 also started (its start minute is
    # the week's start, so it is not counted).
    assert got["wk"]["Sales-5045"].spent == Decimal("4.5") * 36 + Decimal("0.75") * 36


async def test_opencost_metrics_work_as_a_source_by_namespace(
    prometheus: PrometheusServer,
) -> None:
    opencost = queries.BudgetQuery(name="oc", group_by="namespace", source="opencost")
    got = await snapshot_at(prometheus, T, opencost)
    # trainer: 8 × 0.03125 + 64 × 0.00390625 + 1 × 2.5 = 3.0 $/h (two OpenCost replicas
    # export it; counted once). nginx: 2 × 0.0625 + 4 × 0.0078125 = 0.15625 $/h, no GPU
    # series at all.
    assert got["oc"] == {
        "ml-train": BudgetSpend(spent=Decimal("3.0") * 60, run_rate_hourly=Decimal("3.0")),
        "ml-infer": BudgetSpend(spent=Decimal("0.15625") * 60, run_rate_hourly=Decimal("0.15625")),
    }


async def test_opencost_metrics_group_by_cost_centre_through_namespace_labels(
    prometheus: PrometheusServer,
) -> None:
    opencost = queries.BudgetQuery(name="oc", group_by="cost_centre", source="opencost")
    got = await snapshot_at(prometheus, T, opencost)
    assert got["oc"]["Sales-5045"].spent == Decimal(180)
    assert got["oc"]["Retail-2045"].run_rate_hourly == Decimal("0.15625")


async def test_a_custom_query_replaces_the_default(prometheus: PrometheusServer) -> None:
    custom = queries.BudgetQuery(
        name="cc",
        group_by="cost_centre",
        # Only replica-a's series, summed: what someone with a single exporter might write.
        spent_promql=(
            "sum by (cost_centre) (sum_over_time("
            'costwarden_pod_hourly_cost{instance="replica-a"}[{{range}}])) / 60'
        ),
        run_rate_promql='sum by (cost_centre) (costwarden_pod_hourly_cost{instance="replica-b"})',
    )
    got = await snapshot_at(prometheus, T, custom)
    assert got["cc"]["Sales-5045"].spent == SALES_SPENT
    assert got["cc"]["Sales-5045"].run_rate_hourly == Decimal("4.5")


async def test_after_a_policy_reload_the_next_refresh_fetches_the_new_budgets(
    prometheus: PrometheusServer,
) -> None:
    client = PrometheusClient(prometheus.url)
    registry = CollectorRegistry()
    refresher = SpendRefresher(
        client=client,
        budgets=[queries.BudgetQuery(name="old", group_by="team")],
        clock=SettableClock(T),
        metrics=SpendMetrics(registry),
    )
    assert set((await refresher.refresh()).budgets) == {"old"}
    refresher.set_budgets([queries.BudgetQuery(name="new", group_by="namespace")])
    snapshot = await refresher.refresh()
    await client.aclose()
    assert set(snapshot.budgets) == {"new"}
    assert snapshot.budgets["new"]["ml-infer"].spent == RETAIL_SPENT
    budgets = {
        sample.labels["budget"]
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == "costwarden_budget_spent_cost"
    }
    assert budgets == {"new"}  # the removed rule's series are gone


async def test_a_budget_rule_names_its_source_and_custom_queries_in_the_policy(
    prometheus: PrometheusServer, tmp_path: Path
) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text(
        """apiVersion: costwarden.io/v1alpha1
kind: CostPolicy
metadata: {name: budgets}
spec:
  rules:
  - name: by-namespace-opencost
    budget: {groupBy: namespace, label: null, defaultCap: "1000", spend: {source: opencost}}
  - name: by-cost-centre-replica-b
    budget:
      defaultCap: "1000"
      spend:
        runRate: 'sum by (cost_centre) (costwarden_pod_hourly_cost{instance="replica-b"})'
        spent: >-
          sum by (cost_centre) (sum_over_time(
          costwarden_pod_hourly_cost{instance="replica-a"}[{{range}}])) / 60
  - name: by-team-default
    budget: {label: team, defaultCap: "1000"}
"""
    )
    budgets = queries.for_policies(load_policies([path]))
    got = await snapshot_at(prometheus, T, *budgets)
    assert got["by-namespace-opencost"]["ml-train"].run_rate_hourly == Decimal("3.0")
    assert got["by-cost-centre-replica-b"]["Sales-5045"] == BudgetSpend(
        spent=SALES_SPENT, run_rate_hourly=Decimal("4.5")
    )
    assert got["by-team-default"]["nlp"].run_rate_hourly == Decimal("5.25")


async def test_a_refresh_releases_the_reservations_of_pods_its_run_rate_now_counts(
    prometheus: PrometheusServer,
) -> None:
    """A pod the spend data shows running is in the run-rate from this refresh on: its
    reservation goes then, not at the TTL. Kept: a pod not shown yet, one admitted too
    recently to be told from a namesake deleted just before, and reservations in a budget
    whose run-rate is custom (what it counts is not known)."""
    ledger = ReservationLedger()
    earlier, just_now = T - timedelta(minutes=5), T - timedelta(seconds=30)

    def hold(budget: str, pod: str, at: datetime) -> None:
        reservation = Reservation(
            budget, "Sales-5045", f"ml-train/Pod/{pod}", Decimal(10), Decimal(10**6),
            owner=None, pods=1, at=at,
        )  # fmt: skip
        assert ledger.commit([reservation]) == []

    hold("cc", "train-a100", earlier)  # shown: released
    hold("cc", "pending-0", earlier)  # not shown yet
    hold("cc", "llm-0", just_now)  # shown, but admitted 30 s ago
    hold("custom", "train-a100", earlier)
    hold("oc", "train-a100", earlier)  # OpenCost's allocation shows it: released
    budgets = [
        queries.BudgetQuery(name="cc", group_by="cost_centre"),
        queries.BudgetQuery(
            name="custom",
            group_by="cost_centre",
            run_rate_promql="sum by (cost_centre) (costwarden_pod_hourly_cost)",
        ),
        queries.BudgetQuery(name="oc", group_by="cost_centre", source="opencost"),
    ]
    client = PrometheusClient(prometheus.url, timeout_seconds=10)
    registry = CollectorRegistry()
    refresher = SpendRefresher(
        client=client,
        budgets=budgets,
        clock=SettableClock(T),
        reservations=ledger,
        metrics=SpendMetrics(registry),
    )
    try:
        assert (await refresher.refresh()).error is None
    finally:
        await client.aclose()

    def reserved(budget: str) -> Decimal:
        return ledger.reserved(budget=budget, group="Sales-5045", now=T)

    assert (reserved("cc"), reserved("custom"), reserved("oc")) == (20, 10, 0)
    assert (
        registry.get_sample_value(
            "costwarden_budget_reservations_released_total", {"reason": "running"}
        )
        == 2
    )
    assert (
        ledger.reserved(budget="cc", group="Sales-5045", now=T, excluding="ml-train/Pod/llm-0")
        == 10
    )


def controlled_pod(
    namespace: str, name: str, owner: tuple[str, str], created: datetime, **labels: str
) -> dict[str, object]:
    """A pod a controller made, as the pod watch delivers it."""
    kind, owner_name = owner
    return {
        "metadata": {
            "namespace": namespace,
            "name": name,
            "labels": labels,
            "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ownerReferences": [{"kind": kind, "name": owner_name, "controller": True}],
        },
        "spec": {"containers": [{"name": "c", "image": "x"}]},
        "status": {"phase": "Pending"},
    }


async def test_a_refresh_releases_a_workloads_reservation_once_its_new_pods_all_show(
    prometheus: PrometheusServer,
) -> None:
    """A controller's workload (a Deployment, a Job, a StatefulSet, a scale-up) holds
    budget for the pods it runs at the added cost; it goes once the run-rate counts that
    many of its pods created since it was admitted — and as many more as a later scale-up
    of the same workload runs at. The seeded history shows llm-0, train-a100 and infer-0
    running; the pod watch (the real tracker) knows which workload made which pod."""
    ledger = ReservationLedger()
    earlier = T - timedelta(minutes=6)

    def hold(key: str, pods: int, at: datetime) -> None:
        reservation = Reservation(
            "cc", "any", key, Decimal(10), Decimal(10**6), owner=None, pods=pods, at=at
        )
        assert ledger.commit([reservation]) == []

    hold("ml-train/StatefulSet/llm", 1, earlier)  # llm-0 shows: released
    hold("ml-train/Deployment/trainer", 2, earlier)  # 1 of its 2 pods shows: kept
    hold("ml-infer/Deployment/web", 1, earlier)  # created with one pod, then scaled up by
    hold("ml-infer/Deployment/web#scale-up", 1, T - timedelta(minutes=5))  # one: infer-0
    hold("ml-dev/Job/nightly", 1, earlier)  # notebook shows, but was made before: kept

    asked_from: set[int] = set()

    class Tracker(PodCostTracker):
        """The real tracker, noting which threads ask it."""

        def pods_of(self, workload: str, *, created_since: datetime) -> list[str]:
            asked_from.add(threading.get_ident())
            return super().pods_of(workload, created_since=created_since)

    tracker = Tracker(
        estimate=catalog_estimator(bundled_catalog()),
        namespaces=StaticNamespaces({}),
        metrics=SpendMetrics(CollectorRegistry()),
    )
    made = T - timedelta(minutes=4)
    tracker.replace(
        [
            controlled_pod("ml-train", "llm-0", ("StatefulSet", "llm"), made),
            controlled_pod("ml-train", "train-a100", ("ReplicaSet", "trainer-7d9f"), made,
                           **{"pod-template-hash": "7d9f"}),
            controlled_pod("ml-train", "trainer-7d9f-pending", ("ReplicaSet", "trainer-7d9f"),
                           made, **{"pod-template-hash": "7d9f"}),
            controlled_pod("ml-infer", "infer-0", ("ReplicaSet", "web-5c"), made,
                           **{"pod-template-hash": "5c"}),
            controlled_pod("ml-dev", "notebook", ("Job", "nightly"), T - timedelta(hours=1)),
        ]
    )  # fmt: skip
    client = PrometheusClient(prometheus.url, timeout_seconds=10)
    registry = CollectorRegistry()
    refresher = SpendRefresher(
        client=client,
        budgets=[queries.BudgetQuery(name="cc", group_by="cost_centre")],
        clock=SettableClock(T),
        reservations=ledger,
        metrics=SpendMetrics(registry),
    )
    refresher.watch_workloads(tracker)
    try:
        assert (await refresher.refresh()).error is None
    finally:
        await client.aclose()
    # Listing what the ledger and the watch hold ran off the event loop: reviews never wait.
    assert asked_from
    assert threading.get_ident() not in asked_from
    assert set(ledger.held_workloads({"cc"})) == {
        "ml-train/Deployment/trainer",
        "ml-infer/Deployment/web",  # infer-0 is the scale-up's: its first pod does not show
        "ml-dev/Job/nightly",
    }
    assert (
        registry.get_sample_value(
            "costwarden_budget_reservations_released_total", {"reason": "running"}
        )
        == 2
    )
