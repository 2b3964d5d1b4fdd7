"""The pod cost exporter's logic, fed watch events as plain dicts (no cluster)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import yaml
from prometheus_client import CollectorRegistry
from tests.conftest import ADMISSION_FIXTURES, FIXTURES, ROOT

from costwarden.api import wire
from costwarden.catalog.loading import bundled_catalog
from costwarden.catalog.models import Catalog
from costwarden.engine import evaluating
from costwarden.engine.contexts import Context, StaticNamespaces
from costwarden.engine.ports import BudgetSpend, Reservation, SpendSnapshot
from costwarden.estimating import estimate_pod
from costwarden.estimating.claims import StaticDraObjects
from costwarden.estimating.estimates import Breakdown, Placement, PodEstimate, Requests
from costwarden.metrics import SpendMetrics
from costwarden.policies.loading import bundled_policies
from costwarden.reservations.ledger import ReservationLedger
from costwarden.spend.watched_pods import RELIST_GRACE, PodCostTracker, catalog_estimator

NAMESPACES = {
    "ml-train": {"cost-centre": "Sales-5045", "team": "nlp"},
    "ml-dev": {"cost-centre": "RnD-1001", "team": "vision"},
}


class Namespaces:
    def labels_for(self, namespace: str) -> Mapping[str, str] | None:
        return NAMESPACES.get(namespace)


def estimate(
    spec: Mapping[str, Any], annotations: Mapping[str, Any], namespace: str
) -> PodEstimate:
    """A priced pod: 2.5 $/h per `nvidia.com/gpu` limit plus 0.1 $/h, spot if tolerated."""
    gpus = sum(
        int(c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0))
        for c in spec.get("containers", [])
    )
    if spec.get("nodeSelector", {}).get("unpriceable"):
        raise ValueError("no price for this pod")
    spot = any(t.get("value") == "spot" for t in spec.get("tolerations", []))
    return PodEstimate(
        requests=Requests(cpu=Decimal(1), memory_gib=Decimal(1)),
        placement=Placement(
            capacity_type="spot" if spot else "on-demand",
            accelerator_model="A100" if gpus else None,
        ),
        hourly=Breakdown(Decimal("0.1"), Decimal(0), Decimal("2.5") * gpus),
        currency="USD",
        catalog_version="test",
    )


def pod(
    name: str,
    *,
    namespace: str = "ml-train",
    gpus: int = 1,
    phase: str = "Running",
    node: str | None = "gpu-1",
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {
            "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": gpus}}}],
            **({"nodeName": node} if node else {}),
            **spec,
        },
        "status": {"phase": phase},
    }


def setup() -> tuple[PodCostTracker, CollectorRegistry]:
    registry = CollectorRegistry()
    tracker = PodCostTracker(
        estimate=estimate, namespaces=Namespaces(), metrics=SpendMetrics(registry)
    )
    return tracker, registry


def series(registry: CollectorRegistry) -> dict[tuple[str, ...], float]:
    return {
        tuple(
            sample.labels[k]
            for k in ("namespace", "pod", "cost_centre", "team", "gpu_model", "capacity_type")
        ): sample.value
        for metric in registry.collect()
        if metric.name == "costwarden_pod_hourly_cost"
        for sample in metric.samples
    }


def test_a_running_pod_exports_its_hourly_cost_with_namespace_cost_centre_and_team() -> None:
    tracker, registry = setup()
    tracker.apply("ADDED", pod("train", gpus=2))
    assert series(registry) == {
        ("ml-train", "train", "Sales-5045", "nlp", "A100", "on-demand"): 5.1
    }


def test_pod_labels_win_over_namespace_labels() -> None:
    tracker, registry = setup()
    tracker.apply("ADDED", pod("train", labels={"cost-centre": "Ops-7", "team": "infra"}))
    assert list(series(registry)) == [("ml-train", "train", "Ops-7", "infra", "A100", "on-demand")]


def test_a_pod_in_an_unknown_namespace_without_labels_gets_empty_groups() -> None:
    tracker, registry = setup()
    tracker.apply("ADDED", pod("x", namespace="elsewhere", gpus=0))
    assert series(registry) == {("elsewhere", "x", "", "", "", "on-demand"): 0.1}


def test_pods_not_yet_on_a_node_cost_nothing_yet_and_appear_once_bound() -> None:
    tracker, registry = setup()
    tracker.apply("ADDED", pod("train", phase="Pending", node=None))
    assert series(registry) == {}
    tracker.apply("MODIFIED", pod("train", phase="Pending"))
    assert len(series(registry)) == 1


def test_finished_and_deleted_pods_drop_their_series() -> None:
    tracker, registry = setup()
    tracker.apply("ADDED", pod("job-1"))
    tracker.apply("ADDED", pod("job-2"))
    tracker.apply("MODIFIED", pod("job-1", phase="Succeeded"))
    tracker.apply("DELETED", pod("job-2"))
    assert series(registry) == {}


def test_a_relabelled_pod_moves_to_its_new_series() -> None:
    tracker, registry = setup()
    tracker.apply("ADDED", pod("train"))
    tracker.apply(
        "MODIFIED",
        pod(
            "train",
            labels={"cost-centre": "Ops-7"},
            tolerations=[{"key": "capacity", "value": "spot"}],
        ),
    )
    assert list(series(registry)) == [("ml-train", "train", "Ops-7", "nlp", "A100", "spot")]


def test_a_relist_drops_pods_deleted_while_the_watch_was_down() -> None:
    tracker, registry = setup()
    tracker.apply("ADDED", pod("gone"))
    tracker.apply("ADDED", pod("stays"))
    tracker.replace([pod("stays", gpus=4), pod("new", namespace="ml-dev")])
    assert series(registry) == {
        ("ml-train", "stays", "Sales-5045", "nlp", "A100", "on-demand"): 10.1,
        ("ml-dev", "new", "RnD-1001", "vision", "A100", "on-demand"): 2.6,
    }


def test_a_pod_that_cannot_be_priced_is_skipped_without_stopping_the_others() -> None:
    tracker, registry = setup()
    tracker.apply("ADDED", pod("ok"))
    tracker.apply("ADDED", pod("odd", nodeSelector={"unpriceable": "yes"}))
    tracker.apply("MODIFIED", pod("ok", gpus=2))
    assert [key[1] for key in series(registry)] == ["ok"]


def test_with_the_real_estimator_a_fixture_pod_exports_the_catalog_price() -> None:
    review = json.loads(
        (ADMISSION_FIXTURES / "008-mutate-pod-create-ml-train-train-a100.json").read_text()
    )
    running = {
        **review["request"]["object"],
        "spec": {**review["request"]["object"]["spec"], "nodeName": "ip-10-0-0-1"},
        "status": {"phase": "Running"},
    }
    catalog = bundled_catalog()
    registry = CollectorRegistry()
    tracker = PodCostTracker(
        estimate=catalog_estimator(catalog), namespaces=Namespaces(), metrics=SpendMetrics(registry)
    )
    tracker.apply("ADDED", running)
    expected = estimate_pod(running["spec"], catalog=catalog)
    [(labels, value)] = series(registry).items()
    assert labels[:4] == ("ml-train", "train-a100", "Sales-5045", "nlp")
    assert labels[4] == expected.placement.accelerator_model
    assert labels[5] == "on-demand"  # the pod's karpenter.sh/capacity-type node selector
    assert value == float(expected.hourly.total)
    assert value > 0


# Budget reservations: the real engine admits fixture 009 (a bare 4 × A100 pod) into a
# ledger, then the pod watch sees that pod deleted.

RESERVE_NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
(BUDGET,) = [rule.name for rule in bundled_policies().rules if rule.kind.budget_phase]


def admit_train_a100(ledger: ReservationLedger) -> dict[str, Any]:
    """Fixture 009 admitted under the bundled budget; the pod object the watch would see."""
    review = json.loads(
        (ADMISSION_FIXTURES / "009-validate-pod-create-ml-train-train-a100.json").read_text()
    )
    request = wire.read_review(review)
    assert request is not None
    assert request.object is not None
    context = Context(
        namespaces=StaticNamespaces(NAMESPACES),
        now=RESERVE_NOW,
        spend=SpendSnapshot(
            fetched_at=RESERVE_NOW,
            budgets={BUDGET: {"Sales-5045": BudgetSpend(Decimal(0), Decimal(0))}},
        ),
        reservations=ledger,
    )
    verdict = evaluating.evaluate(
        request, policies=bundled_policies(), catalog=bundled_catalog(), context=context
    )
    assert verdict.allowed
    assert ledger.commit([hold.reservation for hold in verdict.holds]) == []
    assert held(ledger) > 0
    return dict(request.object)


def tracker_with(
    ledger: ReservationLedger,
    *,
    at: datetime = RESERVE_NOW,
    registry: CollectorRegistry | None = None,
) -> PodCostTracker:
    """A tracker whose clock says `at`: by default the moment of the admissions, so a relist
    releases only pods it had seen (`RELIST_GRACE`)."""
    return PodCostTracker(
        estimate=estimate,
        namespaces=Namespaces(),
        metrics=SpendMetrics(registry or CollectorRegistry()),
        reservations=ledger,
        clock=lambda: at,
    )


def admit_namesake(ledger: ReservationLedger, old: dict[str, Any]) -> dict[str, Any]:
    """`old` re-created (uid `a-later-uid`) and admitted at $7: its entry replaces the old
    pod's. The new pod object."""
    new = copy.deepcopy(old)
    new["metadata"]["uid"] = "a-later-uid"
    hold_in(
        ledger,
        budget=BUDGET,
        group="Sales-5045",
        key="ml-train/Pod/train-a100",
        amount=Decimal(7),
        limit=Decimal(10**9),
        now=RESERVE_NOW,
        owner="a-later-uid",
    )
    return new


