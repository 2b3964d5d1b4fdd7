"""All Prometheus metrics of costwarden, on an injected registry (prometheus_client).

Conventions (client_python and the Prometheus naming guide): a `costwarden_` prefix, the
unit in the name (`_seconds`, `_hourly_cost`), `_total` on counters, and label sets that
stay bounded whatever users send — operations and kinds are closed sets, policy and rule
names come from reviewed policy files, and the per-namespace cost dimensions are capped
(`BoundedLabels`).

Cost metrics share one dimensional model with the rest of the cluster's telemetry —
`namespace`, `cost_centre`, `team`, `gpu_model`, `capacity_type` — so cost sits beside
latency and utilisation in the same PromQL.

Each component's metrics are one class here, in its own section (admission: the webhook;
spend and budgets: the spend package); the application builds them once on one registry
and hands them to whoever records.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, Literal, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from costwarden import workloads

COST_DIMENSIONS = ("namespace", "cost_centre", "team", "gpu_model", "capacity_type")
"""The unified dimensional model of every cost metric."""

OTHER = "other"
"""What a label value becomes once the series budget is spent."""

LATENCY_BUCKETS_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Admission is sub-millisecond to milliseconds; the API server times out at 1-30 s."""
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
"""Reviews answered together: at most one per request the server has in progress."""

KNOWN_KINDS = workloads.WORKLOAD_KINDS | {"Scale", "Namespace"}
"""The kinds reviews are counted by; any other is counted as `other` (a bounded label)."""


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in the Prometheus text format, and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


class BoundedLabels:
    """Admits at most `limit` distinct label tuples; later new ones become all-`other`.

    Series already admitted keep their own labels forever (a counter that moved to
    `other` halfway would break `rate()`); only new combinations fold.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def admit(self, values: Sequence[str]) -> tuple[str, ...]:
        key = tuple(values)
        if key in self._seen:  # the common case, without the lock (sets only ever grow)
            return key
        with self._lock:
            if key in self._seen:
                return key
            if len(self._seen) < self._limit:
                self._seen.add(key)
                return key
        return tuple(OTHER for _ in key)


MetricT = TypeVar("MetricT", Counter, Histogram)


class Children(Generic[MetricT]):
    """A labelled metric's `labels(*values)` children, kept per label tuple.

    For the series recorded on every review: `labels()` converts and checks the values and
    takes the metric's lock on each call, yet returns the same child every time. The tuples
    kept here are the metric's own series (closed label sets, or ones `BoundedLabels`
    caps), and those are never removed, so this holds no more than the metric does. Two
    threads missing at once both get the one child `labels()` makes under its lock.
    """

    def __init__(self, metric: MetricT) -> None:
        self.metric: MetricT = metric
        self._children: dict[tuple[str, ...], MetricT] = {}

    def labels(self, values: tuple[str, ...]) -> MetricT:
        """The child of label `values`, in the metric's label order."""
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child


# ---------------------------------------------------------------------------------------
# Admission (owner: webhook). Requests, latency, violations, waivers, reloads, admitted cost.
# ---------------------------------------------------------------------------------------


