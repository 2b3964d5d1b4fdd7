"""All Prometheus metrics of costwarden, on an injected registry (prometheus_client).

Conventions (client_python and the Prometheus naming guide): a `costwarden_` prefix, the
unit in the name (`_seconds`, `_hourly_cost`), `_total` on counters, and label sets that
stay bounded whatever users send — operations and kinds are closed sets, policy and rule
names come from reviewed policy files, and the per-namespace cost dimensions are capped
(`BoundedLabels`).

Cost metrics share one dimensional model with the rest of the cluster's telemetry —
`namespace`, `cost_centre`, `team`, `gpu_model`, `capacity_type` — so cost sits beside
latency and utilisation in the same PromQL.

Each component's metrics are one class here; the application builds them once on one
registry and hands them to whoever records.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

COST_DIMENSIONS = ("namespace", "cost_centre", "team", "gpu_model", "capacity_type")
"""The unified dimensional model of every cost metric."""

OTHER = "other"
"""What a label value becomes once the series budget is spent."""

LATENCY_BUCKETS_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Admission is sub-millisecond to milliseconds; the API server times out at 1-30 s."""

KNOWN_KINDS = frozenset(
    {
        "Pod",
        "Deployment",
        "StatefulSet",
        "ReplicaSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "Scale",
        "Namespace",
    }
)


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
        with self._lock:
            if key in self._seen:
                return key
            if len(self._seen) < self._limit:
                self._seen.add(key)
                return key
        return tuple(OTHER for _ in key)


class AdmissionMetrics:
    """What the admission webhook records."""

    def __init__(self, registry: CollectorRegistry, *, cost_series_limit: int = 2000) -> None:
        self.requests = Counter(
            "costwarden_admission_requests_total",
            "Admission reviews answered, by webhook (validate/mutate), operation, kind and "
            "decision (allowed, denied, error).",
            ("webhook", "operation", "kind", "decision"),
            registry=registry,
        )
        self.latency = Histogram(
            "costwarden_admission_duration_seconds",
            "Time to answer one admission review, from the body read to the response built.",
            ("webhook",),
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=registry,
        )
        self.violations = Counter(
            "costwarden_policy_violations_total",
            "Rule violations found by /validate, by policy, rule and action (deny, warn, dryrun).",
            ("policy", "rule", "action"),
            registry=registry,
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
        self.admitted_pods = Counter(
            "costwarden_admitted_pods_total",
            "Pods admitted (not dry-run), in the cost dimensional model.",
            COST_DIMENSIONS,
            registry=registry,
        )
        self.admitted_hourly_cost = Counter(
            "costwarden_admitted_pod_hourly_cost_total",
            "Sum of the estimated hourly cost (catalog currency per hour) of admitted pods: "
            "increase() over a window is the run-rate admitted in it.",
            (*COST_DIMENSIONS, "currency"),
            registry=registry,
        )
        self._cost_labels = BoundedLabels(cost_series_limit)
        # Children by label values: `labels()` re-validates its arguments on every call,
        # which shows on a hot path that records two series per review.
        self._request_children: dict[tuple[str, str, str, str], Any] = {}
        self._latency_children: dict[str, Any] = {}

    def review(
        self, *, webhook: str, operation: str, kind: str, decision: str, seconds: float
    ) -> None:
        key = (webhook, operation, kind if kind in KNOWN_KINDS else OTHER, decision)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self.requests.labels(*key)
        counter.inc()
        histogram = self._latency_children.get(webhook)
        if histogram is None:
            histogram = self._latency_children[webhook] = self.latency.labels(webhook)
        histogram.observe(seconds)

    def violation(self, *, policy: str, rule: str, action: str) -> None:
        self.violations.labels(policy, rule, action).inc()

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
        self.admitted_pods.labels(*labels).inc()
        # Prometheus samples are floats; the Decimal is exact up to here.
        self.admitted_hourly_cost.labels(*labels, currency).inc(float(hourly_cost))
