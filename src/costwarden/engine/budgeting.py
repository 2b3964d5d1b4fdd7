"""The `budget` rule: would admitting this workload push its group over the period's cap?

    projected = spent + run_rate_hourly × hours_left + reserved + workload_hourly × expected_hours

`spent` and `run_rate_hourly` come from the spend snapshot (background-refreshed, never
fetched here), `reserved` from the ledger (admitted cost not yet visible in spend data).
`expected_hours` is the Job's `activeDeadlineSeconds`, else the
`costwarden.io/expected-runtime` annotation (`6h`, `90m`), else the rule's
`defaultRuntime`, else the rest of the period — never more than the rest of the period.
projected > cap denies (per the rule's action); projected > warnAt × cap warns.

Budgets are charged once, at the top-level object: pods and ReplicaSets made by a
controller were priced when their owner was admitted (a Deployment, a StatefulSet, a Job).
Jobs made by a CronJob are charged at each run — that is when they start to cost; the
CronJob itself is checked for one run and reserves nothing.

The ledger is written only after every rule allowed the request, and never on dry run
(`sideEffects: NoneOnDryRun`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from costwarden.engine import wording
from costwarden.engine.contexts import Context
from costwarden.engine.findings import NOTHING, Change, Finding, Outcome, Reservation, Target
from costwarden.engine.ports import BudgetSpend
from costwarden.policies import models

EXPECTED_RUNTIME_ANNOTATION = "costwarden.io/expected-runtime"
_HOUR = Decimal(3600)
_ZERO = Decimal(0)


def period_end(now: datetime, *, period: str, timezone: str) -> datetime:
    """When the budget period containing `now` ends (midnight, in the budget's timezone)."""
    local = now.astimezone(ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":  # ISO weeks: Monday to Sunday
        end = midnight + timedelta(days=7 - local.weekday())
    elif local.month == 12:
        end = midnight.replace(year=local.year + 1, month=1, day=1)
    else:
        end = midnight.replace(month=local.month + 1, day=1)
    # Re-attach the zone so a DST change inside the period lands on local midnight.
    return end.replace(tzinfo=ZoneInfo(timezone))


def group_of(config: models.Budget, target: Target) -> str | None:
    if config.group_by == "namespace":
        return target.namespace
    assert config.label is not None
    return target.labels.get(config.label) or target.namespace_labels.get(config.label)


def expected_runtime(
    config: models.Budget, target: Target, *, left: Decimal
) -> tuple[Decimal, str]:
    """Hours the workload is expected to run in this period, and where that came from."""
    spec = target.object.get("spec") or {}
    if target.kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    deadline = spec.get("activeDeadlineSeconds") if target.kind in ("Job", "CronJob") else None
    if deadline is None:
        deadline = target.template.spec.get("activeDeadlineSeconds")
    hours: Decimal | None = None
    source = ""
    if isinstance(deadline, int) and deadline > 0:
        hours, source = Decimal(deadline) / _HOUR, "activeDeadlineSeconds"
    else:
        annotation = target.annotation(EXPECTED_RUNTIME_ANNOTATION)
        if annotation is not None:
            try:
                duration = models.parse_duration(annotation)
            except ValueError:
                duration = None
            if duration is not None and duration > timedelta(0):
                hours = Decimal(int(duration.total_seconds())) / _HOUR
                source = EXPECTED_RUNTIME_ANNOTATION
    if hours is None and config.default_runtime is not None:
        hours = Decimal(int(config.default_runtime.total_seconds())) / _HOUR
        source = "the rule's defaultRuntime"
    if hours is None or hours > left:
        return left, "rest of the period"
    return hours, source


def check(
    name: str,
    config: models.Budget,
    target: Target,
    *,
    change: Change,
    context: Context,
    action: str,
) -> Outcome:
    if target.controller is not None and target.controller != "CronJob":
        return NOTHING
    if change.delta_hourly <= _ZERO:
        return NOTHING
    group = group_of(config, target)
    if group is None:
        return NOTHING  # no group to charge; the cost-allocation rule reports the label
    cap = config.caps.get(group, config.default_cap)
    if cap is None:
        return NOTHING
    currency = target.estimate.pod.currency
    scope = f"{config.label}={group}" if config.group_by == "label" else f"namespace {group}"
    now = context.now
    snapshot = context.spend
    stale_after = config.stale_after or context.spend_stale_after
    if snapshot.fetched_at is None or now - snapshot.fetched_at > stale_after:
        return _stale(config, scope, context=context, stale_after=stale_after, action=action)

    end = period_end(now, period=config.period, timezone=config.timezone)
    left = max(Decimal(int((end - now).total_seconds())) / _HOUR, _ZERO)
    spend = snapshot.budgets.get(name, {}).get(group) or BudgetSpend(_ZERO, _ZERO)
    # The same object may already hold a reservation (mutate runs before validate, and the
    # API server retries): it is replaced on admission, so it must not count against itself.
    key = f"{target.namespace}/{target.kind}/{target.name or target.uid}"
    reserved = (
        context.reservations.reserved(budget=name, group=group, now=now, excluding=key)
        if context.reservations is not None
        else _ZERO
    )
    expected, source = expected_runtime(config, target, left=left)
    committed = spend.run_rate_hourly * left
    workload = change.delta_hourly * expected
    projected = spend.spent + committed + reserved + workload
    threshold = cap * config.warn_at
    wants_reservation = (
        context.reservations is not None and not target.dry_run and target.kind != "CronJob"
    )
    if projected <= threshold and not wants_reservation:
        return NOTHING  # the common case: nothing to say, nothing to format

    def terms() -> str:
        return (
            f"spent {wording.money(spend.spent, currency)} + run-rate "
            f"{wording.money(spend.run_rate_hourly, currency)}/h × {wording.hours(left)} left = "
            f"{wording.money(committed, currency)} + reserved {wording.money(reserved, currency)} "
            f"+ this workload {wording.money(change.delta_hourly, currency)}/h × "
            f"{wording.hours(expected)} ({source}) = {wording.money(workload, currency)} → "
            f"{wording.money(projected, currency)}"
        )

    numbers = {
        "group": group,
        "spent": str(spend.spent),
        "run_rate_hourly": str(spend.run_rate_hourly),
        "hours_left": str(left),
        "reserved": str(reserved),
        "workload_hourly": str(change.delta_hourly),
        "expected_hours": str(expected),
        "projected": str(projected),
        "cap": str(cap),
    }
    fix = (
        "lower replicas, GPUs or runtime (activeDeadlineSeconds or annotation "
        f"{EXPECTED_RUNTIME_ANNOTATION}), or wait for the next {config.period}"
    )
    if projected > cap:
        return Outcome(
            findings=(
                Finding(
                    key="cap",
                    what=f"{config.period}ly budget of {scope} would be exceeded: {terms()} > cap "
                    f"{wording.money(cap, currency)}",
                    fix=fix,
                    numbers=numbers,
                ),
            )
        )
    findings: tuple[Finding, ...] = ()
    if projected > threshold:
        findings = (
            Finding(
                key="warn",
                what=f"{config.period}ly budget of {scope} is nearly used: {terms()} > "
                f"{wording.number(config.warn_at * 100)} % of cap {wording.money(cap, currency)}",
                fix=fix,
                numbers=numbers,
                action="warn" if action != "dryrun" else "dryrun",
            ),
        )
    reservation = None
    if wants_reservation:
        reservation = Reservation(
            budget=name,
            group=group,
            key=key,
            amount=workload,
            limit=cap - spend.spent - committed,
            describe=lambda: (
                f"{config.period}ly budget of {scope} is taken by workloads admitted moments "
                f"ago: {terms()} fits, but the ledger refused {wording.money(workload, currency)} "
                f"against the cap {wording.money(cap, currency)}"
            ),
        )
    return Outcome(findings=findings, reservation=reservation)


def _stale(
    config: models.Budget,
    scope: str,
    *,
    context: Context,
    stale_after: timedelta,
    action: str,
) -> Outcome:
    snapshot = context.spend
    behaviour = config.on_stale_data or context.budget_stale_default
    if snapshot.fetched_at is None:
        how_old = "spend data was never fetched"
    else:
        how_old = (
            f"spend data is stale (last fetched {wording.age(context.now - snapshot.fetched_at)} "
            f"ago, limit {wording.age(stale_after)})"
        )
    if snapshot.error:
        how_old += f"; last error: {snapshot.error}"
    if behaviour == "allow":
        return Outcome(notices=(f"budget of {scope} not checked: {how_old}",))
    finding_action = None if behaviour == "deny" else ("dryrun" if action == "dryrun" else "warn")
    return Outcome(
        findings=(
            Finding(
                key="stale",
                what=f"budget of {scope} cannot be checked: {how_old}",
                fix="retry once spend data is fresh (check the Prometheus connection)",
                numbers={"behaviour": behaviour},
                action=finding_action,  # type: ignore[arg-type]
            ),
        )
    )
