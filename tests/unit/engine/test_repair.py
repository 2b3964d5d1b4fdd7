"""`engine.repair`, /mutate's question: the repairs the policies make and the repaired
object's estimate — as one merge patch whose JSONPatch is the one `evaluate` returns when
it allows, from the rules that patch alone (Spot placement, labels inherited from the
namespace)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonpatch
import pytest

from costwarden import reviews, workloads
from costwarden.api.wire import read_review
from costwarden.engine import evaluating, patching
from costwarden.engine.contexts import StaticWorkloads
from costwarden.policies.loading import bundled_policies

MUTATE = {
    "name": "dev-on-spot",
    "match": {"namespaceSelector": {"matchLabels": {"env": "dev"}}},
    "spot": {"mode": "mutate", "cloud": "karpenter"},
    "exceptions": {"label": {"key": "cost-exception"}},
}
FIXTURES = sorted((Path(__file__).resolve().parents[2] / "fixtures/admission").glob("*.json"))


@pytest.fixture
def repair(catalog, context):
    def run(obj, policies, **request):
        return evaluating.repair(
            reviews.request_for(obj, **request),
            policies=policies,
            catalog=catalog,
            context=context(),
        )

    return run


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name[:3])
def test_repairs_every_captured_review_as_an_allowing_evaluate_would(path, catalog, context):
    """Against the bundled policies: the patches of `evaluate` (where it allows), and the
    estimate `evaluate` gives the repaired object."""
    request = read_review(json.loads(path.read_bytes()))
    policies = bundled_policies()
    bound = context(workloads=StaticWorkloads())
    repair = evaluating.repair(request, policies=policies, catalog=catalog, context=bound)
    verdict = evaluating.evaluate(request, policies=policies, catalog=catalog, context=bound)
    operations = patching.json_patch(request.object or {}, repair.patch)
    if verdict.allowed:
        assert operations == verdict.patches
    if request.sub_resource or verdict.estimate is None:
        assert repair.estimate is None
        assert not repair.patch
        return
    repaired = request
    if operations:  # applied by a real RFC 6902 implementation
        document = [{"op": p.op, "path": p.path, "value": p.value} for p in operations]
        patched = jsonpatch.apply_patch(request.object, document)
        assert patched == patching.merge_patch(request.object, repair.patch)
        repaired = request._replace(object=patched)
    again = evaluating.evaluate(repaired, policies=policies, catalog=catalog, context=bound)
    assert repair.estimate == again.estimate


def test_a_dev_pod_is_moved_to_spot_and_priced_at_spot(pod, policies, repair):
    obj = pod(namespace="ml-dev", gpus=1)
    moved = repair(obj, policies(MUTATE))
    assert moved.patch == {"spec": {"nodeSelector": {"karpenter.sh/capacity-type": "spot"}}}
    assert [p.path for p in patching.json_patch(obj, moved.patch)] == ["/spec/nodeSelector"]
    assert moved.estimate is not None
    assert moved.estimate.pod.placement.capacity_type == "spot"
    unrepaired = repair(obj, policies({**MUTATE, "action": "dryrun"})).estimate
    assert unrepaired is not None
    assert unrepaired.pod.placement.capacity_type == "on-demand"
    assert moved.estimate.hourly.total < unrepaired.hourly.total


def test_repairs_even_a_pod_another_rule_will_deny(pod, policies, repair, judge):
    """No decision here: /validate judges the repaired pod (and denies it for its labels)."""
    labels = {"name": "labels", "requiredLabels": {"labels": [{"key": "cost-centre"}]}}
    obj = pod(namespace="bare", gpus=1)
    rules = policies({**MUTATE, "match": {}}, labels)
    assert not judge(obj, rules).allowed
    assert repair(obj, rules).patch


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ({**MUTATE, "action": "dryrun"}, "a dryrun rule repairs nothing"),
        ({**MUTATE, "spot": {"mode": "require"}}, "require mode only rejects"),
        ({**MUTATE, "match": {"namespaces": ["ml-train"]}}, "the rule does not match"),
    ],
)
def test_does_not_repair_where_the_rule_would_not(pod, policies, repair, rule, why):
    repair = repair(pod(namespace="ml-dev"), policies(rule))
    assert not repair.patch, why
    assert repair.estimate is not None


def approval(**spec):
    """A PolicyException approved in ml-dev for dev-on-spot, asked for by ticket FIN-1."""
    return {
        "metadata": {"namespace": "ml-dev", "annotations": {"costwarden.io/approved-by": "fiona"}},
        "rules": ["dev-on-spot"],
        "tickets": ["FIN-1"],
        "expires": "2099-01-01",
        "reason": "GPU demo on on-demand nodes",
        **spec,
    }


def test_an_approved_exception_asked_for_by_label_waives_the_repair(pod, policies, repair):
    obj = pod(namespace="ml-dev", labels={"cost-exception": "FIN-1"})
    assert not repair(obj, policies(MUTATE, exceptions=(approval(),))).patch
    # The label alone asks for nothing anybody approved: the pod is moved to Spot.
    assert repair(obj, policies(MUTATE)).patch


def test_a_workloads_exception_label_is_carried_to_the_pods_it_makes(
    pod, workload, policies, repair
):
    job = workload("Job", pod(namespace="ml-dev"))
    job["metadata"]["labels"] = {"cost-exception": "FIN-1"}
    patch = repair(job, policies(MUTATE, exceptions=(approval(),))).patch
    assert patch["spec"]["template"]["metadata"]["labels"]["cost-exception"] == "FIN-1"


def test_a_pod_update_is_never_repaired(pod, policies, repair):
    """A pod's scheduling is fixed once created."""
    obj = pod(namespace="ml-dev")
    repair = repair(obj, policies(MUTATE), operation="UPDATE", old_object=obj)
    assert not repair.patch
    assert repair.estimate is not None


