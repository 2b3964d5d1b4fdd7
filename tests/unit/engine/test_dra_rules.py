"""GPUs asked for through Dynamic Resource Allocation, judged by the bundled policies (#21).

The objects are tests/fixtures/dra/ (real `resource.k8s.io/v1` shapes, validated in
tests/unit/estimating/test_claims.py); the policies are the bundled ones, so "the bundled
4-GPU limit" is the one users get. Figures come from the bundled catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from costwarden import estimating, reviews
from costwarden.catalog.loading import bundled_catalog
from costwarden.catalog.models import Catalog
from costwarden.documents import Document
from costwarden.engine import evaluating
from costwarden.engine.contexts import Context, StaticNamespaces
from costwarden.engine.ports import SpendSnapshot
from costwarden.engine.verdicts import Verdict
from costwarden.estimating import claims
from costwarden.policies import loading, sets

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dra"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NAMESPACES = {
    "ml-train": {"cost-centre": "Sales-5045", "team": "nlp"},
    "ml-infer": {"cost-centre": "Retail-2045", "team": "search"},
}


def _objects(*names: str) -> list[dict[str, Any]]:
    return [o for name in names for o in yaml.safe_load_all((FIXTURES / name).read_text())]


def _named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return bundled_catalog()


@pytest.fixture(scope="module")
def bundled() -> sets.PolicySet:
    return loading.bundled_policies()


def _judge(obj: dict[str, Any], *files: str, policies: sets.PolicySet, catalog: Catalog) -> Verdict:
    context = Context(
        namespaces=StaticNamespaces(NAMESPACES),
        now=NOW,
        spend=SpendSnapshot(fetched_at=NOW),  # fresh, and nothing spent
        dra=claims.StaticDraObjects(_objects("deviceclasses.yaml", *files)),
    )
    request = reviews.request_for(obj)
    return evaluating.evaluate(request, policies=policies, catalog=catalog, context=context)


def _rules(verdict: Verdict, action: str) -> set[str]:
    return {v.rule for v in verdict.violations if v.action == action}


def test_pod_with_a_template_for_eight_h100s_is_eight_gpus_priced_as_h100s(
    bundled: sets.PolicySet, catalog: Catalog
) -> None:
    pod = _named(_objects("train-8xh100.yaml"), "Pod", "train-8xh100")
    verdict = _judge(pod, "train-8xh100.yaml", policies=bundled, catalog=catalog)
    estimate = verdict.estimate
    assert estimate is not None
    assert estimate.accelerator_devices == 8
    h100 = catalog.accelerators["h100-80gb"].hourly
    assert estimate.hourly.accelerator == 8 * h100
    assert estimate.low_hourly.accelerator == 8 * h100  # one model named: no range
    assert estimate.pod.placement.accelerator_model == "h100-80gb"
    assert not estimate.unpriced


def test_the_bundled_four_gpu_limit_denies_eight_h100s_through_a_claim(
    bundled: sets.PolicySet, catalog: Catalog
) -> None:
    pod = _named(_objects("train-8xh100.yaml"), "Pod", "train-8xh100")
    verdict = _judge(pod, "train-8xh100.yaml", policies=bundled, catalog=catalog)
    assert not verdict.allowed
    (denial,) = [v for v in verdict.denials if v.rule == "max-gpus-per-pod"]
    assert "8 GPUs, above the limit of 4 per pod" in denial.message
    # It tolerates the GPU taint, and is seen as the GPU pod it is.
    assert "cpu-pods-off-gpu-nodes" not in _rules(verdict, "deny")


def test_a_dra_gpu_pod_must_tolerate_the_gpu_taint(
    bundled: sets.PolicySet, catalog: Catalog
) -> None:
    pod = _named(_objects("train-8xh100.yaml"), "Pod", "train-8xh100")
    untolerating = {**pod, "spec": {k: v for k, v in pod["spec"].items() if k != "tolerations"}}
    verdict = _judge(untolerating, "train-8xh100.yaml", policies=bundled, catalog=catalog)
    assert "gpu-pods-tolerate-gpu-taint" in _rules(verdict, "warn")


def test_shared_claim_used_by_three_pods_is_charged_once(
    bundled: sets.PolicySet, catalog: Catalog
) -> None:
    objects = _objects("shared-claim.yaml")
    dra = claims.StaticDraObjects(_objects("deviceclasses.yaml", "shared-claim.yaml"))
    pods = [o for o in objects if o["kind"] == "Pod"]
    estimates = [estimating.estimate_object(p, catalog=catalog, dra=dra) for p in pods]
    claim = estimating.estimate_object(
        _named(objects, "ResourceClaim", "shared-h100"), catalog=catalog, dra=dra
    )
    assert claim is not None
    assert claim.kind == "ResourceClaim"
    assert claim.namespace == "ml-infer"
    h100 = catalog.accelerators["h100-80gb"].hourly
    assert claim.hourly.total == 2 * h100
    assert claim.accelerator_devices == 2
    for estimate in estimates:
        assert estimate is not None
        assert estimate.hourly.accelerator == 0
        assert estimate.accelerator_devices == 0
        assert any("charged once to the claim" in a for a in estimate.pod.assumptions)
    total = sum((e.hourly.accelerator for e in estimates if e), Decimal(0))
    assert total + claim.hourly.accelerator == 2 * h100  # once, not three times
    # The pods still read as GPU pods: they tolerate the GPU taint and are not refused.
    verdict = _judge(pods[0], "shared-claim.yaml", policies=bundled, catalog=catalog)
    assert "cpu-pods-off-gpu-nodes" not in _rules(verdict, "deny")


def _shared_by(pods: int, gpus: int) -> list[dict[str, Any]]:
    """The shared-claim fixture with the claim asking for `gpus` H100s, and one Deployment of
    `pods` replicas naming it."""
    claim = _named(_objects("shared-claim.yaml"), "ResourceClaim", "shared-h100")
    claim["spec"]["devices"]["requests"][0]["exactly"]["count"] = gpus
    pod = _named(_objects("shared-claim.yaml"), "Pod", "infer-0")
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "infer", "namespace": "ml-infer"},
        "spec": {
            "replicas": pods,
            "selector": {"matchLabels": {"app": "infer"}},
            "template": {"metadata": {"labels": {"app": "infer"}}, "spec": pod["spec"]},
        },
    }
    return [claim, deployment]


def _judge_shared(obj: dict[str, Any], claim: dict[str, Any], policies: sets.PolicySet) -> Verdict:
    context = Context(
        namespaces=StaticNamespaces(NAMESPACES),
        now=NOW,
        spend=SpendSnapshot(fetched_at=NOW),
        dra=claims.StaticDraObjects([*_objects("deviceclasses.yaml"), claim]),
    )
    request = reviews.request_for(obj)
    return evaluating.evaluate(
        request, policies=policies, catalog=bundled_catalog(), context=context
    )


def test_a_shared_claim_is_no_way_around_the_per_pod_gpu_limit(bundled: sets.PolicySet) -> None:
    # A pod naming a ResourceClaim of 8 H100s may use all 8: the claim is charged once, but
    # the 4-GPU limit per pod sees what each pod may use.
    claim, deployment = _shared_by(pods=1, gpus=8)
    verdict = _judge_shared(deployment, claim, bundled)
    (denial,) = [v for v in verdict.denials if v.rule == "max-gpus-per-pod"]
    assert "8 GPUs (8 through a shared claim), above the limit of 4 per pod" in denial.message
    claim, deployment = _shared_by(pods=1, gpus=2)
    assert "max-gpus-per-pod" not in _rules(_judge_shared(deployment, claim, bundled), "deny")


def test_replicas_sharing_one_claim_count_its_devices_once_per_workload(
    policies: Callable[..., sets.PolicySet],
) -> None:
    per_workload = policies({"name": "per-workload", "gpuLimits": {"maxPerWorkload": 3}})
    claim, deployment = _shared_by(pods=3, gpus=2)  # 3 pods, one claim of 2: 2 GPUs, not 6
    assert _judge_shared(deployment, claim, per_workload).allowed
    claim, deployment = _shared_by(pods=3, gpus=4)
    (denial,) = _judge_shared(deployment, claim, per_workload).denials
    assert "3 pods × 0 GPUs + 4 shared = 4 GPUs, above the limit of 3" in denial.message


def test_first_available_h100_else_a100_is_a_range(
    bundled: sets.PolicySet, catalog: Catalog
) -> None:
    deployment = _named(_objects("first-available.yaml"), "Deployment", "finetune")
    verdict = _judge(deployment, "first-available.yaml", policies=bundled, catalog=catalog)
    estimate = verdict.estimate
    assert estimate is not None
    pod = estimate.pod
    assert pod.ranged
    assert pod.hourly.accelerator == catalog.accelerators["h100-80gb"].hourly
    assert pod.low_hourly.accelerator == catalog.accelerators["a100-80gb"].hourly
    assert any("claim gpu: may be any of" in r for r in pod.range_reasons)
    assert estimate.accelerator_devices == 2  # 2 replicas × 1 device


def test_unknown_template_is_unpriced_and_the_budget_denies_by_default(
    bundled: sets.PolicySet, catalog: Catalog
) -> None:
    pod = _named(_objects("unknown-template.yaml"), "Pod", "train-missing-template")
    verdict = _judge(pod, policies=bundled, catalog=catalog)
    assert verdict.estimate is not None
    (why,) = verdict.estimate.unpriced
    assert "ResourceClaimTemplate ml-train/no-such-template not found" in why
    (denial,) = [v for v in verdict.denials if v.rule == "cost-centre-monthly-budget"]
    assert "no-such-template" in denial.message
    # Its devices are unknown, so GPU-pool hygiene does not call it a pod without GPUs.
    assert "cpu-pods-off-gpu-nodes" not in _rules(verdict, "deny")


def test_unknown_template_is_warned_about_where_the_budget_says_unpriced_warn(
    catalog: Catalog,
) -> None:
    policies = loading.policies_from_documents(
        [
            Document(
                source="<test>",
                index=0,
                data={
                    "apiVersion": "costwarden.io/v1alpha1",
                    "kind": "CostPolicy",
                    "metadata": {"name": "budget"},
                    "spec": {
                        "rules": [
                            {
                                "name": "monthly",
                                "action": "deny",
                                "budget": {
                                    "groupBy": "label",
                                    "label": "cost-centre",
                                    "period": "month",
                                    "defaultCap": "100000",
                                    "unpriced": "warn",
                                },
                            }
                        ]
                    },
                },
            )
        ]
    )
    pod = _named(_objects("unknown-template.yaml"), "Pod", "train-missing-template")
    verdict = _judge(pod, policies=policies, catalog=catalog)
    assert verdict.allowed
    (unpriced,) = [w for w in verdict.warnings if "unpriced" in w.numbers]
    assert unpriced.rule == "monthly"
    assert "no-such-template" in unpriced.message
