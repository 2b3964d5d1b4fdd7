"""Budgets, size envelopes and GPU limits on estimates that are a range or unpriced (#21):
budgets and envelopes charge the high end unless a rule says `charge: low`; what the
catalog cannot price is denied, warned about or allowed as each rule's `unpriced` says
(budgets deny by default, envelopes warn); GPU limits count the devices either way."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.unit.engine.conftest import NOW

from costwarden.engine.ports import BudgetSpend, SpendSnapshot

UNCATALOGUED = {"node.kubernetes.io/instance-type": "p9.4xlarge"}
"""A made-up type: no catalog lists it."""


def budget(**fields: object) -> dict:
    return {
        "name": "budget",
        "budget": {"label": "cost-centre", "caps": {"Sales-5045": "60000"}, **fields},
    }


def fresh_spend(spent: str = "0") -> SpendSnapshot:
    return SpendSnapshot(
        fetched_at=NOW - timedelta(minutes=1),
        budgets={"budget": {"Sales-5045": BudgetSpend(Decimal(spent), Decimal(0))}},
    )


def test_the_bundled_catalog_lacks_p5_4xlarge(catalog):
    assert "p9.4xlarge" not in catalog.instance_types  # the premise of these tests


def test_a_budget_denies_an_unpriced_pod_by_default_naming_what_is_missing(
    pod, policies, judge, context
):
    obj = pod(gpus=1, node_selector=UNCATALOGUED)
    verdict = judge(obj, policies(budget()), context=context(spend=fresh_spend()))
    (violation,) = verdict.denials
    assert violation.message.startswith(
        "[budget] monthly budget of cost-centre=Sales-5045 cannot charge this workload: "
        "unpriced: instance type p9.4xlarge not in the catalog — add it to a catalog "
        "(docs/cost-model.md#adding-a-price); or ask the platform team to set unpriced: warn "
        "in rule budget"
    )
    assert verdict.holds == ()


def test_a_budget_set_to_warn_admits_an_unpriced_pod_and_charges_what_is_priced(
    pod, policies, judge, context
):
    obj = pod(cpu="4", gpus=1, node_selector={"nvidia.com/gpu.product": "NVIDIA-X9000"})
    verdict = judge(obj, policies(budget(unpriced="warn")), context=context(spend=fresh_spend()))
    assert verdict.allowed
    (warning,) = verdict.warnings
    assert "charges only what the catalog prices of this workload" in warning.message
    assert "unpriced: accelerator model nvidia.com/gpu.product=NVIDIA-X9000 not in the catalog" in (
        warning.message
    )
    (hold,) = verdict.holds
    assert verdict.estimate is not None
    assert hold.reservation.amount == verdict.estimate.hourly.total * Decimal(204)
    assert verdict.estimate.hourly.accelerator == 0  # no model, no price: never a guess


def test_a_budget_set_to_allow_says_so_in_a_notice(pod, policies, judge, context):
    obj = pod(gpus=1, node_selector=UNCATALOGUED)
    verdict = judge(obj, policies(budget(unpriced="allow")), context=context(spend=fresh_spend()))
    assert verdict.allowed
    assert verdict.violations == ()
    assert any("unpriced: instance type p9.4xlarge" in n for n in verdict.notices)


def test_an_unpriced_pods_relabel_adds_nothing_to_judge(pod, policies, judge, context):
    old = pod(gpus=1, node_selector=UNCATALOGUED, labels={"app": "a"})
    new = pod(gpus=1, node_selector=UNCATALOGUED, labels={"app": "b"})
    verdict = judge(
        new, policies(budget()), operation="UPDATE", old=old, context=context(spend=fresh_spend())
    )
    assert verdict.allowed


def test_a_budget_charges_the_high_end_unless_told_low(pod, policies, judge, context):
    obj = pod(cpu="4", memory="16Gi", gpus=1)  # no GPU model named: a range of models
    high = judge(obj, policies(budget()), context=context(spend=fresh_spend()))
    low = judge(obj, policies(budget(charge="low")), context=context(spend=fresh_spend()))
    assert high.estimate is not None
    estimate = high.estimate
    assert estimate.pod.ranged
    (held_high,) = high.holds
    (held_low,) = low.holds
    assert held_high.reservation.amount == estimate.hourly.total * Decimal(204)
    assert held_low.reservation.amount == estimate.low_hourly.total * Decimal(204)
    assert held_low.reservation.amount < held_high.reservation.amount


def test_a_budget_message_names_the_end_of_the_range_it_charged(pod, policies, judge, context):
    obj = pod(cpu="4", memory="16Gi", gpus=1)
    verdict = judge(obj, policies(budget()), context=context(spend=fresh_spend("59999")))
    (violation,) = verdict.denials
    assert "/h (the high end of $" in violation.message


def envelope(**fields: object) -> dict:
    return {"name": "envelope", "sizeEnvelope": fields}


def test_an_envelope_compares_the_high_end_unless_told_low(pod, policies, judge, catalog):
    obj = pod(cpu="4", memory="16Gi", gpus=1)
    estimate = judge(obj, policies(envelope(maxPodVcpu=64))).estimate
    assert estimate is not None
    between = (estimate.low_hourly.total + estimate.hourly.total) / 2
    (violation,) = judge(obj, policies(envelope(maxHourly=str(between)))).denials
    assert "pod cost (the high end of $" in violation.message
    assert judge(obj, policies(envelope(maxHourly=str(between), charge="low"))).allowed


def test_an_envelope_warns_about_an_unpriced_pod_by_default(pod, policies, judge):
    obj = pod(gpus=1, node_selector=UNCATALOGUED)
    verdict = judge(obj, policies(envelope(maxHourly="10")))
    assert verdict.allowed
    (warning,) = verdict.warnings
    assert warning.message.startswith(
        "[envelope] pod cost cannot be held to the envelope: unpriced: instance type "
        "p9.4xlarge not in the catalog — add it to a catalog (docs/cost-model.md#adding-a-price)"
    )


def test_an_envelope_set_to_deny_refuses_an_unpriced_pod(pod, policies, judge):
    obj = pod(gpus=1, node_selector=UNCATALOGUED)
    (violation,) = judge(obj, policies(envelope(maxInstanceVcpu=64, unpriced="deny"))).denials
    assert "unpriced: instance type p9.4xlarge" in violation.message


def test_an_envelope_set_to_allow_notes_what_it_did_not_check(pod, policies, judge):
    obj = pod(gpus=1, node_selector=UNCATALOGUED)
    verdict = judge(obj, policies(envelope(maxHourly="10", unpriced="allow")))
    assert verdict.violations == ()
    assert any("not checked: unpriced" in n for n in verdict.notices)


def test_an_envelope_without_price_bounds_needs_no_price(pod, policies, judge):
    obj = pod(cpu="2", gpus=1, node_selector=UNCATALOGUED)
    assert judge(obj, policies(envelope(maxPodVcpu=4, unpriced="deny"))).violations == ()


def test_an_uncatalogued_pinned_type_is_still_held_to_the_allowed_types(pod, policies, judge):
    obj = pod(gpus=1, node_selector=UNCATALOGUED)
    rule = envelope(allowedInstanceTypes=["g5.*"], unpriced="allow")
    (violation,) = judge(obj, policies(rule)).denials
    assert "instance type p9.4xlarge is not in the envelope (g5.*)" in violation.message


def test_gpu_limits_count_gpus_the_catalog_cannot_price(pod, policies, judge):
    obj = pod(gpus=8, node_selector=UNCATALOGUED)
    rule = {"name": "gpus", "gpuLimits": {"maxPerPod": 4}}
    (violation,) = judge(obj, policies(rule)).denials
    assert "pod requests 8 GPUs, above the limit of 4 per pod" in violation.message


def test_scaling_up_an_unpriced_deployment_is_judged_unpriced_again(
    pod, workload, policies, judge, context
):
    spec = pod(gpus=1, node_selector=UNCATALOGUED)
    old, new = workload("Deployment", spec, replicas=1), workload("Deployment", spec, replicas=3)
    verdict = judge(
        new, policies(budget()), operation="UPDATE", old=old, context=context(spend=fresh_spend())
    )
    (violation,) = verdict.denials
    assert "cannot charge this workload: unpriced: instance type p9.4xlarge" in violation.message
    down = judge(
        old, policies(budget()), operation="UPDATE", old=new, context=context(spend=fresh_spend())
    )
    assert down.allowed  # fewer pods add nothing to charge


def test_an_envelope_holds_both_ends_of_a_range_to_its_allowed_types(pod, policies, judge):
    either = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "node.kubernetes.io/instance-type",
                                "operator": "In",
                                "values": ["g5.xlarge", "p4d.24xlarge"],
                            }
                        ]
                    }
                ]
            }
        }
    }
    obj = pod(cpu="2", memory="8Gi", gpus=1, affinity=either)
    (violation,) = judge(obj, policies(envelope(allowedInstanceTypes=["g5.*"]))).denials
    assert "instance type p4d.24xlarge is not in the envelope (g5.*)" in violation.message
    (violation,) = judge(obj, policies(envelope(allowedInstanceTypes=["p4d.*"]))).denials
    assert "instance type g5.xlarge is not in the envelope (p4d.*)" in violation.message
