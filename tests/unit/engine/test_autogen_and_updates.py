"""Pod rules on workloads (autogen), and what re-checks on UPDATE, scale and DELETE."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal

import pytest

from costwarden import workloads
from costwarden.engine import evaluating
from costwarden.engine.contexts import StaticWorkloads
from costwarden.engine.ports import BudgetSpend, SpendSnapshot

KINDS = ["Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob"]
POINTERS = {
    "Deployment": "/spec/template",
    "StatefulSet": "/spec/template",
    "ReplicaSet": "/spec/template",
    "DaemonSet": "/spec/template",
    "Job": "/spec/template",
    "CronJob": "/spec/jobTemplate/spec/template",
}
GPUS = {"name": "max-gpus", "gpuLimits": {"maxPerPod": 4}}
WORKLOAD_GPUS = {"name": "max-gpus-total", "gpuLimits": {"maxPerWorkload": 3}}
SPOT = {"name": "spot", "spot": {}}
LABELS = {
    "name": "labels",
    "requiredLabels": {"labels": [{"key": "cost-centre", "inheritFromNamespace": True}]},
}


@pytest.mark.parametrize("kind", KINDS)
def test_pod_rules_deny_every_workload_kind_at_apply_time(pod, workload, policies, judge, kind):
    verdict = judge(workload(kind, pod(gpus=8)), policies(GPUS))
    assert not verdict.allowed
    (violation,) = verdict.denials
    assert "pod requests 8 GPUs" in violation.message
    assert verdict.estimate is not None
    assert verdict.estimate.kind == kind


@pytest.mark.parametrize("kind", KINDS)
def test_patches_for_workloads_point_into_their_pod_template(
    pod, workload, policies, judge, patched, kind
):
    obj = workload(kind, pod(namespace="ml-train"))
    verdict = judge(obj, policies(LABELS))
    (patch,) = verdict.patches
    assert patch.path == f"{POINTERS[kind]}/metadata/labels/cost-centre"
    patched(obj, verdict)  # applies cleanly


@pytest.mark.parametrize("kind", KINDS)
def test_allowed_workloads_carry_their_estimate_line(pod, workload, policies, judge, kind):
    verdict = judge(workload(kind, pod(gpus=1)), policies(GPUS))
    assert verdict.allowed
    line = verdict.notices[0]
    assert line.startswith(f"costwarden: {kind} ml-train/p ≈ $")
    assert len(line) <= 120


def test_label_only_edit_of_a_running_pod_is_not_blocked_by_scheduling_rules(pod, policies, judge):
    old = pod(gpus=8, labels={"cost-centre": "x"})
    new = copy.deepcopy(old)
    new["metadata"]["labels"]["model"] = "v2"
    assert judge(new, policies(GPUS, SPOT), operation="UPDATE", old=old).allowed


def test_removing_a_mandatory_label_from_a_running_pod_is_denied(pod, policies, judge):
    old = pod(namespace="bare", labels={"cost-centre": "x"})
    new = pod(namespace="bare", labels={})
    (violation,) = judge(new, policies(LABELS), operation="UPDATE", old=old).denials
    assert "missing mandatory label cost-centre" in violation.message


def test_pods_that_already_broke_a_label_rule_are_grandfathered_on_update(pod, policies, judge):
    old = pod(namespace="bare", labels={})
    new = pod(namespace="bare", labels={"model": "v2"})
    assert judge(new, policies(LABELS), operation="UPDATE", old=old).allowed


def test_scaling_a_deployment_up_rechecks_the_workload_gpu_limit(pod, workload, policies, judge):
    old = workload("Deployment", pod(gpus=1), replicas=2)
    new = workload("Deployment", pod(gpus=1), replicas=4)
    (violation,) = judge(new, policies(WORKLOAD_GPUS), operation="UPDATE", old=old).denials
    assert "4 pods × 1 GPUs = 4 GPUs, above the limit of 3" in violation.message


def test_scaling_down_or_relabelling_a_workload_skips_scheduling_rules(
    pod, workload, policies, judge
):
    old = workload("Deployment", pod(gpus=8), replicas=4)
    new = workload("Deployment", pod(gpus=8), replicas=2)
    assert judge(new, policies(GPUS, WORKLOAD_GPUS, SPOT), operation="UPDATE", old=old).allowed


def test_changing_a_workloads_pod_template_rechecks_everything(pod, workload, policies, judge):
    old = workload("Deployment", pod(gpus=1), replicas=1)
    new = workload("Deployment", pod(gpus=8), replicas=1)
    (violation,) = judge(new, policies(GPUS), operation="UPDATE", old=old).denials
    assert violation.rule == "max-gpus"


@pytest.fixture
def llm_server(review):
    """The Deployment as the API server stored it (from the captured CREATE review)."""
    return review("014").object


def test_kubectl_scale_prices_the_looked_up_workload_at_the_new_replicas(
    review, llm_server, policies, catalog, context
):
    scale = review("034")  # llm-server 2 -> 4 replicas, 1 GPU each
    ctx = context(workloads=StaticWorkloads((llm_server,)))
    verdict = evaluating.evaluate(
        scale, policies=policies(WORKLOAD_GPUS), catalog=catalog, context=ctx
    )
    (violation,) = verdict.denials
    assert (
        "Deployment llm-server runs 4 pods × 1 GPUs = 4 GPUs, above the limit of 3"
        in violation.message
    )
    assert verdict.estimate is not None
    assert verdict.estimate.pods == 4


def test_kubectl_scale_charges_the_budget_for_the_added_replicas(
    review, llm_server, policies, catalog, context
):
    scale = review("034")
    budget = {"name": "budget", "budget": {"caps": {"Sales-5045": "1000"}}}
    spend = SpendSnapshot(
        fetched_at=context().now - timedelta(minutes=1),
        budgets={
            "budget": {"Sales-5045": BudgetSpend(spent=Decimal(999), run_rate_hourly=Decimal(0))}
        },
    )
    ctx = context(workloads=StaticWorkloads((llm_server,)), spend=spend)
    verdict = evaluating.evaluate(scale, policies=policies(budget), catalog=catalog, context=ctx)
    (violation,) = verdict.denials
    pod_hourly = verdict.estimate.pod.hourly.total
    assert f"this workload ${(2 * pod_hourly).quantize(Decimal('0.01'))}/h" in violation.message


def test_kubectl_scale_down_is_allowed(review, llm_server, policies, catalog, context):
    scale = review("034")._replace(object={"kind": "Scale", "spec": {"replicas": 1}})
    ctx = context(workloads=StaticWorkloads((llm_server,)))
    verdict = evaluating.evaluate(
        scale, policies=policies(WORKLOAD_GPUS), catalog=catalog, context=ctx
    )
    assert verdict.allowed


@pytest.mark.parametrize("prefix", ["046", "056", "000", "001"])
def test_delete_and_kinds_that_run_no_pods_pass_untouched(
    review, policies, catalog, context, prefix
):
    rules = policies(GPUS, SPOT, LABELS)
    verdict = evaluating.evaluate(
        review(prefix), policies=rules, catalog=catalog, context=context()
    )
    assert verdict == evaluating.ALLOWED


def test_connect_passes_untouched(review, policies, catalog, context):
    connect = review("009")._replace(operation="CONNECT")
    assert evaluating.evaluate(
        connect, policies=policies(GPUS), catalog=catalog, context=context()
    ).allowed


def test_a_malformed_pod_template_is_an_error_with_its_path(pod, workload, policies, judge):
    obj = workload("Deployment", pod())
    obj["spec"]["template"]["spec"]["containers"] = "not a list"
    with pytest.raises(workloads.InvalidObject) as raised:
        judge(obj, policies(GPUS))
    assert raised.value.path[:3] == ("spec", "template", "spec")


def _budget_context(context, spent: str = "999"):
    spend = SpendSnapshot(
        fetched_at=context().now - timedelta(minutes=1),
        budgets={
            "budget": {"Sales-5045": BudgetSpend(spent=Decimal(spent), run_rate_hourly=Decimal(0))}
        },
    )
    return context(spend=spend)


BUDGET = {"name": "budget", "budget": {"caps": {"Sales-5045": "1000"}}}


def _shared_gpu_deployment(pod, workload, *, sharing: str, replicas: int = 1):
    shared = pod(namespace="ml-train")
    shared["spec"]["containers"][0]["resources"]["limits"] = {"nvidia.com/gpu.shared": "1"}
    deployment = workload("Deployment", shared, replicas=replicas)
    template = deployment["spec"]["template"]
    template["metadata"]["annotations"] = {"costwarden.io/gpu-sharing-replicas": sharing}
    return deployment


def test_an_update_changing_only_pod_annotations_that_price_pods_charges_the_difference(
    pod, workload, policies, judge, context
):
    """Old and new pod specs are equal, but fewer pods now share each GPU: each costs more."""
    old = _shared_gpu_deployment(pod, workload, sharing="4")
    new = _shared_gpu_deployment(pod, workload, sharing="2")
    ctx = _budget_context(context)
    verdict = judge(new, policies(BUDGET), operation="UPDATE", old=old, context=ctx)
    (violation,) = verdict.denials
    before = judge(old, policies(BUDGET), context=_budget_context(context, "0")).estimate
    delta = verdict.estimate.hourly.total - before.hourly.total
    assert delta > 0
    assert f"this workload ${delta.quantize(Decimal('0.01'))}/h" in violation.message


def test_scaling_up_a_workload_with_the_same_pods_charges_only_the_added_pods(
    pod, workload, policies, judge, context
):
    old = _shared_gpu_deployment(pod, workload, sharing="4", replicas=2)
    new = _shared_gpu_deployment(pod, workload, sharing="4", replicas=5)
    verdict = judge(
        new, policies(BUDGET), operation="UPDATE", old=old, context=_budget_context(context)
    )
    (violation,) = verdict.denials
    added = 3 * verdict.estimate.pod.hourly.total
    assert f"this workload ${added.quantize(Decimal('0.01'))}/h" in violation.message
