"""The pod cost exporter's logic: running pods -> `costwarden_pod_hourly_cost` series.

Fed plain pod dicts by the pod watch (`kube/pods.py`), it keeps one gauge per pod that
costs money — bound to a node and not finished — with its estimated $/h and the unified
labels (`namespace`, `pod`, `cost_centre`, `team`, `gpu_model`, `capacity_type`), so
Prometheus accumulates spend that budgets query back. Cost-centre and team come from the
pod's labels, falling back to its namespace's. A pod that finishes or is deleted drops its
series; on the next scrape Prometheus marks it stale, so it stops counting at once instead
of lingering for the 5-minute lookback.

A running pod is priced on the node it runs on (`spec.nodeName`): given the cluster's node
labels (`nodes`), its spec is narrowed to that node's instance type, accelerator model and
capacity type (`estimating.placing.on_node`) before it is estimated, so a pod whose spec
leaves placement open (one GPU of any model) is exported at its node's figure and model,
not at the dearest node its spec allows. Without node labels, or for a node not known yet,
it is priced on its spec alone, as admission prices it (the high end of its range); it is
priced again at its next event or list. No metric counts the pods priced so: `/readyz`
shows whether the node labels have loaded (`nodes`).

A pod's devices asked for through Dynamic Resource Allocation are priced as admission
prices them: the estimator is given the cluster's DRA objects and the pod's namespace
(`catalog_estimator`). A shared ResourceClaim (`resourceClaimName`) is in no pod's figure:
while at least one running pod names it, the claim has one series of its own, `pod` =
`resourceclaim/<name>` (`keys.claim_series`: no pod name holds `/`), valued at its
on-demand $/h at the dearest models (`SharedClaimCharge.high`), its cost-centre and team
from its namespace's labels only. It goes when the last running pod naming it stops or is
deleted. Once the spend data shows it, the claim's budget reservation goes too.

A deleted pod also releases the budget reservation it was admitted with (a pod charged
itself: a bare pod, or one of a controller costwarden does not price), so a pod deleted
before it ever ran stops holding budget at once rather than for the ledger's TTL. Only the
reservation that pod's uid made goes: a namesake re-created since keeps its own. A pod
deleted while the watch was reconnecting is found missing from the next list and
released the same way, and so is one admitted and deleted while it was reconnecting
(never seen), once it was admitted more than `RELIST_GRACE` before the list.

Its first list also tells a replica that just started what was admitted before it: the
pods created within the ledger's TTL are held again (`recall`, the engine's `recall`
bound), since the new ledger is empty and the spend data shows them only minutes later.

It also knows which pods each workload's controller made, and when (`pods_of`): a
Deployment's, Job's or StatefulSet's reservation goes once the spend data shows as many
of its pods made since as run at it (`spend.snapshots`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from costwarden import estimating, labels
from costwarden.catalog.models import Catalog
from costwarden.engine.ports import NamespaceLabels, NodeLabels
from costwarden.estimating import placing
from costwarden.estimating.claims import DraObjects
from costwarden.estimating.estimates import PodEstimate, SharedClaimCharge
from costwarden.memos import Memos
from costwarden.metrics import SpendMetrics
from costwarden.reservations import keys
from costwarden.reservations.ledger import ReservationLedger

log = logging.getLogger(__name__)

RELIST_GRACE = timedelta(minutes=2)
"""A pod admitted within this before a list may be missing from it only because it was not
stored yet: validating webhooks, run before the pod is stored, may take up to 30 s, and a
large list takes a while. A relist does not release its reservation."""

Recall = Callable[[Mapping[str, Any], datetime], int]
"""(pod, when it was admitted) -> how many budgets hold it again (`evaluating.recall`,
bound to the live policies, catalog and ledger)."""

Estimator = Callable[[Mapping[str, Any], Mapping[str, Any], str], PodEstimate]
"""(pod spec, pod annotations, pod namespace) -> estimate; `catalog_estimator` is the real
one."""


class LiveCatalog(Protocol):
    """A catalog that may be reloaded (`api.reloading.Reloadable[Catalog]`)."""

    @property
    def current(self) -> Catalog: ...


def catalog_estimator(
    catalog: Catalog | LiveCatalog,
    *,
    dra: DraObjects | None = None,
    memos: Memos | None = None,
) -> Estimator:
    """`estimating.estimate_pod` bound to a price catalog — a live one is read at each
    call, so a reload applies — and to the cluster's DRA objects, which price the devices
    a pod's claims ask for (without them those devices are unpriced, counted as 0)."""

    def estimate(
        spec: Mapping[str, Any], annotations: Mapping[str, Any], namespace: str
    ) -> PodEstimate:
        return estimating.estimate_pod(
            spec,
            catalog=catalog if isinstance(catalog, Catalog) else catalog.current,
            annotations=annotations,
            memos=memos,
            dra=dra,
            namespace=namespace,
        )

    return estimate


