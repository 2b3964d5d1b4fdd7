"""The `WorkloadLookup` port against the cluster: the workload behind a Scale request.

`kubectl scale` sends an `autoscaling/v1` Scale — replicas, no pod template — so pricing
the new replica count needs the Deployment (StatefulSet, ReplicaSet) itself. Scales are
rare next to pod creations, so this is a direct GET with a short timeout rather than a
cache of every workload in the cluster; the webhook calls it from a worker thread, never
on the event loop. A failed GET answers None: the engine then says it could not price the
scale, instead of the webhook failing the request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

READERS = {
    ("apps", "deployments"): "read_namespaced_deployment",
    ("apps", "statefulsets"): "read_namespaced_stateful_set",
    ("apps", "replicasets"): "read_namespaced_replica_set",
}
"""Scalable workloads that run pods, by (API group, resource) -> AppsV1Api method."""


class ClusterWorkloads:
    def __init__(self, apps_v1: Any, *, timeout_seconds: float = 2.0) -> None:
        self._apps_v1 = apps_v1
        self._timeout = timeout_seconds

    def workload(
        self, *, group: str, resource: str, namespace: str, name: str
    ) -> Mapping[str, Any] | None:
        reader = READERS.get((group, resource))
        if reader is None:
            return None
        try:
            response = getattr(self._apps_v1, reader)(
                name, namespace, _preload_content=False, _request_timeout=self._timeout
            )
            obj: Mapping[str, Any] = json.loads(response.data)
        except Exception as error:  # timeouts, 404, RBAC: an unpriced scale, never a 500
            log.warning("cannot read %s %s/%s for a scale: %s", resource, namespace, name, error)
            return None
        return obj
