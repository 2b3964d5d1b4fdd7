"""Every door checked: a `kubectl scale` is judged at the Scale, priced or refused as
`scale_lookup_failure` says."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from costwarden.engine import evaluating
from costwarden.engine.contexts import StaticWorkloads
from costwarden.engine.ports import LookupFailed

WORKLOAD_GPUS = {"name": "max-gpus-total", "gpuLimits": {"maxPerWorkload": 3}}

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
