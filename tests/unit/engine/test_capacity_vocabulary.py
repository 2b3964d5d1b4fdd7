"""The Spot rule reads capacity type as pricing does (issue 19, item 3).

A pod pinned with `eks.amazonaws.com/capacityType: CAPACITY_BLOCK`, `lifecycle: ec2spot` or
`cloud.google.com/gke-spot: "True"` is priced as reserved or Spot; the Spot rule must see the
same capacity, not capacity "left open". Reserved capacity is not Spot: a dev pod pinned to
it breaks `spot: {mode: require}`.
"""

from __future__ import annotations

import re

import pytest

from costwarden.estimating import estimate_object

REQUIRE = {
    "name": "dev-on-spot",
    "match": {"namespaceSelector": {"matchLabels": {"env": "dev"}}},
    "spot": {"mode": "require"},
}
MUTATE = {**REQUIRE, "spot": {"mode": "mutate", "cloud": "karpenter"}}


def required_affinity(key: str, operator: str, *values: str) -> dict:
    expression = {"key": key, "operator": operator, "values": list(values)}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [expression]}]
            }
        }
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("cloud.google.com/gke-spot", "True"),
        ("lifecycle", "ec2spot"),
        ("lifecycle", "Ec2Spot"),
        ("karpenter.sh/capacity-type", "Spot"),
    ],
)
def test_allows_dev_pod_priced_as_spot(pod, policies, judge, key, value):
    assert judge(pod(namespace="ml-dev", node_selector={key: value}), policies(REQUIRE)).allowed


@pytest.mark.parametrize(
    "key", ["cloud.google.com/gke-preemptible", "kubernetes.azure.com/scalesetpriority"]
)
def test_allows_dev_pod_requiring_a_label_only_spot_nodes_carry(pod, policies, judge, key):
    obj = pod(namespace="ml-dev", affinity=required_affinity(key, "Exists"))
    assert judge(obj, policies(REQUIRE)).allowed


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("eks.amazonaws.com/capacityType", "CAPACITY_BLOCK"),
        ("karpenter.sh/capacity-type", "reserved"),
    ],
)
def test_denies_dev_pod_pinned_to_reserved_capacity_as_pinned_not_open(
    pod, policies, judge, key, value
):
    (violation,) = judge(
        pod(namespace="ml-dev", node_selector={key: value}), policies(REQUIRE)
    ).denials
    assert "leaves capacity type open" not in violation.message
    assert re.search(
        r"dev pod pins [^;]*reserved[^;]* capacity \(through nodeSelector\)",
        violation.message,
        re.IGNORECASE,
    ), violation.message


def test_denies_dev_pod_pinned_to_a_capacity_block_through_affinity(pod, policies, judge):
    obj = pod(
        namespace="ml-dev",
        affinity=required_affinity("eks.amazonaws.com/capacityType", "In", "CAPACITY_BLOCK"),
    )
    (violation,) = judge(obj, policies(REQUIRE)).denials
    assert "leaves capacity type open" not in violation.message
    assert re.search(r"pins [^;]*reserved[^;]* \(through affinity\)", violation.message, re.I)


def test_denies_dev_pod_pinned_on_demand_by_the_legacy_label(pod, policies, judge):
    obj = pod(namespace="ml-dev", node_selector={"lifecycle": "OnDemand"})
    (violation,) = judge(obj, policies(REQUIRE)).denials
    assert "dev pod pins On-Demand capacity (through nodeSelector)" in violation.message


def test_mutate_moves_a_dev_pod_off_a_capacity_block(pod, policies, judge, patched):
    obj = pod(
        namespace="ml-dev", node_selector={"eks.amazonaws.com/capacityType": "CAPACITY_BLOCK"}
    )
    verdict = judge(obj, policies(MUTATE))
    assert verdict.allowed
    assert patched(obj, verdict)["spec"]["nodeSelector"] == {"karpenter.sh/capacity-type": "spot"}


@pytest.mark.parametrize(
    "node_selector",
    [
        {"eks.amazonaws.com/capacityType": "CAPACITY_BLOCK"},
        {"lifecycle": "ec2spot"},
        {"cloud.google.com/gke-spot": "True"},
        {"cloud.google.com/gke-spot": "true"},
        {"kubernetes.azure.com/scalesetpriority": "regular"},
        {"karpenter.sh/capacity-type": "reserved"},
        {"eks.amazonaws.com/capacityType": "spot"},
        {},
    ],
)
def test_the_spot_rule_admits_exactly_the_pods_priced_as_spot(
    pod, policies, judge, catalog, node_selector
):
    obj = pod(namespace="ml-dev", node_selector=node_selector)
    estimate = estimate_object(obj, catalog=catalog)
    assert estimate is not None
    priced_as_spot = estimate.pod.placement.capacity_type == "spot"
    assert judge(obj, policies(REQUIRE)).allowed == priced_as_spot
