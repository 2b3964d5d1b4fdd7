"""Fixtures of the Prometheus integration tests; the harness is in prometheus_harness.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_harness import (
    FaultProxy,
    PrometheusServer,
    require_prometheus,
    seeded_prometheus,
    write_blocks,
)


@pytest.fixture(scope="session")
def prometheus_installed() -> None:
    """Skip locally / fail under CI=true when the Debian prometheus package is missing."""
    require_prometheus()


@pytest.fixture(scope="session")
def seeded_blocks(prometheus_installed: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TSDB blocks of the scenario, written once by promtool."""
    return write_blocks(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def prometheus(
    seeded_blocks: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    """A running Prometheus with the seeded history, shared by a module's read-only tests."""
    with seeded_prometheus(tmp_path_factory, seeded_blocks) as server:
        yield server


@pytest.fixture
def own_prometheus(seeded_blocks: Path, tmp_path: Path) -> Iterator[PrometheusServer]:
    """A Prometheus with the seeded history that the test may stop and restart."""
    server = PrometheusServer(tmp_path, blocks=seeded_blocks)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def proxy(prometheus: PrometheusServer) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(prometheus.url)
    yield fault_proxy
    fault_proxy.close()
