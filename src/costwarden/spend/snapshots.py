"""Background-refreshed spend snapshots: the only way spend data reaches the request path.

`SpendRefresher` runs every budget's queries on an interval (an asyncio task) and swaps in
a new immutable `SpendSnapshot`; `snapshot()` is a plain attribute read that never awaits.
A refresh is all-or-nothing: when any query fails, the previous budgets stay, `error` says
why and `fetched_at` stays at the last success, so the snapshot's age keeps growing and
each budget rule applies its own stale-data behaviour (the engine decides, using `age`).

Every budget fetched is in the snapshot, with an empty mapping when its queries found no
series (nothing in its scope ran: zero spend for all its groups). A budget absent from a
fresh snapshot was not fetched yet — added by a policy reload since the last refresh —
and the engine treats it as stale, never as zero spend. The source's presence probe
(`queries.presence_probe`) is what keeps "no series" from hiding a broken pipeline.

Each refresh also asks which of the pods the ledger holds the budgets' default run-rates
count (`queries.visible_pods`) and, once the new snapshot is published, releases their
reservations in those budgets (`ReservationLedger.release_visible`): from then on their
cost is in the run-rate, and holding it in the ledger too would count it twice until the
TTL. Reservations younger than `VISIBLE_AFTER` stay. With the pod watch
(`watch_workloads`), the same goes for a workload whose controller makes its pods (a
Deployment, a Job, a scale-up): its reservation goes once the run-rate counts as many of
its pods created since as run at it — and as many more as its later reservations
(scale-ups) run at, so that the pods of a scale-up never release what the first pods
still hold (`_shown`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
from collections.abc import Awaitable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import NamedTuple, Protocol, TypeVar

from costwarden import periods
from costwarden.engine.ports import EMPTY_SPEND, BudgetSpend, Clock, SpendSnapshot
from costwarden.metrics import BudgetFigures, SpendMetrics
from costwarden.reservations import keys
from costwarden.reservations.ledger import ReservationLedger
from costwarden.spend import queries
from costwarden.spend.prometheus import BadResult, PrometheusClient, PrometheusError

log = logging.getLogger(__name__)

T = TypeVar("T")

VISIBLE_AFTER = timedelta(minutes=2)
"""A reservation younger than this stays, though spend data shows a pod of its name: a
namesake deleted just before it was admitted shows until the next scrape marks its series
stale (one scrape interval, 1 min by default)."""
CREATED_SKEW = timedelta(seconds=1)
"""A pod's creation time is whole seconds: one created in the second its workload's
reservation was made counts as created since."""
MICRO = Decimal("0.000001")
"""Spend is kept to micro-units: PromQL sums floats, and the last digits are float noise."""


_Made = tuple[datetime, int, frozenset[str]]
"""A workload's reservation: when it was made, the pods that run at it, and the keys of
the workload's pods made since."""


def _shown(
    workloads: Mapping[str, _Made],
    visible: frozenset[str],
    admitted_before: datetime,
) -> list[str]:
    """The workloads' reservations made before `admitted_before` whose pods the run-rate
    counts. A workload's later reservations (scale-ups) run at pods made since its earlier
    ones too: a reservation goes once the pods shown among those made since it cover it
    and every later one of the same workload — a Deployment created with 2 pods and scaled
    to 4 releases its creation's reservation only once all 4 show."""
    by_workload: dict[str, list[tuple[datetime, str]]] = {}
    for key, (admitted, _, _) in workloads.items():
        by_workload.setdefault(keys.object_of(key), []).append((admitted, key))
    shown: list[str] = []
    for entries in by_workload.values():
        later = 0
        for admitted, key in sorted(entries, reverse=True):  # the latest first
            _, pods, made = workloads[key]
            later += pods
            if admitted < admitted_before and len(made & visible) >= later:
                shown.append(key)
    return shown


def age(snapshot: SpendSnapshot, now: datetime) -> timedelta | None:
    """How old the snapshot's data is at `now`; None when it was never fetched."""
    if snapshot.fetched_at is None:
        return None
    return now - snapshot.fetched_at