def hold_in(
    ledger: ReservationLedger,
    *,
    budget: str,
    group: str,
    key: str,
    amount: Decimal,
    limit: Decimal,
    now: datetime,
    owner: str | None,
) -> None:
    """Hold a reservation as the app commits an admission's."""
    reservation = Reservation(budget, group, key, amount, limit, owner, pods=1, at=now)
    assert ledger.commit([reservation]) == []


def held(ledger: ReservationLedger) -> Decimal:
    return ledger.reserved(budget=BUDGET, group="Sales-5045", now=RESERVE_NOW)


def test_a_deleted_pod_releases_the_budget_it_was_admitted_with() -> None:
    ledger = ReservationLedger()
    obj = admit_train_a100(ledger)
    tracker = tracker_with(ledger)
    tracker.apply("ADDED", obj)  # pending, never scheduled
    assert held(ledger) > 0
    tracker.apply("DELETED", obj)
    assert held(ledger) == 0


def test_a_namesake_created_since_keeps_its_reservation_when_the_old_pod_is_seen_deleted() -> None:
    # Deleted and re-created under the same name (kubectl replace --force): the new pod
    # may be admitted before the watch delivers the old one's deletion.
    ledger = ReservationLedger()
    old = admit_train_a100(ledger)
    new = admit_namesake(ledger, old)
    tracker = tracker_with(ledger)
    tracker.apply("DELETED", old)
    assert held(ledger) == Decimal(7)
    tracker.apply("DELETED", new)
    assert held(ledger) == 0


