"""The admission hot path's own counter and histogram expose exactly what prometheus_client's
`Counter` and `Histogram` expose for the same observations (their `_created` samples
aside), so dashboards and alerts cannot tell them apart."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from costwarden import metrics

BOUNDS = metrics.LATENCY_BUCKETS_SECONDS
LABELS = st.tuples(st.sampled_from(["validate", "mutate"]), st.sampled_from(["Pod", "Job"]))
AMOUNTS = st.one_of(
    st.sampled_from([0.0, *BOUNDS, BOUNDS[-1] * 2]),  # on a bound: counted in its bucket
    st.floats(min_value=0, max_value=5, allow_nan=False),
)


def exposition(registry: CollectorRegistry) -> list[str]:
    return [
        line for line in generate_latest(registry).decode().splitlines() if "_created" not in line
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(LABELS, AMOUNTS), max_size=30))
def test_the_histogram_exposes_what_client_pythons_does(observations) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    mine = metrics.LabelledHistogram(
        "t_seconds", "help", ("webhook", "kind"), buckets=BOUNDS, registry=ours
    )
    reference = Histogram("t_seconds", "help", ("webhook", "kind"), buckets=BOUNDS, registry=theirs)
    for labels, amount in observations:
        mine.observe(labels, amount)
        reference.labels(*labels).observe(amount)
    assert exposition(ours) == exposition(theirs)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(LABELS, st.floats(min_value=0, max_value=1e6)), max_size=30))
def test_the_counter_exposes_what_client_pythons_does(increments) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    mine = metrics.LabelledCounter("t_total", "help", ("webhook", "kind"), registry=ours)
    reference = Counter("t_total", "help", ("webhook", "kind"), registry=theirs)
    for labels, amount in increments:
        mine.inc(labels, amount)
        reference.labels(*labels).inc(amount)
    assert exposition(ours) == exposition(theirs)


def test_a_name_taken_by_another_collector_is_refused() -> None:
    registry = CollectorRegistry()
    metrics.LabelledCounter("t_total", "help", ("webhook",), registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Counter("t_total", "help", ("webhook",), registry=registry)


def test_increments_from_many_threads_are_all_counted() -> None:
    registry = CollectorRegistry()
    counter = metrics.LabelledCounter("t_total", "help", ("webhook",), registry=registry)
    histogram = metrics.LabelledHistogram(
        "t_seconds", "help", ("webhook",), buckets=BOUNDS, registry=registry
    )

    def record() -> None:
        for _ in range(20_000):
            counter.inc(("validate",))
            histogram.observe(("validate",), 0.001)

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert registry.get_sample_value("t_total", {"webhook": "validate"}) == 80_000
    assert registry.get_sample_value("t_seconds_count", {"webhook": "validate"}) == 80_000
