"""Parsing of `/api/v1/query` answer bodies (the `data` member), without a server.

The answers a real server gives — NaN, empty, errors, timeouts — are exercised against
a real Prometheus in tests/integration/prometheus; this covers shapes it does not produce
on demand (a matrix, malformed samples, duplicate groups)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from costwarden.spend import prometheus


def vector(*samples: tuple[dict[str, str], str]) -> dict[str, object]:
    return {
        "resultType": "vector",
        "result": [{"metric": m, "value": [1772539200, v]} for m, v in samples],
    }


def test_sample_values_are_read_as_exact_decimals() -> None:
    samples = prometheus.samples_of(vector(({"cost_centre": "A"}, "297.0125"), ({}, "1e-05")), "q")
    assert [s.value for s in samples] == [Decimal("297.0125"), Decimal("0.00001")]
    assert samples[0].labels == {"cost_centre": "A"}


@pytest.mark.parametrize("value", ["NaN", "+Inf", "-Inf"])
def test_non_finite_values_are_rejected(value: str) -> None:
    with pytest.raises(prometheus.BadResult, match="non-finite"):
        prometheus.samples_of(vector(({}, value)), "q")


@pytest.mark.parametrize(
    "data",
    [
        {"resultType": "matrix", "result": []},
        {"resultType": "vector", "result": [{"metric": {}, "value": [1]}]},
        {"resultType": "vector", "result": [{"metric": {}, "value": [1, "twelve"]}]},
        {"resultType": "vector", "result": [{"metric": [], "value": [1, "1"]}]},
        {"resultType": "vector", "result": {}},
        None,
    ],
    ids=["matrix", "no-value", "not-a-number", "bad-labels", "result-not-list", "no-data"],
)
def test_answers_that_are_not_a_vector_of_samples_are_rejected(data: object) -> None:
    with pytest.raises(prometheus.BadResult):
        prometheus.samples_of(data, "q")


def test_every_error_is_a_prometheus_error_and_timeouts_are_unavailability() -> None:
    assert issubclass(prometheus.QueryTimeout, prometheus.Unavailable)
    for error in (prometheus.Unavailable, prometheus.QueryFailed, prometheus.BadResult):
        assert issubclass(error, prometheus.PrometheusError)


def test_a_client_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="attempts"):
        prometheus.PrometheusClient("http://127.0.0.1:9", attempts=0)
