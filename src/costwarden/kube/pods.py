"""The pod watch behind the pod cost exporter: lists and watches pods, hands plain dicts on.

Thin on purpose: all logic lives in the sink (`spend.tracking.PodCostTracker`), tested
without a cluster. The watch blocks, so it runs in its own thread, off the event loop.
A watch that times out resumes from the last resourceVersion seen (bookmarks keep it
recent); a `410 Gone` (too old) or any other failure re-lists, and the sink's `replace`
drops pods deleted meanwhile.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

# The client ships no type hints; mypy --strict would flag every call into it.
_Watch: Any = watch.Watch


class PodEvents(Protocol):
    def replace(self, pods: Sequence[Mapping[str, Any]]) -> None:
        """Every pod of the cluster, after a (re)list."""
        ...

    def apply(self, event_type: str, pod: Mapping[str, Any]) -> None:
        """One watch event (ADDED, MODIFIED, DELETED)."""
        ...


def start_pod_watch(
    core_v1: Any, sink: PodEvents, *, stop: threading.Event, retry_seconds: float = 5.0
) -> threading.Thread:
    """Watch pods of all namespaces into `sink` until `stop` is set (a daemon thread)."""
    thread = threading.Thread(
        target=_watch_forever,
        kwargs={"core_v1": core_v1, "sink": sink, "stop": stop, "retry_seconds": retry_seconds},
        name="pod-watch",
        daemon=True,
    )
    thread.start()
    return thread


def _watch_forever(
    *, core_v1: Any, sink: PodEvents, stop: threading.Event, retry_seconds: float
) -> None:
    resource_version: str | None = None
    while not stop.is_set():
        try:
            if resource_version is None:
                resource_version = _relist(core_v1, sink)
            resource_version = _watch(core_v1, sink, stop=stop, since=resource_version)
        except ApiException as error:
            resource_version = None
            if error.status != 410:  # 410 Gone: too old, re-list at once
                log.warning("pod watch failed: %s", error)
                stop.wait(retry_seconds)
        except Exception:
            # The exporter must outlive API server hiccups; log and re-list.
            log.exception("pod watch failed")
            resource_version = None
            stop.wait(retry_seconds)


def _relist(core_v1: Any, sink: PodEvents) -> str:
    # Raw JSON, not the client's models: the sink wants plain dicts, and skipping model
    # deserialisation keeps a large list cheap.
    listing = json.loads(core_v1.list_pod_for_all_namespaces(_preload_content=False).data)
    sink.replace(listing.get("items") or [])
    return str(listing["metadata"]["resourceVersion"])


def _watch(core_v1: Any, sink: PodEvents, *, stop: threading.Event, since: str) -> str:
    pod_watch = _Watch()
    for event in pod_watch.stream(
        core_v1.list_pod_for_all_namespaces,
        resource_version=since,
        allow_watch_bookmarks=True,
        timeout_seconds=300,
    ):
        if stop.is_set():
            pod_watch.stop()
            break
        pod = event["raw_object"]
        since = str((pod.get("metadata") or {}).get("resourceVersion") or since)
        if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
            sink.apply(event["type"], pod)
    return since
