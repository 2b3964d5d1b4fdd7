"""The spend snapshot when the real Prometheus misbehaves: stopped, slow, erroring, NaN,
no series at all — and recovering. The last good data stays, `error` says why, and the
snapshot's age keeps growing so budget rules can apply their stale-data setting. Also what
"no series" means when the source is scraped: zero spend, the budget still fetched."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_harness import FaultProxy, PrometheusServer, SettableClock

from costwarden.engine.ports import Reservation
from costwarden.metrics import SpendMetrics
from costwarden.reservations import keys
from costwarden.reservations.ledger import ReservationLedger
from costwarden.spend import queries
from costwarden.spend.prometheus import PrometheusClient, PrometheusError
from costwarden.spend.snapshots import SpendRefresher, age

pytestmark = pytest.mark.prometheus

T = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
CC = queries.BudgetQuery(
    name="cc", group_by="cost_centre", cap=Decimal(5000), caps={"Sales-5045": Decimal(1000)}
)


def hold(ledger: ReservationLedger, pod: str, *, admitted: datetime) -> None:
    """ml-train/`pod` holds $12 of Sales-5045's room in budget `cc` since `admitted`."""
    reservation = Reservation(
        "cc", "Sales-5045", f"ml-train/Pod/{pod}", Decimal(12), Decimal(100),
        owner=None, pods=1, at=admitted,
    )  # fmt: skip
    assert ledger.commit([reservation]) == []


async def sent_by_a_refresh(proxy: FaultProxy, refresher: SpendRefresher) -> int:
    """How many queries one successful refresh sends."""
    before = proxy.requests
    assert (await refresher.refresh()).error is None
    return proxy.requests - before


def refresher_for(
    url: str,
    clock: SettableClock,
    *budgets: queries.BudgetQuery,
    timeout: float = 5.0,
    metrics: SpendMetrics | None = None,
    reservations: ReservationLedger | None = None,
) -> tuple[SpendRefresher, PrometheusClient]:
    client = PrometheusClient(
        url, timeout_seconds=timeout, attempts=2, backoff_seconds=0.01, max_backoff_seconds=0.02
    )
    refresher = SpendRefresher(
        client=client,
        budgets=budgets or (CC,),
        clock=clock,
        interval_seconds=0.05,
        metrics=metrics,
        reservations=reservations,
    )
    return refresher, client


async def test_a_stopped_server_keeps_the_last_good_data_ages_it_and_recovers_on_restart(
    own_prometheus: PrometheusServer,
) -> None:
    clock = SettableClock(T)
    refresher, client = refresher_for(own_prometheus.url, clock)
    good = await refresher.refresh()
    assert good.error is None
    own_prometheus.stop()

    clock.advance(timedelta(minutes=2))
    down = await refresher.refresh()
    assert down.budgets == good.budgets
    assert down.fetched_at == T
    assert down.error is not None
    assert "Unavailable" in down.error
    assert age(down, clock.now()) == timedelta(minutes=2)
    clock.advance(timedelta(minutes=5))
    assert age(refresher.snapshot(), clock.now()) == timedelta(minutes=7)

    own_prometheus.start()
    back = await refresher.refresh()
    assert back.error is None
    assert back.fetched_at == clock.now()
    # Seven minutes more of March: Sales spent 5.25 $/h × 7 min more.
    sales_before = good.budgets["cc"]["Sales-5045"].spent
    assert back.budgets["cc"]["Sales-5045"].spent == sales_before + Decimal("5.25") * 7 / 60
    await client.aclose()


async def test_an_answer_slower_than_the_timeout_is_a_timeout_and_keeps_the_data(
    proxy: FaultProxy,
) -> None:
    clock = SettableClock(T)
    refresher, client = refresher_for(proxy.url, clock, timeout=0.2)
    good = await refresher.refresh()
    proxy.mode = "slow"
    clock.advance(timedelta(seconds=30))
    slow = await refresher.refresh()
    assert slow.error is not None
    assert "QueryTimeout" in slow.error
    assert slow.budgets == good.budgets
    assert slow.fetched_at == T
    proxy.mode = "pass"
    proxy.release()
    assert (await refresher.refresh()).fetched_at == clock.now()
    await client.aclose()


