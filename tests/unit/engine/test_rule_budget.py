"""The budget rule: projected period spend against the cap, stale data, and the ledger."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from costwarden import periods, reviews
from costwarden.documents import InvalidInput
from costwarden.engine import evaluating
from costwarden.engine.contexts import StaticWorkloads
from costwarden.engine.ports import BudgetSpend, Reservation, Reserving, SpendSnapshot
from costwarden.engine.verdicts import Verdict
from costwarden.memos import Memo, Memos
from costwarden.periods import period_end
from costwarden.reservations import keys
from costwarden.reservations.ledger import QUANTUM, ReservationLedger

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
HOURS_LEFT = Decimal(204)  # to 2026-12-01 00:00 UTC
BUDGET = {
    "name": "budget",
    "budget": {"label": "cost-centre", "caps": {"Sales-5045": "60000"}, "warnAt": "0.8"},
}


def spend(
    spent: str,
    run_rate: str = "0",
    *,
    group: str = "Sales-5045",
    age: timedelta = timedelta(minutes=1),
) -> SpendSnapshot:
    return SpendSnapshot(
        fetched_at=NOW - age,
        budgets={"budget": {group: BudgetSpend(Decimal(spent), Decimal(run_rate))}},
    )


def reservation(budget: str, group: str, key: str, amount: Decimal) -> Reservation:
    """Another admission's reservation, held whatever the limit."""
    return Reservation(
        budget=budget, group=group, key=key, amount=amount, limit=Decimal("Infinity"),
        owner=None, pods=1, at=NOW,
    )  # fmt: skip


class Ledger(ReservationLedger):
    """The production ledger, recording what the engine asks of it and what is committed."""

    def __init__(self, entries: dict[tuple[str, str, str], Decimal] | None = None) -> None:
        super().__init__()
        self.asks: list[dict] = []
        self.commits: list[list[Reservation]] = []
        for (budget, group, key), amount in (entries or {}).items():
            assert super().commit([reservation(budget, group, key, amount)]) == []

    def ask(self, **kwargs) -> Reserving:
        self.asks.append(kwargs)
        return super().ask(**kwargs)

    def commit(self, reservations: Sequence[Reservation]) -> list[Reservation]:
        self.commits.append(list(reservations))
        return super().commit(reservations)

    @property
    def holds(self) -> list[Reservation]:
        """What was committed to be held (whether or not the ledger then held it)."""
        return [held for committed in self.commits for held in committed]

    def holding(self) -> Decimal:
        return self.reserved(budget="budget", group="Sales-5045", now=NOW)


def admit(verdict: Verdict, ledger: ReservationLedger, *, dry_run: bool = False) -> Verdict:
    """What the app makes of a verdict (`create_app`'s `evaluate`): the reservations of an
    allowed request are committed in one step of the ledger, never for a dry run, and what
    the ledger refused then is added to the verdict."""
    if dry_run or not verdict.holds:
        return verdict
    refused = ledger.commit([hold.reservation for hold in verdict.holds])
    return verdict.refused(refused) if refused else verdict


def hourly(verdict) -> Decimal:
    return verdict.estimate.hourly.total


def test_denies_when_projected_spend_exceeds_the_cap_and_shows_each_term(
    pod, policies, judge, context
):
    obj = pod(gpus=4, node_selector={"node.kubernetes.io/instance-type": "p4d.24xlarge"})
    verdict = judge(obj, policies(BUDGET), context=context(spend=spend("55000", "20")))
    (violation,) = verdict.denials
    rate = hourly(verdict)
    workload = rate * HOURS_LEFT
    projected = Decimal(55000) + 20 * HOURS_LEFT + workload
    cent = Decimal("0.01")
    assert violation.message.startswith(
        "[budget] monthly budget of cost-centre=Sales-5045 would be exceeded: spent $55,000.00 + "
        "run-rate $20.00/h × 204.0 h left = $4,080.00 + reserved $0.00 + this workload "
        f"${rate.quantize(cent)}/h × 204.0 h (rest of the period) = ${workload.quantize(cent):,}"
        f" → ${projected.quantize(cent):,} > cap $60,000.00 — lower replicas, GPUs or runtime"
    )
    assert Decimal(violation.numbers["projected"]) == projected


def test_warns_above_the_threshold_and_allows(pod, policies, judge, context):
    verdict = judge(pod(cpu="4"), policies(BUDGET), context=context(spend=spend("49000")))
    assert verdict.allowed
    (warning,) = verdict.warnings
    assert "monthly budget of cost-centre=Sales-5045 is nearly used" in warning.message
    assert "> 80 % of cap $60,000.00" in warning.message


def test_allows_quietly_below_the_threshold(pod, policies, judge, context):
    verdict = judge(pod(cpu="4"), policies(BUDGET), context=context(spend=spend("1000", "1")))
    assert verdict.allowed
    assert verdict.violations == ()


def test_expected_hours_come_from_a_jobs_active_deadline(pod, workload, policies, judge, context):
    job = workload("Job", pod(cpu="4"), replicas=2)
    job["spec"]["activeDeadlineSeconds"] = 7200
    job["metadata"]["annotations"] = {"costwarden.io/expected-runtime": "90h"}
    verdict = judge(job, policies(BUDGET), context=context(spend=spend("59999.9")))
    (violation,) = verdict.denials
    assert "× 2.0 h (activeDeadlineSeconds)" in violation.message


def test_expected_hours_come_from_the_annotation_next(pod, policies, judge, context):
    obj = pod(cpu="4", annotations={"costwarden.io/expected-runtime": "90m"})
    verdict = judge(obj, policies(BUDGET), context=context(spend=spend("59999.9")))
    (violation,) = verdict.denials
    assert "× 1.5 h (costwarden.io/expected-runtime)" in violation.message


@pytest.mark.parametrize(
    "where", ["pod spec", "pod annotation", "workload annotation", "pod template annotation"]
)
def test_a_runtime_stated_anywhere_it_may_be_is_read(
    where, pod, workload, policies, judge, context
):
    """Wherever a runtime may be stated, it is found (most workloads state none, and the
    rule settles that with a glance at these places before reading any)."""
    annotation = {"costwarden.io/expected-runtime": "90m"}
    obj = pod(cpu="4", annotations=annotation if where.endswith("template annotation") else None)
    if where == "pod spec":
        obj["spec"]["activeDeadlineSeconds"] = 5400
    elif where == "pod annotation":
        obj["metadata"]["annotations"] = annotation
    if where.startswith(("workload", "pod template")):
        obj = workload("Deployment", obj, replicas=1)
        if where == "workload annotation":
            obj["metadata"]["annotations"] = annotation
    verdict = judge(obj, policies(BUDGET), context=context(spend=spend("59999.9")))
    (violation,) = verdict.denials
    assert "× 1.5 h (" in violation.message, violation.message


def test_expected_hours_come_from_the_rules_default_runtime_then_the_period(
    pod, policies, judge, context
):
    rule = {**BUDGET, "budget": {**BUDGET["budget"], "defaultRuntime": "10h"}}
    verdict = judge(pod(cpu="4"), policies(rule), context=context(spend=spend("59999.9")))
    assert "× 10.0 h (the rule's defaultRuntime)" in verdict.denials[0].message
    verdict = judge(pod(cpu="4"), policies(BUDGET), context=context(spend=spend("59999.9")))
    assert "× 204.0 h (rest of the period)" in verdict.denials[0].message


