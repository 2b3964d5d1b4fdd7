"""The bundled policies against AdmissionReviews a real kube-apiserver sent."""

from __future__ import annotations

import pytest

from costwarden.engine import evaluating
from costwarden.policies.loading import bundled_policies


@pytest.fixture(scope="module")
def bundled():
    return bundled_policies()


def test_gpu_training_pod_is_admitted_with_its_estimate(review, bundled, catalog, context):
    verdict = evaluating.evaluate(
        review("009"),
        policies=bundled,
        catalog=catalog,
        context=context(budget_stale_default="allow"),
    )
    assert verdict.allowed
    assert verdict.estimate is not None
    assert verdict.estimate.pod.requests.accelerator_devices == 4
    assert verdict.notices[0].startswith("costwarden: Pod ml-train/train-a100 ≈ $")


def test_dev_notebook_on_demand_is_denied_by_spot_for_dev(review, bundled, catalog, context):
    verdict = evaluating.evaluate(
        review("011"), policies=bundled, catalog=catalog, context=context()
    )
    assert not verdict.allowed
    assert [v.rule for v in verdict.denials] == ["dev-on-spot"]


def test_deployment_and_its_replicaset_and_pods_get_the_same_answer(
    review, bundled, catalog, context
):
    verdicts = [
        evaluating.evaluate(review(p), policies=bundled, catalog=catalog, context=context())
        for p in ("014", "015", "017")
    ]
    assert all(v.allowed for v in verdicts)
    per_pod = {v.estimate.pod.hourly.total for v in verdicts}
    assert len(per_pod) == 1


def test_unlabelled_pod_inherits_the_namespaces_cost_labels(review, bundled, catalog, context):
    verdict = evaluating.evaluate(
        review("059"), policies=bundled, catalog=catalog, context=context()
    )
    assert verdict.allowed
    paths = {p.path: p.value for p in verdict.patches}
    assert paths == {
        "/metadata/labels/cost-centre": "Retail-2045",
        "/metadata/labels/team": "search",
    }


def test_label_only_update_of_the_training_pod_is_allowed(review, bundled, catalog, context):
    verdict = evaluating.evaluate(
        review("048"), policies=bundled, catalog=catalog, context=context()
    )
    assert verdict.allowed
    assert verdict.violations == ()


@pytest.mark.parametrize("prefix", [f"{i:03d}" for i in range(68)])
def test_every_captured_review_evaluates_with_short_notices(
    review, bundled, catalog, context, prefix
):
    verdict = evaluating.evaluate(
        review(prefix), policies=bundled, catalog=catalog, context=context()
    )
    said = [n for n in verdict.notices if n.startswith("costwarden: ")]
    assert all(len(n) <= 120 and not n.endswith("…") for n in said)
    for violation in verdict.violations:
        assert violation.message.startswith(f"[{violation.rule}] ")
        assert " — " in violation.message