@pytest.mark.parametrize(
    ("mode", "error"),
    [("error", "Unavailable: Prometheus answered HTTP 500"), ("garbage", "BadResult")],
)
async def test_error_and_garbage_answers_keep_the_last_good_data(
    proxy: FaultProxy, mode: str, error: str
) -> None:
    clock = SettableClock(T)
    refresher, client = refresher_for(proxy.url, clock)
    good = await refresher.refresh()
    proxy.mode = mode
    clock.advance(timedelta(seconds=30))
    failed = await refresher.refresh()
    assert failed.error is not None
    assert failed.error.startswith(error)
    assert failed.budgets == good.budgets
    assert failed.fetched_at == T
    proxy.mode = "pass"
    recovered = await refresher.refresh()
    assert recovered.error is None
    assert recovered.fetched_at == clock.now()
    await client.aclose()


@pytest.mark.parametrize(("mode", "attempts"), [("error", 2), ("garbage", 1)])
async def test_transient_errors_are_retried_and_bad_answers_are_not(
    proxy: FaultProxy, mode: str, attempts: int
) -> None:
    client = PrometheusClient(proxy.url, attempts=2, backoff_seconds=0.01)
    proxy.mode = mode
    with pytest.raises(PrometheusError):
        await client.query("sum(costwarden_pod_hourly_cost)", time=T)
    assert proxy.requests == attempts
    await client.aclose()


@pytest.mark.parametrize(
    ("budget", "error"),
    [
        (
            queries.BudgetQuery(
                name="cc",
                group_by="cost_centre",
                run_rate_promql="sum by (cost_centre) (costwarden_pod_hourly_cost) * (0 / 0)",
            ),
            "BadResult: non-finite value NaN",
        ),
        (
            queries.BudgetQuery(
                name="cc", group_by="cost_centre", run_rate_promql="sum by (cost_centre) ("
            ),
            "QueryFailed: HTTP 400 bad_data",
        ),
        (
            queries.BudgetQuery(
                name="cc",
                group_by="cost_centre",
                # not aggregated: train-a100 comes twice (two replicas) with one cost centre
                run_rate_promql='costwarden_pod_hourly_cost{pod="train-a100"}',
            ),
            "BadResult: more than one series for cost_centre='Sales-5045'",
        ),
    ],
    ids=["nan", "bad-query", "duplicate-groups"],
)
async def test_nan_and_rejected_results_from_the_real_server_are_errors(
    prometheus: PrometheusServer, budget: queries.BudgetQuery, error: str
) -> None:
    refresher, client = refresher_for(prometheus.url, SettableClock(T), budget)
    snapshot = await refresher.refresh()
    assert snapshot.fetched_at is None
    assert snapshot.budgets == {}
    assert snapshot.error is not None
    assert snapshot.error.startswith(error)
    await client.aclose()


async def test_no_data_at_all_for_the_period_is_an_error_not_zero_spend(
    prometheus: PrometheusServer,
) -> None:
    # June 2026: the exporter's series ended in March, as when it stops being scraped.
    refresher, client = refresher_for(
        prometheus.url, SettableClock(datetime(2026, 6, 2, tzinfo=UTC))
    )
    snapshot = await refresher.refresh()
    assert snapshot.fetched_at is None
    assert snapshot.error is not None
    assert snapshot.error.startswith(
        "BadResult: empty result for count(costwarden_pod_hourly_cost): the source's metrics"
    )
    await client.aclose()


async def test_the_opencost_presence_probe_fails_the_refresh_when_its_metrics_are_gone(
    prometheus: PrometheusServer,
) -> None:
    budget = queries.BudgetQuery(name="ns", group_by="namespace", source="opencost")
    refresher, client = refresher_for(
        prometheus.url, SettableClock(datetime(2026, 6, 2, tzinfo=UTC)), budget
    )
    snapshot = await refresher.refresh()
    assert snapshot.error is not None
    assert "empty result for count(container_cpu_allocation)" in snapshot.error
    await client.aclose()


H100 = 'max by (namespace, pod, cost_centre) (costwarden_pod_hourly_cost{gpu_model="H100"})'