async def _all(*steps: Awaitable[T]) -> list[T]:
    """Run concurrently; on the first failure cancel the rest (no query left running)."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


class WorkloadPods(Protocol):
    """The pods of each workload a controller runs (`spend.watched_pods.PodCostTracker`)."""

    def pods_of(self, workload: str, *, created_since: datetime) -> Collection[str]:
        """Names of the pods of `workload` (a reservation key) created since then."""
        ...


class _Watch(NamedTuple):
    """What one refresh asks about the reservations of the budgets sharing a run-rate."""

    budgets: set[str]
    queries: list[str]
    """Which of the held pods (bare ones, and the workloads' made since) the run-rate counts."""
    workloads: dict[str, _Made]
    """The workloads' reservations, by key."""


class SpendRefresher:
    """Keeps a fresh `SpendSnapshot` for a set of budget queries (implements `SpendSource`)."""

    def __init__(
        self,
        *,
        client: PrometheusClient,
        budgets: Sequence[queries.BudgetQuery],
        clock: Clock,
        interval_seconds: float = 30.0,
        metrics: SpendMetrics | None = None,
        reservations: ReservationLedger | None = None,
    ) -> None:
        self._client = client
        self._budgets = tuple(budgets)
        self._clock = clock
        self._interval = interval_seconds
        self._metrics = metrics
        self._reservations = reservations
        self._workload_pods: WorkloadPods | None = None
        self._snapshot = EMPTY_SPEND
        self._task: asyncio.Task[None] | None = None
        self._published: set[str] = set()
        if metrics is not None:
            metrics.track_spend_data_age(self._age_seconds)

    def set_budgets(self, budgets: Sequence[queries.BudgetQuery]) -> None:
        """Fetch these budgets from the next refresh on (after a policy reload)."""
        self._budgets = tuple(budgets)

    def watch_workloads(self, pods: WorkloadPods) -> None:
        """Release workloads' reservations too, from their pods (the pod watch's)."""
        self._workload_pods = pods

    def snapshot(self) -> SpendSnapshot:
        """The latest snapshot. A plain read: never waits on Prometheus."""
        return self._snapshot

    async def refresh(self) -> SpendSnapshot:
        """Fetch every budget once and publish the result (or the failure)."""
        now = self._clock.now()
        wanted = self._budgets  # a policy reload during the await must not mix names up
        probes = sorted({probe for b in wanted if (probe := queries.presence_probe(b))})
        # Off the event loop: with thousands of reservations held, listing them and the
        # pods the watch knows takes milliseconds, and reviews must not wait on it.
        watched = await asyncio.to_thread(self._watched, wanted, now)
        try:
            await _all(*(self._probe(probe, now) for probe in probes))
            # Which pods the run-rates count, asked before the run-rates: a pod first
            # scraped in between is then counted by both, never released yet uncounted.
            visible = await _all(*(self._visible(watch.queries, now) for watch in watched))
            budgets = dict(
                zip(
                    (budget.name for budget in wanted),
                    await _all(*(self._fetch(budget, now) for budget in wanted)),
                    strict=True,
                )
            )
        except PrometheusError as error:
            self._fail(f"{type(error).__name__}: {error}")
        else:
            self._snapshot = SpendSnapshot(
                fetched_at=now, budgets=MappingProxyType(budgets), error=None
            )
            # Released once the snapshot counting them is the one requests read.
            for keys, watch in zip(visible, watched, strict=True):
                self._release(watch, keys, now)
        self._publish(now)
        return self._snapshot

    def _watched(self, wanted: Sequence[queries.BudgetQuery], now: datetime) -> list[_Watch]:
        """Per run-rate metric: what to ask about the reservations of its budgets. Nothing
        while the ledger holds none old enough to release (the usual refresh)."""
        if self._reservations is None:
            return []
        budgets: dict[str, set[str]] = {}
        for budget in wanted:
            metric = queries.per_pod_metric(budget)
            if metric is not None:
                budgets.setdefault(metric, set()).add(budget.name)
        admitted_before = now - VISIBLE_AFTER
        watched: list[_Watch] = []
        for metric, names in budgets.items():
            held = self._reservations.held("Pod", names, admitted_before=admitted_before)
            pods = {keys.parts(key)[2] for key in held}
            claims = self._reservations.held(keys.CLAIM, names, admitted_before=admitted_before)
            pods.update(keys.claim_series(keys.parts(key)[2]) for key in claims)
            workloads = self._workloads(names, admitted_before)
            for _, _, made in workloads.values():
                pods.update(keys.parts(key)[2] for key in made)
            queried = queries.visible_pods(metric, pods)
            if queried:
                watched.append(_Watch(names, queried, workloads))
        return watched

    def _workloads(self, budgets: set[str], admitted_before: datetime) -> dict[str, _Made]:
        """The reservations of the workloads of which one could go now (made before
        `admitted_before`, with as many pods made since as run at it), every reservation of
        theirs with the pods made since it: a younger one still counts (`_shown`)."""
        assert self._reservations is not None
        if self._workload_pods is None:
            return {}
        found: dict[str, _Made] = {}
        ready: set[str] = set()
        for key, (admitted, pods) in self._reservations.held_workloads(budgets).items():
            workload = keys.object_of(key)
            namespace = keys.parts(key)[0]
            made = self._workload_pods.pods_of(workload, created_since=admitted - CREATED_SKEW)
            found[key] = (
                admitted,
                pods,
                frozenset(keys.object_key(namespace, "Pod", name) for name in made),
            )
            if admitted < admitted_before and len(made) >= pods:
                ready.add(workload)
        return {key: held for key, held in found.items() if keys.object_of(key) in ready}

    async def _visible(self, promqls: list[str], now: datetime) -> frozenset[str]:
        """The reservation keys of the pods the queries find running; none when one fails
        (releasing is never needed: the reservations last until a later refresh or the
        TTL, while failing would make the whole refresh stale)."""
        try:
            answers = await _all(
                *(self._client.query(promql, time=now, allow_empty=True) for promql in promqls)
            )
        except PrometheusError as error:
            log.warning("cannot tell which reserved pods run: %s", error)
            return frozenset()
        return frozenset(
            keys.shown_by(sample.labels.get("namespace", ""), sample.labels.get("pod", ""))
            for samples in answers
            for sample in samples
        )

    def _release(self, watch: _Watch, visible: frozenset[str], now: datetime) -> None:
        assert self._reservations is not None  # `_watched` watches nothing without it
        admitted_before = now - VISIBLE_AFTER
        dropped = self._reservations.release_visible(
            watch.budgets, visible, admitted_before=admitted_before
        )
        shown = _shown(watch.workloads, visible, admitted_before)
        if shown:
            dropped += self._reservations.release_shown(
                watch.budgets, shown, admitted_before=admitted_before
            )
        if self._metrics is not None:
            self._metrics.released("running", dropped)
        if dropped:
            log.info("released %d reservations: their pods' cost is in the run-rate", dropped)

    def start(self) -> None:
        """Start refreshing in the background on the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="spend")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as error:
                # A bug must not end the loop silently: the snapshot would freeze while
                # looking merely old. Record it and keep trying.
                log.exception("spend refresh failed")
                self._fail(f"internal error: {error!r}")
            await asyncio.sleep(self._interval)

    async def _probe(self, promql: str, now: datetime) -> None:
        if not await self._client.query(promql, time=now, allow_empty=True):
            raise BadResult(
                f"empty result for {promql}: the source's metrics are not scraped (or renamed)"
            )

    async def _fetch(self, budget: queries.BudgetQuery, now: datetime) -> Mapping[str, BudgetSpend]:
        rendered = queries.render(budget, now=now)
        # Empty answers are zero here: the presence probe has vouched for the pipeline.
        run_rate_query = self._client.query_by(
            rendered.run_rate, time=now, label=rendered.label, allow_empty=True
        )
        if rendered.spent is None:
            spent: dict[str, Decimal] = {}
            run_rate = await run_rate_query
        else:
            spent, run_rate = await _all(
                self._client.query_by(
                    rendered.spent, time=now, label=rendered.label, allow_empty=True
                ),
                run_rate_query,
            )
        zero = Decimal(0)
        return MappingProxyType(
            {
                group: BudgetSpend(
                    spent=spent.get(group, zero).quantize(MICRO),
                    run_rate_hourly=run_rate.get(group, zero).quantize(MICRO),
                )
                for group in sorted(spent.keys() | run_rate.keys())
            }
        )

    def _fail(self, reason: str) -> None:
        self._snapshot = dataclasses.replace(self._snapshot, error=reason)
        log.warning("spend data not refreshed: %s", reason)
        if self._metrics is not None:
            self._metrics.spend_refresh_failed()

    def _publish(self, now: datetime) -> None:
        if self._metrics is None:
            return
        current = {budget.name for budget in self._budgets}
        for gone in self._published - current:  # a rule removed by a policy reload
            self._metrics.set_budget(gone, {})
        self._published = current
        for budget in self._budgets:
            groups = self._snapshot.budgets.get(budget.name, {})
            left = periods.hours_left(now, period=budget.period, timezone=budget.timezone)
            figures = {}
            for group, spend in groups.items():
                reserved = self._reserved(budget.name, group, now)
                figures[group] = BudgetFigures(
                    spent=spend.spent,
                    run_rate_hourly=spend.run_rate_hourly,
                    reserved=reserved,
                    cap=budget.cap_of(group),
                    projected=spend.projected(left, reserved=reserved),
                )
            self._metrics.set_budget(budget.name, figures)

    def _reserved(self, budget: str, group: str, now: datetime) -> Decimal:
        if self._reservations is None:
            return Decimal(0)
        return self._reservations.reserved(budget=budget, group=group, now=now)

    def _age_seconds(self) -> float:
        current = age(self._snapshot, self._clock.now())
        return math.inf if current is None else current.total_seconds()
