"""A running pod priced on its node (`placing.on_node`), against the bundled catalog."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from tests.conftest import ROOT

from costwarden.catalog.loading import bundled_catalog
from costwarden.estimating import estimate_pod, placing

CATALOG = bundled_catalog()
NOTEBOOK = ROOT / "src" / "costwarden" / "data" / "examples" / "dev-notebook-pod.yaml"
G5_SPOT = {"node.kubernetes.io/instance-type": "g5.xlarge", "karpenter.sh/capacity-type": "spot"}


def notebook() -> dict[str, Any]:
    """The example dev notebook's spec: one `nvidia.com/gpu`, no model, capacity open."""
    spec: dict[str, Any] = yaml.safe_load(NOTEBOOK.read_text())["spec"]
    return spec


def test_the_notebook_is_a_range_on_its_spec_alone() -> None:
    estimate = estimate_pod(notebook(), catalog=CATALOG)
    assert estimate.ranged
    assert estimate.low_hourly.total < estimate.hourly.total


def test_on_a_g5_xlarge_spot_node_the_notebook_costs_that_nodes_spot_price() -> None:
    spec = placing.on_node(notebook(), G5_SPOT)
    estimate = estimate_pod(spec, catalog=CATALOG)
    g5 = CATALOG.instance_types["g5.xlarge"]
    assert not estimate.ranged
    assert estimate.priced
    assert g5.spot_hourly is not None
    assert estimate.hourly.total == g5.spot_hourly
    assert estimate.placement.instance_type == "g5.xlarge"
    assert estimate.placement.accelerator_model == "a10g"
    assert estimate.placement.capacity_type == "spot"


def test_the_nodes_value_replaces_the_pods_own_selector_value_for_the_same_key() -> None:
    spec = notebook()
    spec["nodeSelector"] = {
        "node.kubernetes.io/instance-type": "p5.48xlarge",
        "karpenter.sh/capacity-type": "on-demand",
        "team-pool": "vision",
    }
    placed = placing.on_node(spec, G5_SPOT)
    assert placed["nodeSelector"] == {**G5_SPOT, "team-pool": "vision"}
    estimate = estimate_pod(placed, catalog=CATALOG)
    assert (estimate.placement.instance_type, estimate.placement.capacity_type) == (
        "g5.xlarge",
        "spot",
    )


def test_the_nodes_value_replaces_the_pods_required_affinity_on_the_same_key() -> None:
    spec = notebook()
    spec["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "karpenter.sh/capacity-type",
                                "operator": "In",
                                "values": ["on-demand"],
                            },
                            {
                                "key": "topology.kubernetes.io/zone",
                                "operator": "In",
                                "values": ["us-east-1a"],
                            },
                        ]
                    }
                ]
            }
        }
    }
    placed = placing.on_node(spec, G5_SPOT)
    (term,) = placed["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert [e["key"] for e in term["matchExpressions"]] == ["topology.kubernetes.io/zone"]
    estimate = estimate_pod(placed, catalog=CATALOG)
    assert estimate.placement.capacity_type == "spot"
    assert estimate.hourly.total == CATALOG.instance_types["g5.xlarge"].spot_hourly


def test_labels_pricing_does_not_read_change_nothing() -> None:
    spec = notebook()
    node = {"kubernetes.io/hostname": "ip-10-0-1-7", "topology.kubernetes.io/zone": "us-east-1a"}
    assert placing.on_node(spec, node) == spec
    with_them = placing.on_node(spec, {**G5_SPOT, **node})
    assert with_them == placing.on_node(spec, G5_SPOT)
    assert "kubernetes.io/hostname" not in with_them["nodeSelector"]


def test_the_pods_spec_is_not_changed() -> None:
    spec = notebook()
    spec["nodeSelector"] = {"node.kubernetes.io/instance-type": "p5.48xlarge"}
    before = copy.deepcopy(spec)
    placing.on_node(spec, G5_SPOT)
    assert spec == before


def test_an_uncatalogued_instance_type_on_the_node_is_unpriced_never_the_high_end() -> None:
    spec = placing.on_node(notebook(), {"node.kubernetes.io/instance-type": "zz9.huge"})
    estimate = estimate_pod(spec, catalog=CATALOG)
    assert not estimate.priced
    assert any("zz9.huge" in reason for reason in estimate.unpriced)
    on_spec_alone = estimate_pod(notebook(), catalog=CATALOG)
    assert on_spec_alone.placement.accelerator_model == "b200"
    assert estimate.placement.accelerator_model != "b200"
    assert estimate.hourly.total < on_spec_alone.hourly.total


def test_a_gpu_model_label_alone_names_the_model_priced() -> None:
    node = {"nvidia.com/gpu.product": "NVIDIA-A10G"}
    estimate = estimate_pod(placing.on_node(notebook(), node), catalog=CATALOG)
    assert estimate.placement.accelerator_model == "a10g"
    assert estimate.hourly.total < estimate_pod(notebook(), catalog=CATALOG).hourly.total