def test_a_pod_deleted_while_the_watch_was_down_releases_its_budget_at_the_relist() -> None:
    ledger = ReservationLedger()
    obj = admit_train_a100(ledger)
    tracker = tracker_with(ledger)
    tracker.replace([obj, pod("someone-else")])  # listed, pending: holds its reservation
    assert held(ledger) > 0
    tracker.replace([pod("someone-else")])  # reconnected: the pod is gone
    assert held(ledger) == 0


def test_a_pod_re_created_under_its_name_while_the_watch_was_down_frees_only_the_old_one() -> None:
    ledger = ReservationLedger()
    old = admit_train_a100(ledger)
    new = admit_namesake(ledger, old)  # admitted since: its entry replaced the old one's
    assert held(ledger) == Decimal(7)
    tracker = tracker_with(ledger)
    tracker.apply("ADDED", old)
    tracker.replace([new])  # the old uid is gone, the name is back with a new one
    assert held(ledger) == Decimal(7)
    tracker.replace([])
    assert held(ledger) == 0


def test_a_pod_never_seen_admitted_and_deleted_while_the_watch_was_down_is_released() -> None:
    # Never seen: created, then deleted (or never stored: another webhook refused it) while
    # the watch was reconnecting.
    ledger = ReservationLedger()
    admit_train_a100(ledger)
    tracker_with(ledger, at=RESERVE_NOW + RELIST_GRACE).replace([pod("someone-else")])
    assert held(ledger) > 0  # admitted just within the grace: it may not be stored yet
    tracker_with(ledger, at=RESERVE_NOW + RELIST_GRACE + timedelta(seconds=1)).replace([])
    assert held(ledger) == 0


