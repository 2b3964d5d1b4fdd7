"""A shared ResourceClaim's devices at admission: charged once, with whichever pod names it.

tests/fixtures/dra/shared-claim.yaml holds a ResourceClaim of two H100s in `ml-infer` and
three pods naming it. The claim's devices are in no pod's figures, so before #21's last
step a pod naming a claim of eight H100s reached a budget as its CPU and memory alone.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from costwarden import reviews
from costwarden.catalog.loading import bundled_catalog
from costwarden.catalog.models import Catalog
from costwarden.engine import evaluating
from costwarden.engine.contexts import Context, StaticNamespaces
from costwarden.engine.ports import BudgetSpend, SpendSnapshot
from costwarden.engine.verdicts import Verdict
from costwarden.estimating import claims
from costwarden.policies import sets
from costwarden.reservations import keys
from costwarden.reservations.ledger import ReservationLedger

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dra"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HOURS_LEFT = Decimal(204)  # to 2026-12-01 00:00 UTC
GROUP = "Retail-2045"
NAMESPACES = {"ml-infer": {"cost-centre": GROUP, "team": "search"}}
CLAIM_KEY = keys.claim_key("ml-infer", "shared-h100")


def _objects(*names: str) -> list[dict[str, Any]]:
    return [o for name in names for o in yaml.safe_load_all((FIXTURES / name).read_text())]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return bundled_catalog()


@pytest.fixture
def budget(policies: Callable[..., sets.PolicySet]) -> Callable[..., sets.PolicySet]:
    """A policy set of one budget rule capping the group at `cap`."""

    def make(cap: str, **extra: Any) -> sets.PolicySet:
        caps = {"label": "cost-centre", "caps": {GROUP: cap}, **extra}
        return policies({"name": "budget", "budget": caps})

    return make


@pytest.fixture(scope="module")
def shared() -> list[dict[str, Any]]:
    return _objects("shared-claim.yaml")


def _pod(shared: list[dict[str, Any]], index: int) -> dict[str, Any]:
    return copy.deepcopy([o for o in shared if o["kind"] == "Pod"][index])


def _claim(shared: list[dict[str, Any]], gpus: int) -> dict[str, Any]:
    claim = copy.deepcopy(next(o for o in shared if o["kind"] == "ResourceClaim"))
    claim["spec"]["devices"]["requests"][0]["exactly"]["count"] = gpus
    return claim


def _judge(
    obj: dict[str, Any],
    claim: dict[str, Any],
    policies: sets.PolicySet,
    ledger: ReservationLedger,
    *,
    spent: str = "0",
    old: dict[str, Any] | None = None,
) -> Verdict:
    context = Context(
        namespaces=StaticNamespaces(NAMESPACES),
        now=NOW,
        spend=SpendSnapshot(
            fetched_at=NOW, budgets={"budget": {GROUP: BudgetSpend(Decimal(spent), Decimal(0))}}
        ),
        dra=claims.StaticDraObjects([*_objects("deviceclasses.yaml"), claim]),
        reservations=ledger,
    )
    request = reviews.request_for(obj, old_object=old, operation="UPDATE" if old else "CREATE")
    return evaluating.evaluate(
        request, policies=policies, catalog=bundled_catalog(), context=context
    )


def _admit(verdict: Verdict, ledger: ReservationLedger) -> Verdict:
    """As the app does: commit an allowed verdict's holds, add what the ledger refused."""
    if not verdict.allowed or not verdict.holds:
        return verdict
    refused = ledger.commit([hold.reservation for hold in verdict.holds])
    return verdict.refused(refused) if refused else verdict


def _held(ledger: ReservationLedger, key: str | None = None) -> Decimal:
    total = ledger.reserved(budget="budget", group=GROUP, now=NOW)
    if key is None:
        return total
    return total - ledger.reserved(budget="budget", group=GROUP, now=NOW, excluding=key)


def test_a_pod_naming_a_shared_claim_holds_the_claims_devices_under_the_claims_key(
    budget: Callable[..., sets.PolicySet], shared: list[dict[str, Any]], catalog: Catalog
) -> None:
    ledger = ReservationLedger()
    verdict = _admit(_judge(_pod(shared, 0), _claim(shared, 2), budget("1000000"), ledger), ledger)
    assert verdict.allowed
    h100 = catalog.accelerators["h100-80gb"].hourly
    assert _held(ledger, CLAIM_KEY) == 2 * h100 * HOURS_LEFT
    pod_key = keys.object_key("ml-infer", "Pod", "infer-0")
    assert _held(ledger, pod_key) == verdict.estimate.hourly.total * HOURS_LEFT
    assert verdict.estimate.hourly.accelerator == 0  # the devices are the claim's, not the pod's


def test_three_pods_sharing_the_claim_hold_it_once(
    budget: Callable[..., sets.PolicySet], shared: list[dict[str, Any]], catalog: Catalog
) -> None:
    ledger = ReservationLedger()
    policies = budget("1000000")
    pods = []
    for index in range(3):
        verdict = _admit(_judge(_pod(shared, index), _claim(shared, 2), policies, ledger), ledger)
        assert verdict.allowed
        pods.append(verdict.estimate.hourly.total)
    h100 = catalog.accelerators["h100-80gb"].hourly
    assert _held(ledger) == (sum(pods, Decimal(0)) + 2 * h100) * HOURS_LEFT