def test_expected_hours_never_exceed_the_rest_of_the_period(pod, policies, judge, context):
    obj = pod(cpu="4", annotations={"costwarden.io/expected-runtime": "30d"})
    verdict = judge(obj, policies(BUDGET), context=context(spend=spend("59999.9")))
    assert "× 204.0 h (rest of the period)" in verdict.denials[0].message


def test_an_expected_runtime_past_any_calendar_is_the_rest_of_the_period(
    pod, policies, judge, context
):
    obj = pod(cpu="4", annotations={"costwarden.io/expected-runtime": "99999999999d"})
    verdict = judge(obj, policies(BUDGET), context=context(spend=spend("59999.9")))
    assert "× 204.0 h (rest of the period)" in verdict.denials[0].message


@pytest.mark.parametrize(
    ("moment", "period", "zone", "end"),
    [
        (datetime(2026, 11, 22, 12, tzinfo=UTC), "month", "UTC", datetime(2026, 12, 1, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, tzinfo=UTC), "month", "UTC", datetime(2027, 1, 1, tzinfo=UTC)),
        (datetime(2026, 11, 22, 12, tzinfo=UTC), "week", "UTC", datetime(2026, 11, 23, tzinfo=UTC)),
        (
            datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
            "month",
            "Europe/Berlin",
            datetime(2026, 12, 31, 23, tzinfo=UTC),
        ),
        (
            datetime(2026, 11, 30, 22, 30, tzinfo=UTC),
            "month",
            "Europe/Berlin",
            datetime(2026, 11, 30, 23, tzinfo=UTC),
        ),
    ],
)
def test_period_ends_at_local_midnight_of_the_budgets_timezone(moment, period, zone, end):
    assert period_end(moment, period=period, timezone=zone) == end


@pytest.mark.parametrize(
    ("behaviour", "allowed", "action"),
    [("deny", False, "deny"), ("warn", True, "warn"), ("allow", True, None)],
)
def test_stale_spend_data_follows_the_rules_on_stale_data(
    pod, policies, judge, context, behaviour, allowed, action
):
    rule = {**BUDGET, "budget": {**BUDGET["budget"], "onStaleData": behaviour}}
    verdict = judge(
        pod(), policies(rule), context=context(spend=spend("0", age=timedelta(minutes=12)))
    )
    assert verdict.allowed is allowed
    if action is None:
        assert verdict.violations == ()
        assert any(
            "not checked: spend data is stale (last fetched 12m ago, limit 5m)" in n
            for n in verdict.notices
        )
    else:
        (violation,) = verdict.violations
        assert violation.action == action
        assert "spend data is stale (last fetched 12m ago, limit 5m)" in violation.message


def test_never_fetched_spend_data_is_stale_and_uses_the_servers_default(
    pod, policies, judge, context
):
    verdict = judge(pod(), policies(BUDGET), context=context(budget_stale_default="deny"))
    (violation,) = verdict.denials
    assert "spend data was never fetched" in violation.message


def test_rules_stale_after_overrides_the_servers_bound(pod, policies, judge, context):
    rule = {**BUDGET, "budget": {**BUDGET["budget"], "staleAfter": "30m", "onStaleData": "deny"}}
    fresh_enough = context(spend=spend("0", age=timedelta(minutes=12)))
    assert judge(pod(), policies(rule), context=fresh_enough).allowed


def test_reserves_the_workloads_expected_cost_when_allowed(pod, policies, judge, context):
    ledger = Ledger()
    verdict = judge(
        pod(cpu="4", name="a"),
        policies(BUDGET),
        context=context(spend=spend("1000", "10"), reservations=ledger),
    )
    assert verdict.allowed
    assert ledger.holding() == 0  # the engine decides; its caller commits
    verdict = admit(verdict, ledger)
    assert verdict.allowed
    (held,) = ledger.holds
    assert held.amount == hourly(verdict) * HOURS_LEFT
    assert held.limit == Decimal(60000) - 1000 - 10 * HOURS_LEFT
    assert held.key == "ml-train/Pod/a"
    # The pod's uid goes with it: its deletion releases this reservation, not a namesake's.
    assert held.owner is None  # a manifest checked offline has no uid yet
    assert ledger.holding() == held.amount.quantize(QUANTUM, ROUND_CEILING)


def test_a_reservation_is_owned_by_the_admitted_objects_uid(pod, policies, judge, context):
    ledger = Ledger()
    obj = pod(cpu="4", name="a")
    obj["metadata"]["uid"] = "995953e3-1b71-4794-a672-6ee7e0acee4b"
    admit(
        judge(obj, policies(BUDGET), context=context(spend=spend("1000"), reservations=ledger)),
        ledger,
    )
    (held,) = ledger.holds
    assert held.owner == "995953e3-1b71-4794-a672-6ee7e0acee4b"
    assert ledger.release("ml-train/Pod/a", owner="a namesake's uid") == 0
    assert ledger.release("ml-train/Pod/a", owner="995953e3-1b71-4794-a672-6ee7e0acee4b") == 1


def test_reserved_amounts_count_against_the_cap(pod, policies, judge, context):
    ledger = Ledger(entries={("budget", "Sales-5045", "other"): Decimal(59500)})
    verdict = judge(
        pod(cpu="4"), policies(BUDGET), context=context(spend=spend("1000"), reservations=ledger)
    )
    (violation,) = verdict.denials
    assert "reserved $59,500.00" in violation.message


def test_a_reservation_the_ledger_has_no_room_for_denies(pod, policies, judge, context):
    class Refusing(Ledger):
        def ask(self, **kwargs) -> Reserving:  # another replica took the headroom
            return Reserving(super().ask(**kwargs).others, fits=False)

    ledger = Refusing()
    verdict = judge(
        pod(cpu="4"), policies(BUDGET), context=context(spend=spend("1000"), reservations=ledger)
    )
    (violation,) = verdict.denials
    assert "the ledger refused" in violation.message
    assert verdict.holds == ()
    assert admit(verdict, ledger) == verdict
    assert ledger.commits == []
    assert ledger.holding() == 0


def test_a_reservation_refused_on_commit_denies(pod, policies, judge, context):
    # The engine saw room; another admission took it before this one was committed.
    ledger = Ledger()
    verdict = judge(
        pod(cpu="4"), policies(BUDGET), context=context(spend=spend("1000"), reservations=ledger)
    )
    assert verdict.allowed
    assert verdict.violations == ()
    (hold,) = verdict.holds
    room = hold.reservation.limit - hold.reservation.amount  # what is left once it is held
    assert ledger.commit([reservation("budget", "Sales-5045", "other", room + 1)]) == []
    admitted = admit(verdict, ledger)
    assert not admitted.allowed
    (violation,) = admitted.denials
    assert violation.rule == "budget"
    assert "the ledger refused" in violation.message
    assert admitted.holds == ()
    assert admitted.patches == ()
    assert ledger.holding() == room + 1  # the other admission's alone


