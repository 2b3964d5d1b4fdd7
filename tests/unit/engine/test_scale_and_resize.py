"""Every door checked: a `kubectl scale` is judged at the Scale, priced or refused as
`scale_lookup_failure` says, and an in-place pod resize (`pods/resize`) is judged as the
bigger pod it makes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest

from costwarden import reviews
from costwarden.engine import evaluating
from costwarden.engine.contexts import StaticWorkloads
from costwarden.engine.ports import BudgetSpend, LookupFailed, SpendSnapshot

WORKLOAD_GPUS = {"name": "max-gpus-total", "gpuLimits": {"maxPerWorkload": 3}}
ENVELOPE = {"name": "envelope", "sizeEnvelope": {"maxPodVcpu": 8}}
BUDGET = {"name": "budget", "budget": {"caps": {"Sales-5045": "1000"}}}
SPOT = {"name": "spot", "spot": {}}
GPU_TAINT = {"name": "gpu-taint", "gpuTaint": {}}
LABELS = {
    "name": "labels",
    "requiredLabels": {"labels": [{"key": "cost-centre", "inheritFromNamespace": True}]},
}

REFUSED = (
    "[scale-lookup] cannot price scale of Deployment ml-train/llm-server to 4 replicas: "
    "workload lookup failed (403 Forbidden) — retry; check costwarden's RBAC "
    "(get deployments); or set spec.replicas on the Deployment itself"
)
"""What fixture 034 (llm-server scaled 2 -> 4) gets when costwarden may not read it."""
NO_LOOKUP = (
    "[scale-lookup] cannot price scale of Deployment ml-train/llm-server to 4 replicas: "
    "no workload lookup (costwarden serve runs without --in-cluster) — run it with "
    "--in-cluster; or set spec.replicas on the Deployment itself"
)


@dataclass(frozen=True)
class RefusingWorkloads:
    """A lookup that fails as a cluster refuses or times out."""

    reason: str = "403 Forbidden"

    def workload(self, *, group: str, resource: str, namespace: str, name: str) -> None:
        raise LookupFailed(self.reason)


class NoLookups:
    def workload(self, *, group: str, resource: str, namespace: str, name: str) -> None:
        raise AssertionError("looked a workload up")


@pytest.fixture
def scale(review):
    """Fixture 034: `kubectl -n ml-train scale deployment llm-server --replicas=4` (from 2)."""
    return review("034")


@pytest.fixture
def llm_server(review):
    """The Deployment as the API server stored it (1 GPU per pod, from fixture 014)."""
    return review("014").object


def scaled_to(scale, replicas: int):
    return scale._replace(object={**scale.object, "spec": {"replicas": replicas}})


# --- kubectl scale ---------------------------------------------------------------------


def test_a_scale_whose_lookup_fails_is_denied_naming_what_failed_and_the_way_out(
    scale, policies, catalog, context
):
    verdict = evaluating.evaluate(
        scale,
        policies=policies(WORKLOAD_GPUS),
        catalog=catalog,
        context=context(workloads=RefusingWorkloads()),
    )
    assert not verdict.allowed
    (violation,) = verdict.denials
    assert violation.message == REFUSED
    assert (violation.policy, violation.rule) == ("costwarden", evaluating.SCALE_LOOKUP)


def test_a_scale_whose_lookup_fails_is_warned_when_the_setting_says_warn(
    scale, policies, catalog, context
):
    ctx = context(workloads=RefusingWorkloads(), scale_lookup_failure="warn")
    verdict = evaluating.evaluate(
        scale, policies=policies(WORKLOAD_GPUS), catalog=catalog, context=ctx
    )
    assert verdict.allowed
    (violation,) = verdict.warnings
    assert violation.message == REFUSED


def test_a_scale_whose_lookup_fails_is_allowed_with_a_notice_when_the_setting_says_allow(
    scale, policies, catalog, context
):
    ctx = context(workloads=RefusingWorkloads("no answer within 2 s"), scale_lookup_failure="allow")
    verdict = evaluating.evaluate(
        scale, policies=policies(WORKLOAD_GPUS), catalog=catalog, context=ctx
    )
    assert verdict.allowed
    assert verdict.violations == ()
    assert verdict.notices == (
        "[scale-lookup] scale of Deployment ml-train/llm-server to 4 replicas not priced: "
        "workload lookup failed (no answer within 2 s)",
    )


def test_a_scale_without_a_workload_lookup_follows_the_setting_too(
    scale, policies, catalog, context
):
    denied = evaluating.evaluate(
        scale, policies=policies(WORKLOAD_GPUS), catalog=catalog, context=context()
    )
    assert [v.message for v in denied.denials] == [NO_LOOKUP]
    warned = evaluating.evaluate(
        scale,
        policies=policies(WORKLOAD_GPUS),
        catalog=catalog,
        context=context(scale_lookup_failure="warn"),
    )
    assert warned.allowed
    assert [v.message for v in warned.warnings] == [NO_LOOKUP]


@pytest.mark.parametrize("replicas", [2, 1, 0])
def test_a_scale_that_adds_no_pod_is_allowed_without_a_lookup(
    scale, policies, catalog, context, replicas
):
    request = scaled_to(scale, replicas)
    if replicas == 0:  # the API server omits a zero
        request = scale._replace(object={**scale.object, "spec": {}})
    for ctx in (context(workloads=NoLookups()), context()):
        verdict = evaluating.evaluate(
            request, policies=policies(WORKLOAD_GPUS), catalog=catalog, context=ctx
        )
        assert verdict == evaluating.ALLOWED


def test_a_scale_from_zero_replicas_is_a_scale_up(scale, policies, catalog, context):
    from_zero = scale._replace(old_object={**scale.old_object, "spec": {}})
    verdict = evaluating.evaluate(
        from_zero, policies=policies(WORKLOAD_GPUS), catalog=catalog, context=context()
    )
    assert not verdict.allowed


def test_a_scale_of_a_workload_that_is_gone_is_allowed_with_a_notice(
    scale, policies, catalog, context
):
    verdict = evaluating.evaluate(
        scale,
        policies=policies(WORKLOAD_GPUS),
        catalog=catalog,
        context=context(workloads=StaticWorkloads(())),
    )
    assert verdict.allowed
    assert verdict.notices == (
        "[scale-lookup] scale of Deployment ml-train/llm-server to 4 replicas not priced: "
        "the workload was not found (deleted?)",
    )


def test_a_scale_past_the_per_workload_gpu_limit_is_denied_at_the_scale_naming_the_rule(
    scale, llm_server, policies, catalog, context
):
    verdict = evaluating.evaluate(
        scaled_to(scale, 8),
        policies=policies(WORKLOAD_GPUS),
        catalog=catalog,
        context=context(workloads=StaticWorkloads((llm_server,))),
    )
    assert not verdict.allowed
    (violation,) = verdict.denials
    assert violation.rule == "max-gpus-total"
    assert violation.message.startswith(
        "[max-gpus-total] Deployment llm-server runs 8 pods × 1 GPUs = 8 GPUs, above the "
        "limit of 3 per workload"
    )


def test_a_scale_within_the_limits_is_allowed_with_its_estimate(
    scale, llm_server, policies, catalog, context
):
    verdict = evaluating.evaluate(
        scaled_to(scale, 3),
        policies=policies(WORKLOAD_GPUS),
        catalog=catalog,
        context=context(workloads=StaticWorkloads((llm_server,))),
    )
    assert verdict.allowed
    assert verdict.estimate is not None
    assert verdict.estimate.pods == 3


# --- pods/resize -----------------------------------------------------------------------


def resize(new, old):
    """The UPDATE the API server sends for `kubectl patch pod --subresource resize`: the
    whole Pod with its new resources, and the Pod before."""
    request = reviews.request_for(new, operation="UPDATE", old_object=old)
    return request._replace(sub_resource=evaluating.RESIZE)


def budget_context(context, *, spent: str):
    spend = SpendSnapshot(
        fetched_at=context().now - timedelta(minutes=1),
        budgets={
            "budget": {"Sales-5045": BudgetSpend(spent=Decimal(spent), run_rate_hourly=Decimal(0))}
        },
    )
    return context(spend=spend)


def test_a_resize_growing_cpu_past_the_size_envelope_is_denied(pod, policies, catalog, context):
    verdict = evaluating.evaluate(
        resize(pod(cpu="16"), pod(cpu="4")),
        policies=policies(ENVELOPE),
        catalog=catalog,
        context=context(),
    )
    assert not verdict.allowed
    (violation,) = verdict.denials
    assert violation.rule == "envelope"
    assert "pod vCPU 16 is above the envelope's maxPodVcpu of 8" in violation.message


def test_a_resize_within_the_size_envelope_is_allowed(pod, policies, catalog, context):
    verdict = evaluating.evaluate(
        resize(pod(cpu="8"), pod(cpu="4")),
        policies=policies(ENVELOPE),
        catalog=catalog,
        context=context(),
    )
    assert verdict.allowed
    assert verdict.violations == ()


def test_a_resize_is_not_grandfathered_into_a_free_pass(pod, policies, catalog, context, judge):
    """A pod already over the envelope (admitted before the rule) may keep running, and
    may be relabelled, but not grow further."""
    running = pod(cpu="12")
    relabelled = pod(cpu="12", labels={"model": "v2"})
    assert judge(relabelled, policies(ENVELOPE), operation="UPDATE", old=running).allowed
    verdict = evaluating.evaluate(
        resize(pod(cpu="16"), running), policies=policies(ENVELOPE), catalog=catalog,
        context=context(),
    )  # fmt: skip
    assert [v.rule for v in verdict.denials] == ["envelope"]


def test_a_resize_that_shrinks_a_pod_over_the_envelope_is_allowed(pod, policies, catalog, context):
    verdict = evaluating.evaluate(
        resize(pod(cpu="12"), pod(cpu="16")),
        policies=policies(ENVELOPE),
        catalog=catalog,
        context=context(),
    )
    assert verdict.allowed


def test_a_resize_adding_hourly_cost_over_a_budget_cap_is_denied_for_what_it_adds(
    pod, policies, catalog, context, judge
):
    before, after = pod(cpu="4"), pod(cpu="16")
    added = (
        judge(after, policies(LABELS)).estimate.hourly.total
        - judge(before, policies(LABELS)).estimate.hourly.total
    )
    assert added > 0
    verdict = evaluating.evaluate(
        resize(after, before),
        policies=policies(BUDGET),
        catalog=catalog,
        context=budget_context(context, spent="999"),
    )
    assert not verdict.allowed
    (violation,) = verdict.denials
    assert violation.rule == "budget"
    assert violation.numbers["workload_hourly"] == str(added)


def test_a_resize_that_shrinks_is_allowed_and_charges_nothing(pod, policies, catalog, context):
    verdict = evaluating.evaluate(
        resize(pod(cpu="4"), pod(cpu="16")),
        policies=policies(BUDGET),
        catalog=catalog,
        context=budget_context(context, spent="999"),
    )
    assert verdict.allowed
    assert verdict.violations == ()
    assert verdict.holds == ()


def test_a_resize_of_a_controllers_pod_is_charged_to_the_pod(pod, policies, catalog, context):
    """The pod's owner was charged for the pod as it was; whoever resizes it is no
    controller, so what the resize adds is charged here."""
    owned = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u"}
    before, after = pod(cpu="4"), pod(cpu="16")
    for obj in (before, after):
        obj["metadata"]["ownerReferences"] = [{**owned, "controller": True}]
    verdict = evaluating.evaluate(
        resize(after, before),
        policies=policies(BUDGET),
        catalog=catalog,
        context=budget_context(context, spent="999"),
    )
    assert [v.rule for v in verdict.denials] == ["budget"]


def test_rules_that_look_only_at_new_pod_specs_stay_out_of_a_resize(
    pod, policies, catalog, context, judge
):
    """Spot placement and the GPU taint are about where a pod runs, which a resize cannot
    change: they judged the pod when it was created."""
    before, after = pod(cpu="4", gpus=1), pod(cpu="16", gpus=1)
    rules = policies(SPOT, GPU_TAINT)
    assert not judge(after, rules).allowed  # as a new pod, both would object
    verdict = evaluating.evaluate(
        resize(after, before), policies=rules, catalog=catalog, context=context()
    )
    assert verdict.allowed
    assert verdict.violations == ()


def test_a_resize_is_never_repaired(pod, policies, catalog, context):
    mutating = policies({"name": "spot", "spot": {"mode": "mutate"}}, LABELS)
    repair = evaluating.repair(
        resize(pod(cpu="16", namespace="ml-dev"), pod(cpu="4", namespace="ml-dev")),
        policies=mutating,
        catalog=catalog,
        context=context(),
    )
    assert repair == evaluating.UNREPAIRED
