"""A small async client for the Prometheus HTTP API (`/api/v1/query`), built on httpx.

It speaks only the documented HTTP API, so it works unchanged against Prometheus, Thanos,
Mimir or VictoriaMetrics. Every query is evaluated at an explicit `time`, so a snapshot
is one consistent instant and tests are deterministic.

Exceptions (all subclasses of `PrometheusError`):

    PrometheusError            anything that means "no trustworthy numbers this time"
    ├── Unavailable            connection refused/reset, timeout, HTTP 429/5xx — retried
    │   └── QueryTimeout       no answer within the timeout
    ├── QueryFailed            Prometheus answered with an error (HTTP 4xx, status=error):
    │                          a bad query, not retried
    └── BadResult              an answer that is not a usable vector: unparseable body,
                               wrong result type, NaN/±Inf sample, empty result (unless
                               the caller says "no series" means zero: `allow_empty`)

Transient failures (`Unavailable`) are retried with bounded exponential backoff; the
worst case of one `query` call is `attempts × timeout + sum of backoffs`, which the caller
keeps below its refresh interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx


class PrometheusError(Exception):
    """No trustworthy numbers this time; the message says why."""


class Unavailable(PrometheusError):
    """Prometheus could not be reached or answered with a transient error."""


class QueryTimeout(Unavailable):
    """Prometheus did not answer within the timeout."""


class QueryFailed(PrometheusError):
    """Prometheus rejected the query."""


class BadResult(PrometheusError):
    """The answer is not a usable vector of finite numbers."""


@dataclass(frozen=True, slots=True)
class Sample:
    labels: Mapping[str, str]
    value: Decimal


class PrometheusClient:
    """Instant queries against one Prometheus-compatible base URL."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float = 5.0,
        attempts: int = 3,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 4.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`headers`: e.g. `Authorization`, or `X-Scope-OrgID` for a multi-tenant Mimir."""
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            headers={"Accept": "application/json", **(headers or {})},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def query(
        self, promql: str, *, time: datetime, allow_empty: bool = False
    ) -> list[Sample]:
        """Evaluate `promql` at `time`: a vector of finite samples, or an error.

        An empty vector is an error (`BadResult`) unless `allow_empty`: by default "no
        series" is taken for a broken pipeline, never for a silent zero.
        """
        delay = self._backoff
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._query_once(promql, time=time, allow_empty=allow_empty)
            except Unavailable:
                if attempt == self._attempts:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def query_by(
        self, promql: str, *, time: datetime, label: str, allow_empty: bool = False
    ) -> dict[str, Decimal]:
        """`query`, keyed by the value of `label` (absent label -> "")."""
        result: dict[str, Decimal] = {}
        for sample in await self.query(promql, time=time, allow_empty=allow_empty):
            group = sample.labels.get(label, "")
            if group in result:
                raise BadResult(f"more than one series for {label}={group!r} in: {promql}")
            result[group] = sample.value
        return result

    async def _query_once(self, promql: str, *, time: datetime, allow_empty: bool) -> list[Sample]:
        try:
            response = await self._http.post(
                "/api/v1/query", data={"query": promql, "time": f"{time.timestamp():.3f}"}
            )
        except httpx.TimeoutException as error:
            raise QueryTimeout(f"no answer from Prometheus: {type(error).__name__}") from error
        except httpx.TransportError as error:
            raise Unavailable(f"cannot reach Prometheus: {error!r}") from error
        except httpx.HTTPError as error:  # undecodable body, redirect loop
            raise BadResult(f"unusable answer from Prometheus: {error!r}") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise Unavailable(f"Prometheus answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as error:
            raise BadResult(f"HTTP {response.status_code} with a body that is not JSON") from error
        if not isinstance(body, dict):
            raise BadResult("answer is not a JSON object")
        if response.status_code >= 400 or body.get("status") != "success":
            raise QueryFailed(
                f"HTTP {response.status_code} {body.get('errorType', '')}: "
                f"{body.get('error', 'no error message')} in: {promql}"
            )
        return samples_of(body.get("data"), promql, allow_empty=allow_empty)


def samples_of(data: Any, promql: str, *, allow_empty: bool = False) -> list[Sample]:
    """The samples of an instant query's `data` (a vector); raises `BadResult` for anything
    else, and for no series unless `allow_empty`."""
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        kind = data.get("resultType") if isinstance(data, dict) else type(data).__name__
        raise BadResult(f"expected a vector, got {kind!r} for: {promql}")
    result = data.get("result")
    if not isinstance(result, list):
        raise BadResult(f"vector result is not a list for: {promql}")
    if not result and not allow_empty:
        # "No series" looks exactly like a broken pipeline (exporter not scraped, label
        # renamed), so it is an error unless the caller knows it can mean zero.
        raise BadResult(f"empty result for: {promql}")
    samples = []
    for item in result:
        try:
            labels = item["metric"]
            raw = item["value"][1]
            value = Decimal(raw)
        except (KeyError, IndexError, TypeError, InvalidOperation) as error:
            raise BadResult(f"malformed sample {item!r} for: {promql}") from error
        if not isinstance(labels, dict):
            raise BadResult(f"malformed labels {labels!r} for: {promql}")
        if not value.is_finite():
            raise BadResult(f"non-finite value {raw} for {labels} in: {promql}")
        samples.append(Sample(labels=labels, value=value))
    return samples
