"""Batching wired into the served webhook: uvicorn's count of requests in progress, and
the batch-size metric (the mechanics are tested in tests/unit/api/test_batching.py)."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry
from webhook_support import NAMESPACES, fixture_paths, load_fixture, local_settings, running

from costwarden import app as application


def test_the_served_webhook_counts_requests_in_progress_and_reports_batch_sizes() -> None:
    registry = CollectorRegistry()
    app = application.create_app(
        local_settings(),
        namespaces=application.StaticNamespaceLabels(NAMESPACES),
        registry=registry,
    )
    # Before serving nothing tells the batches how busy the server is: each request alone.
    assert app.batches.in_progress() == 1
    review = load_fixture(next(p for p in fixture_paths() if p.name.startswith("009-")))
    with (
        running(app) as serving,
        httpx.Client(base_url=f"http://127.0.0.1:{serving.webhook_port}") as http,
    ):
        assert app.batches.in_progress() == 0  # uvicorn's own task set: nothing in flight
        for _ in range(3):
            assert http.post("/validate", json=review).json()["response"]["allowed"]
    assert registry.get_sample_value("costwarden_admission_batch_size_count") == 3
    assert registry.get_sample_value("costwarden_admission_batch_size_bucket", {"le": "1.0"}) == 3
