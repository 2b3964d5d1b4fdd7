"""Namespace labels from the cluster: a list-then-watch cache, off the event loop.

The admission path reads `NamespaceCache.labels_for` — a dict lookup — and never waits
on the API server. A daemon thread lists all namespaces, then watches for changes, resuming
each watch where the last one ended (bookmarks keep that point fresh); after a failure or
the normal `410 Gone` (resourceVersion too old) it lists again, and the list replaces the
cache wholesale so namespaces deleted meanwhile disappear. The cache
is ready (for `/readyz`) once the first list has landed.

Thin on purpose: the thread only moves events from the client into `NamespaceCache`,
whose logic is tested without a cluster.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

# The client ships no type hints; mypy --strict would flag every call into it.
_Watch: Any = watch.Watch


class NamespaceCache:
    """Labels by namespace name, replaced by lists and updated by watch events."""

    def __init__(self) -> None:
        self._labels: dict[str, Mapping[str, str]] = {}
        self._synced = threading.Event()

    def labels_for(self, namespace: str) -> Mapping[str, str] | None:
        return self._labels.get(namespace)

    def ready(self) -> bool:
        return self._synced.is_set()

    def __len__(self) -> int:
        return len(self._labels)

    def replace(self, namespaces: Iterable[Mapping[str, Any]]) -> None:
        """Every namespace, after a (re)list."""
        labels = {}
        for namespace in namespaces:
            name, values = _name_and_labels(namespace)
            if name is not None:
                labels[name] = values
        self._labels = labels  # one reference swap: readers see the old or the new dict
        self._synced.set()

    def apply(self, event_type: str, namespace: Mapping[str, Any]) -> None:
        """One watch event: ADDED, MODIFIED or DELETED."""
        name, values = _name_and_labels(namespace)
        if name is None:
            return
        labels = dict(self._labels)
        if event_type == "DELETED":
            labels.pop(name, None)
        else:
            labels[name] = values
        self._labels = labels


def _name_and_labels(namespace: Mapping[str, Any]) -> tuple[str | None, Mapping[str, str]]:
    metadata = namespace.get("metadata")
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
        return None, {}
    labels = metadata.get("labels")
    return metadata["name"], dict(labels) if isinstance(labels, Mapping) else {}


def start_namespace_watch(
    core_v1: Any, cache: NamespaceCache, *, stop: threading.Event, retry_seconds: float = 5.0
) -> threading.Thread:
    """Keep `cache` in step with the cluster's namespaces until `stop` is set."""
    thread = threading.Thread(
        target=_watch_forever,
        kwargs={"core_v1": core_v1, "cache": cache, "stop": stop, "retry_seconds": retry_seconds},
        name="namespace-watch",
        daemon=True,
    )
    thread.start()
    return thread


def _watch_forever(
    *, core_v1: Any, cache: NamespaceCache, stop: threading.Event, retry_seconds: float
) -> None:
    resource_version: str | None = None
    while not stop.is_set():
        try:
            if resource_version is None:
                resource_version = _relist(core_v1, cache)
            resource_version = _watch(core_v1, cache, stop=stop, since=resource_version)
        except ApiException as error:
            resource_version = None
            if error.status != 410:  # 410 Gone: too old, re-list at once
                log.warning("namespace watch failed: %s", error)
                stop.wait(retry_seconds)
        except Exception:
            # Admission must outlive API server hiccups: keep the last labels, re-list.
            log.exception("namespace watch failed")
            resource_version = None
            stop.wait(retry_seconds)


def _relist(core_v1: Any, cache: NamespaceCache) -> str:
    # Raw JSON rather than the client's models: the cache wants plain dicts.
    listing = json.loads(core_v1.list_namespace(_preload_content=False).data)
    cache.replace(listing.get("items") or [])
    return str(listing["metadata"]["resourceVersion"])


def _watch(core_v1: Any, cache: NamespaceCache, *, stop: threading.Event, since: str) -> str:
    """Follow changes from `since`; returns where it got to (bookmarks included), so the
    next watch resumes there instead of re-listing."""
    namespace_watch = _Watch()
    for event in namespace_watch.stream(
        core_v1.list_namespace,
        resource_version=since,
        allow_watch_bookmarks=True,
        timeout_seconds=300,
    ):
        if stop.is_set():
            namespace_watch.stop()
            break
        namespace = event["raw_object"]
        since = str((namespace.get("metadata") or {}).get("resourceVersion") or since)
        if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
            cache.apply(event["type"], namespace)
    return since
