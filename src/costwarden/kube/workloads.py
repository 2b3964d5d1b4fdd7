"""The `WorkloadLookup` port against the cluster: the workload behind a Scale request.

`kubectl scale` sends an `autoscaling/v1` Scale — replicas, no pod template — so pricing
the new replica count needs the Deployment (StatefulSet, ReplicaSet) itself. Scales are
rare next to pod creations, so this is a direct GET with a short timeout rather than a
cache of every workload in the cluster; the webhook calls it from a worker thread, never
on the event loop. A 404 answers None (the workload is gone); any other failure — a
timeout, a refusal (RBAC), a server error — raises `LookupFailed` naming it, and the engine
does what `--scale-lookup-failure` says instead of the webhook failing the request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from costwarden.engine.ports import LookupFailed

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
        """The workload, None on 404; raises `LookupFailed` for anything else that fails."""
        reader = READERS.get((group, resource))
        if reader is None:
            raise LookupFailed(f"costwarden does not read {resource or '?'}.{group or 'core'}")
        try:
            response = getattr(self._apps_v1, reader)(
                name, namespace, _preload_content=False, _request_timeout=self._timeout
            )
            obj: Mapping[str, Any] = json.loads(response.data)
        except ApiException as error:
            if error.status == 404:
                return None
            reason = f"{error.status} {error.reason}".strip()
            log.warning("cannot read %s %s/%s for a scale: %s", resource, namespace, name, reason)
            raise LookupFailed(reason) from None
        except Exception as error:  # timeouts, connection errors, garbage: never a 500
            reason = self._reason(error)
            log.warning("cannot read %s %s/%s for a scale: %s", resource, namespace, name, error)
            raise LookupFailed(reason) from None
        return obj

    def _reason(self, error: Exception) -> str:
        """What a message says of a failure that is no answer of the API server's. The
        client's urllib3 wraps the last failure of its retries (`MaxRetryError.reason`)."""
        cause = getattr(error, "reason", None)
        failure = cause if isinstance(cause, BaseException) else error
        name = type(failure).__name__
        if name == "NewConnectionError" or isinstance(failure, ConnectionError):
            return "cannot connect to the API server"
        if "Timeout" in name or isinstance(failure, TimeoutError):
            return f"no answer within {self._timeout:g} s"
        return name