def test_a_relist_keeps_what_listed_pods_controllers_and_ownerless_reservations_hold() -> None:
    ledger = ReservationLedger()
    obj = admit_train_a100(ledger)
    for key, owner in [("ml-train/Deployment/llm", "deployment-uid"), ("ml-dev/Pod/x", None)]:
        hold_in(
        ledger,
            budget=BUDGET, group="Sales-5045", key=key, amount=Decimal(5),
            limit=Decimal(10**9), now=RESERVE_NOW, owner=owner,
        )  # fmt: skip
    before = held(ledger)
    later = tracker_with(ledger, at=RESERVE_NOW + timedelta(hours=1))
    ownerless = pod("x", namespace="ml-dev")
    ownerless["metadata"]["uid"] = "some-uid"  # which pod reserved, nothing tells
    later.replace([obj, ownerless])  # `obj` listed under the uid that reserved
    assert held(ledger) == before
    later.replace([])
    assert held(ledger) == Decimal(10)  # the Deployment's and the ownerless pod's


def test_deleted_pods_of_a_controller_leave_the_controllers_reservation() -> None:
    ledger = ReservationLedger()
    hold_in(
        ledger,
        budget="b",
        group="g",
        key="ml-train/Deployment/llm",
        amount=Decimal(5),
        limit=Decimal(10),
        now=RESERVE_NOW,
        owner="deployment-uid",
    )
    tracker = tracker_with(ledger)
    replica = pod("llm-5d8f-abcde")
    replica["metadata"]["uid"] = "pod-uid"
    tracker.apply("DELETED", replica)
    assert ledger.reserved(budget="b", group="g", now=RESERVE_NOW) == Decimal(5)


def test_reservations_released_early_are_counted_by_why() -> None:
    ledger = ReservationLedger()
    registry = CollectorRegistry()
    tracker = tracker_with(
        ledger, at=RESERVE_NOW + RELIST_GRACE + timedelta(seconds=1), registry=registry
    )

    def released(reason: str) -> float | None:
        return registry.get_sample_value(
            "costwarden_budget_reservations_released_total", {"reason": reason}
        )

    obj = admit_train_a100(ledger)
    tracker.apply("ADDED", obj)
    tracker.apply("DELETED", obj)
    tracker.apply("DELETED", obj)  # delivered twice: released once
    assert (released("deleted"), released("relist")) == (1, None)
    admit_train_a100(ledger)
    tracker.apply("ADDED", obj)
    tracker.replace([])  # seen, then gone from the list
    assert released("relist") == 1
    admit_train_a100(ledger)
    tracker.replace([])  # never seen, gone from the list past the grace
    assert (released("deleted"), released("relist")) == (1, 2)
    assert held(ledger) == 0


def captured_pod(prefix: str) -> dict[str, Any]:
    """A pod as the API server stored it (a captured CREATE review's object)."""
    (path,) = ADMISSION_FIXTURES.glob(f"{prefix}-*.json")
    obj: dict[str, Any] = json.loads(path.read_text())["request"]["object"]
    return obj


def test_the_pods_of_each_workload_its_controller_runs_are_known_with_their_creation_time() -> None:
    """What releases a Deployment's or a Job's reservation once the spend data shows its
    pods (`spend.snapshots`): the pods the controllers made, by the workload they were
    priced with, from the captured pods of llm-server (a Deployment, through its
    ReplicaSet), hparam-sweep (a Job) and feature-cache (a StatefulSet)."""
    tracker, _ = setup()
    llm = [captured_pod("017"), captured_pod("019")]  # created 2026-11-22T11:01:12Z
    for obj in (*llm, captured_pod("022"), captured_pod("032"), captured_pod("009")):
        tracker.apply("ADDED", obj)
    created = datetime(2026, 11, 22, 11, 1, 12, tzinfo=UTC)
    deployment = "ml-train/Deployment/llm-server"
    assert sorted(tracker.pods_of(deployment, created_since=created)) == sorted(
        p["metadata"]["name"] for p in llm
    )
    assert tracker.pods_of(deployment, created_since=created + timedelta(seconds=1)) == []
    assert tracker.pods_of("ml-dev/Job/hparam-sweep", created_since=created) == [
        "hparam-sweep-5z2p8"
    ]
    assert tracker.pods_of("ml-train/StatefulSet/feature-cache", created_since=created) == [
        "feature-cache-0"
    ]
    assert tracker.pods_of("ml-train/Pod/train-a100", created_since=created) == []  # bare
    tracker.apply("DELETED", llm[0])
    assert tracker.pods_of(deployment, created_since=created) == [llm[1]["metadata"]["name"]]
    zoneless = copy.deepcopy(captured_pod("022"))
    zoneless["metadata"]["creationTimestamp"] = "2026-11-22T11:01:12"  # taken as UTC
    tracker.apply("MODIFIED", zoneless)
    assert tracker.pods_of("ml-dev/Job/hparam-sweep", created_since=created) == [
        "hparam-sweep-5z2p8"
    ]
    tracker.replace([captured_pod("032")])  # a relist: what it lists, nothing more
    assert tracker.pods_of(deployment, created_since=created) == []
    assert tracker.pods_of("ml-train/StatefulSet/feature-cache", created_since=created) == [
        "feature-cache-0"
    ]