def test_dry_run_reserves_nothing(pod, policies, judge, context):
    ledger = Ledger()
    verdict = judge(
        pod(cpu="4"),
        policies(BUDGET),
        dry_run=True,
        context=context(spend=spend("1000"), reservations=ledger),
    )
    assert verdict.allowed
    assert ledger.asks  # checked against the ledger all the same
    assert admit(verdict, ledger, dry_run=True) == verdict
    assert ledger.commits == []
    assert ledger.holding() == 0


def test_nothing_is_reserved_when_another_rule_denies(pod, policies, judge, context):
    ledger = Ledger()
    rules = policies(BUDGET, {"name": "gpus", "gpuLimits": {"maxPerPod": 0}})
    verdict = judge(pod(gpus=1), rules, context=context(spend=spend("1000"), reservations=ledger))
    assert not verdict.allowed
    assert verdict.holds == ()
    admit(verdict, ledger)
    assert ledger.holds == []
    assert ledger.holding() == 0


RS_CONTROLLER = "system:serviceaccount:kube-system:replicaset-controller"


@pytest.mark.parametrize("user", [RS_CONTROLLER, "system:kube-controller-manager"])
def test_controller_made_pods_are_not_charged_again(pod, policies, judge, context, user):
    obj = pod(cpu="4")
    obj["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": "r", "uid": "u", "controller": True, "apiVersion": "apps/v1"}
    ]
    assert judge(obj, policies(BUDGET), context=context(spend=spend("70000")), user=user).allowed


@pytest.mark.parametrize(
    "user",
    [
        "alice@example.com",
        "system:serviceaccount:ml-train:pipeline",  # a service account outside kube-system
        "system:serviceaccount:kube-system",  # not an account: the prefix without a name
        None,  # no user at all (the offline check): a person's manifest
    ],
)
def test_a_pod_claiming_a_replicaset_owner_is_charged_unless_a_controller_made_it(
    pod, policies, judge, context, user
):
    # Anyone may write an owner reference, and the API server keeps the pod until the
    # garbage collector finds the owner missing: a claim alone must not skip the budget.
    obj = pod(cpu="4")
    obj["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": "r", "uid": "u", "controller": True, "apiVersion": "apps/v1"}
    ]
    verdict = judge(obj, policies(BUDGET), context=context(spend=spend("70000")), user=user)
    assert not verdict.allowed
    assert (
        "monthly budget of cost-centre=Sales-5045 would be exceeded" in verdict.denials[0].message
    )


@pytest.mark.parametrize("owner", ["PyTorchJob", "RayCluster", "Workflow"])
def test_pods_made_by_a_controller_costwarden_does_not_price_are_charged(
    pod, policies, judge, context, owner
):
    # Training operators create pods directly: nobody charged their owner, so the pod pays.
    obj = pod(cpu="4")
    obj["metadata"]["ownerReferences"] = [
        {"kind": owner, "name": "r", "uid": "u", "controller": True, "apiVersion": "x.io/v1"}
    ]
    assert not judge(obj, policies(BUDGET), context=context(spend=spend("70000"))).allowed


def test_jobs_made_by_a_cronjob_are_charged_at_each_run(pod, workload, policies, judge, context):
    job = workload("Job", pod(cpu="4"))
    job["metadata"]["ownerReferences"] = [
        {"kind": "CronJob", "name": "c", "uid": "u", "controller": True, "apiVersion": "batch/v1"}
    ]
    assert not judge(job, policies(BUDGET), context=context(spend=spend("70000"))).allowed


def test_group_falls_back_to_the_namespaces_label(pod, policies, judge, context):
    verdict = judge(
        pod(namespace="ml-train", labels={}),
        policies(BUDGET),
        context=context(spend=spend("70000")),
    )
    assert "cost-centre=Sales-5045" in verdict.denials[0].message


def test_a_group_without_a_cap_is_refused_never_left_uncapped(pod, policies, judge, context):
    verdict = judge(
        pod(namespace="ml-dev"),
        policies(BUDGET),
        context=context(spend=spend("70000", group="RnD-1001")),
    )
    assert not verdict.allowed
    message = verdict.denials[0].message
    assert "cost-centre=RnD-1001 has no budget in this rule (no cap, no defaultCap)" in message
    assert "add a cap for RnD-1001 (or a defaultCap) to rule budget" in message


OVER_CAP = spend("70000")  # Sales-5045, ml-train's group, is over its 60,000 cap
TWO_CAPS = {
    "name": "budget",
    "budget": {"label": "cost-centre", "caps": {"Sales-5045": "60000", "RnD-1001": "20000"}},
}


def test_a_pods_own_label_cannot_move_its_cost_to_another_teams_budget(
    pod, policies, judge, context
):
    verdict = judge(
        pod(namespace="ml-train", labels={"cost-centre": "RnD-1001"}),
        policies(TWO_CAPS),
        context=context(spend=OVER_CAP),
    )
    assert not verdict.allowed
    message = verdict.denials[0].message
    assert "cost-centre=RnD-1001 is not a group namespace ml-train may charge (Sales-5045)" in (
        message
    )
    assert "remove the pod's cost-centre label (the namespace's Sales-5045 applies)" in message
    assert "allowedGroups" in message


def test_a_case_variant_of_the_namespaces_group_is_refused(pod, policies, judge, context):
    verdict = judge(
        pod(namespace="ml-train", labels={"cost-centre": "SALES-5045"}),
        policies(TWO_CAPS),
        context=context(spend=spend("0")),
    )
    assert not verdict.allowed
    assert "cost-centre=SALES-5045 differs from the group Sales-5045 only in case" in (
        verdict.denials[0].message
    )


def test_an_invented_group_in_a_namespace_without_one_is_refused(pod, policies, judge, context):
    rule = {"name": "budget", "budget": {"label": "cost-centre", "defaultCap": "5000"}}
    verdict = judge(
        pod(namespace="bare", labels={"cost-centre": "Nobody-0000"}),
        policies(rule),
        context=context(spend=spend("0", group="Nobody-0000")),
    )
    assert not verdict.allowed
    assert "cost-centre=Nobody-0000 is a claim nothing backs: namespace bare has no" in (
        verdict.denials[0].message
    )


def test_a_namespace_whose_labels_are_unknown_is_not_checked_never_refused(
    pod, policies, judge, context
):
    # `check` without namespace labels: who pays is unknown, so the budget says so.
    verdict = judge(
        pod(namespace="somewhere-else", labels={"cost-centre": "Sales-5045"}),
        policies(TWO_CAPS),
        context=context(spend=OVER_CAP, namespaces_partial=True),
    )
    assert verdict.allowed
    assert any(
        "budget not checked: the namespace's labels, which say who pays, are unknown" in n
        for n in verdict.notices
    )


def test_a_pod_with_no_group_anywhere_is_refused(pod, policies, judge, context):
    rule = {"name": "budget", "budget": {"label": "cost-centre", "defaultCap": "5000"}}
    verdict = judge(pod(namespace="bare", labels={}), policies(rule), context=context())
    assert not verdict.allowed
    assert "nobody pays: namespace bare has no cost-centre label" in verdict.denials[0].message