async def test_a_budget_whose_queries_find_no_series_is_fetched_as_zero_spend(
    prometheus: PrometheusServer,
) -> None:
    # A budget on H100 pods only, and none ran: "no series" is zero, not an error, and the
    # budget is in the snapshot (with no groups) so the engine knows it was fetched.
    budget = queries.BudgetQuery(
        name="h100",
        group_by="cost_centre",
        run_rate_promql=f"sum by (cost_centre) ({H100})",
        spent_promql=f"sum_over_time((sum by (cost_centre) ({H100}))[{{{{range}}}}:{{{{step}}}}])",
    )
    refresher, client = refresher_for(prometheus.url, SettableClock(T), budget, CC)
    snapshot = await refresher.refresh()
    assert snapshot.error is None
    assert snapshot.fetched_at == T
    assert dict(snapshot.budgets["h100"]) == {}
    assert snapshot.budgets["cc"]["Sales-5045"].spent == Decimal("297.0125")
    await client.aclose()


async def test_nothing_running_now_is_a_zero_run_rate_beside_the_spend_so_far(
    prometheus: PrometheusServer,
) -> None:
    budget = queries.BudgetQuery(
        name="cc", group_by="cost_centre", run_rate_promql=f"sum by (cost_centre) ({H100})"
    )
    refresher, client = refresher_for(prometheus.url, SettableClock(T), budget)
    snapshot = await refresher.refresh()
    assert snapshot.error is None
    sales = snapshot.budgets["cc"]["Sales-5045"]
    assert (sales.spent, sales.run_rate_hourly) == (Decimal("297.0125"), Decimal(0))
    await client.aclose()


async def test_reading_the_snapshot_never_waits_for_a_hanging_refresh(proxy: FaultProxy) -> None:
    clock = SettableClock(T)
    refresher, client = refresher_for(proxy.url, clock, timeout=30)
    good = await refresher.refresh()
    proxy.mode = "slow"
    refresher.start()
    await asyncio.to_thread(proxy.held.wait, 10)
    assert proxy.held.is_set()  # a refresh is now hanging inside Prometheus' answer

    # `snapshot` is a plain function: it cannot await, so it cannot wait on the refresh.
    assert not inspect.iscoroutinefunction(refresher.snapshot)
    assert refresher.snapshot() is good

    proxy.mode = "pass"
    clock.advance(timedelta(minutes=1))
    proxy.release()

    async def next_refresh() -> None:
        while refresher.snapshot().fetched_at != clock.now():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(next_refresh(), timeout=30)
    assert refresher.snapshot().error is None
    await refresher.stop()
    await client.aclose()


async def test_stopping_the_refresher_cancels_a_hanging_refresh(proxy: FaultProxy) -> None:
    refresher, client = refresher_for(proxy.url, SettableClock(T), timeout=30)
    proxy.mode = "slow"
    refresher.start()
    await asyncio.to_thread(proxy.held.wait, 10)
    await refresher.stop()
    assert refresher.snapshot().fetched_at is None
    await client.aclose()


async def test_budget_metrics_show_spend_cap_utilisation_reservations_and_data_age(
    proxy: FaultProxy,
) -> None:
    registry = CollectorRegistry()
    clock = SettableClock(T)
    ledger = ReservationLedger()
    hold(ledger, "x", admitted=T)
    metrics = SpendMetrics(registry)
    refresher, client = refresher_for(proxy.url, clock, metrics=metrics, reservations=ledger)
    assert registry.get_sample_value("costwarden_spend_data_age_seconds") == float("inf")
    await refresher.refresh()
    sales = {"budget": "cc", "group": "Sales-5045"}
    assert registry.get_sample_value("costwarden_budget_spent_cost", sales) == 297.0125
    assert registry.get_sample_value("costwarden_budget_committed_hourly_cost", sales) == 5.25
    assert registry.get_sample_value("costwarden_budget_reserved_cost", sales) == 12
    assert registry.get_sample_value("costwarden_budget_cap_cost", sales) == 1000
    assert registry.get_sample_value("costwarden_budget_utilisation_ratio", sales) == 0.2970125
    # 684 h left in March at 12:00 on the 3rd; 12 reserved.
    projected = registry.get_sample_value("costwarden_budget_projected_cost", sales)
    assert projected == float(Decimal("297.0125") + Decimal("5.25") * 684 + 12)
    assert registry.get_sample_value("costwarden_spend_data_age_seconds") == 0
    retail = {"budget": "cc", "group": "Retail-2045"}
    assert registry.get_sample_value("costwarden_budget_cap_cost", retail) == 5000

    proxy.mode = "error"
    clock.advance(timedelta(seconds=90))
    await refresher.refresh()
    assert registry.get_sample_value("costwarden_spend_data_age_seconds") == 90
    assert registry.get_sample_value("costwarden_spend_refresh_failures_total") == 1
    await client.aclose()


