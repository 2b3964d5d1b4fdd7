"""The node label cache behind the node watch."""

from __future__ import annotations

from costwarden.kube.nodes import NodeCache

G5 = {"node.kubernetes.io/instance-type": "g5.xlarge", "karpenter.sh/capacity-type": "spot"}


def node(name: str, **labels: str) -> dict[str, object]:
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"images": [{"names": ["registry/huge:1"], "sizeBytes": 10**9}]},
    }


def test_the_cache_is_ready_only_after_the_first_list() -> None:
    cache = NodeCache()
    assert cache.ready() is False
    assert cache.wait_ready(0) is False
    assert cache.labels_for("gpu-1") is None
    cache.replace([node("gpu-1", **G5)])
    assert cache.ready() is True
    assert cache.wait_ready(0) is True
    assert cache.labels_for("gpu-1") == G5


def test_only_the_labels_pricing_reads_are_kept() -> None:
    cache = NodeCache()
    cache.replace(
        [
            {
                "metadata": {
                    "name": "gpu-1",
                    "labels": {
                        **G5,
                        "nvidia.com/gpu.product": "NVIDIA-A10G",
                        "kubernetes.io/hostname": "ip-10-0-1-7",
                        "topology.kubernetes.io/zone": "us-east-1a",
                    },
                }
            }
        ]
    )
    assert cache.labels_for("gpu-1") == {**G5, "nvidia.com/gpu.product": "NVIDIA-A10G"}


def test_a_node_without_pricing_labels_is_known_with_none() -> None:
    cache = NodeCache()
    cache.replace([node("cpu-1", **{"kubernetes.io/hostname": "cpu-1"}), node("bare")])
    assert cache.labels_for("cpu-1") == {}
    assert cache.labels_for("bare") == {}
    assert len(cache) == 2


def test_watch_events_add_change_and_remove_nodes() -> None:
    cache = NodeCache()
    cache.replace([node("a", **G5)])
    cache.apply("ADDED", node("b"))
    cache.apply("MODIFIED", node("a", **{**G5, "karpenter.sh/capacity-type": "on-demand"}))
    cache.apply("DELETED", node("b"))
    assert cache.labels_for("a") == {**G5, "karpenter.sh/capacity-type": "on-demand"}
    assert cache.labels_for("b") is None
    assert len(cache) == 1


def test_a_relist_drops_nodes_deleted_while_the_watch_was_down() -> None:
    cache = NodeCache()
    cache.replace([node("a"), node("gone", **G5)])
    cache.replace([node("a")])
    assert cache.labels_for("gone") is None
    assert len(cache) == 1


def test_objects_without_a_name_are_ignored() -> None:
    cache = NodeCache()
    cache.replace([{"metadata": {}}, {"kind": "Node"}, node("ok")])
    cache.apply("ADDED", {"metadata": {"labels": dict(G5)}})
    assert len(cache) == 1