def test_a_workload_update_is_repaired_only_when_its_pod_template_changes(
    pod, workload, policies, repair
):
    old = workload("Deployment", pod(namespace="ml-dev", cpu="1"))
    changed = workload("Deployment", pod(namespace="ml-dev", cpu="2"))
    rescaled = workload("Deployment", pod(namespace="ml-dev", cpu="1"), replicas=3)
    rules = policies(MUTATE)
    assert repair(changed, rules, operation="UPDATE", old_object=old).patch
    assert not repair(rescaled, rules, operation="UPDATE", old_object=old).patch


INHERIT = {
    "name": "cost-labels",
    "requiredLabels": {"labels": [{"key": "team", "inheritFromNamespace": True}]},
}


def test_labels_inherited_from_the_namespace_are_patched_on_create_only(pod, policies, repair):
    obj = pod(namespace="ml-dev", labels={"app": "x"})
    (patch,) = patching.json_patch(obj, repair(obj, policies(INHERIT)).patch)
    assert (patch.path, patch.value) == ("/metadata/labels/team", "vision")
    assert not repair(obj, policies(INHERIT), operation="UPDATE", old_object=obj).patch


def test_spot_and_label_repairs_combine_in_rule_order(pod, policies, repair, judge):
    obj = pod(namespace="ml-dev")
    rules = policies(INHERIT, MUTATE)
    verdict = judge(obj, rules)
    assert verdict.allowed
    assert patching.json_patch(obj, repair(obj, rules).patch) == verdict.patches
    assert [p.path for p in verdict.patches] == ["/metadata/labels", "/spec/nodeSelector"]


def test_a_malformed_old_object_is_named_as_such(pod, workload, policies, repair):
    new = workload("Deployment", pod(namespace="ml-dev"))
    old = workload("Deployment", pod(namespace="ml-dev"))
    old["spec"]["template"] = "not an object"
    with pytest.raises(workloads.InvalidObject) as raised:
        repair(new, policies(MUTATE), operation="UPDATE", old_object=old)
    assert raised.value.field == "oldObject"


class _NoLookups:
    def workload(self, **_: str) -> None:
        raise AssertionError("repair looked a workload up")


def test_a_scale_is_neither_repaired_nor_looked_up(review, policies, catalog, context):
    request = review("034")
    repair = evaluating.repair(
        request,
        policies=policies(MUTATE),
        catalog=catalog,
        context=context(workloads=_NoLookups()),
    )
    assert repair == evaluating.UNREPAIRED
