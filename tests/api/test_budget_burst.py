"""The burst test of issue 5: many concurrent pod creations through the real HTTPS server
against a budget with room for exactly ten, spend from a real Prometheus.

Each request is a real `/validate` AdmissionReview (fixture 009, the 4 × A100 `train-a100`
pod, under a distinct name and uid) sent on its own TLS connection; all are released at
once by a barrier. The seeded history gives Sales-5045 $297.0125 spent and 5.25 $/h
committed at 2026-03-03 12:00 UTC with 684 h of March left, so the cap below leaves a
headroom of 10.5 pods' worth: ten fit, the eleventh does not. Every request of the burst
sees the same snapshot; only the reservation ledger stands between it and the cap.
"""

from __future__ import annotations

import copy
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from tests.integration.prometheus.prometheus_harness import (
    PrometheusServer,
    SettableClock,
    seeded_prometheus,
)
from webhook_support import (
    NAMESPACES,
    budget_policy,
    fixture_paths,
    load_fixture,
    local_settings,
    running,
)

from costwarden import app as application
from costwarden import estimating
from costwarden.catalog.loading import bundled_catalog
from costwarden.reservations.ledger import ReservationLedger

pytestmark = pytest.mark.prometheus

T = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
COMMITTED = Decimal("297.0125") + Decimal("5.25") * 684
"""Spent so far + committed run-rate × hours left, from the seeded history."""
HOURS_LEFT = Decimal(684)
PODS = 50
DRY_RUNS = 12
RULE = "cc-budget"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with seeded_prometheus(tmp_path_factory) as server:
        yield server


def fixture(prefix: str) -> dict[str, Any]:
    return load_fixture(next(p for p in fixture_paths() if p.name.startswith(prefix)))


def renamed(review: dict[str, Any], name: str) -> dict[str, Any]:
    """The review for another pod of the same spec: its own name and uids."""
    copied = copy.deepcopy(review)
    request = copied["request"]
    request["uid"] = f"{name}-review"
    request["name"] = name
    request["object"]["metadata"]["name"] = name
    request["object"]["metadata"]["uid"] = f"{name}-uid"
    return copied


def pod_cost() -> Decimal:
    """What one pod reserves: its $/h (the bundled catalog) × the rest of March."""
    obj = fixture("009-")["request"]["object"]
    estimate = estimating.estimate_object(obj, catalog=bundled_catalog())
    assert estimate is not None
    return estimate.hourly.total * HOURS_LEFT


def burst(port: int, context: ssl.SSLContext, reviews: list[dict[str, Any]]) -> list[Any]:
    """Every review at once, each on its own HTTPS connection; the answers in order."""
    answers: list[Any] = [None] * len(reviews)
    clients = [
        httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=context, timeout=60)
        for _ in reviews
    ]
    for client in clients:
        # Open each TLS connection before the start line (kept alive for the POST); the
        # answer does not matter — /healthz lives on the metrics port.
        client.get("/healthz")
    start = threading.Barrier(len(reviews))

    def send(index: int) -> None:
        start.wait(timeout=60)
        answer = clients[index].post("/validate", json=reviews[index])
        answers[index] = answer.json()["response"]

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(reviews))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for client in clients:
        client.close()
    assert all(answer is not None for answer in answers), "a request of the burst got no answer"
    return answers


def serve_burst(
    tmp_path: Path,
    prometheus: PrometheusServer,
    *,
    cap: Decimal,
    reviews: list[dict[str, Any]],
    ledger: ReservationLedger | None = None,
    **settings: Any,
) -> list[Any]:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    leaf.cert_chain_pems[0].write_to_path(cert)
    leaf.private_key_pem.write_to_path(key)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    policy = tmp_path / "budget.yaml"
    policy.write_text(budget_policy(cap, on_stale="deny"))
    app = application.create_app(
        local_settings(
            insecure_http=False,
            tls_cert_file=cert,
            tls_key_file=key,
            policies=(policy,),
            prometheus_url=prometheus.url,
            **settings,
        ),
        namespaces=application.StaticNamespaceLabels(NAMESPACES),
        clock=SettableClock(T),
        reservations=ledger,
    )
    with running(app) as serving:
        spend = app.spend
        assert spend is not None
        for _ in range(3000):  # the first snapshot: a bounded wait, never a measured one
            if spend.snapshot().fetched_at is not None:
                break
            threading.Event().wait(0.02)
        assert spend.snapshot().fetched_at == T, spend.snapshot().error
        return burst(serving.webhook_port, context, reviews)


def budget_denial(answer: dict[str, Any]) -> bool:
    message: str = answer["status"]["message"]
    return message.startswith(f"[{RULE}] monthly budget of cost-centre=Sales-5045 ") and (
        "would be exceeded" in message or "the ledger refused" in message
    )


def test_fifty_concurrent_creations_against_room_for_ten_admit_exactly_ten(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    cost = pod_cost()
    cap = COMMITTED + cost * Decimal("10.5")
    real = [renamed(fixture("009-"), f"burst-{i:02d}") for i in range(PODS)]
    dry = [renamed(fixture("003-"), f"dry-{i:02d}") for i in range(DRY_RUNS)]
    assert all(review["request"]["dryRun"] for review in dry)
    # Dry runs interleaved with the real ones, all released at once.
    reviews = [*real[:25], *dry, *real[25:]]
    ledger = ReservationLedger()

    answers = serve_burst(tmp_path, prometheus, cap=cap, reviews=reviews, ledger=ledger)

    by_name = {
        review["request"]["name"]: answer for review, answer in zip(reviews, answers, strict=True)
    }
    admitted = [name for name in by_name if name.startswith("burst") and by_name[name]["allowed"]]
    denied = [
        by_name[f"burst-{i:02d}"] for i in range(PODS) if not by_name[f"burst-{i:02d}"]["allowed"]
    ]
    assert len(admitted) == 10
    assert len(denied) == PODS - 10
    for answer in denied:
        assert answer["status"]["code"] == 403
        assert budget_denial(answer), answer["status"]["message"]
    for answer in (by_name[f"dry-{i:02d}"] for i in range(DRY_RUNS)):
        assert answer["allowed"] or budget_denial(answer)
    # Exactly the ten admitted pods hold budget; the dry runs hold nothing.
    total = ledger.reserved(budget=RULE, group="Sales-5045", now=T)
    assert total == 10 * cost
    for name in admitted:
        assert (
            ledger.reserved(
                budget=RULE, group="Sales-5045", now=T, excluding=f"ml-train/Pod/{name}"
            )
            == 9 * cost
        )
    for i in range(DRY_RUNS):
        assert (
            ledger.reserved(
                budget=RULE, group="Sales-5045", now=T, excluding=f"ml-train/Pod/dry-{i:02d}"
            )
            == total
        )


def test_with_budget_replicas_two_each_replica_admits_half_the_headroom(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    # `--budget-replicas 2`: this replica may reserve half of the 10.5 pods of headroom,
    # so another replica admitting its half at the same moment cannot overshoot the cap.
    cap = COMMITTED + pod_cost() * Decimal("10.5")
    reviews = [renamed(fixture("009-"), f"burst-{i:02d}") for i in range(PODS)]

    answers = serve_burst(tmp_path, prometheus, cap=cap, reviews=reviews, budget_replicas=2)

    assert sum(answer["allowed"] for answer in answers) == 5
    refused = [answer for answer in answers if not answer["allowed"]]
    assert len(refused) == PODS - 5
    assert all(budget_denial(answer) for answer in refused)
