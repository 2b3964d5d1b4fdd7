"""The capacity-type vocabulary: what a pod spec pins, and that pricing reads it the same way.

The Spot rule reads `capacity.pinned`; pricing reads `capacity` through `placing`. The
property test at the end holds the two readings together: a pod is priced as Spot exactly
when `pinned` says it can run on Spot only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.estimating.sample_catalog import CPU, MEM, SPOT_FACTOR

from costwarden.catalog.models import Catalog
from costwarden.estimating import capacity, estimate_pod
from costwarden.memos import Memos
from costwarden.workloads import InvalidObject


def pinned(spec: dict[str, Any]) -> capacity.Pin:
    """What the spec pins, read with a fresh memo, then again through the memo it filled:
    both readings must agree."""
    memo = Memos().pins
    first = capacity.pinned(spec, memo=memo)
    assert capacity.pinned(spec, memo=memo) == first
    return first


def pod_spec(**fields: Any) -> dict[str, Any]:
    requests = {"cpu": "1", "memory": "1Gi"}
    return {"containers": [{"name": "c", "resources": {"requests": requests}}], **fields}


def affinity(*terms: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": t} for t in terms]
            }
        }
    }


def expression(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


# --- the three cases pricing and the Spot rule used to disagree on --------------------------


def test_eks_capacity_block_is_reserved_capacity_priced_at_on_demand(catalog: Catalog) -> None:
    spec = pod_spec(
        nodeSelector={
            "node.kubernetes.io/instance-type": "p4d.24xlarge",
            "eks.amazonaws.com/capacityType": "CAPACITY_BLOCK",
        }
    )
    spec["containers"][0]["resources"]["requests"] = {
        "cpu": "96",
        "memory": "1152Gi",
        "nvidia.com/gpu": "8",
    }
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "reserved"
    assert estimate.hourly.total == Decimal("21.957642")  # the on-demand price
    assert pinned(spec) == capacity.Pin(frozenset({"reserved"}), "nodeSelector")
    assert pinned(spec).excludes_spot


@pytest.mark.parametrize("value", ["ec2spot", "EC2Spot", "Ec2Spot", "EC2SPOT"])
def test_legacy_lifecycle_ec2spot_is_spot_in_any_case(catalog: Catalog, value: str) -> None:
    spec = pod_spec(nodeSelector={"lifecycle": value})
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "spot"
    assert estimate.hourly.total == (CPU + MEM) * SPOT_FACTOR
    # Clusters spell the legacy label their own way: no spelling is wrong, none is noted.
    assert not any("spelling" in a for a in estimate.assumptions)
    assert pinned(spec).spot_only


def test_gke_spot_true_capitalised_is_spot_and_noted_as_matching_no_node(
    catalog: Catalog,
) -> None:
    spec = pod_spec(nodeSelector={"cloud.google.com/gke-spot": "True"})
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "spot"
    assert estimate.hourly.total == (CPU + MEM) * SPOT_FACTOR
    assert (
        "cloud.google.com/gke-spot: 'True' read as 'true', the spelling nodes carry (the "
        "scheduler compares label values exactly: as written, it names no node)"
    ) in estimate.assumptions
    assert pinned(spec).spot_only


def test_values_spelt_as_nodes_carry_them_are_not_noted(catalog: Catalog) -> None:
    spec = pod_spec(nodeSelector={"cloud.google.com/gke-spot": "true"})
    assert not any("spelling" in a for a in estimate_pod(spec, catalog=catalog).assumptions)


# --- reading one label --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "meaning"),
    [
        ("karpenter.sh/capacity-type", "spot", "spot"),
        ("karpenter.sh/capacity-type", "on-demand", "on-demand"),
        ("karpenter.sh/capacity-type", "reserved", "reserved"),
        ("karpenter.sh/capacity-type", "Reserved", "reserved"),
        ("karpenter.sh/capacity-type", "spotty", None),
        ("eks.amazonaws.com/capacityType", "SPOT", "spot"),
        ("eks.amazonaws.com/capacityType", "ON_DEMAND", "on-demand"),
        ("eks.amazonaws.com/capacityType", "CAPACITY_BLOCK", "reserved"),
        ("eks.amazonaws.com/capacityType", "on-demand", None),
        ("cloud.google.com/gke-spot", "true", "spot"),
        ("cloud.google.com/gke-spot", "TRUE", "spot"),
        ("cloud.google.com/gke-spot", "false", "on-demand"),
        ("cloud.google.com/gke-preemptible", "true", "spot"),
        ("kubernetes.azure.com/scalesetpriority", "spot", "spot"),
        ("kubernetes.azure.com/scalesetpriority", "regular", "on-demand"),
        ("lifecycle", "OnDemand", "on-demand"),
    ],
)
def test_each_label_value_means_one_capacity_type(key: str, value: str, meaning: str) -> None:
    assert capacity.LABELS[key].meaning(value) == meaning


@pytest.mark.parametrize(
    ("key", "value", "spelt"),
    [
        ("cloud.google.com/gke-spot", "True", "true"),
        ("eks.amazonaws.com/capacityType", "capacity_block", "CAPACITY_BLOCK"),
        ("karpenter.sh/capacity-type", "Spot", "spot"),
        ("karpenter.sh/capacity-type", "spot", None),
        ("karpenter.sh/capacity-type", "spotty", None),
        ("lifecycle", "ec2spot", None),
        ("node.kubernetes.io/instance-type", "P4D.24XLARGE", None),
    ],
)
def test_misspelt_names_the_spelling_nodes_carry(key: str, value: str, spelt: str | None) -> None:
    assert capacity.misspelt(key, value) == spelt


@pytest.mark.parametrize(
    ("key", "operator", "values", "allowed"),
    [
        ("karpenter.sh/capacity-type", "In", ("spot", "on-demand"), {"spot", "on-demand"}),
        ("karpenter.sh/capacity-type", "NotIn", ("spot",), {"on-demand", "reserved"}),
        ("karpenter.sh/capacity-type", "Exists", (), {"spot", "on-demand", "reserved"}),
        ("karpenter.sh/capacity-type", "In", ("spotty",), set()),
        ("cloud.google.com/gke-spot", "Exists", (), {"spot"}),
        ("cloud.google.com/gke-preemptible", "DoesNotExist", (), {"on-demand", "reserved"}),
        ("kubernetes.azure.com/scalesetpriority", "Exists", (), {"spot"}),
        ("lifecycle", "Exists", (), {"spot", "on-demand", "reserved"}),
        ("lifecycle", "DoesNotExist", (), {"spot", "on-demand", "reserved"}),
        ("eks.amazonaws.com/capacityType", "Gt", ("1",), {"spot", "on-demand", "reserved"}),
    ],
)
def test_what_one_requirement_allows(
    key: str, operator: str, values: tuple[str, ...], allowed: set[str]
) -> None:
    assert capacity.allows(key, operator, values) == allowed


# --- what a pod spec pins -----------------------------------------------------------------


def test_a_spec_without_capacity_requirements_leaves_capacity_open() -> None:
    pin = pinned(pod_spec(nodeSelector={"topology.kubernetes.io/zone": "us-east-1a"}))
    assert pin == capacity.Pin(capacity.TYPES, None)
    assert not pin.spot_only
    assert not pin.excludes_spot


def test_affinity_terms_are_alternatives() -> None:
    spec = pod_spec(
        affinity=affinity(
            [expression("karpenter.sh/capacity-type", "In", "spot")],
            [expression("eks.amazonaws.com/capacityType", "In", "CAPACITY_BLOCK")],
        )
    )
    pin = pinned(spec)
    assert pin == capacity.Pin(frozenset({"spot", "reserved"}), "affinity")
    assert not pin.spot_only
    assert not pin.excludes_spot


def test_affinity_excluding_spot_pins_on_demand_or_reserved() -> None:
    spec = pod_spec(affinity=affinity([expression("cloud.google.com/gke-spot", "DoesNotExist")]))
    assert pinned(spec) == capacity.Pin(capacity.NOT_SPOT, "affinity")


def test_node_selector_applies_to_every_affinity_term() -> None:
    spec = pod_spec(
        nodeSelector={"karpenter.sh/capacity-type": "spot"},
        affinity=affinity(
            [expression("karpenter.sh/capacity-type", "In", "spot", "on-demand")],
            [expression("karpenter.sh/capacity-type", "In", "reserved")],
        ),
    )
    assert pinned(spec).allowed == {"spot"}


def test_the_affinity_is_named_when_both_narrow_capacity() -> None:
    # A nodeSelector rewrite cannot widen what the affinity allows.
    spec = pod_spec(
        nodeSelector={"karpenter.sh/capacity-type": "on-demand"},
        affinity=affinity([expression("karpenter.sh/capacity-type", "NotIn", "spot")]),
    )
    assert pinned(spec) == capacity.Pin(frozenset({"on-demand"}), "affinity")


def test_contradicting_requirements_allow_no_capacity_type() -> None:
    spec = pod_spec(
        nodeSelector={
            "karpenter.sh/capacity-type": "spot",
            "eks.amazonaws.com/capacityType": "ON_DEMAND",
        }
    )
    pin = pinned(spec)
    assert pin.allowed == frozenset()
    assert pin.excludes_spot


def test_a_malformed_affinity_is_an_invalid_object_with_its_path() -> None:
    spec = pod_spec(affinity=affinity(["not a requirement"]))  # type: ignore[list-item]
    with pytest.raises(InvalidObject) as raised:
        pinned(spec)
    assert raised.value.path[-2:] == ("matchExpressions", 0)


# --- putting a pod on Spot ----------------------------------------------------------------


@pytest.mark.parametrize("cloud", sorted(capacity.SPOT_PLACEMENT))
def test_each_clouds_spot_placement_pins_spot_and_is_priced_so(
    catalog: Catalog, cloud: str
) -> None:
    placement = capacity.SPOT_PLACEMENT[cloud]
    key, value = placement.selector
    spec = pod_spec(nodeSelector={key: value})
    toleration = placement.toleration()
    if toleration is not None:
        spec["tolerations"] = [toleration]
    estimate = estimate_pod(spec, catalog=catalog)
    assert pinned(spec).spot_only
    assert estimate.placement.capacity_type == "spot"
    assert not any("Pending" in a or "taint" in a for a in estimate.assumptions)


def test_a_spot_placement_toleration_is_a_fresh_dict_each_time() -> None:
    placement = capacity.SPOT_PLACEMENT["aks"]
    first = placement.toleration()
    assert first == {
        "key": "kubernetes.azure.com/scalesetpriority",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    }
    assert first is not placement.toleration()
    assert capacity.SPOT_PLACEMENT["karpenter"].toleration() is None


# --- pricing and `pinned` agree -----------------------------------------------------------

_VALUES = st.sampled_from(
    [
        "spot", "Spot", "on-demand", "reserved", "SPOT", "ON_DEMAND", "CAPACITY_BLOCK",
        "true", "True", "false", "regular", "EC2Spot", "ec2spot", "OnDemand", "other",
    ]
)  # fmt: skip
_KEYS = st.sampled_from(sorted(capacity.LABELS))
_EXPRESSIONS = st.builds(
    expression,
    _KEYS,
    st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
    _VALUES,
)


@settings(max_examples=300, deadline=None)
@given(
    selector=st.dictionaries(_KEYS, _VALUES, max_size=2),
    terms=st.lists(st.lists(_EXPRESSIONS, max_size=2), max_size=3),
)
def test_a_pod_is_priced_as_spot_exactly_when_it_pins_spot_only(
    catalog: Catalog, selector: dict[str, str], terms: list[list[dict[str, Any]]]
) -> None:
    spec = pod_spec(nodeSelector=selector, affinity=affinity(*terms))
    pin = pinned(spec)
    priced = estimate_pod(spec, catalog=catalog).placement.capacity_type
    assert (priced == "spot") == pin.spot_only
    assert priced in (pin.allowed or {"on-demand"})
