"""The admission metrics as Prometheus scrapes them: the names, types, labels and buckets
the chart's dashboard and alerts read, and counts that add up whatever the label tuples
and threads that record them."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from costwarden import metrics

WEBHOOKS = st.sampled_from(["validate", "mutate"])
SECONDS = st.one_of(
    st.sampled_from([0.0, *metrics.LATENCY_BUCKETS_SECONDS, 2.0]),  # on a bound: its bucket
    st.floats(min_value=0, max_value=5, allow_nan=False),
)
POD = {
    "namespace": "ml-train",
    "cost_centre": "Sales-5045",
    "team": "nlp",
    "gpu_model": "l4",
    "capacity_type": "spot",
}
"""One admitted pod's cost dimensions."""


def exposition(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def samples(registry: CollectorRegistry, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """The samples called `name` in the exposition, by their labels."""
    return {
        frozenset(sample.labels.items()): sample.value
        for family in text_string_to_metric_families(exposition(registry))
        for sample in family.samples
        if sample.name == name
    }


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return samples(registry, name).get(frozenset(labels.items()))


def record_one_of_each(recorder: metrics.AdmissionMetrics) -> None:
    recorder.review(
        webhook="validate", operation="CREATE", kind="Pod", decision="allowed", seconds=0.001
    )
    recorder.batch(2)
    recorder.violation(policy="gpu", rule="limits", action="deny")
    recorder.waived(rule="limits")
    recorder.reloaded(source="policies", success=True, at_unix_seconds=1_700_000_000)
    recorder.admitted_pod(**POD, hourly_cost=Decimal("0.25"), currency="USD")


def test_admission_metrics_keep_the_names_types_and_labels_dashboards_read() -> None:
    registry = CollectorRegistry()
    record_one_of_each(metrics.AdmissionMetrics(registry))
    families = {
        family.name: (family.type, {name for s in family.samples for name in s.labels})
        for family in text_string_to_metric_families(exposition(registry))
        if not family.name.endswith("_created")
    }
    cost = set(metrics.COST_DIMENSIONS)
    assert families == {
        "costwarden_admission_requests": (
            "counter",
            {"webhook", "operation", "kind", "decision"},
        ),
        "costwarden_admission_duration_seconds": ("histogram", {"webhook", "le"}),
        "costwarden_admission_batch_size": ("histogram", {"le"}),
        "costwarden_policy_violations": ("counter", {"policy", "rule", "action"}),
        "costwarden_waivers": ("counter", {"rule"}),
        "costwarden_policy_reload_success": ("gauge", {"source"}),
        "costwarden_policy_reload_timestamp_seconds": ("gauge", {"source"}),
        "costwarden_admitted_pods": ("counter", cost),
        "costwarden_admitted_pod_hourly_cost": ("counter", {*cost, "currency"}),
    }


def test_latency_and_batch_buckets_are_the_documented_bounds() -> None:
    registry = CollectorRegistry()
    record_one_of_each(metrics.AdmissionMetrics(registry))

    def bounds(name: str) -> list[float]:
        return sorted(float(dict(labels)["le"]) for labels in samples(registry, name))

    latency = bounds("costwarden_admission_duration_seconds_bucket")
    assert latency == [*metrics.LATENCY_BUCKETS_SECONDS, float("inf")]
    assert bounds("costwarden_admission_batch_size_bucket") == [
        *metrics.BATCH_SIZE_BUCKETS,
        float("inf"),
    ]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(WEBHOOKS, SECONDS), max_size=30))
def test_each_review_is_counted_once_and_timed_in_the_first_bucket_that_holds_it(
    reviews: list[tuple[str, float]],
) -> None:
    registry = CollectorRegistry()
    recorder = metrics.AdmissionMetrics(registry)
    for webhook, seconds in reviews:
        recorder.review(
            webhook=webhook, operation="CREATE", kind="Pod", decision="allowed", seconds=seconds
        )
    for webhook in ("validate", "mutate"):
        times = [seconds for name, seconds in reviews if name == webhook]
        requests = value(
            registry,
            "costwarden_admission_requests_total",
            webhook=webhook,
            operation="CREATE",
            kind="Pod",
            decision="allowed",
        )
        assert requests == (len(times) or None)
        buckets = {
            float(dict(labels)["le"]): count
            for labels, count in samples(
                registry, "costwarden_admission_duration_seconds_bucket"
            ).items()
            if dict(labels)["webhook"] == webhook
        }
        assert buckets == {
            bound: sum(1 for s in times if s <= bound)
            for bound in (*metrics.LATENCY_BUCKETS_SECONDS, float("inf"))
            if times
        }
        total = value(registry, "costwarden_admission_duration_seconds_sum", webhook=webhook)
        assert total == (pytest.approx(sum(times)) if times else None)


def test_violations_and_admitted_cost_add_up_per_label_set() -> None:
    registry = CollectorRegistry()
    recorder = metrics.AdmissionMetrics(registry)
    for action in ("deny", "warn", "deny"):
        recorder.violation(policy="gpu", rule="limits", action=action)
    for cost in ("0.25", "0.50"):
        recorder.admitted_pod(**POD, hourly_cost=Decimal(cost), currency="USD")
    violations = "costwarden_policy_violations_total"
    assert value(registry, violations, policy="gpu", rule="limits", action="deny") == 2
    assert value(registry, violations, policy="gpu", rule="limits", action="warn") == 1
    assert value(registry, "costwarden_admitted_pods_total", **POD) == 2
    hourly = value(registry, "costwarden_admitted_pod_hourly_cost_total", **POD, currency="USD")
    assert hourly == 0.75


def test_waivers_are_counted_per_rule() -> None:
    registry = CollectorRegistry()
    recorder = metrics.AdmissionMetrics(registry)
    for rule in ("dev-on-spot", "max-gpus", "dev-on-spot"):
        recorder.waived(rule=rule)
    assert value(registry, "costwarden_waivers_total", rule="dev-on-spot") == 2
    assert value(registry, "costwarden_waivers_total", rule="max-gpus") == 1


def test_a_second_set_of_admission_metrics_on_one_registry_is_refused() -> None:
    registry = CollectorRegistry()
    metrics.AdmissionMetrics(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        metrics.AdmissionMetrics(registry)


def test_reviews_recorded_from_many_threads_are_all_counted() -> None:
    registry = CollectorRegistry()
    recorder = metrics.AdmissionMetrics(registry)

    def record() -> None:
        for _ in range(5_000):
            recorder.review(
                webhook="validate", operation="CREATE", kind="Pod", decision="allowed", seconds=0
            )

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    labels = {"webhook": "validate", "operation": "CREATE", "kind": "Pod", "decision": "allowed"}
    assert value(registry, "costwarden_admission_requests_total", **labels) == 20_000
    assert value(registry, "costwarden_admission_duration_seconds_count", webhook="validate") == (
        20_000
    )