class AdmissionMetrics:
    """What the admission webhook records."""

    def __init__(self, registry: CollectorRegistry, *, cost_series_limit: int = 2000) -> None:
        # The series recorded for every review go through `Children`; the rest, recorded
        # per batch or per reload, call prometheus_client directly.
        self.requests = Children(
            Counter(
                "costwarden_admission_requests_total",
                "Admission reviews answered, by webhook (validate/mutate), operation, kind and "
                "decision (allowed, denied, error).",
                ("webhook", "operation", "kind", "decision"),
                registry=registry,
            )
        )
        self.latency = Children(
            Histogram(
                "costwarden_admission_duration_seconds",
                "Time to answer one admission review, from the body read to the response built.",
                ("webhook",),
                buckets=LATENCY_BUCKETS_SECONDS,
                registry=registry,
            )
        )
        self.batch_size = Histogram(
            "costwarden_admission_batch_size",
            "Reviews answered back to back in one batch (1: a request answered alone; see "
            "docs/webhook.md).",
            buckets=BATCH_SIZE_BUCKETS,
            registry=registry,
        )
        self.violations = Children(
            Counter(
                "costwarden_policy_violations_total",
                "Rule violations found by /validate, by policy, rule and action "
                "(deny, warn, dryrun).",
                ("policy", "rule", "action"),
                registry=registry,
            )
        )
        self.waivers = Children(
            Counter(
                "costwarden_waivers_total",
                "Admissions (allowed, not dry-run, counted by /validate) in which an exception "
                "waived this rule. The rule label is bounded by the loaded policy set: rule "
                "names are unique across it and come from reviewed policy files.",
                ("rule",),
                registry=registry,
            )
        )
        self.reload_success = Gauge(
            "costwarden_policy_reload_success",
            "1 if the latest load of this source (policies, catalog, namespaces, tls) "
            "succeeded, 0 if it failed and the previous good version is still serving.",
            ("source",),
            registry=registry,
        )
        self.reload_timestamp = Gauge(
            "costwarden_policy_reload_timestamp_seconds",
            "Unix time of the latest successful load of this source.",
            ("source",),
            registry=registry,
        )
        self.admitted_pods = Children(
            Counter(
                "costwarden_admitted_pods_total",
                "Pods admitted (not dry-run), in the cost dimensional model.",
                COST_DIMENSIONS,
                registry=registry,
            )
        )
        self.admitted_hourly_cost = Children(
            Counter(
                "costwarden_admitted_pod_hourly_cost_total",
                "Sum of the estimated hourly cost (catalog currency per hour) of admitted "
                "pods: increase() over a window is the run-rate admitted in it.",
                (*COST_DIMENSIONS, "currency"),
                registry=registry,
            )
        )
        self._cost_labels = BoundedLabels(cost_series_limit)

    def review(
        self, *, webhook: str, operation: str, kind: str, decision: str, seconds: float
    ) -> None:
        kind = kind if kind in KNOWN_KINDS else OTHER
        self.requests.labels((webhook, operation, kind, decision)).inc()
        self.latency.labels((webhook,)).observe(seconds)

    def batch(self, size: int) -> None:
        self.batch_size.observe(size)

    def violation(self, *, policy: str, rule: str, action: str) -> None:
        self.violations.labels((policy, rule, action)).inc()

    def waived(self, *, rule: str) -> None:
        """An admission in which an exception waived `rule` (once per admission and rule)."""
        self.waivers.labels((rule,)).inc()

    def reloaded(self, *, source: str, success: bool, at_unix_seconds: float) -> None:
        self.reload_success.labels(source).set(1 if success else 0)
        if success:
            self.reload_timestamp.labels(source).set(at_unix_seconds)

    def admitted_pod(
        self,
        *,
        namespace: str,
        cost_centre: str,
        team: str,
        gpu_model: str,
        capacity_type: str,
        hourly_cost: Decimal,
        currency: str,
    ) -> None:
        labels = self._cost_labels.admit((namespace, cost_centre, team, gpu_model, capacity_type))
        self.admitted_pods.labels(labels).inc()
        # Prometheus samples are floats; the Decimal is exact up to here.
        self.admitted_hourly_cost.labels((*labels, currency)).inc(float(hourly_cost))


# ---------------------------------------------------------------------------------------
# Spend and budgets (owner: spend). Pod cost exporter and per-budget figures.
# ---------------------------------------------------------------------------------------

POD_COST_LABELS = ("namespace", "pod", "cost_centre", "team", "gpu_model", "capacity_type")
ReleaseReason = Literal["running", "deleted", "relist"]
"""Why a budget reservation went before its TTL (`SpendMetrics.released`)."""


@dataclass(frozen=True, slots=True)
class BudgetFigures:
    """One budget group's numbers as the metrics show them."""

    spent: Decimal
    run_rate_hourly: Decimal
    reserved: Decimal
    cap: Decimal | None
    projected: Decimal
    """At the period's end, at the current run-rate: spent + run-rate × hours left +
    reserved (the budget rule's projection before the workload asking)."""