def test_allowed_groups_let_a_namespaces_pods_charge_the_groups_listed(
    pod, policies, judge, context
):
    rule = {
        "name": "budget",
        "budget": {
            "label": "cost-centre",
            "caps": {"Sales-5045": "60000", "RnD-1001": "20000"},
            "allowedGroups": {"ml-t*": ["RnD-1001"]},
        },
    }
    snapshot = SpendSnapshot(
        fetched_at=NOW - timedelta(minutes=1),
        budgets={"budget": {"RnD-1001": BudgetSpend(Decimal("25000"), Decimal(0))}},
    )
    verdict = judge(
        pod(namespace="ml-train", labels={"cost-centre": "RnD-1001"}),
        policies(rule),
        context=context(spend=snapshot),
    )
    # Charged to the group it named (over its own cap), not to the namespace's.
    assert "monthly budget of cost-centre=RnD-1001 would be exceeded" in verdict.denials[0].message


def test_a_wildcard_trusts_the_pods_label_but_not_a_case_variant_of_a_capped_group(
    pod, policies, judge, context
):
    rule = {
        "name": "budget",
        "budget": {
            "label": "cost-centre",
            "caps": {"Sales-5045": "60000"},
            "defaultCap": "5000",
            "allowedGroups": {"*": ["*"]},
        },
    }
    trusted = judge(
        pod(namespace="bare", labels={"cost-centre": "Nobody-0000"}),
        policies(rule),
        context=context(spend=spend("0", group="Nobody-0000")),
    )
    assert trusted.allowed
    variant = judge(
        pod(namespace="bare", labels={"cost-centre": "sales-5045"}),
        policies(rule),
        context=context(spend=spend("0")),
    )
    assert "differs from the group Sales-5045 only in case" in variant.denials[0].message


def test_caps_that_differ_only_in_case_are_a_policy_error(policies):
    rule = {"name": "budget", "budget": {"caps": {"Sales-5045": "1", "SALES-5045": "2"}}}
    with pytest.raises(
        InvalidInput, match="caps 'Sales-5045' and 'SALES-5045' differ only in case"
    ):
        policies(rule)


def test_default_cap_and_namespace_grouping(pod, policies, judge, context):
    rule = {
        "name": "budget",
        "budget": {"groupBy": "namespace", "label": None, "defaultCap": "100"},
    }
    verdict = judge(
        pod(namespace="ml-dev"), policies(rule), context=context(spend=spend("150", group="ml-dev"))
    )
    assert "monthly budget of namespace ml-dev would be exceeded" in verdict.denials[0].message


def test_scaling_up_charges_only_the_added_pods(pod, workload, policies, judge, context):
    old = workload("Deployment", pod(cpu="4"), replicas=2)
    new = workload("Deployment", pod(cpu="4"), replicas=3)
    ledger = Ledger()
    verdict = judge(
        new,
        policies(BUDGET),
        operation="UPDATE",
        old=old,
        context=context(spend=spend("0"), reservations=ledger),
    )
    admit(verdict, ledger)
    (held,) = ledger.holds
    assert held.amount == verdict.estimate.pod.hourly.total * HOURS_LEFT


def test_scaling_down_is_never_charged(pod, workload, policies, judge, context):
    old = workload("Deployment", pod(cpu="4"), replicas=3)
    new = workload("Deployment", pod(cpu="4"), replicas=1)
    verdict = judge(
        new, policies(BUDGET), operation="UPDATE", old=old, context=context(spend=spend("99999"))
    )
    assert verdict.allowed
    assert verdict.holds == ()


def test_hours_left_are_the_rules_own_for_the_budget_metrics() -> None:
    assert periods.hours_left(NOW, period="month", timezone="UTC") == HOURS_LEFT
    # 2026-11-22 is a Sunday: its week ends at midnight, 12 h on in UTC, 11 h in Berlin (UTC+1).
    assert periods.hours_left(NOW, period="week", timezone="UTC") == 12
    assert periods.hours_left(NOW, period="week", timezone="Europe/Berlin") == 11


def test_each_scale_up_holds_the_pods_it_adds_beside_what_the_workload_holds(
    review, policies, catalog, context
):
    """Fixture 014 creates llm-server (2 replicas), fixture 034 scales it to 4: an autoscaler
    scaling up minutes after the creation. None of their pods is in the spend data yet, so
    the ledger must hold all four — a scale-up that replaced the workload's reservation
    with the pods it adds would hold two."""
    ledger = Ledger()
    create, scale = review("014"), review("034")
    assert create.object is not None
    assert scale.object is not None

    def evaluate(request, *, replicas_before: int):
        stored = {**create.object, "spec": {**create.object["spec"], "replicas": replicas_before}}
        ctx = context(spend=spend("0"), reservations=ledger, workloads=StaticWorkloads((stored,)))
        verdict = evaluating.evaluate(
            request, policies=policies(BUDGET), catalog=catalog, context=ctx
        )
        assert verdict.allowed
        return admit(verdict, ledger)

    def scale_to(replicas: int, *, uid: str, before: int):
        return scale._replace(
            uid=uid,
            object={**scale.object, "spec": {"replicas": replicas}},
            old_object={**scale.object, "spec": {"replicas": before}},
        )

    pod_hourly = evaluate(create, replicas_before=2).estimate.pod.hourly.total

    def pods(n: int) -> Decimal:  # n pods for the rest of the period, as the ledger holds it
        return (n * pod_hourly * HOURS_LEFT).quantize(QUANTUM, ROUND_CEILING)

    assert ledger.holding() == pods(2)
    evaluate(scale, replicas_before=2)  # 034 as captured: 2 -> 4
    assert ledger.holding() == pods(2) + pods(2)
    evaluate(scale, replicas_before=2)  # the same request again (an API server retry)
    assert ledger.holding() == pods(2) + pods(2)
    evaluate(scale_to(5, uid="next-scale-up", before=4), replicas_before=4)
    assert ledger.holding() == pods(2) + pods(2) + pods(1)
    # How many of its pods run at each: the created two, the added two, the added one.
    assert [held.pods for held in ledger.holds] == [2, 2, 2, 1]
    deployment = keys.object_key("ml-train", "Deployment", "llm-server")
    assert [held.key for held in ledger.holds] == [
        deployment, *[keys.change_key(deployment, scale.uid)] * 2,
        keys.change_key(deployment, "next-scale-up"),
    ]  # fmt: skip


def test_a_new_pod_spec_costing_more_runs_every_pod_at_the_added_cost(
    pod, workload, policies, judge, context
):
    """Its pods are replaced by pods of the new spec: all of them, not the added ones only,
    must show in the spend data before it counts what the update added."""
    old = workload("Deployment", pod(cpu="4"), replicas=2)
    new = workload("Deployment", pod(cpu="8"), replicas=3)
    ledger = Ledger()
    verdict = judge(
        new, policies(BUDGET), operation="UPDATE", old=old,
        context=context(spend=spend("0"), reservations=ledger),
    )  # fmt: skip
    assert verdict.allowed
    admit(verdict, ledger)
    (held,) = ledger.holds
    assert held.pods == 3


