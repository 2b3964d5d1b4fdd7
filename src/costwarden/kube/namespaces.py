"""Namespace labels from the cluster: a list-then-watch cache, off the event loop.

The admission path reads `NamespaceCache.labels_for` — a dict lookup — and never waits
on the API server. A daemon thread lists all namespaces, then watches for changes, resuming
each watch where the last one ended (bookmarks keep that point fresh); after a failure or
the normal `410 Gone` (resourceVersion too old) it lists again, and the list replaces the
cache wholesale so namespaces deleted meanwhile disappear. The cache
is ready (for `/readyz`) once the first list has landed.

The thread is `kube.watching`'s reflector; the logic lives in `kube.label_cache`, tested
without a cluster.
"""

from __future__ import annotations

import threading
from typing import Any

from costwarden.kube import watching
from costwarden.kube.label_cache import LabelCache


class NamespaceCache(LabelCache):
    """Labels by namespace name, replaced by lists and updated by watch events."""


def start_namespace_watch(
    core_v1: Any, cache: NamespaceCache, *, stop: threading.Event, retry_seconds: float = 5.0
) -> threading.Thread:
    """Keep `cache` in step with the cluster's namespaces until `stop` is set."""
    return watching.start(
        core_v1.list_namespace, cache, name="namespace", stop=stop, retry_seconds=retry_seconds
    )