def test_a_claim_of_eight_h100s_is_no_way_past_a_budget_the_pod_alone_fits(
    budget: Callable[..., sets.PolicySet], shared: list[dict[str, Any]], catalog: Catalog
) -> None:
    pod, claim = _pod(shared, 0), _claim(shared, 8)
    h100 = catalog.accelerators["h100-80gb"].hourly
    devices = 8 * h100 * HOURS_LEFT
    probe = _judge(pod, claim, budget("1000000"), ReservationLedger())
    alone = probe.estimate.hourly.total * HOURS_LEFT
    cap = (alone + devices / 2).quantize(Decimal("0.01"))  # the pod fits; its claim does not
    verdict = _judge(pod, claim, budget(str(cap)), ReservationLedger())
    assert not verdict.allowed
    (denial,) = verdict.denials
    assert "shared claim shared-h100" in denial.message
    assert f"× 204.0 h = ${devices.quantize(Decimal('0.01')):,}" in denial.message
    assert Decimal(denial.numbers["shared_claims_hourly"]) == 8 * h100


def test_a_second_pod_fits_where_the_claim_is_held_already(
    budget: Callable[..., sets.PolicySet], shared: list[dict[str, Any]], catalog: Catalog
) -> None:
    # Room for two pods and the claim once, not for the claim twice.
    ledger = ReservationLedger()
    claim = _claim(shared, 2)
    probe = _judge(_pod(shared, 0), claim, budget("1000000"), ReservationLedger())
    pod = probe.estimate.hourly.total * HOURS_LEFT
    devices = 2 * catalog.accelerators["h100-80gb"].hourly * HOURS_LEFT
    cap = str((2 * pod + devices + devices / 2).quantize(Decimal("0.01")))
    policies = budget(cap, warnAt="1")
    assert _admit(_judge(_pod(shared, 0), claim, policies, ledger), ledger).allowed
    assert _admit(_judge(_pod(shared, 1), claim, policies, ledger), ledger).allowed
    assert _held(ledger) == 2 * pod + devices


def test_an_update_of_an_object_that_named_the_claim_does_not_charge_it_again(
    budget: Callable[..., sets.PolicySet],
    shared: list[dict[str, Any]],
) -> None:
    ledger = ReservationLedger()
    old = _pod(shared, 0)
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "3"  # a new pod spec
    verdict = _judge(new, _claim(shared, 2), budget("1000000"), ledger, old=old)
    assert verdict.allowed
    assert all(h.reservation.key != CLAIM_KEY for h in verdict.holds)
    assert verdict.holds  # the added CPU is charged


def test_a_pod_naming_an_unknown_claim_is_unpriced_and_the_budget_denies_it(
    budget: Callable[..., sets.PolicySet],
    shared: list[dict[str, Any]],
) -> None:
    pod = _pod(shared, 0)
    pod["spec"]["resourceClaims"][0]["resourceClaimName"] = "not-there"
    verdict = _judge(pod, _claim(shared, 2), budget("1000000"), ReservationLedger())
    assert not verdict.allowed
    (denial,) = verdict.denials
    assert "cannot charge this workload" in denial.message
    assert "not-there" in denial.message


def test_a_refused_commit_of_a_pod_and_its_claim_denies_once(
    budget: Callable[..., sets.PolicySet],
    shared: list[dict[str, Any]],
) -> None:
    # The rules saw room; another admission took it before this one committed.
    ledger = ReservationLedger()
    verdict = _judge(_pod(shared, 0), _claim(shared, 2), budget("5000"), ledger)
    assert verdict.allowed
    assert {h.reservation.key for h in verdict.holds} >= {CLAIM_KEY}
    assert len(verdict.holds) == 2
    taken = verdict.holds[0].reservation._replace(key="ml-infer/Pod/other", amount=Decimal(4900))
    assert ledger.commit([taken]) == []
    admitted = _admit(verdict, ledger)
    assert not admitted.allowed
    (refusal,) = admitted.denials
    assert "taken by workloads admitted moments ago" in refusal.message
    assert _held(ledger) == Decimal(4900)  # neither the pod nor its claim


def _deployment(shared: list[dict[str, Any]], replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "infer", "namespace": "ml-infer"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "infer"}},
            "template": {
                "metadata": {"labels": {"app": "infer"}},
                "spec": _pod(shared, 0)["spec"],
            },
        },
    }


def test_a_workload_scaled_up_from_no_pods_is_charged_the_claim_it_starts_using(
    budget: Callable[..., sets.PolicySet], shared: list[dict[str, Any]], catalog: Catalog
) -> None:
    ledger = ReservationLedger()
    idle, running = _deployment(shared, 0), _deployment(shared, 2)
    verdict = _judge(running, _claim(shared, 2), budget("1000000"), ledger, old=idle)
    assert verdict.allowed
    (claim,) = [h.reservation for h in verdict.holds if h.reservation.key == CLAIM_KEY]
    assert claim.amount == 2 * catalog.accelerators["h100-80gb"].hourly * HOURS_LEFT
    # Scaled up further, its running pods use the claim already: not charged again.
    more = _deployment(shared, 3)
    verdict = _judge(more, _claim(shared, 2), budget("1000000"), ledger, old=running)
    assert verdict.holds
    assert all(h.reservation.key != CLAIM_KEY for h in verdict.holds)
