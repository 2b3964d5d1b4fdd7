"""The spot rule: dev pods must run on Spot — rejected, or repaired with a JSONPatch."""

from __future__ import annotations

import pytest

REQUIRE = {
    "name": "dev-on-spot",
    "match": {"namespaceSelector": {"matchLabels": {"env": "dev"}}},
    "spot": {"mode": "require"},
}


def mutate(cloud: str) -> dict:
    return {**REQUIRE, "spot": {"mode": "mutate", "cloud": cloud}}


def affinity(key: str, values: list[str], operator: str = "In") -> dict:
    expression = {"key": key, "operator": operator, "values": values}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [expression]}]
            }
        }
    }


def test_denies_dev_pod_that_leaves_capacity_open(pod, policies, judge):
    (violation,) = judge(pod(namespace="ml-dev"), policies(REQUIRE)).denials
    assert violation.message.startswith(
        "[dev-on-spot] dev pod leaves capacity type open; dev workloads must run on Spot — "
        "set nodeSelector karpenter.sh/capacity-type=spot"
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("karpenter.sh/capacity-type", "on-demand"),
        ("eks.amazonaws.com/capacityType", "ON_DEMAND"),
        ("kubernetes.azure.com/scalesetpriority", "regular"),
    ],
)
def test_denies_dev_pod_pinned_on_demand(pod, policies, judge, key, value):
    (violation,) = judge(
        pod(namespace="ml-dev", node_selector={key: value}), policies(REQUIRE)
    ).denials
    assert "dev pod pins On-Demand capacity (through nodeSelector)" in violation.message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("karpenter.sh/capacity-type", "spot"),
        ("eks.amazonaws.com/capacityType", "SPOT"),
        ("cloud.google.com/gke-spot", "true"),
        ("cloud.google.com/gke-preemptible", "true"),
        ("kubernetes.azure.com/scalesetpriority", "spot"),
        ("lifecycle", "EC2Spot"),
    ],
)
def test_allows_dev_pod_pinned_to_spot_in_any_vocabulary(pod, policies, judge, key, value):
    assert judge(pod(namespace="ml-dev", node_selector={key: value}), policies(REQUIRE)).allowed


def test_allows_dev_pod_pinned_to_spot_through_required_affinity(pod, policies, judge):
    obj = pod(namespace="ml-dev", affinity=affinity("karpenter.sh/capacity-type", ["spot"]))
    assert judge(obj, policies(REQUIRE)).allowed


def test_affinity_allowing_both_capacities_leaves_it_open(pod, policies, judge):
    obj = pod(
        namespace="ml-dev", affinity=affinity("karpenter.sh/capacity-type", ["spot", "on-demand"])
    )
    (violation,) = judge(obj, policies(REQUIRE)).denials
    assert "leaves capacity type open" in violation.message


def test_affinity_excluding_spot_pins_on_demand(pod, policies, judge):
    obj = pod(
        namespace="ml-dev", affinity=affinity("karpenter.sh/capacity-type", ["spot"], "NotIn")
    )
    (violation,) = judge(obj, policies(REQUIRE)).denials
    assert "pins On-Demand capacity (through affinity)" in violation.message


def test_rule_ignores_pods_outside_dev(pod, policies, judge):
    obj = pod(namespace="ml-train", node_selector={"karpenter.sh/capacity-type": "on-demand"})
    assert judge(obj, policies(REQUIRE)).allowed


@pytest.mark.parametrize(
    ("cloud", "selector", "toleration"),
    [
        ("karpenter", {"karpenter.sh/capacity-type": "spot"}, None),
        ("eks", {"eks.amazonaws.com/capacityType": "SPOT"}, None),
        (
            "gke",
            {"cloud.google.com/gke-spot": "true"},
            {
                "key": "cloud.google.com/gke-spot",
                "operator": "Equal",
                "value": "true",
                "effect": "NoSchedule",
            },
        ),
        (
            "aks",
            {"kubernetes.azure.com/scalesetpriority": "spot"},
            {
                "key": "kubernetes.azure.com/scalesetpriority",
                "operator": "Equal",
                "value": "spot",
                "effect": "NoSchedule",
            },
        ),
    ],
)
def test_mutate_puts_an_open_pod_on_spot_for_the_cloud_in_use(
    pod, policies, judge, patched, cloud, selector, toleration
):
    obj = pod(namespace="ml-dev")
    rules = policies(mutate(cloud))
    verdict = judge(obj, rules)
    assert verdict.allowed
    assert verdict.violations == ()
    after = patched(obj, verdict)
    assert after["spec"]["nodeSelector"] == selector
    assert after["spec"].get("tolerations") == ([toleration] if toleration else None)
    assert judge(after, policies(REQUIRE if cloud == "karpenter" else mutate(cloud))).patches == ()


def test_mutate_appends_the_toleration_to_existing_ones(pod, policies, judge, patched):
    existing = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    obj = pod(namespace="ml-dev", tolerations=[existing])
    after = patched(obj, judge(obj, policies(mutate("gke"))))
    assert after["spec"]["tolerations"][0] == existing
    assert after["spec"]["tolerations"][1]["key"] == "cloud.google.com/gke-spot"


def test_mutate_replaces_an_on_demand_pin(pod, policies, judge, patched):
    obj = pod(
        namespace="ml-dev", node_selector={"karpenter.sh/capacity-type": "on-demand", "a": "b"}
    )
    after = patched(obj, judge(obj, policies(mutate("karpenter"))))
    assert after["spec"]["nodeSelector"] == {"karpenter.sh/capacity-type": "spot", "a": "b"}


def test_mutate_drops_an_on_demand_pin_of_another_vocabulary(pod, policies, judge, patched):
    obj = pod(namespace="ml-dev", node_selector={"eks.amazonaws.com/capacityType": "ON_DEMAND"})
    after = patched(obj, judge(obj, policies(mutate("karpenter"))))
    assert after["spec"]["nodeSelector"] == {"karpenter.sh/capacity-type": "spot"}


def test_mutate_will_not_rewrite_an_on_demand_affinity_and_denies(pod, policies, judge):
    obj = pod(namespace="ml-dev", affinity=affinity("karpenter.sh/capacity-type", ["on-demand"]))
    verdict = judge(obj, policies(mutate("karpenter")))
    (violation,) = verdict.denials
    assert "required node affinity pins On-Demand and is not rewritten" in violation.message
    assert verdict.patches == ()


@pytest.mark.parametrize(
    ("kind", "pointer"),
    [("Deployment", "/spec/template"), ("CronJob", "/spec/jobTemplate/spec/template")],
)
def test_mutate_patches_the_pod_template_of_workloads(
    pod, workload, policies, judge, patched, kind, pointer
):
    obj = workload(kind, pod(namespace="ml-dev"))
    verdict = judge(obj, policies(mutate("karpenter")))
    assert all(p.path.startswith(f"{pointer}/spec/") for p in verdict.patches)
    after = patched(obj, verdict)
    template = (
        after["spec"]["template"]
        if kind == "Deployment"
        else after["spec"]["jobTemplate"]["spec"]["template"]
    )
    assert template["spec"]["nodeSelector"] == {"karpenter.sh/capacity-type": "spot"}