@pytest.mark.parametrize(
    ("prefix", "priced_with"),
    [
        ("017", "ml-train/Deployment/llm-server"),  # through ReplicaSet llm-server-69cc8c784f
        ("022", "ml-dev/Job/hparam-sweep"),
        ("032", "ml-train/StatefulSet/feature-cache"),
        ("009", None),  # a bare pod: charged itself
    ],
)
def test_a_pod_is_priced_with_the_workload_its_controller_was_admitted_as(
    review, prefix, priced_with
):
    assert keys.priced_with(review(prefix).object) == priced_with


@pytest.mark.parametrize(
    ("owner", "labels", "priced_with"),
    [
        ({"kind": "ReplicaSet", "name": "cache"}, {}, "ml-train/ReplicaSet/cache"),
        ({"kind": "ReplicaSet", "name": "web-5d8f"}, {"pod-template-hash": "9x9x"},
         "ml-train/ReplicaSet/web-5d8f"),
        ({"kind": "DaemonSet", "name": "dcgm"}, {}, "ml-train/DaemonSet/dcgm"),
        ({"kind": "PyTorchJob", "name": "bert"}, {}, None),  # its pods are charged themselves
        ({"kind": "Job", "name": "j", "controller": False}, {}, None),
    ],
)  # fmt: skip
def test_only_a_controlling_owner_costwarden_prices_is_a_pods_workload(owner, labels, priced_with):
    pod = {
        "metadata": {
            "namespace": "ml-train",
            "labels": labels,
            "ownerReferences": [{"controller": True, **owner}],
        }
    }
    assert keys.priced_with(pod) == priced_with


def test_pods_sharing_a_generate_name_each_hold_their_own_reservation(
    pod, policies, catalog, context
):
    # `generateName` pods (notebooks, CI runners) share a prefix, never a name: keyed by the
    # prefix, each new pod would replace the last one's reservation and a burst would pass.
    ledger = Ledger()
    rules = policies(BUDGET)
    spent = spend("0")
    verdicts = []
    for uid in ("uid-1", "uid-2"):
        obj = pod(cpu="4")
        del obj["metadata"]["name"]
        obj["metadata"]["generateName"] = "nb-"
        request = reviews.request_for(obj, uid=uid)
        verdict = evaluating.evaluate(
            request,
            policies=rules,
            catalog=catalog,
            context=context(spend=spent, reservations=ledger),
        )
        verdicts.append(admit(verdict, ledger))
    held_under = [held.key for held in ledger.holds]
    assert len(set(held_under)) == 2, held_under
    held = ledger.reserved(budget="budget", group="Sales-5045", now=NOW)
    assert held == 2 * hourly(verdicts[0]) * HOURS_LEFT


@pytest.mark.parametrize("decided", ["each in turn", "all before any commit"])
def test_fifty_concurrent_admissions_against_room_for_ten_admit_exactly_ten(
    pod, policies, catalog, judge, context, decided
):
    # As the app admits a burst: each request is evaluated, then what it holds committed,
    # on its own thread, against one ledger and one memo. Every request may see the room
    # (all decided before any commit): the commit checks again under the ledger's lock.
    rules = policies(BUDGET)
    cost = hourly(judge(pod(cpu="4"), rules, context=context(spend=spend("0")))) * HOURS_LEFT
    spent = spend(str(Decimal(60000) - cost * Decimal("10.5")))  # room for 10.5 pods
    ledger = ReservationLedger()
    shared = context(spend=spent, reservations=ledger, memos=Memos())
    start, decide = threading.Barrier(50, timeout=60), threading.Barrier(50, timeout=60)
    requests = [
        reviews.request_for(pod(cpu="4", name=f"p{i:02d}"), uid=f"uid-{i:02d}") for i in range(50)
    ]

    def admission(request) -> tuple[Verdict, Verdict]:
        start.wait()
        verdict = evaluating.evaluate(request, policies=rules, catalog=catalog, context=shared)
        if decided == "all before any commit":
            decide.wait()
        return verdict, admit(verdict, ledger)

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(admission, requests))
    if decided == "all before any commit":
        assert all(verdict.allowed for verdict, _ in outcomes)  # each saw the room
    admitted = [verdict for _, verdict in outcomes if verdict.allowed]
    assert len(admitted) == 10
    for _, verdict in outcomes:
        if not verdict.allowed:
            (violation,) = verdict.denials
            assert violation.rule == "budget"
            assert "would be exceeded" in violation.message or (
                "the ledger refused" in violation.message
            )
    assert held(ledger, "budget", "Sales-5045") == 10 * cost.quantize(QUANTUM, ROUND_CEILING)


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_dry_run_is_refused_where_the_replicas_share_of_the_headroom_refuses_the_real_one(
    pod, policies, judge, context, dry_run
):
    rules = policies(BUDGET)
    amount = hourly(judge(pod(cpu="4"), rules, context=context(spend=spend("0")))) * HOURS_LEFT
    # The cap leaves 1.5 × the workload's cost: enough alone, but not within half of it.
    spent = spend(str(Decimal(60000) - amount * Decimal("1.5")))
    ledger = ReservationLedger(headroom_share=Decimal(1) / 2)  # --budget-replicas 2
    verdict = judge(
        pod(cpu="4"), rules, dry_run=dry_run, context=context(spend=spent, reservations=ledger)
    )
    verdict = admit(verdict, ledger, dry_run=dry_run)
    assert not verdict.allowed
    assert "the ledger refused" in verdict.denials[0].message
    assert ledger.reserved(budget="budget", group="Sales-5045", now=NOW) == 0


def test_a_request_another_rule_denies_also_hears_the_ledgers_refusal(
    pod, policies, judge, context
):
    gpu_pod = pod(cpu="4", gpus=1)
    amount = (
        hourly(judge(gpu_pod, policies(BUDGET), context=context(spend=spend("0")))) * HOURS_LEFT
    )
    spent = spend(str(Decimal(60000) - amount * Decimal("1.5")))  # the cap fits, half does not
    ledger = ReservationLedger(headroom_share=Decimal(1) / 2)
    rules = policies(BUDGET, {"name": "gpus", "gpuLimits": {"maxPerPod": 0}})
    verdict = admit(
        judge(gpu_pod, rules, context=context(spend=spent, reservations=ledger)), ledger
    )
    assert [v.rule for v in verdict.denials] == ["gpus", "budget"]
    assert "the ledger refused" in verdict.denials[1].message
    assert held(ledger, "budget", "Sales-5045") == 0


# A group's figures (hours left, committed run-rate, room under the cap) are worked out once
# per snapshot, rule and second, not per review: the tests below fail if a review is ever
# served figures of another snapshot, group, rule or second.

