"""Node labels from the cluster, for pricing running pods: a list-then-watch cache.

The pod cost exporter prices a running pod on the node it runs on
(`estimating.placing.on_node`); it reads `NodeCache.labels_for(spec.nodeName)`, a dict
lookup, and never waits on the API server. Only the labels pricing reads are kept
(`placing.NODE_LABELS`: instance type and family, accelerator model, capacity type):
a node object is large (its images, conditions, addresses), and a cluster has thousands.

A daemon thread (`kube.watching`'s reflector) lists all nodes, then watches for changes;
the list replaces the cache wholesale, so nodes deleted meanwhile disappear. The cache is
ready (for `/readyz`) once the first list has landed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from costwarden.estimating import placing
from costwarden.kube import watching


class NodeCache:
    """The pricing labels of each node, by node name, replaced by lists and updated by
    watch events."""

    def __init__(self) -> None:
        self._labels: dict[str, Mapping[str, str]] = {}
        self._synced = threading.Event()

    def labels_for(self, name: str) -> Mapping[str, str] | None:
        """The node's labels that pricing reads (possibly none), or None when the node is
        unknown."""
        return self._labels.get(name)

    def ready(self) -> bool:
        return self._synced.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the first list; whether it has landed."""
        return self._synced.wait(timeout)

    def __len__(self) -> int:
        return len(self._labels)

    def replace(self, nodes: Iterable[Mapping[str, Any]]) -> None:
        """Every node, after a (re)list."""
        labels = {}
        for node in nodes:
            name, values = _name_and_labels(node)
            if name is not None:
                labels[name] = values
        self._labels = labels  # one reference swap: readers see the old or the new dict
        self._synced.set()

    def apply(self, event_type: str, node: Mapping[str, Any]) -> None:
        """One watch event: ADDED, MODIFIED or DELETED."""
        name, values = _name_and_labels(node)
        if name is None:
            return
        if event_type != "DELETED" and self._labels.get(name) == values:
            return  # most node events are status updates: nothing to copy for them
        labels = dict(self._labels)
        if event_type == "DELETED":
            labels.pop(name, None)
        else:
            labels[name] = values
        self._labels = labels


def _name_and_labels(node: Mapping[str, Any]) -> tuple[str | None, Mapping[str, str]]:
    metadata = node.get("metadata")
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
        return None, {}
    labels = metadata.get("labels")
    if not isinstance(labels, Mapping):
        return metadata["name"], {}
    return metadata["name"], {
        key: value
        for key, value in labels.items()
        if key in placing.NODE_LABELS and isinstance(value, str)
    }


def start_node_watch(
    core_v1: Any, cache: NodeCache, *, stop: threading.Event, retry_seconds: float = 5.0
) -> threading.Thread:
    """Keep `cache` in step with the cluster's nodes until `stop` is set."""
    return watching.start(
        core_v1.list_node, cache, name="node", stop=stop, retry_seconds=retry_seconds
    )