CREATED = datetime(2026, 11, 22, 11, 1, 12, tzinfo=UTC)
"""When the captured pods were created (and admitted)."""


def recalling(
    at: datetime, recall: Any, registry: CollectorRegistry | None = None
) -> PodCostTracker:
    return PodCostTracker(
        estimate=estimate,
        namespaces=Namespaces(),
        metrics=SpendMetrics(registry or CollectorRegistry()),
        reservations=ReservationLedger(),
        recall=recall,
        clock=lambda: at,
    )


def test_the_first_list_recalls_the_pods_admitted_within_a_ttl_and_no_later_list_does() -> None:
    recalled: list[tuple[str, datetime]] = []

    def recall(pod: Mapping[str, Any], admitted: datetime) -> int:
        recalled.append((pod["metadata"]["name"], admitted))
        return 2  # held by two budgets

    fresh = captured_pod("009")  # train-a100, created 11:01:12
    done = {**captured_pod("017"), "status": {"phase": "Succeeded"}}  # costs nothing more
    old = copy.deepcopy(captured_pod("032"))
    old["metadata"]["creationTimestamp"] = "2026-11-22T10:51:12Z"  # a TTL before: expired
    unnamed_time = pod("no-time")  # no creationTimestamp: nothing to go by
    registry = CollectorRegistry()
    tracker = recalling(CREATED + timedelta(minutes=4), recall, registry)
    tracker.replace([fresh, done, old, unnamed_time])
    assert recalled == [("train-a100", CREATED)]
    assert registry.get_sample_value("costwarden_budget_reservations_recalled_total") == 2
    tracker.replace([fresh])  # a relist: the ledger held them since
    assert len(recalled) == 1


def test_a_pod_that_cannot_be_recalled_does_not_keep_the_others_from_it() -> None:
    def recall(pod: Mapping[str, Any], admitted: datetime) -> int:
        if pod["metadata"]["name"] == "train-a100":
            raise ValueError("unreadable")
        return 1

    registry = CollectorRegistry()
    tracker = recalling(CREATED + timedelta(minutes=1), recall, registry)
    tracker.replace([captured_pod("009"), captured_pod("017"), captured_pod("019")])
    assert registry.get_sample_value("costwarden_budget_reservations_recalled_total") == 2


def test_with_the_engine_a_recalled_pod_holds_the_budget_until_its_admissions_ttl() -> None:
    ledger = ReservationLedger()
    after = ReservationLedger()
    obj = admit_train_a100(ledger)  # admitted at RESERVE_NOW
    obj["metadata"]["creationTimestamp"] = "2026-11-22T12:00:00Z"

    def recall(pod: Mapping[str, Any], admitted: datetime) -> int:
        context = Context(
            namespaces=StaticNamespaces(NAMESPACES),
            now=RESERVE_NOW + timedelta(minutes=2),
            reservations=after,
        )
        recalled = evaluating.recall(
            pod,
            admitted=admitted,
            policies=bundled_policies(),
            catalog=bundled_catalog(),
            context=context,
        )
        return len(recalled) - len(after.commit(recalled))

    tracker = PodCostTracker(
        estimate=estimate,
        namespaces=Namespaces(),
        metrics=SpendMetrics(CollectorRegistry()),
        reservations=after,
        recall=recall,
        clock=lambda: RESERVE_NOW + timedelta(minutes=2),
    )
    tracker.replace([{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}])
    assert held(after) == held(ledger) > 0
    ttl_end = RESERVE_NOW + after.ttl
    assert after.reserved(budget=BUDGET, group="Sales-5045", now=ttl_end - timedelta(seconds=1))
    assert after.reserved(budget=BUDGET, group="Sales-5045", now=ttl_end) == 0


