"""Namespace labels from the cluster: a list-then-watch cache, off the event loop.

The admission path reads `NamespaceCache.labels_for` — a dict lookup — and never waits
on the API server. A daemon thread lists all namespaces, then watches for changes, resuming
each watch where the last one ended (bookmarks keep that point fresh); after a failure or
the normal `410 Gone` (resourceVersion too old) it lists again, and the list replaces the
cache wholesale so namespaces deleted meanwhile disappear. The cache
is ready (for `/readyz`) once the first list has landed.

The thread is `kube.watching`'s reflector; the logic lives in `NamespaceCache`, tested
without a cluster.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from costwarden.kube import watching


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
    return watching.start(
        core_v1.list_namespace, cache, name="namespace", stop=stop, retry_seconds=retry_seconds
    )
