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
from typing import Any

from costwarden.estimating import placing
from costwarden.kube import watching
from costwarden.kube.label_cache import LabelCache


class NodeCache(LabelCache):
    """The pricing labels of each node, by node name, replaced by lists and updated by
    watch events."""

    def __init__(self) -> None:
        super().__init__(keep=placing.NODE_LABELS.__contains__)


def start_node_watch(
    core_v1: Any, cache: NodeCache, *, stop: threading.Event, retry_seconds: float = 5.0
) -> threading.Thread:
    """Keep `cache` in step with the cluster's nodes until `stop` is set."""
    return watching.start(
        core_v1.list_node, cache, name="node", stop=stop, retry_seconds=retry_seconds
    )