# Dynamic Resource Allocation (#21): the pods of tests/fixtures/dra, priced by the real
# estimator with the DRA objects they name, as the webhook prices them at admission.

DRA_FIXTURES = FIXTURES / "dra"
H100 = bundled_catalog().accelerators["h100-80gb"].hourly
"""On-demand $ per H100-hour in the bundled catalog."""
INFER_LABELS = {"cost-centre": "RnD-1001", "team": "serving"}
"""ml-infer's namespace labels, which the shared claim there is charged to."""


def dra_fixture(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((DRA_FIXTURES / name).read_text()))


def dra_objects(*documents: dict[str, Any]) -> StaticDraObjects:
    """The DeviceClasses of deviceclasses.yaml, the template of train-8xh100.yaml and the
    claim of shared-claim.yaml, and `documents`."""
    names = ("deviceclasses.yaml", "train-8xh100.yaml", "shared-claim.yaml")
    return StaticDraObjects([o for name in names for o in dra_fixture(name)] + list(documents))


def running(obj: dict[str, Any], *, node: str = "gpu-1", **labels: str) -> dict[str, Any]:
    """A fixture pod bound to `node` and running, with `labels` added."""
    metadata = {**obj["metadata"], "labels": {**obj["metadata"].get("labels", {}), **labels}}
    spec = {**obj["spec"], "nodeName": node}
    return {**obj, "metadata": metadata, "spec": spec, "status": {"phase": "Running"}}


def fixture_pods(name: str) -> list[dict[str, Any]]:
    return [running(o) for o in dra_fixture(name) if o["kind"] == "Pod"]


@dataclass
class MutableNamespaces:
    labels: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"ml-train": NAMESPACES["ml-train"], "ml-infer": INFER_LABELS}
    )

    def labels_for(self, namespace: str) -> Mapping[str, str] | None:
        return self.labels.get(namespace)


def dra_tracker(
    estimator: Any = None, namespaces: MutableNamespaces | None = None
) -> tuple[PodCostTracker, CollectorRegistry]:
    registry = CollectorRegistry()
    tracker = PodCostTracker(
        estimate=estimator or catalog_estimator(bundled_catalog(), dra=dra_objects()),
        namespaces=namespaces or MutableNamespaces(),
        metrics=SpendMetrics(registry),
    )
    return tracker, registry


def claim_series(registry: CollectorRegistry) -> dict[tuple[str, ...], float]:
    return {k: v for k, v in series(registry).items() if k[1].startswith("resourceclaim/")}


SHARED = ("ml-infer", "resourceclaim/shared-h100", "RnD-1001", "serving", "h100-80gb", "on-demand")
"""The shared claim's series: ml-infer's labels, its model, on-demand."""


def test_a_pod_asking_eight_h100s_through_a_claim_template_exports_their_price() -> None:
    catalog = bundled_catalog()
    (train,) = fixture_pods("train-8xh100.yaml")
    tracker, registry = dra_tracker()
    tracker.apply("ADDED", train)
    without_dra = estimate_pod(train["spec"], catalog=catalog)  # what was exported before
    expected = estimate_pod(train["spec"], catalog=catalog, dra=dra_objects(), namespace="ml-train")
    assert expected.hourly.total == 8 * H100 + without_dra.hourly.total  # 8 H100s + CPU/memory
    assert series(registry) == {
        ("ml-train", "train-8xh100", "Sales-5045", "nlp", "h100-80gb", "on-demand"): float(
            expected.hourly.total
        )
    }
    assert expected.hourly.total > 8 * H100 > without_dra.hourly.total


def test_a_claim_template_is_looked_up_in_the_pods_own_namespace() -> None:
    # The same spec in ml-dev names a template ml-dev does not have: its devices are
    # unpriced, never priced with ml-train's eight H100s.
    (train,) = fixture_pods("train-8xh100.yaml")
    elsewhere = {**train, "metadata": {**train["metadata"], "namespace": "ml-dev"}}
    tracker, registry = dra_tracker()
    tracker.apply("ADDED", elsewhere)
    [(labels, value)] = series(registry).items()
    assert labels[:2] == ("ml-dev", "train-8xh100")
    assert value == float(estimate_pod(train["spec"], catalog=bundled_catalog()).hourly.total)
    assert value < H100


