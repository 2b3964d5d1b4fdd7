"""The webhook with spend data: Prometheus behind `--prometheus-url`, the reservation ledger.

The budget arithmetic is the spend and engine packages' (tested there); these tests prove
the wiring: the refresher runs while serving and follows policy reloads, dry runs and
/mutate never write to the ledger, /readyz reports spend errors, and — against a real
Prometheus seeded with a month of history — a burst is capped by the ledger.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.prometheus.prometheus_harness import (
    FaultProxy,
    PrometheusServer,
    SettableClock,
    require_prometheus,
    seeded_prometheus,
    write_blocks,
)
from webhook_support import (
    NAMESPACES,
    ConfigMapVolume,
    budget_policy,
    fixture_paths,
    load_fixture,
    local_settings,
    running,
    wait_until,
)

from costwarden import app as application
from costwarden import estimating
from costwarden import settings as settings_module
from costwarden.catalog.loading import bundled_catalog
from costwarden.documents import InvalidInput
from costwarden.engine.ports import Reservation
from costwarden.reservations.ledger import ReservationLedger

T = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
"""The seeded history: Sales-5045 spent $297.0125 this month at 5.25 $/h, 684 h left."""
UNREACHABLE = "http://127.0.0.1:9"


def review(prefix: str, **changes: Any) -> dict[str, Any]:
    found = load_fixture(next(p for p in fixture_paths() if p.name.startswith(prefix)))
    found["request"].update(changes)
    return found


def another(body: dict[str, Any], *, uid: str, name: str) -> dict[str, Any]:
    """The same review for another object of the same spec: its own uid and name."""
    copied = copy.deepcopy(body)
    copied["request"]["uid"] = uid
    copied["request"]["name"] = copied["request"]["object"]["metadata"]["name"] = name
    return copied


def nothing_held(ledger: ReservationLedger, clock: SettableClock, *, what: str) -> None:
    """Wait until the refresher has released every reservation of Sales-5045."""
    wait_until(
        lambda: ledger.reserved(budget="cc-budget", group="Sales-5045", now=clock.now()) == 0,
        what=what,
    )


def allowed(http: httpx.Client, body: dict[str, Any], path: str = "/validate") -> bool:
    decision: bool = http.post(path, json=body).json()["response"]["allowed"]
    return decision


def reservation(key: str, amount: int) -> Reservation:
    return Reservation("b", "g", key, Decimal(amount), Decimal(10), owner=None, pods=1, at=T)


def test_asking_the_ledger_answers_as_a_commit_would_and_writes_nothing() -> None:
    ledger = ReservationLedger()
    ask = {"budget": "b", "group": "g", "amount": Decimal(6), "limit": Decimal(10), "now": T}
    assert ledger.commit([reservation("first", 6)]) == []
    assert ledger.ask(key="second", **ask) == (Decimal(6), False)  # 6 + 6 > 10
    assert ledger.ask(key="first", **ask) == (Decimal(0), True)  # its own would be replaced
    assert ledger.ask(key="fourth", **{**ask, "amount": Decimal(4)}) == (Decimal(6), True)
    assert ledger.reserved(budget="b", group="g", now=T) == Decimal(6)
    assert ledger.commit([reservation("third", 4)]) == []


def test_asking_is_refused_where_a_commit_would_be_for_the_replicas_share() -> None:
    ledger = ReservationLedger(headroom_share=Decimal(1) / 2)  # --budget-replicas 2
    ask = {"budget": "b", "group": "g", "amount": Decimal(6), "limit": Decimal(10), "now": T}
    assert not ledger.ask(key="pod", **ask).fits  # 6 > 10 × 1/2: the real one is refused
    refused = reservation("pod", 6)
    assert ledger.commit([refused]) == [refused]
    assert ledger.ask(key="pod", **{**ask, "amount": Decimal(5)}).fits
    assert ledger.reserved(budget="b", group="g", now=T) == Decimal(0)


def test_stale_spend_warns_and_readyz_reports_the_spend_error(tmp_path: Path) -> None:
    policy = tmp_path / "budget.yaml"
    policy.write_text(budget_policy("1000000"))
    settings = local_settings(
        policies=(policy,), prometheus_url=UNREACHABLE, spend_timeout_seconds=0.5
    )
    app = application.create_app(settings, namespaces=application.StaticNamespaceLabels(NAMESPACES))
    assert app.spend is not None
    with running(app) as serving:
        wait_until(
            lambda: app.spend is not None and app.spend.snapshot().error is not None,
            what="the failed spend refresh",
        )
        answer = httpx.post(
            f"http://127.0.0.1:{serving.webhook_port}/validate", json=review("009-")
        ).json()["response"]
        ready = httpx.get(f"http://127.0.0.1:{serving.metrics_port}/readyz")
    assert answer["allowed"] is True
    assert any(w.startswith("[cc-budget]") for w in answer["warnings"])
    assert ready.status_code == 200  # budgets degrade per their own setting, never readiness
    assert ready.json()["spend"]["error"]


def test_a_budget_no_spend_series_can_check_refuses_to_start_and_to_reload(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(budget_policy("1000", label="project"))
    with pytest.raises(InvalidInput, match="label 'project' has no spend series"):
        application.create_app(local_settings(policies=(bad,), prometheus_url=UNREACHABLE))

    volume = ConfigMapVolume(tmp_path / "policies", {"b.yaml": budget_policy("1")})
    app = application.create_app(
        local_settings(policies=(volume.directory,), prometheus_url=UNREACHABLE)
    )
    policies = app.sources[0]
    served = policies.current
    volume.update({"b.yaml": budget_policy("1", label="project")})
    assert policies.reload_if_changed() is False
    assert policies.current is served
    assert "no spend series" in (policies.status.error or "")


@pytest.fixture(scope="module")
def blocks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_prometheus()
    return write_blocks(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def prometheus(
    blocks: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    with seeded_prometheus(tmp_path_factory, blocks) as server:
        yield server


@contextlib.contextmanager
def budgeted_webhook(
    tmp_path: Path, prometheus: PrometheusServer, cap: str, *, clock: SettableClock | None = None
) -> Iterator[tuple[application.App, httpx.Client]]:
    """The webhook with `cc-budget` capping Sales-5045 at `cap`, spend from the seeded
    Prometheus at T (or `clock`'s time, refreshed every 50 ms), serving, its first spend
    snapshot fetched; and a client for it."""
    policy = tmp_path / "budget.yaml"
    policy.write_text(budget_policy(cap))
    refresh = {} if clock is None else {"spend_refresh_seconds": 0.05}
    settings = local_settings(policies=(policy,), prometheus_url=prometheus.url, **refresh)
    app = application.create_app(
        settings,
        namespaces=application.StaticNamespaceLabels(NAMESPACES),
        clock=clock or SettableClock(T),
    )
    with (
        running(app) as serving,
        httpx.Client(base_url=f"http://127.0.0.1:{serving.webhook_port}") as http,
    ):
        wait_until(
            lambda: app.spend is not None and app.spend.snapshot().fetched_at is not None,
            what="the first spend snapshot",
        )
        yield app, http


@pytest.mark.prometheus
def test_a_burst_is_capped_by_the_ledger_and_dry_runs_reserve_nothing(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    # Projected month end without the pod: 297.0125 + 5.25 × 684 = 3888.01; the 4×A100
    # pod adds its $/h × 684 h (≈ 6,236): the cap leaves room for exactly one of them.
    first = review("009-")
    dry = review("003-")  # the same pod, dryRun: true
    second = another(first, uid="second-pod", name="train-b")
    with budgeted_webhook(tmp_path, prometheus, "12000") as (app, http):
        assert app.spend is not None
        assert app.spend.snapshot().error is None
        assert allowed(http, dry)
        assert allowed(http, dry)
        assert allowed(http, second, "/mutate")  # mutate never reserves either
        assert allowed(http, first)  # the dry runs held nothing: the first real one fits
        denial = http.post("/validate", json=second).json()["response"]
    assert denial["allowed"] is False
    assert denial["status"]["message"].startswith("[cc-budget]")


@pytest.mark.prometheus
def test_once_spend_data_shows_an_admitted_pod_running_its_reservation_no_longer_takes_room(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    # Room for one 4×A100 pod, as above. The first one's reservation takes it; once the
    # spend data shows train-a100 running (the seeded history does), its cost is in the
    # run-rate, the reservation goes, and the second fits: the run-rate alone leaves room.
    first = review("009-")
    second = another(first, uid="second-pod", name="train-b")
    clock = SettableClock(T)
    with budgeted_webhook(tmp_path, prometheus, "12000", clock=clock) as (app, http):
        ledger = app.reservations
        assert ledger is not None
        assert allowed(http, first)
        assert not allowed(http, second)
        clock.advance(timedelta(minutes=3))  # its reservation is old enough to release
        nothing_held(ledger, clock, what="the first pod's reservation released")
        assert app.spend is not None
        assert app.spend.snapshot().error is None
        assert allowed(http, second)


@pytest.mark.prometheus
def test_once_spend_data_shows_a_deployments_new_pods_its_reservation_no_longer_takes_room(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    # Fixture 014, the llm-server Deployment (2 replicas), takes the last room; a second
    # Deployment of the same spec is denied. Its ReplicaSet makes two pods, named as pods
    # the seeded history shows running: once the pod watch has them and the reservation is
    # 2 minutes old, the refresher releases it and the second fits.
    first = review("014-")
    obj = first["request"]["object"]
    estimate = estimating.estimate_object(obj, catalog=bundled_catalog())
    assert estimate is not None
    assert estimate.pods == 2
    workload = estimate.hourly.total * 684  # hours left in March at T
    cap = Decimal("297.0125") + Decimal("5.25") * 684 + workload * Decimal("1.5")
    second = another(first, uid="second-deployment", name="llm-b")
    clock = SettableClock(T)
    with budgeted_webhook(tmp_path, prometheus, str(cap), clock=clock) as (app, http):
        assert app.spend is not None
        ledger = app.reservations
        assert ledger is not None
        assert allowed(http, first)
        assert not allowed(http, second)
        tracker = app.pod_tracker()  # as `serve` feeds its pod watch
        assert tracker is not None
        tracker.replace([])  # the watch's first list, at start: no pods yet
        replica_set = f"llm-server-{TEMPLATE_HASH}"
        for name in ("train-a100", "llm-0"):  # the names the seeded history runs
            pod = {
                "metadata": {
                    "namespace": "ml-train",
                    "name": name,
                    "labels": {"pod-template-hash": TEMPLATE_HASH},
                    "creationTimestamp": "2026-03-03T12:00:10Z",  # after the admission
                    "ownerReferences": [
                        {"kind": "ReplicaSet", "name": replica_set, "controller": True}
                    ],
                },
                "spec": obj["spec"]["template"]["spec"],
                "status": {"phase": "Pending"},
            }
            tracker.apply("ADDED", pod)
        clock.advance(timedelta(minutes=3))  # the reservation is old enough to release
        nothing_held(ledger, clock, what="the Deployment's reservation released")
        assert app.spend.snapshot().error is None
        assert allowed(http, second)


@pytest.mark.prometheus
def test_a_replica_that_starts_holds_what_was_admitted_just_before_its_ledger_began(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    # Room for one 4×A100 pod, as above. train-a100 was admitted a minute before this
    # replica started (a rollout), into the last room; this replica's ledger starts empty,
    # and the spend data does not count the pod yet. Its pod watch's first list has the
    # pod: it is held again, and a second pod is denied until the spend data shows the
    # first running.
    first = review("009-")
    obj = copy.deepcopy(first["request"]["object"])
    obj["metadata"]["creationTimestamp"] = "2026-03-03T11:59:00Z"
    listed = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    second = another(first, uid="second-pod", name="train-b")
    second_dry = another(review("009-", dryRun=True), uid="second-dry", name="train-b")
    clock = SettableClock(T)
    with budgeted_webhook(tmp_path, prometheus, "12000", clock=clock) as (app, http):
        ledger = app.reservations
        assert ledger is not None
        assert app.spend_metrics is not None
        assert allowed(http, second_dry)  # what the empty ledger would have let in
        tracker = app.pod_tracker()  # as `serve` feeds its pod watch
        assert tracker is not None
        tracker.replace([listed])
        assert app.registry.get_sample_value("costwarden_budget_reservations_recalled_total") == 1
        denial = http.post("/validate", json=second).json()["response"]
        assert denial["allowed"] is False
        assert "reserved $6," in denial["status"]["message"]
        clock.advance(timedelta(minutes=3))  # the recalled reservation is old enough to go
        nothing_held(ledger, clock, what="the recalled reservation released once shown")
        assert allowed(http, second)


TEMPLATE_HASH = "69cc8c784f"
"""llm-server's ReplicaSet suffix, as in the captured pods 017 and 019."""


@pytest.mark.prometheus
def test_an_owner_reference_spares_a_pod_its_budget_only_when_a_controller_made_it(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    # Sales-5045 is over this cap already (3888.01 projected > 1000): any pod it is charged
    # for is denied. The captured pod of a ReplicaSet, created by replicaset-controller, is
    # not charged (its Deployment was); the same pod sent by a person is.
    made = review("017-")
    assert made["request"]["userInfo"]["username"].endswith(":replicaset-controller")
    forged = copy.deepcopy(made)
    forged["request"]["userInfo"] = {"username": "alice@example.com", "groups": []}
    with budgeted_webhook(tmp_path, prometheus, "1000") as (_, http):
        assert http.post("/validate", json=made).json()["response"]["allowed"] is True
        denial = http.post("/validate", json=forged).json()["response"]
    assert denial["allowed"] is False
    assert denial["status"]["message"].startswith("[cc-budget]")
    assert "cost-centre=Sales-5045 would be exceeded" in denial["status"]["message"]


def test_budget_replicas_is_a_flag_and_a_variable_and_at_least_one() -> None:
    assert settings_module.load(flags={}, environ={}).budget_replicas == 1
    assert settings_module.load(flags={"budget_replicas": "3"}, environ={}).budget_replicas == 3
    from_env = settings_module.load(flags={}, environ={"COSTWARDEN_BUDGET_REPLICAS": "4"})
    assert from_env.budget_replicas == 4
    with pytest.raises(settings_module.SettingsError, match="--budget-replicas"):
        settings_module.load(flags={"budget_replicas": "0"}, environ={})


TEAM_BUDGET = """\
  - name: team-budget
    action: deny
    budget:
      groupBy: label
      label: team
      onStaleData: warn
      caps: {nlp: "1000000"}
"""


@pytest.mark.prometheus
def test_a_budget_added_by_a_reload_is_not_checked_as_zero_spend_before_its_first_fetch(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    volume = ConfigMapVolume(tmp_path / "policies", {"b.yaml": budget_policy("1e6")})
    settings = local_settings(
        policies=(volume.directory,),
        prometheus_url=prometheus.url,
        spend_refresh_seconds=3600,  # no second refresh during the test
    )
    app = application.create_app(
        settings, namespaces=application.StaticNamespaceLabels(NAMESPACES), clock=SettableClock(T)
    )
    with (
        running(app) as serving,
        httpx.Client(base_url=f"http://127.0.0.1:{serving.webhook_port}") as http,
    ):
        wait_until(
            lambda: app.spend is not None and app.spend.snapshot().fetched_at is not None,
            what="the first spend snapshot",
        )
        volume.update({"b.yaml": budget_policy("1e6") + TEAM_BUDGET})
        assert app.sources[0].reload_if_changed()
        answer = http.post("/validate", json=review("009-")).json()["response"]
    assert answer["allowed"] is True
    text = " ".join(line.strip() for line in answer["warnings"])  # long ones are wrapped
    assert (
        "[team-budget] budget of team=nlp cannot be checked: this budget's spend has not "
        "been fetched yet" in text
    )
    assert "[cc-budget]" not in text  # fetched, under its cap: checked and quiet


@pytest.mark.prometheus
def test_spend_source_opencost_makes_budgets_read_opencost_metrics(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    policy = tmp_path / "budget.yaml"
    policy.write_text(budget_policy("1e6"))
    settings = local_settings(
        policies=(policy,), prometheus_url=prometheus.url, spend_source="opencost"
    )
    app = application.create_app(
        settings, namespaces=application.StaticNamespaceLabels(NAMESPACES), clock=SettableClock(T)
    )
    with running(app):
        wait_until(
            lambda: app.spend is not None and app.spend.snapshot().fetched_at is not None,
            what="the first spend snapshot",
        )
        assert app.spend is not None
        snapshot = app.spend.snapshot()
    # OpenCost prices train-a100 at 3.0 $/h (its allocation × node prices); costwarden's
    # own exporter says 4.5 + 0.75 = 5.25 $/h for the cost centre.
    assert snapshot.budgets["cc-budget"]["Sales-5045"].run_rate_hourly == Decimal("3.0")


STALE = (
    "[cc-budget] budget of cost-centre=Sales-5045 %s: "
    "spend data is stale (last fetched 10m ago, limit 5m)"
)


@pytest.mark.prometheus
@pytest.mark.parametrize(
    ("fault", "behaviour", "last_error"),
    [
        ("stopped", "deny", "; last error: Unavailable: cannot reach Prometheus"),
        ("slow", "warn", ""),  # still waiting for the answer: no error yet, only age
        ("error", "allow", "; last error: Unavailable: Prometheus answered HTTP 500"),
        ("garbage", "deny", "; last error: BadResult: HTTP 200 with a body that is not JSON"),
    ],
)
def test_through_the_webhook_each_prometheus_fault_leaves_budgets_to_their_setting_then_recovers(
    tmp_path: Path, blocks: Path, fault: str, behaviour: str, last_error: str
) -> None:
    server = PrometheusServer(tmp_path / "prometheus", blocks=blocks)
    server.start()
    proxy = FaultProxy(server.url)
    clock = SettableClock(T)
    policy = tmp_path / "budget.yaml"
    policy.write_text(budget_policy("1e6", on_stale=behaviour))
    settings = local_settings(
        policies=(policy,),
        # Stopped: the connection itself is refused, no proxy in between to answer 502.
        prometheus_url=server.url if fault == "stopped" else proxy.url,
        spend_refresh_seconds=0.05,
        # Slow: long enough that the refresh is still hanging while the review is answered.
        spend_timeout_seconds=60 if fault == "slow" else 0.5,
    )
    app = application.create_app(
        settings, namespaces=application.StaticNamespaceLabels(NAMESPACES), clock=clock
    )
    spend = app.spend
    assert spend is not None
    try:
        with (
            running(app) as serving,
            httpx.Client(base_url=f"http://127.0.0.1:{serving.webhook_port}", timeout=30) as http,
        ):
            wait_until(lambda: spend.snapshot().fetched_at == T, what="the first snapshot")
            if fault == "stopped":
                server.stop()
            else:
                proxy.mode = fault
            clock.advance(timedelta(minutes=10))  # past the 5-min staleness bound
            if fault == "slow":
                wait_until(proxy.held.is_set, what="a refresh hanging in Prometheus")
            else:
                wait_until(lambda: spend.snapshot().error is not None, what="a failed refresh")

            answer = http.post("/validate", json=review("009-")).json()["response"]
            if fault == "slow":
                assert proxy.held.is_set()  # answered while the refresh still hangs

            said = [*answer.get("warnings", []), answer.get("status", {}).get("message", "")]
            text = " ".join(" ".join(said).split())  # long lines are wrapped
            assert answer["allowed"] is (behaviour != "deny")
            verb = "not checked" if behaviour == "allow" else "cannot be checked"
            assert (STALE % verb) + last_error in text

            if fault == "stopped":
                server.start()
            proxy.mode = "pass"
            proxy.release()
            wait_until(
                lambda: (
                    spend.snapshot().fetched_at == clock.now() and spend.snapshot().error is None
                ),
                what="a successful refresh after recovery",
            )
            recovered = http.post("/validate", json=review("009-")).json()["response"]
        assert recovered["allowed"] is True
        assert not any("[cc-budget]" in w for w in recovered.get("warnings", []))
    finally:
        proxy.close()
        server.stop()
