"""The pod cost exporter's logic: running pods -> `costwarden_pod_hourly_cost` series.

Fed plain pod dicts by the pod watch (`kube/pods.py`), it keeps one gauge per pod that
costs money — bound to a node and not finished — with its estimated $/h and the unified
labels (`namespace`, `pod`, `cost_centre`, `team`, `gpu_model`, `capacity_type`), so
Prometheus accumulates spend that budgets query back. Cost-centre and team come from the
pod's labels, falling back to its namespace's. A pod that finishes or is deleted drops its
series; on the next scrape Prometheus marks it stale, so it stops counting at once instead
of lingering for the 5-minute lookback.

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
from typing import Any

from costwarden import estimating, labels
from costwarden.catalog.models import Catalog
from costwarden.engine.ports import NamespaceLabels
from costwarden.estimating.estimates import PodEstimate
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

Estimator = Callable[[Mapping[str, Any], Mapping[str, Any]], PodEstimate]
"""(pod spec, pod annotations) -> estimate; `catalog_estimator` is the real one."""


def catalog_estimator(catalog: Catalog) -> Estimator:
    """`estimating.estimate_pod` bound to a price catalog."""

    def estimate(spec: Mapping[str, Any], annotations: Mapping[str, Any]) -> PodEstimate:
        return estimating.estimate_pod(spec, catalog=catalog, annotations=annotations)

    return estimate


FINISHED = frozenset({"Succeeded", "Failed"})

_Series = tuple[tuple[str, ...], Decimal]
"""Gauge labels (`POD_COST_LABELS` order) and $/h."""


class PodCostTracker:
    """Implements the pod watch's sink (`kube.pods.PodEvents`). Thread-safe."""

    def __init__(
        self,
        *,
        estimate: Estimator,
        namespaces: NamespaceLabels,
        metrics: SpendMetrics,
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
        self._metrics = metrics
        self._cost_centre_label = cost_centre_label
        self._team_label = team_label
        self._reservations = reservations
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], tuple[str, ...]] = {}
        self._uids: dict[tuple[str, str], str] = {}
        """Every pod seen, running or not, by uid: a relist tells which ones went away."""
        self._workloads: dict[str, dict[str, datetime]] = {}
        """The pods of each workload priced with its controller, by the workload's
        reservation key (`reservations.keys.priced_with`): pod name -> when it was created."""

    def apply(self, event_type: str, pod: Mapping[str, Any]) -> None:
        """One watch event: ADDED, MODIFIED or DELETED with the pod as a plain dict."""
        key = _key(pod)
        uid = keys.owner_uid(pod.get("metadata") or {})
        series = None if event_type == "DELETED" else self._series_of(pod)
        workload = _workload_of(pod)
        with self._lock:
            self._set(key, series)
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
        """A full list (after (re)connecting): pods not in it drop their series, and the
        pods deleted while the watch was down (gone, or re-created under their name with a
        new uid) release their reservations."""
        listed = list(pods)
        current = {_key(pod): self._series_of(pod) for pod in listed}
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
                self._set(key, None)
            for key, series in current.items():
                self._set(key, series)
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

    def _set(self, key: tuple[str, str], series: _Series | None) -> None:
        old = self._series.pop(key, None)
        if series is None:
            if old is not None:
                self._metrics.remove_pod_cost(old)
            return
        labels, hourly = series
        if old is not None and old != labels:
            self._metrics.remove_pod_cost(old)  # relabelled: the old series must go
        self._metrics.set_pod_cost(labels, hourly)
        self._series[key] = labels

    def _series_of(self, pod: Mapping[str, Any]) -> _Series | None:
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in FINISHED:
            return None
        try:
            estimate = self._estimate(spec, (pod.get("metadata") or {}).get("annotations") or {})
        except Exception:
            # One unpriceable pod must not stop the exporter for all the others.
            log.exception("cannot estimate pod %s/%s", *_key(pod))
            return None
        metadata = pod.get("metadata") or {}
        namespace = metadata.get("namespace", "")
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
        return labels, estimate.hourly.total


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