def test_pods_sharing_a_claim_export_it_once_charged_to_its_namespace() -> None:
    first, second, third = fixture_pods("shared-claim.yaml")
    tracker, registry = dra_tracker()
    # A pod's own labels move its own series, never the claim's charge.
    tracker.apply("ADDED", running(first, **{"cost-centre": "Sales-5045", "team": "nlp"}))
    tracker.apply("ADDED", second)
    tracker.apply("ADDED", third)
    assert claim_series(registry) == {SHARED: float(2 * H100)}
    pods = {k: v for k, v in series(registry).items() if k not in claim_series(registry)}
    assert sorted(k[1] for k in pods) == ["infer-0", "infer-1", "infer-2"]
    assert ("ml-infer", "infer-0", "Sales-5045", "nlp", "", "on-demand") in pods
    assert all(value < H100 for value in pods.values())  # the H100s are the claim's alone


def test_a_shared_claims_series_goes_with_the_last_running_pod_naming_it() -> None:
    first, second, third = fixture_pods("shared-claim.yaml")
    tracker, registry = dra_tracker()
    for obj in (first, second, third):
        tracker.apply("ADDED", obj)
    tracker.apply("DELETED", first)
    tracker.apply("MODIFIED", {**second, "status": {"phase": "Succeeded"}})
    assert claim_series(registry) == {SHARED: float(2 * H100)}
    tracker.apply("DELETED", third)
    assert claim_series(registry) == {}
    assert series(registry) == {}


def test_a_relist_keeps_a_shared_claim_its_listed_pods_name_and_drops_one_none_does() -> None:
    first, second, third = fixture_pods("shared-claim.yaml")
    tracker, registry = dra_tracker()
    for obj in (first, second, third):
        tracker.apply("ADDED", obj)
    tracker.replace([third])
    assert claim_series(registry) == {SHARED: float(2 * H100)}
    tracker.replace([])
    assert claim_series(registry) == {}


def test_a_pod_not_yet_on_a_node_does_not_make_its_shared_claim_appear() -> None:
    (first, *_) = fixture_pods("shared-claim.yaml")
    pending = {k: v for k, v in first.items() if k != "status"}
    pending["spec"] = {k: v for k, v in first["spec"].items() if k != "nodeName"}
    tracker, registry = dra_tracker()
    tracker.apply("ADDED", {**pending, "status": {"phase": "Pending"}})
    assert series(registry) == {}
    tracker.apply("MODIFIED", first)
    assert claim_series(registry) == {SHARED: float(2 * H100)}


def test_a_shared_claim_follows_its_namespaces_labels_and_its_changed_figure() -> None:
    catalog = bundled_catalog()
    (claim,) = [o for o in dra_fixture("shared-claim.yaml") if o["kind"] == "ResourceClaim"]
    four = copy.deepcopy(claim)
    four["spec"]["devices"]["requests"][0]["exactly"]["count"] = 4
    objects = {"now": dra_objects()}

    def estimator(
        spec: Mapping[str, Any], annotations: Mapping[str, Any], namespace: str
    ) -> PodEstimate:
        return estimate_pod(spec, catalog=catalog, dra=objects["now"], namespace=namespace)

    namespaces = MutableNamespaces()
    first, second, _ = fixture_pods("shared-claim.yaml")
    tracker, registry = dra_tracker(estimator, namespaces)
    tracker.apply("ADDED", first)
    tracker.apply("ADDED", second)
    namespaces.labels["ml-infer"] = {"cost-centre": "Ops-7", "team": "serving"}
    objects["now"] = dra_objects(four)  # the claim now holds four H100s
    tracker.apply("MODIFIED", second)
    relabelled = (SHARED[0], SHARED[1], "Ops-7", *SHARED[3:])
    assert claim_series(registry) == {relabelled: float(4 * H100)}


@dataclass
class Reloading:
    """A catalog that a reload replaces (`api.reloading.Reloadable`)."""

    current: Catalog


