"""`--metrics-host` binds the operations port (/metrics, /healthz, /readyz) to its own
address, over real sockets on loopback: 127.0.0.2 (all of 127/8 is loopback on Linux) for
the operations port, 127.0.0.1 for the webhook — each answers only where it was told to."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from webhook_support import (
    ScriptedEvaluator,
    allow_with_estimate,
    build_app,
    local_settings,
    running,
)

from costwarden import settings


def refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def test_the_operations_port_listens_only_on_its_own_address(tmp_path: Path) -> None:
    try:
        with socket.create_server(("127.0.0.2", 0)):
            pass
    except OSError as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"127.0.0.2 is not a loopback address here: {exc}")
    app = build_app(
        tmp_path,
        ScriptedEvaluator(allow_with_estimate),
        settings=local_settings(host="127.0.0.1", metrics_host="127.0.0.2"),
    )
    with running(app) as serving:
        metrics, webhook = serving.metrics_port, serving.webhook_port
        assert httpx.get(f"http://127.0.0.2:{metrics}/readyz", timeout=10).json()["ready"]
        assert "costwarden_" in httpx.get(f"http://127.0.0.2:{metrics}/metrics", timeout=10).text
        assert refused("127.0.0.1", metrics)
        assert refused("127.0.0.2", webhook)
        answer = httpx.post(f"http://127.0.0.1:{webhook}/validate", content=b"{}", timeout=10)
        assert answer.status_code == 400


def test_unset_the_operations_port_listens_where_the_webhook_does() -> None:
    loaded = settings.load(flags={}, environ={})
    assert loaded.metrics_host is None
    assert loaded.host == "0.0.0.0"
    assert (
        settings.load(flags={}, environ={"COSTWARDEN_METRICS_HOST": "10.0.0.7"}).metrics_host
        == "10.0.0.7"
    )