FINISHED = frozenset({"Succeeded", "Failed"})

_Series = tuple[tuple[str, ...], Decimal]
"""Gauge labels (`POD_COST_LABELS` order) and $/h."""

_Claims = dict[tuple[str, str], _Series]
"""The shared ResourceClaims a running pod names, by (namespace, name): each one's series."""


class PodCostTracker:
    """Implements the pod watch's sink (`kube.pods.PodEvents`). Thread-safe."""

    def __init__(
        self,
        *,
        estimate: Estimator,
        namespaces: NamespaceLabels,
        metrics: SpendMetrics,
        nodes: NodeLabels | None = None,
        cost_centre_label: str = labels.COST_CENTRE,
        team_label: str = labels.TEAM,
        reservations: ReservationLedger | None = None,
        recall: Recall | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._estimate = estimate
        self._recall = recall if reservations is not None else None
        """Asked once, at the first list: what the pods admitted before this replica
        started hold in `reservations`."""
        self._clock = clock
        self._namespaces = namespaces
        self._nodes = nodes
        self._metrics = metrics
        self._cost_centre_label = cost_centre_label
        self._team_label = team_label
        self._reservations = reservations
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], tuple[str, ...]] = {}
        self._named: dict[tuple[str, str], frozenset[tuple[str, str]]] = {}
        """The shared claims each running pod names, by pod."""
        self._namers: dict[tuple[str, str], set[tuple[str, str]]] = {}
        """The running pods naming each shared claim, by claim: its series goes with the last."""
        self._claim_series: dict[tuple[str, str], tuple[str, ...]] = {}
        self._uids: dict[tuple[str, str], str] = {}
        """Every pod seen, running or not, by uid: a relist tells which ones went away."""
        self._workloads: dict[str, dict[str, datetime]] = {}
        """The pods of each workload priced with its controller, by the workload's
        reservation key (`reservations.keys.priced_with`): pod name -> when it was created."""

    def apply(self, event_type: str, pod: Mapping[str, Any]) -> None:
        """One watch event: ADDED, MODIFIED or DELETED with the pod as a plain dict."""
        key = _key(pod)
        uid = keys.owner_uid(pod.get("metadata") or {})
        series, claims = (None, {}) if event_type == "DELETED" else self._priced(pod)
        workload = _workload_of(pod)
        with self._lock:
            self._set(self._series, key, series)
            self._name_claims(key, claims)
            if workload is not None:
                self._index(key, workload, deleted=event_type == "DELETED")
            if event_type == "DELETED":
                if self._uids.get(key) == uid:
                    self._uids.pop(key, None)
            elif uid is not None:
                self._uids[key] = uid
        if event_type == "DELETED" and uid is not None:
            self._metrics.released("deleted", self._release(key, uid))

    def replace(self, pods: Iterable[Mapping[str, Any]]) -> None:
        """A full list (after (re)connecting): pods not in it drop their series (and a
        shared claim only they named, its own), and the pods deleted while the watch was
        down (gone, or re-created under their name with a new uid) release their
        reservations."""
        listed = list(pods)
        current = {_key(pod): self._priced(pod) for pod in listed}
        uids = {
            _key(pod): uid
            for pod in listed
            if (uid := keys.owner_uid(pod.get("metadata") or {})) is not None
        }
        workloads: dict[str, dict[str, datetime]] = {}
        for pod in listed:
            if (workload := _workload_of(pod)) is not None:
                owner, created = workload
                workloads.setdefault(owner, {})[_key(pod)[1]] = created
        with self._lock:
            for key in self._series.keys() - current.keys():
                self._set(self._series, key, None)
            for key, (series, claims) in current.items():
                self._set(self._series, key, series)
                self._name_claims(key, claims)
            # After the listed pods have named theirs: a claim they still name keeps its
            # series throughout, rather than going and coming back.
            for key in self._named.keys() - current.keys():
                self._name_claims(key, {})
            self._workloads = workloads
            gone = [(key, uid) for key, uid in self._uids.items() if uids.get(key) != uid]
            self._uids = uids
        self._metrics.released("relist", sum(self._release(key, uid) for key, uid in gone))
        if self._reservations is not None:
            # Pods admitted and deleted while the watch was down were never seen at all.
            listed_keys = {
                keys.object_key(namespace, "Pod", name): uid
                for (namespace, name), uid in uids.items()
            }
            dropped = self._reservations.release_unlisted(
                "Pod", listed_keys, admitted_before=self._clock() - RELIST_GRACE
            )
            self._metrics.released("relist", dropped)
            if dropped:
                log.info("released the reservations of %d pods gone before they were seen", dropped)
        recall, self._recall = self._recall, None
        if recall is not None:
            self._recall_recent(recall, listed)

    def _recall_recent(self, recall: Recall, pods: list[Mapping[str, Any]]) -> None:
        """Hold again what the pods admitted within a TTL before the first list hold: this
        replica's ledger started empty, and the spend data shows them only minutes after."""
        assert self._reservations is not None  # no recall without a ledger
        since = self._clock() - self._reservations.ttl
        held = 0
        for pod in pods:
            admitted = created_at(pod)
            if admitted is None or admitted <= since:
                continue
            if (pod.get("status") or {}).get("phase") in FINISHED:
                continue
            try:
                held += recall(pod, admitted)
            except Exception:
                # One pod the engine cannot read must not keep the others from being held.
                log.exception("cannot recall the budget reservation of pod %s/%s", *_key(pod))
        self._metrics.recalled(held)
        if held:
            log.info("held %d budget reservations again for pods admitted before start", held)

    def pods_of(self, workload: str, *, created_since: datetime) -> list[str]:
        """The names of the pods of `workload` (a reservation key) created at or after
        `created_since` that exist now (`spend.snapshots.WorkloadPods`)."""
        with self._lock:
            pods = self._workloads.get(workload) or {}
            return [name for name, created in pods.items() if created >= created_since]

    def _index(
        self, key: tuple[str, str], workload: tuple[str, datetime], *, deleted: bool
    ) -> None:
        owner, created = workload
        pods = self._workloads.setdefault(owner, {})
        if deleted:
            pods.pop(key[1], None)
            if not pods:
                del self._workloads[owner]
        else:
            pods[key[1]] = created

    def _release(self, key: tuple[str, str], uid: str) -> int:
        """The reservations the pod `uid` was admitted with, if it holds any: how many."""
        if self._reservations is None:
            return 0
        namespace, name = key
        return self._reservations.release(keys.object_key(namespace, "Pod", name), owner=uid)

    def _set(
        self,
        exported: dict[tuple[str, str], tuple[str, ...]],
        key: tuple[str, str],
        series: _Series | None,
    ) -> None:
        """Export `series` as `key`'s in `exported` (a pod's or a shared claim's), or drop
        it (None)."""
        old = exported.pop(key, None)
        if series is None:
            if old is not None:
                self._metrics.remove_pod_cost(old)
            return
        labels, hourly = series
        if old is not None and old != labels:
            self._metrics.remove_pod_cost(old)  # relabelled: the old series must go
        self._metrics.set_pod_cost(labels, hourly)
        exported[key] = labels

    def _name_claims(self, pod: tuple[str, str], claims: _Claims) -> None:
        """`pod` now names `claims` (none once it stops running): export each one's series
        as priced for this pod, and drop the series of a claim no running pod names now."""
        old = self._named.pop(pod, frozenset())
        if claims:
            self._named[pod] = frozenset(claims)
        for claim in old - claims.keys():
            namers = self._namers.get(claim, set())
            namers.discard(pod)
            if not namers:
                self._namers.pop(claim, None)
                self._set(self._claim_series, claim, None)
        for claim, series in claims.items():
            self._namers.setdefault(claim, set()).add(pod)
            self._set(self._claim_series, claim, series)

    def _priced(self, pod: Mapping[str, Any]) -> tuple[_Series | None, _Claims]:
        """The pod's series and those of the shared claims it names; none unless it runs."""
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in FINISHED:
            return None, {}
        metadata = pod.get("metadata") or {}
        namespace = metadata.get("namespace", "")
        node_labels = None if self._nodes is None else self._nodes.labels_for(spec["nodeName"])
        try:
            if node_labels is not None:
                spec = placing.on_node(spec, node_labels)
            estimate = self._estimate(spec, metadata.get("annotations") or {}, namespace)
        except Exception:
            # One unpriceable pod must not stop the exporter for all the others.
            log.exception("cannot estimate pod %s/%s", *_key(pod))
            return None, {}
        pod_labels = metadata.get("labels") or {}
        namespace_labels = self._namespaces.labels_for(namespace) or {}

        def label(name: str) -> str:
            return str(pod_labels.get(name) or namespace_labels.get(name) or "")

        labels = (
            namespace,
            metadata.get("name", ""),
            label(self._cost_centre_label),
            label(self._team_label),
            estimate.placement.accelerator_model or "",
            estimate.placement.capacity_type,
        )
        claims = {
            (charge.namespace, charge.name): self._claim_series_of(charge)
            for charge in estimate.shared_claims
        }
        return (labels, estimate.hourly.total), claims

    def _claim_series_of(self, charge: SharedClaimCharge) -> _Series:
        """A shared claim's series. Cost-centre and team come from its namespace's labels
        alone, never a pod's: those who run pods there cannot label the namespace, so they
        cannot move the claim's charge to another cost centre."""
        namespace_labels = self._namespaces.labels_for(charge.namespace) or {}
        labels = (
            charge.namespace,
            keys.claim_series(charge.name),
            str(namespace_labels.get(self._cost_centre_label) or ""),
            str(namespace_labels.get(self._team_label) or ""),
            charge.accelerator_model or "",
            "on-demand",
        )
        return labels, charge.high


def _workload_of(pod: Mapping[str, Any]) -> tuple[str, datetime] | None:
    """The workload a pod was priced with (`reservations.keys.priced_with`) and when the pod was
    created; None for a pod charged itself, or one without a creation time."""
    owner = keys.priced_with(pod)
    created = created_at(pod)
    if owner is None or created is None:
        return None
    return owner, created


def created_at(pod: Mapping[str, Any]) -> datetime | None:
    """When the pod was created (admitted), None without a readable `creationTimestamp`."""
    created = (pod.get("metadata") or {}).get("creationTimestamp")
    if not isinstance(created, str):
        return None
    try:
        at = datetime.fromisoformat(created)
    except ValueError:
        return None
    # The API server writes UTC with a "Z"; a time without a zone is taken as UTC rather
    # than left to fail a comparison with aware times in the spend refresh.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _key(pod: Mapping[str, Any]) -> tuple[str, str]:
    metadata = pod.get("metadata") or {}
    return metadata.get("namespace", ""), metadata.get("name", "")