def test_the_estimator_reads_a_live_catalog_at_each_estimate() -> None:
    catalog = bundled_catalog()
    h100 = catalog.accelerators["h100-80gb"]
    dearer = catalog.model_copy(
        update={
            "accelerators": {
                **catalog.accelerators,
                "h100-80gb": h100.model_copy(update={"hourly": h100.hourly * 2}),
            }
        }
    )
    live = Reloading(catalog)
    tracker, registry = dra_tracker(catalog_estimator(live, dra=dra_objects()))
    (train,) = fixture_pods("train-8xh100.yaml")
    tracker.apply("ADDED", train)
    priced = estimate_pod(train["spec"], catalog=dearer, dra=dra_objects(), namespace="ml-train")
    assert [*series(registry).values()] == [float(priced.hourly.total - 8 * H100)]
    live.current = dearer  # reloaded
    tracker.apply("MODIFIED", train)
    assert [*series(registry).values()] == [float(priced.hourly.total)]


# Running pods priced on their node: the example dev notebook asks for one GPU of any model,
# a range from an A10 to a B200 on its spec alone.

NOTEBOOK = yaml.safe_load(
    (ROOT / "src" / "costwarden" / "data" / "examples" / "dev-notebook-pod.yaml").read_text()
)
G5_SPOT = {"node.kubernetes.io/instance-type": "g5.xlarge", "karpenter.sh/capacity-type": "spot"}


@dataclass
class Nodes:
    """Node labels by node name (`NodeLabels`), as a node watch would have them."""

    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def labels_for(self, name: str) -> Mapping[str, str] | None:
        return self.labels.get(name)


def notebook_on(node: str) -> dict[str, Any]:
    return running(copy.deepcopy(NOTEBOOK), node=node)


def node_tracker(nodes: Nodes | None) -> tuple[PodCostTracker, CollectorRegistry]:
    registry = CollectorRegistry()
    tracker = PodCostTracker(
        estimate=catalog_estimator(bundled_catalog()),
        namespaces=Namespaces(),
        metrics=SpendMetrics(registry),
        nodes=nodes,
    )
    return tracker, registry


def test_a_running_pod_on_a_known_node_is_exported_at_the_nodes_figure_and_model() -> None:
    tracker, registry = node_tracker(Nodes({"gpu-7": G5_SPOT}))
    tracker.apply("ADDED", notebook_on("gpu-7"))
    g5_spot = bundled_catalog().instance_types["g5.xlarge"].spot_hourly
    assert g5_spot is not None
    assert series(registry) == {
        ("ml-dev", "notebook-alice", "RnD-1001", "vision", "a10g", "spot"): float(g5_spot)
    }


def test_a_running_pod_on_an_unknown_node_is_exported_on_its_spec_alone() -> None:
    on_spec = estimate_pod(NOTEBOOK["spec"], catalog=bundled_catalog())
    expected = {
        ("ml-dev", "notebook-alice", "RnD-1001", "vision", "b200", "on-demand"): float(
            on_spec.hourly.total
        )
    }
    for nodes in (Nodes({"gpu-7": G5_SPOT}), None):
        tracker, registry = node_tracker(nodes)
        tracker.apply("ADDED", notebook_on("gpu-unseen"))
        assert series(registry) == expected


def test_a_pod_whose_node_becomes_known_is_exported_at_its_figure_at_its_next_event() -> None:
    nodes = Nodes()
    tracker, registry = node_tracker(nodes)
    tracker.apply("ADDED", notebook_on("gpu-7"))
    assert [labels[4] for labels in series(registry)] == ["b200"]
    nodes.labels["gpu-7"] = G5_SPOT  # the node watch has seen it since
    tracker.apply("MODIFIED", notebook_on("gpu-7"))
    g5_spot = bundled_catalog().instance_types["g5.xlarge"].spot_hourly
    assert g5_spot is not None
    assert series(registry) == {
        ("ml-dev", "notebook-alice", "RnD-1001", "vision", "a10g", "spot"): float(g5_spot)
    }


def test_a_relist_prices_listed_pods_on_their_nodes() -> None:
    nodes = Nodes()
    tracker, registry = node_tracker(nodes)
    tracker.replace([notebook_on("gpu-7")])
    nodes.labels["gpu-7"] = {"node.kubernetes.io/instance-type": "g5.xlarge"}
    tracker.replace([notebook_on("gpu-7")])
    g5 = bundled_catalog().instance_types["g5.xlarge"]
    # No capacity-type label on the node: priced on-demand, as admission assumes.
    assert series(registry) == {
        ("ml-dev", "notebook-alice", "RnD-1001", "vision", "a10g", "on-demand"): float(
            g5.on_demand_hourly
        )
    }
