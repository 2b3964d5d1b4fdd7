"""The pod watch behind the pod cost exporter: lists and watches pods, hands plain dicts on.

Thin on purpose: the thread is `kube.watching`'s reflector, off the event loop; all logic
lives in the sink (`spend.watched_pods.PodCostTracker`), tested without a cluster.
"""

from __future__ import annotations

import threading
from typing import Any

from costwarden.kube import watching

PodEvents = watching.Sink
"""What the pod watch feeds: `replace` after a (re)list, `apply` per event."""


def start_pod_watch(
    core_v1: Any, sink: PodEvents, *, stop: threading.Event, retry_seconds: float = 5.0
) -> threading.Thread:
    """Watch pods of all namespaces into `sink` until `stop` is set (a daemon thread)."""
    return watching.start(
        core_v1.list_pod_for_all_namespaces,
        sink,
        name="pod",
        stop=stop,
        retry_seconds=retry_seconds,
    )
