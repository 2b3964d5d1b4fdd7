"""The pod cost exporter end to end: two webhook replicas export the same pods, a real
Prometheus scrapes both, and the default budget run-rate counts each pod once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_harness import PrometheusServer

from costwarden.estimating.estimates import Breakdown, Placement, PodEstimate, Requests
from costwarden.metrics import SpendMetrics
from costwarden.spend import queries
from costwarden.spend.prometheus import PrometheusClient, PrometheusError
from costwarden.spend.watched_pods import PodCostTracker

pytestmark = pytest.mark.prometheus


class Namespaces:
    def labels_for(self, namespace: str) -> Mapping[str, str] | None:
        return {"ml-train": {"cost-centre": "Sales-5045", "team": "nlp"}}.get(namespace)


def estimate(
    spec: Mapping[str, Any], annotations: Mapping[str, Any], namespace: str
) -> PodEstimate:
    gpus = int(spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"])
    return PodEstimate(
        requests=Requests(cpu=Decimal(1), memory_gib=Decimal(1)),
        placement=Placement(capacity_type="on-demand", accelerator_model="A100"),
        hourly=Breakdown(Decimal("0.25"), Decimal(0), Decimal("2.5") * gpus),
        currency="USD",
        catalog_version="test",
    )


def pod(name: str, gpus: int, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ml-train", "labels": labels},
        "spec": {
            "nodeName": "gpu-1",
            "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": gpus}}}],
        },
        "status": {"phase": "Running"},
    }


@pytest.fixture
def replicas() -> Iterator[list[tuple[PodCostTracker, str]]]:
    exporters = []
    for _ in range(2):
        registry = CollectorRegistry()
        tracker = PodCostTracker(
            estimate=estimate, namespaces=Namespaces(), metrics=SpendMetrics(registry)
        )
        server, thread = start_http_server(0, "127.0.0.1", registry)
        exporters.append((tracker, server, thread))
    yield [(tracker, f"127.0.0.1:{server.server_address[1]}") for tracker, server, _ in exporters]
    for _, server, thread in exporters:
        server.shutdown()
        server.server_close()
        thread.join()


async def wait_for_run_rate(
    client: PrometheusClient, promql: str, expected: dict[str, Decimal]
) -> None:
    async def settled() -> None:
        while True:
            try:
                got = await client.query_by(promql, time=datetime.now(UTC), label="cost_centre")
            except PrometheusError:
                got = {}
            if got == expected:
                return
            await asyncio.sleep(0.2)

    await asyncio.wait_for(settled(), timeout=60)


async def test_replicas_exporting_the_same_pods_count_once_and_deleted_pods_stop_counting(
    prometheus_installed: None, replicas: list[tuple[PodCostTracker, str]], tmp_path: Path
) -> None:
    for tracker, _ in replicas:
        tracker.apply("ADDED", pod("train", gpus=2))  # 5.25 $/h
        tracker.apply("ADDED", pod("serve", gpus=1))  # 2.75 $/h
        tracker.apply("ADDED", pod("ops", gpus=0, **{"cost-centre": "Ops-7"}))  # 0.25 $/h
    server = PrometheusServer(tmp_path, blocks=None, scrape=tuple(t for _, t in replicas))
    server.start()
    client = PrometheusClient(server.url)
    try:
        # Wait until both replicas were scraped: a plain sum then counts every pod twice.
        naive = "sum by (cost_centre) (costwarden_pod_hourly_cost)"
        await wait_for_run_rate(
            client, naive, {"Sales-5045": Decimal("16.0"), "Ops-7": Decimal("0.5")}
        )
        run_rate = queries.default_run_rate(queries.BudgetQuery(name="cc", group_by="cost_centre"))
        got = await client.query_by(run_rate, time=datetime.now(UTC), label="cost_centre")
        assert got == {"Sales-5045": Decimal("8.0"), "Ops-7": Decimal("0.25")}

        for tracker, _ in replicas:
            tracker.apply("DELETED", pod("train", gpus=2))
        # The removed series is marked stale at the next scrape, so the pod stops
        # counting at once rather than lingering for the 5-minute lookback.
        await wait_for_run_rate(
            client, run_rate, {"Sales-5045": Decimal("2.75"), "Ops-7": Decimal("0.25")}
        )
    finally:
        await client.aclose()
        server.stop()