OVER = "70000"  # over the cap: every review is denied, and the denial carries the figures
BERLIN_WEEKLY = {
    "name": "budget",
    "budget": {**BUDGET["budget"], "period": "week", "timezone": "Europe/Berlin"},
}
# Instants around which the hours left turn over: a UTC month end, a Berlin week end in
# CET, one in CEST, and the Berlin week of the spring DST change.
TURNS = [
    datetime(2026, 12, 1, tzinfo=UTC),
    datetime(2026, 11, 29, 23, tzinfo=UTC),
    datetime(2026, 6, 28, 22, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
]


def figures(verdict) -> dict[str, str]:
    (violation,) = verdict.denials
    return dict(violation.numbers)


@settings(max_examples=60, deadline=None)
# Back across the turn within one second: the old period's last microsecond, after the
# new period's first.
@example(turn=TURNS[0], weekly=False, offsets=[0, -1])
@example(turn=TURNS[1], weekly=True, offsets=[300_000, -1, 0, 999_999, 1_000_000])
@given(
    turn=st.sampled_from(TURNS),
    weekly=st.booleans(),
    offsets=st.lists(
        st.one_of(
            st.integers(-2_000_000, 2_000_000),  # µs either side of the turn
            st.integers(-8 * 86400 * 10**6, 8 * 86400 * 10**6),  # days either side
        ),
        min_size=2,
        max_size=12,
    ),
)
def test_hours_left_follow_each_reviews_now_to_the_second_in_any_order(
    pod, policies, judge, context, turn, weekly, offsets
):
    rule = BERLIN_WEEKLY if weekly else BUDGET
    config = rule["budget"]
    rules = policies(rule)
    snapshot = SpendSnapshot(  # one snapshot for every review: its figures get reused
        fetched_at=turn - timedelta(days=9),
        budgets={"budget": {"Sales-5045": BudgetSpend(Decimal(OVER), Decimal("2.5"))}},
    )
    for offset in offsets:
        now = turn + timedelta(microseconds=offset)
        # An independent implementation of the period (costwarden.periods), in real seconds.
        end = periods.period_end(
            now, period=config.get("period", "month"), timezone=config.get("timezone", "UTC")
        )
        left = Decimal(int((end - now).total_seconds())) / 3600
        numbers = figures(
            judge(
                pod(cpu="4"),
                rules,
                context=context(now=now, spend=snapshot, spend_stale_after=timedelta(days=30)),
            )
        )
        assert numbers["hours_left"] == str(left), now
        assert Decimal(numbers["projected"]) >= Decimal(OVER) + Decimal("2.5") * left


def test_a_new_snapshot_is_never_answered_with_the_last_ones_figures(pod, policies, judge, context):
    rules = policies(BUDGET)
    first = judge(pod(cpu="4"), rules, context=context(spend=spend("70000", "1")))
    second = judge(pod(cpu="4"), rules, context=context(spend=spend("80000", "3")))
    assert figures(first)["spent"] == "70000"
    assert figures(second)["spent"] == "80000"
    assert figures(second)["run_rate_hourly"] == "3"
    # A snapshot that leaves the budget out is not served figures fetched before either.
    missing = SpendSnapshot(fetched_at=NOW, budgets={})
    verdict = judge(
        pod(cpu="4"), rules, context=context(spend=missing, budget_stale_default="deny")
    )
    assert "this budget's spend has not been fetched yet" in verdict.denials[0].message


def test_figures_kept_for_fresh_data_are_not_served_once_it_turns_stale(
    pod, policies, judge, context
):
    # Fetched half a second before NOW; the server's bound: 5 min. The data turns stale at
    # NOW + 299.5 s, inside the second (NOW + 299 s, NOW + 300 s] the figures are kept for.
    snapshot = spend("1000", age=timedelta(milliseconds=500))
    rules = policies(BUDGET)

    def at(seconds: str, **overrides):
        moment = NOW + timedelta(seconds=float(seconds))
        deny = {"budget_stale_default": "deny", **overrides}
        return judge(pod(cpu="4"), rules, context=context(spend=snapshot, now=moment, **deny))

    assert at("299.2").violations == ()  # figures worked out and kept for the second
    late = at("299.8")
    assert "spend data is stale (last fetched 5m ago, limit 5m)" in late.denials[0].message
    # Fresh again under a laxer server bound; then the same second under a stricter one.
    assert at("299.3", spend_stale_after=timedelta(minutes=10)).violations == ()
    strict = at("299.4", spend_stale_after=timedelta(seconds=60))
    assert "limit 60s" in strict.denials[0].message


def test_each_group_gets_its_own_figures_from_one_snapshot(pod, policies, judge, context):
    rule = {**BUDGET, "budget": {**BUDGET["budget"], "caps": {"Sales-5045": "60000"}}}
    rule["budget"]["defaultCap"] = "1000"
    snapshot = SpendSnapshot(
        fetched_at=NOW,
        budgets={
            "budget": {
                "Sales-5045": BudgetSpend(Decimal(70000), Decimal(1)),
                "RnD-1001": BudgetSpend(Decimal(2000), Decimal(2)),
            }
        },
    )
    rules = policies(rule)
    sales = figures(judge(pod(cpu="4"), rules, context=context(spend=snapshot)))
    rnd = figures(
        judge(pod(cpu="4", namespace="ml-dev", labels={}), rules, context=context(spend=snapshot))
    )
    assert (sales["group"], sales["spent"], sales["cap"]) == ("Sales-5045", "70000", "60000")
    assert (rnd["group"], rnd["spent"], rnd["cap"]) == ("RnD-1001", "2000", "1000")
    assert rnd["run_rate_hourly"] == "2"


def test_a_reloaded_rule_is_judged_with_its_new_cap_on_the_same_snapshot(
    pod, policies, judge, context
):
    snapshot = spend("70000")
    before = figures(judge(pod(cpu="4"), policies(BUDGET), context=context(spend=snapshot)))
    raised = {**BUDGET, "budget": {**BUDGET["budget"], "caps": {"Sales-5045": "65000"}}}
    after = figures(judge(pod(cpu="4"), policies(raised), context=context(spend=snapshot)))
    assert (before["cap"], after["cap"]) == ("60000", "65000")


def test_figures_kept_for_made_up_groups_stay_bounded(pod, policies, judge, context):
    rule = {"name": "budget", "budget": {"groupBy": "namespace", "label": None, "defaultCap": "1"}}
    rules = policies(rule)
    snapshot = SpendSnapshot(fetched_at=NOW, budgets={"budget": {}})
    bound = 8
    memos = Memos(budgets=Memo(entries=bound, size=bound))
    for i in range(bound + 10):
        ctx = context(spend=snapshot, memos=memos)
        judge(pod(cpu="4", namespace=f"ns-{i}"), rules, context=ctx)
        assert len(memos.budgets) <= bound
        assert memos.budgets.size <= bound
    assert len(memos.budgets) > 0  # it keeps figures: the bound is what is tested


TEAM_BUDGET = {"name": "team-budget", "budget": {"label": "team", "caps": {"nlp": "60000"}}}


def two_budgets(team_spent: str) -> SpendSnapshot:
    """The cost centre well under its cap; the team at `team_spent` of its 60,000."""
    return SpendSnapshot(
        fetched_at=NOW - timedelta(minutes=1),
        budgets={
            "budget": {"Sales-5045": BudgetSpend(Decimal(0), Decimal(0))},
            "team-budget": {"nlp": BudgetSpend(Decimal(team_spent), Decimal(0))},
        },
    )


def held(ledger: ReservationLedger, budget: str, group: str) -> Decimal:
    return ledger.reserved(budget=budget, group=group, now=NOW)


def two_budgets_with_room(pod, policies, judge, context, ledger, team=TEAM_BUDGET) -> Verdict:
    """A pod judged by the cost centre's budget and the team's, both with room."""
    return judge(
        pod(cpu="4"),
        policies(BUDGET, team),
        context=context(spend=two_budgets("0"), reservations=ledger),
    )


def test_one_budget_counts_and_holds_in_one_step_of_the_ledger(pod, policies, judge, context):
    ledger = Ledger()
    verdict = judge(
        pod(cpu="4"), policies(BUDGET), context=context(spend=spend("0"), reservations=ledger)
    )
    assert verdict.allowed
    (asked,) = ledger.asks  # no separate read before the question
    assert asked["key"] == "ml-train/Pod/p"
    verdict = admit(verdict, ledger)
    (committed,) = ledger.commits  # held in one step that checks again
    assert [held.key for held in committed] == ["ml-train/Pod/p"]
    assert held(ledger, "budget", "Sales-5045") == hourly(verdict) * HOURS_LEFT


def test_several_budgets_each_hold_the_workload_once_all_allow(pod, policies, judge, context):
    ledger = Ledger()
    verdict = two_budgets_with_room(pod, policies, judge, context, ledger)
    assert verdict.allowed
    verdict = admit(verdict, ledger)
    assert verdict.allowed
    (committed,) = ledger.commits  # both in one step
    assert [held.budget for held in committed] == ["budget", "team-budget"]
    amount = hourly(verdict) * HOURS_LEFT
    assert held(ledger, "budget", "Sales-5045") == amount
    assert held(ledger, "team-budget", "nlp") == amount


def test_several_budgets_hold_nothing_when_one_is_over_its_cap(pod, policies, judge, context):
    ledger = Ledger()
    verdict = judge(
        pod(cpu="4"),
        policies(BUDGET, TEAM_BUDGET),  # the cost centre, checked first, has room
        context=context(spend=two_budgets("59999"), reservations=ledger),
    )
    (violation,) = verdict.denials
    assert violation.rule == "team-budget"
    assert verdict.holds == ()
    admit(verdict, ledger)
    assert ledger.commits == []
    assert held(ledger, "budget", "Sales-5045") == 0
    assert held(ledger, "team-budget", "nlp") == 0


def test_several_budgets_no_room_in_one_denies(pod, policies, judge, context):
    class RefusingTeam(Ledger):
        def ask(self, **kwargs) -> Reserving:  # another replica took the team's headroom
            answer = super().ask(**kwargs)
            return answer._replace(fits=kwargs["budget"] != "team-budget")

    ledger = RefusingTeam()
    verdict = two_budgets_with_room(pod, policies, judge, context, ledger)
    (violation,) = verdict.denials
    assert violation.rule == "team-budget"
    assert "the ledger refused" in violation.message
    assert verdict.holds == ()
    admit(verdict, ledger)
    assert held(ledger, "budget", "Sales-5045") == 0
    assert held(ledger, "team-budget", "nlp") == 0


def team_taken(ledger: ReservationLedger, verdict: Verdict) -> Decimal:
    """Another admission takes the team's room after `verdict` was decided: what it holds."""
    (team,) = (h.reservation for h in verdict.holds if h.reservation.budget == "team-budget")
    taken = team.limit - team.amount + 1
    assert ledger.commit([reservation("team-budget", "nlp", "other", taken)]) == []
    return taken


def test_several_budgets_a_hold_refused_on_commit_denies_and_holds_nothing(
    pod, policies, judge, context
):
    ledger = Ledger()
    verdict = two_budgets_with_room(pod, policies, judge, context, ledger)
    assert verdict.allowed
    taken = team_taken(ledger, verdict)
    admitted = admit(verdict, ledger)
    assert not admitted.allowed
    (violation,) = admitted.denials
    assert violation.rule == "team-budget"
    assert "the ledger refused" in violation.message
    # Denied: the cost centre, which had room, holds none of it either.
    assert held(ledger, "budget", "Sales-5045") == 0
    assert held(ledger, "team-budget", "nlp") == taken


def test_several_budgets_a_warning_budget_refused_on_commit_warns_and_the_rest_is_held(
    pod, policies, judge, context
):
    ledger = Ledger()
    warning_team = {**TEAM_BUDGET, "action": "warn"}
    verdict = two_budgets_with_room(pod, policies, judge, context, ledger, team=warning_team)
    taken = team_taken(ledger, verdict)
    admitted = admit(verdict, ledger)
    assert admitted.allowed
    (warning,) = admitted.warnings
    assert warning.rule == "team-budget"
    assert "the ledger refused" in warning.message
    assert held(ledger, "budget", "Sales-5045") == hourly(verdict) * HOURS_LEFT
    assert held(ledger, "team-budget", "nlp") == taken


def test_budget_findings_follow_every_other_rules(pod, policies, judge, context):
    ledger = Ledger()
    rules = policies(BUDGET, {"name": "gpus", "gpuLimits": {"maxPerPod": 0}})
    verdict = judge(pod(gpus=1), rules, context=context(spend=spend("59999"), reservations=ledger))
    assert [v.rule for v in verdict.denials] == ["gpus", "budget"]
    admit(verdict, ledger)
    assert held(ledger, "budget", "Sales-5045") == 0


WAIVER = {"rules": ["budget"], "expires": "2026-12-31", "reason": "FIN-77 approved"}
NEARLY_SPENT = SpendSnapshot(  # the cost centre past 80 % of its cap: a warning
    fetched_at=NOW - timedelta(minutes=1),
    budgets={
        "budget": {"Sales-5045": BudgetSpend(Decimal(49000), Decimal(0))},
        "team-budget": {"nlp": BudgetSpend(Decimal(0), Decimal(0))},
    },
)


@pytest.mark.parametrize("rules", [(BUDGET,), (BUDGET, TEAM_BUDGET)], ids=["one", "several"])
def test_an_exception_waives_the_warning_not_the_reservation(pod, policies, judge, context, rules):
    ledger = Ledger()
    verdict = judge(
        pod(cpu="4"),
        policies(*rules, exceptions=(WAIVER,)),
        context=context(spend=NEARLY_SPENT, reservations=ledger),
    )
    assert verdict.allowed
    assert verdict.violations == ()
    assert [e.rule for e in verdict.exempted] == ["budget"]
    verdict = admit(verdict, ledger)
    assert verdict.allowed
    # It was admitted, so it costs: the waived rule's group holds it all the same.
    assert held(ledger, "budget", "Sales-5045") == hourly(verdict) * HOURS_LEFT


def test_an_exception_waives_a_refusal_on_commit_too(pod, policies, judge, context):
    ledger = Ledger()
    verdict = judge(
        pod(cpu="4"),
        policies(BUDGET, TEAM_BUDGET, exceptions=(WAIVER,)),
        context=context(spend=NEARLY_SPENT, reservations=ledger),
    )
    (waived,) = (h.reservation for h in verdict.holds if h.reservation.budget == "budget")
    taken = waived.limit - waived.amount + 1
    assert ledger.commit([reservation("budget", "Sales-5045", "other", taken)]) == []
    admitted = admit(verdict, ledger)
    assert admitted.allowed
    assert admitted.violations == ()
    # The team's budget had room: it holds the workload; the waived one could not.
    assert held(ledger, "team-budget", "nlp") == hourly(verdict) * HOURS_LEFT
    assert held(ledger, "budget", "Sales-5045") == taken


def stored(obj: dict) -> dict:
    """An object as a list of pods gives it: no `apiVersion`, no `kind`."""
    return {key: value for key, value in obj.items() if key not in ("apiVersion", "kind")}


def test_a_pod_recalled_after_a_restart_holds_what_its_admission_held(
    review, policies, catalog, context
):
    # Fixture 009, train-a100, admitted at its creation (11:01:12); the replica restarts,
    # and its first list of pods at 11:05 recalls it: the same reservation, with the same
    # key, uid, hours left in the month and admission time (so the same expiry) as then.
    request = review("009")
    assert request.object is not None
    admitted = datetime(2026, 11, 22, 11, 1, 12, tzinfo=UTC)
    rules = policies(BUDGET)
    before = ReservationLedger()
    verdict = evaluating.evaluate(
        request,
        policies=rules,
        catalog=catalog,
        context=context(now=admitted, spend=spend("1000"), reservations=before),
    )
    verdict = admit(verdict, before)
    assert verdict.allowed
    (hold,) = verdict.holds
    after = ReservationLedger()
    recalled = evaluating.recall(
        stored(request.object),
        admitted=admitted,
        policies=rules,
        catalog=catalog,
        context=context(now=admitted + timedelta(minutes=4), reservations=after),
    )
    (again,) = recalled
    assert after.reserved(budget="budget", group="Sales-5045", now=admitted) == 0  # not yet
    assert after.commit(recalled) == []  # never refused: it was admitted
    same = ("budget", "group", "key", "amount", "owner", "pods", "at")
    assert [getattr(again, f) for f in same] == [getattr(hold.reservation, f) for f in same]
    assert again.key == "ml-train/Pod/train-a100"
    assert again.owner == "995953e3-1b71-4794-a672-6ee7e0acee4b"
    assert (again.at, again.pods) == (admitted, 1)
    # Both ledgers hold it alike: the amount, the admission time to the microsecond (so the
    # same expiry), the uid.
    amount = again.amount.quantize(QUANTUM, ROUND_CEILING)
    just_after = admitted + timedelta(microseconds=1)
    for ledger in (before, after):
        assert ledger.reserved(budget="budget", group="Sales-5045", now=admitted) == amount
        assert ledger.held("Pod", {"budget"}, admitted_before=admitted) == set()
        assert ledger.held("Pod", {"budget"}, admitted_before=just_after) == {again.key}
        assert ledger.release(again.key, owner="another uid") == 0
        assert ledger.release(again.key, owner=again.owner) == 1


def test_a_recalled_pod_is_held_even_past_the_cap_and_counts_against_the_next(
    pod, policies, catalog, context, judge
):
    # It was admitted: what it costs is coming whether or not it fits in today's figures.
    ledger = ReservationLedger()
    obj = pod(cpu="4", name="a")
    obj["metadata"]["uid"] = "uid-a"
    rules = policies(BUDGET)
    admitted = NOW - timedelta(minutes=1)
    full = spend("59990")
    recalled = evaluating.recall(
        stored(obj),
        admitted=admitted,
        policies=rules,
        catalog=catalog,
        context=context(spend=full, reservations=ledger),
    )
    assert len(recalled) == 1
    assert ledger.reserved(budget="budget", group="Sales-5045", now=NOW) == 0  # not yet
    assert ledger.commit(recalled) == []  # held, past the cap all the same
    amount = ledger.reserved(budget="budget", group="Sales-5045", now=NOW)
    left_then = (HOURS_LEFT * 3600 + 60) / Decimal(3600)  # at its admission, a minute ago
    assert amount == (hourly(judge(obj, rules)) * left_then).quantize(QUANTUM, ROUND_CEILING)
    nearly = spend("59980")
    assert judge(pod(cpu="0.1", name="b"), rules, context=context(spend=nearly)).allowed
    (violation,) = judge(
        pod(cpu="0.1", name="b"), rules, context=context(spend=nearly, reservations=ledger)
    ).denials
    assert f"reserved ${amount:.2f}" in violation.message


def test_a_pod_its_controller_made_is_recalled_as_a_pod(review, policies, catalog, context):
    # llm-server's pod (fixture 017): its Deployment held its cost; that reservation went
    # with the old replica, so the pod holds its own share: the rest of the period.
    request = review("017")
    assert request.object is not None
    ledger = Ledger()
    admitted = NOW - timedelta(minutes=2)
    (recalled,) = evaluating.recall(
        stored(request.object),
        admitted=admitted,
        policies=policies(BUDGET),
        catalog=catalog,
        context=context(reservations=ledger),
    )
    assert (ledger.asks, ledger.commits) == ([], [])  # recall only says what it holds
    assert recalled.key == f"ml-train/Pod/{request.object['metadata']['name']}"
    assert recalled.at == admitted
    assert recalled.pods == 1
    assert ledger.commit([recalled]) == []
    assert ledger.held("Pod", {"budget"}, admitted_before=NOW) == {recalled.key}


@pytest.mark.parametrize(
    ("namespace", "rule"),
    [
        ("bare", BUDGET),  # no cost-centre label: no group to charge
        ("ml-train", {**BUDGET, "match": {"namespaces": ["ml-dev"]}}),  # not its rule's
        ("ml-train", {**BUDGET, "budget": {"label": "cost-centre", "caps": {"X-1": "1"}}}),
    ],
)
def test_a_pod_no_budget_charges_is_not_recalled(namespace, rule, pod, policies, catalog, context):
    ledger = Ledger()
    recalled = evaluating.recall(
        stored(pod(cpu="4", namespace=namespace)),
        admitted=NOW,
        policies=policies(rule),
        catalog=catalog,
        context=context(reservations=ledger),
    )
    assert recalled == ()
    assert (ledger.asks, ledger.commits) == ([], [])
    assert ledger.reserved(budget="budget", group="Sales-5045", now=NOW) == 0
    assert ledger.held("Pod", {"budget"}, admitted_before=NOW + ledger.ttl) == set()


def test_relabelling_a_running_pod_cannot_move_its_spend_to_another_team(
    pod, policies, judge, context
):
    # Spend is grouped by the pods' labels: a label-only UPDATE adds no cost, but would move
    # what the pod spends to RnD-1001's budget.
    old = pod(namespace="ml-train", labels={"cost-centre": "Sales-5045"})
    new = pod(namespace="ml-train", labels={"cost-centre": "RnD-1001"})
    verdict = judge(new, policies(TWO_CAPS), operation="UPDATE", old=old, context=context())
    assert not verdict.allowed
    assert "cost-centre=RnD-1001 is not a group namespace ml-train may charge" in (
        verdict.denials[0].message
    )


def test_an_update_that_leaves_an_old_label_as_it_was_is_not_refused_for_it(
    pod, policies, judge, context
):
    # An object admitted before groups were trusted keeps working (a finalizer removed, an
    # annotation added): only a change of the label is judged as a claim.
    old = pod(namespace="ml-train", labels={"cost-centre": "RnD-1001"})
    new = pod(namespace="ml-train", labels={"cost-centre": "RnD-1001"}, annotations={"a": "b"})
    verdict = judge(new, policies(TWO_CAPS), operation="UPDATE", old=old, context=context())
    assert verdict.allowed