async def test_configured_headers_go_with_every_query(proxy: FaultProxy) -> None:
    client = PrometheusClient(proxy.url, headers={"X-Scope-OrgID": "team-a"})
    await client.query("sum(costwarden_pod_hourly_cost)", time=T)
    assert proxy.headers["X-Scope-OrgID"] == "team-a"
    await client.aclose()


async def test_reservations_go_only_with_a_refresh_that_publishes_the_run_rate_counting_them(
    proxy: FaultProxy,
) -> None:
    """The pods' own query answers, but a budget query fails: the old snapshot stays, so
    the run-rate requests read does not count the pods yet, and their reservations stay.
    Once a refresh succeeds they go, after its snapshot is the one requests read."""
    clock = SettableClock(T)
    released_with: list[datetime | None] = []

    class Ledger(ReservationLedger):
        def release_visible(self, *args: Any, **kwargs: Any) -> int:
            released_with.append(refresher.snapshot().fetched_at)
            return super().release_visible(*args, **kwargs)

    ledger = Ledger()
    hold(ledger, "train-a100", admitted=T - timedelta(minutes=5))
    refresher, client = refresher_for(proxy.url, clock, reservations=ledger)
    proxy.fail_matching = b"sum_over_time"  # the period-to-date spend query
    assert (await refresher.refresh()).error is not None
    assert ledger.reserved(budget="cc", group="Sales-5045", now=T) == 12
    proxy.fail_matching = None
    clock.advance(timedelta(seconds=30))
    assert (await refresher.refresh()).error is None
    assert ledger.reserved(budget="cc", group="Sales-5045", now=clock.now()) == 0
    assert released_with == [clock.now()]
    await client.aclose()


async def test_pods_are_asked_about_only_while_the_ledger_holds_one_old_enough_to_release(
    proxy: FaultProxy,
) -> None:
    clock = SettableClock(T)
    ledger = ReservationLedger()
    refresher, client = refresher_for(proxy.url, clock, reservations=ledger)

    plain = await sent_by_a_refresh(proxy, refresher)  # the probe, spent and run-rate
    hold(ledger, "pending-0", admitted=T - timedelta(seconds=30))
    assert (
        await sent_by_a_refresh(proxy, refresher) == plain
    )  # too young to release: not asked about
    clock.advance(timedelta(minutes=2))
    assert await sent_by_a_refresh(proxy, refresher) == plain + 1
    assert ledger.reserved(budget="cc", group="Sales-5045", now=clock.now()) == 12  # not shown
    await client.aclose()


async def test_a_shared_claims_reservation_is_asked_about_by_its_series_like_a_pods(
    proxy: FaultProxy,
) -> None:
    clock = SettableClock(T)
    ledger = ReservationLedger()
    refresher, client = refresher_for(proxy.url, clock, reservations=ledger)
    plain = await sent_by_a_refresh(proxy, refresher)
    claim = Reservation(
        "cc", "Sales-5045", keys.claim_key("ml-train", "gpus"), Decimal(30), Decimal(100),
        owner=None, pods=1, at=T - timedelta(minutes=5),
    )  # fmt: skip
    assert ledger.commit([claim]) == []
    # its series, `resourceclaim/gpus`, is asked for
    assert await sent_by_a_refresh(proxy, refresher) == plain + 1
    assert ledger.reserved(budget="cc", group="Sales-5045", now=T) == 30  # not shown: held
    await client.aclose()


async def test_a_failing_query_of_the_pods_held_keeps_their_reservations_not_the_data_stale(
    proxy: FaultProxy,
) -> None:
    clock = SettableClock(T)
    ledger = ReservationLedger()
    hold(ledger, "train-a100", admitted=T - timedelta(minutes=5))
    refresher, client = refresher_for(proxy.url, clock, reservations=ledger)
    proxy.fail_matching = b"pod%3D~"  # pod=~ : only the query of the pods held
    snapshot = await refresher.refresh()
    assert (snapshot.error, snapshot.fetched_at) == (None, T)
    assert snapshot.budgets["cc"]["Sales-5045"].run_rate_hourly == Decimal("5.25")
    assert ledger.reserved(budget="cc", group="Sales-5045", now=T) == 12
    proxy.fail_matching = None
    await refresher.refresh()
    assert ledger.reserved(budget="cc", group="Sales-5045", now=T) == 0
    await client.aclose()