class SpendMetrics:
    """The pod cost exporter's gauge and the per-budget gauges, on an injected registry.

    Budget gauges are labelled by budget and group; `max_groups_per_budget` bounds the
    series a budget can create (the groups with the highest spend are kept), because group
    values come from label values in Prometheus, not from a closed list.
    """

    def __init__(self, registry: CollectorRegistry, *, max_groups_per_budget: int = 100) -> None:
        self._max_groups = max_groups_per_budget
        self._groups: dict[str, set[str]] = {}
        self.pod_hourly_cost = Gauge(
            "costwarden_pod_hourly_cost",
            "Estimated cost per hour of a running pod, in the catalog currency.",
            POD_COST_LABELS,
            registry=registry,
        )
        budget = ("budget", "group")
        self.budget_spent = Gauge(
            "costwarden_budget_spent_cost",
            "Period-to-date spend of a budget group, from Prometheus.",
            budget,
            registry=registry,
        )
        self.budget_committed = Gauge(
            "costwarden_budget_committed_hourly_cost",
            "Committed run-rate (cost per hour) of what a budget group runs now.",
            budget,
            registry=registry,
        )
        self.budget_reserved = Gauge(
            "costwarden_budget_reserved_cost",
            "Cost reserved by admissions not yet visible in spend data (this replica).",
            budget,
            registry=registry,
        )
        self.budget_cap = Gauge(
            "costwarden_budget_cap_cost",
            "The budget cap of a group for the period.",
            budget,
            registry=registry,
        )
        self.budget_utilisation = Gauge(
            "costwarden_budget_utilisation_ratio",
            "Period-to-date spend divided by the cap.",
            budget,
            registry=registry,
        )
        self.budget_projected = Gauge(
            "costwarden_budget_projected_cost",
            "Spend of a budget group projected to the period's end at the current run-rate: "
            "spent + committed run-rate x hours left + reserved (this replica).",
            budget,
            registry=registry,
        )
        self.spend_data_age = Gauge(
            "costwarden_spend_data_age_seconds",
            "Age of the spend snapshot (+Inf until the first successful fetch).",
            registry=registry,
        )
        self.spend_refresh_failures = Counter(
            "costwarden_spend_refresh_failures_total",
            "Spend refreshes that failed (the previous data was kept).",
            registry=registry,
        )
        self.reservations_released = Counter(
            "costwarden_budget_reservations_released_total",
            "Budget reservations dropped before their TTL (this replica), by reason: "
            "running (spend data shows the pod, or a workload's pods), deleted (the pod "
            "watch saw it go), relist (gone from a full list of pods).",
            ("reason",),
            registry=registry,
        )

        self.reservations_recalled = Counter(
            "costwarden_budget_reservations_recalled_total",
            "Budget reservations held again at start-up (this replica): pods admitted "
            "within a TTL before its first list of pods, which its new ledger did not hold.",
            registry=registry,
        )

    def set_pod_cost(self, labels: tuple[str, ...], hourly: Decimal) -> None:
        """`labels` in `POD_COST_LABELS` order."""
        self.pod_hourly_cost.labels(*labels).set(float(hourly))

    def remove_pod_cost(self, labels: tuple[str, ...]) -> None:
        self.pod_hourly_cost.remove(*labels)

    def set_budget(self, budget: str, groups: Mapping[str, BudgetFigures]) -> None:
        """Replace the budget's series with `groups` (bounded to the highest spenders)."""
        kept = sorted(groups, key=lambda group: groups[group].spent, reverse=True)
        kept = kept[: self._max_groups]
        gauges = (
            self.budget_spent,
            self.budget_committed,
            self.budget_reserved,
            self.budget_cap,
            self.budget_utilisation,
            self.budget_projected,
        )
        for gone in self._groups.get(budget, set()) - set(kept):
            for gauge in gauges:
                # A cap-less group never had cap/utilisation series: nothing to remove.
                with contextlib.suppress(KeyError):
                    gauge.remove(budget, gone)
        for group in kept:
            figures = groups[group]
            self.budget_spent.labels(budget, group).set(float(figures.spent))
            self.budget_committed.labels(budget, group).set(float(figures.run_rate_hourly))
            self.budget_reserved.labels(budget, group).set(float(figures.reserved))
            self.budget_projected.labels(budget, group).set(float(figures.projected))
            if figures.cap is not None and figures.cap > 0:
                self.budget_cap.labels(budget, group).set(float(figures.cap))
                self.budget_utilisation.labels(budget, group).set(
                    float(figures.spent / figures.cap)
                )
        self._groups[budget] = set(kept)

    def track_spend_data_age(self, seconds: Callable[[], float]) -> None:
        """Compute the data age at scrape time, so it grows even when refreshes hang."""
        self.spend_data_age.set_function(seconds)

    def spend_refresh_failed(self) -> None:
        self.spend_refresh_failures.inc()

    def recalled(self, count: int) -> None:
        """`count` reservations held again at start-up (`spend.watched_pods`)."""
        self.reservations_recalled.inc(count)

    def released(self, reason: ReleaseReason, count: int) -> None:
        """`count` reservations dropped before their TTL."""
        if count:
            self.reservations_released.labels(reason).inc(count)
