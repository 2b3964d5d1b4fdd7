"""The `budget` rule: would admitting this workload push its group over the period's cap?

    projected = spent + run_rate_hourly × hours_left + reserved + workload_hourly × expected_hours

`spent` and `run_rate_hourly` come from the spend snapshot (background-refreshed, never
fetched here), `reserved` from the ledger (admitted cost not yet visible in spend data).
`expected_hours` is the Job's `activeDeadlineSeconds`, else the
`costwarden.io/expected-runtime` annotation (`6h`, `90m`), else the rule's
`defaultRuntime`, else the rest of the period — never more than the rest of the period.
projected > cap denies (per the rule's action); projected > warnAt × cap warns.

Budgets are charged once, at the top-level object: pods and ReplicaSets made by a
built-in controller were priced when their owner was admitted (a Deployment, a StatefulSet,
a Job). Pods of any other controller (PyTorchJob, RayCluster, ...) are charged themselves:
nothing priced their owner. An owner reference counts only when Kubernetes' controllers
sent the object (`evaluating.made_by_controller`); from anyone else it is a claim, and the
pod is charged.
Jobs made by a CronJob are charged at each run — that is when they start to cost; the
CronJob itself is checked for one run and reserves nothing.

Budget rules run after every other rule (`evaluating._charge`): only a request the others
allow holds budget, and never a dry run (`sideEffects: NoneOnDryRun`), which asks the ledger
the same question read-only. Counting the group's reservations and holding this one is one
step of the ledger (`Reservations.reserve`), so no admission slips in between.

Fast path: all that does not depend on the review — a group's spend, cap and warn threshold,
the period's end, and the hours left with what they commit — is worked out once per
snapshot, rule and whole second left (`_standing`), not per review. An admitted review
below the warn threshold builds nothing but its ledger entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from costwarden import workloads
from costwarden.engine import wording
from costwarden.engine.contexts import Context
from costwarden.engine.findings import NOTHING, Change, Finding, Outcome, Reservation, Target
from costwarden.engine.ports import EMPTY_SPEND, BudgetSpend, Reservations, SpendSnapshot
from costwarden.engine.verdicts import Action
from costwarden.policies import models

EXPECTED_RUNTIME_ANNOTATION = "costwarden.io/expected-runtime"
_HOUR = Decimal(3600)
_INSTANT = timedelta(microseconds=1)
_ZERO = Decimal(0)


CHARGED_WITH_OWNER = workloads.WORKLOAD_KINDS - {"Pod", "CronJob"}
"""Controllers charged when they were admitted, so what they create is not charged again.
A CronJob is not among them: it is checked for one run, and each Job it starts pays."""


def period_end(now: datetime, *, period: str, timezone: str) -> datetime:
    """When the budget period containing `now` ends (midnight, in the budget's timezone)."""
    return _period(now, period, timezone)[2]


def hours_left(now: datetime, *, period: str, timezone: str) -> Decimal:
    """Hours from `now` to the period's end, in whole seconds, as the rule counts them."""
    seconds = int((period_end(now, period=period, timezone=timezone) - now).total_seconds())
    return Decimal(seconds) / _HOUR


_PERIODS: dict[tuple[str, str], tuple[datetime, datetime, datetime]] = {}
"""(period, timezone) -> (from, until, end): `end` answers every `now` in [from, until)
(bounds in UTC, so the usual UTC `now` compares without time-zone arithmetic)."""


def _period(now: datetime, period: str, timezone: str) -> tuple[datetime, datetime, datetime]:
    # Time-zone arithmetic was a third of the rule's cost: it runs once per period (and
    # whenever `now` goes back before the minute it was last run for), not per review.
    key = (period, timezone)
    cached = _PERIODS.get(key)
    if cached is None or not cached[0] <= now < cached[1]:
        # Periods turn at a local midnight, always a whole minute: `end` holds from the
        # minute of `now` up to `end` itself.
        since = now.replace(second=0, microsecond=0)
        end = _period_end(since, period, timezone)
        cached = _PERIODS[key] = (since.astimezone(UTC), end.astimezone(UTC), end)
    return cached


def _period_end(now: datetime, period: str, timezone: str) -> datetime:
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


def reservation_key(namespace: str | None, kind: str, name: str) -> str:
    """What the ledger holds an object's reservation under (`ml-train/Pod/train-a100`).
    `check` spells it out on its path; a pod's deletion releases what it reserved only while
    the two agree (`test_a_deleted_pod_releases_the_budget_it_was_admitted_with`)."""
    return f"{namespace}/{kind}/{name}"


def change_key(key: str, request_uid: str) -> str:
    """What a change of an existing object (an UPDATE, a scale) holds what it adds under:
    the object's key and the request's uid (`ml-train/Deployment/llm#c98338ba-...`). Beside
    the object's own reservation, not in its place: an autoscaler scaling up 2 -> 4 -> 5
    within minutes of the creation holds 2 + 2 + 1 pods; the same request again (an API
    server retry) replaces its own. `check` spells it out on its path."""
    return f"{key}{_CHANGE}{request_uid}"


def object_key(key: str) -> str:
    """The object a reservation key belongs to: the key, or what a `change_key` names."""
    return key.partition(_CHANGE)[0]


_CHANGE = "#"
"""Neither a key (namespace, kind, name) nor a uid holds one."""


def priced_with(pod: Mapping[str, Any]) -> str | None:
    """The reservation key of the workload a pod was priced with when its controller is
    one of Kubernetes' (`CHARGED_WITH_OWNER`): a Deployment's pods through their ReplicaSet,
    named `<deployment>-<pod-template-hash>`. None for a pod charged itself."""
    metadata = pod.get("metadata") or {}
    owner = next(
        (
            o
            for o in metadata.get("ownerReferences") or ()
            if isinstance(o, Mapping) and o.get("controller")
        ),
        None,
    )
    if owner is None:
        return None
    kind, name = owner.get("kind"), owner.get("name")
    if kind not in CHARGED_WITH_OWNER or not isinstance(name, str):
        return None
    if kind == "ReplicaSet":
        template_hash = (metadata.get("labels") or {}).get("pod-template-hash")
        if template_hash and name.endswith(f"-{template_hash}"):
            kind, name = "Deployment", name[: -len(template_hash) - 1]
    return reservation_key(metadata.get("namespace"), kind, name)


def owner_uid(metadata: Mapping[str, Any]) -> str | None:
    """The uid a reservation is owned by: the object's, from its metadata (None before the
    API server gave it one, as for a manifest checked offline)."""
    uid = metadata.get("uid")
    return uid if isinstance(uid, str) and uid else None


def expected_runtime(
    config: models.Budget, target: Target, *, left: Decimal
) -> tuple[Decimal, str]:
    """Hours the workload is expected to run in this period, and where that came from."""
    if target.kind in _JOBS:
        spec = target.object.get("spec") or {}
        if target.kind == "CronJob":
            spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is None:
            deadline = target.template.spec.get("activeDeadlineSeconds")
    else:
        deadline = target.template.spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and deadline > 0:
        return _within(Decimal(deadline) / _HOUR, "activeDeadlineSeconds", left)
    annotation = target.annotation(EXPECTED_RUNTIME_ANNOTATION)
    if annotation is not None:
        try:
            duration = models.parse_duration(annotation)
        except ValueError:
            duration = None
        if duration is not None and duration > timedelta(0):
            hours = Decimal(int(duration.total_seconds())) / _HOUR
            return _within(hours, EXPECTED_RUNTIME_ANNOTATION, left)
    if config.default_runtime is not None:
        hours = Decimal(int(config.default_runtime.total_seconds())) / _HOUR
        return _within(hours, "the rule's defaultRuntime", left)
    return left, _REST


_REST = "rest of the period"
_JOBS = ("Job", "CronJob")
_NONE: Mapping[str, str] = MappingProxyType({})


def _within(hours: Decimal, source: str, left: Decimal) -> tuple[Decimal, str]:
    return (left, _REST) if hours > left else (hours, source)


Hold = Literal["now", "later", "no"]
"""When an admitted workload's reservation is held: `now`, in the same step of the ledger
that counts the group's reservations (the engine's usual case: one budget rule, checked
after every other rule allowed); `later`, by the engine once every budget rule allowed
(several apply; `Outcome.reservation`); `no`, never (a dry run, or another rule denies)."""

_REFUSED_FIX = "retry shortly (reservations expire once spend data catches up)"


def check(
    name: str,
    config: models.Budget,
    target: Target,
    *,
    change: Change,
    context: Context,
    action: str,
    hold: Hold = "no",
) -> Outcome:
    if target.controller in CHARGED_WITH_OWNER:
        return NOTHING
    hourly = change.delta_hourly
    if hourly <= _ZERO:
        return NOTHING
    # The group (`_group`), the key (`reservation_key`) and the owner (`owner_uid`) are
    # spelled out on this path: a call costs more than what it does, on every budgeted review.
    if config.group_by == "namespace":
        group = target.namespace
    else:
        label = config.label
        assert label is not None  # the model requires it for groupBy: label
        group = target.labels.get(label) or target.namespace_labels.get(label)
    if group is None:
        return NOTHING  # no group to charge; the cost-allocation rule reports the label
    now = context.now
    snapshot = context.spend
    # The group's figures change with the snapshot, the rule and the seconds left in the
    # period, not with each review: worked out once per second, and looked up here. They
    # are kept only for a group with a cap and fresh data, and hold no longer than the data
    # stays fresh (`_Figures.upto`): found, they need no other check.
    cached, standings = _STANDINGS
    held = standings.get((name, group)) if cached is snapshot else None
    # The rule object is compared too: a policy reload keeps the snapshot, not the caps.
    if (
        held is None
        or held.config is not config
        or held.server_stale_after is not context.spend_stale_after
        or not held.after < now <= held.upto
    ):
        cap = config.caps.get(group, config.default_cap)
        if cap is None:
            return NOTHING
        stale_after = config.stale_after or context.spend_stale_after
        fetched_at = snapshot.fetched_at
        if fetched_at is None or now - fetched_at > stale_after:
            return _stale(config, group, context=context, stale_after=stale_after, action=action)
        if name not in snapshot.budgets:
            # Fetched data without this budget: added by a policy reload since the last
            # refresh. Not fetched is not "nothing spent" — only a group missing from a
            # fetched budget is.
            return _stale(
                config, group, context=context, stale_after=stale_after, action=action,
                missing=True,
            )  # fmt: skip
        fresh = (fetched_at + stale_after, context.spend_stale_after)
        held = _standing(name, config, group, cap, snapshot, now, held, fresh=fresh)
    # The same object may already hold a reservation (the API server retries, a namesake
    # re-created): it is replaced on admission, so it must not count against itself. An
    # object named only by `generateName` has no name yet: its request uid tells it apart
    # from its siblings. A change of an existing object holds what it adds beside what the
    # object holds, under its request's uid too (`change_key`).
    metadata = target.object.get("metadata") or {}
    key = f"{target.namespace}/{target.kind}/{metadata.get('name') or target.uid}"
    if change.existing:
        key = f"{key}{_CHANGE}{target.uid}"
    # Most workloads state no runtime, and run for the rest of the period: a glance at where
    # one could be stated settles it without reading each (`expected_runtime`).
    template = target.template
    if (
        target.kind in _JOBS
        or config.default_runtime is not None
        or "activeDeadlineSeconds" in template.spec
        or EXPECTED_RUNTIME_ANNOTATION in (metadata.get("annotations") or _NONE)
        or EXPECTED_RUNTIME_ANNOTATION in (template.metadata.get("annotations") or _NONE)
    ):
        expected, source = expected_runtime(config, target, left=held.left)
    else:
        expected, source = held.left, _REST
    workload = hourly * expected
    charged = target.kind != "CronJob"  # checked for one run; its Jobs hold their own
    reservations = context.reservations
    uid = metadata.get("uid")
    owner = uid if isinstance(uid, str) and uid else None
    if reservations is None:
        reserved, fits = _ZERO, True
    else:
        # Counting the group's reservations and holding this one is one step of the
        # ledger: no other admission can slip in between.
        reserved, fits = reservations.reserve(
            budget=name,
            group=group,
            key=key,
            amount=workload,
            limit=held.limit,
            now=now,
            owner=owner,
            pods=change.pods,
            write=hold == "now" and charged,
        )
    projected = held.base + reserved + workload
    later = hold == "later" and charged and reservations is not None
    if fits and projected <= held.warn_above and not later:
        return NOTHING  # the common case of a live webhook: held, and nothing to say
    standing = held.standing
    terms = _Terms(
        standing, held, target.estimate.pod.currency, group, reserved, expected, source,
        workload, projected, hourly,
    )  # fmt: skip
    if projected > standing.cap:
        return Outcome(findings=(terms.finding("cap", action),))
    if not fits and charged:
        # Under the cap, but the ledger's share for this replica is taken.
        return Outcome(findings=(_refused(terms.refused()),))
    reservation = (
        Reservation(name, group, key, workload, held.limit, owner, change.pods, terms.refused)
        if later
        else None
    )
    if projected <= standing.warn_above:
        return Outcome(reservation=reservation)
    return Outcome(findings=(terms.finding("warn", action),), reservation=reservation)


def recall(
    name: str,
    config: models.Budget,
    target: Target,
    *,
    reservations: Reservations,
    admitted: datetime,
) -> bool:
    """Hold again what a pod admitted at `admitted` holds, as `check` held it then (its
    group, its key and uid, its expected hours at that time), whether or not it fits: it
    was admitted. A restarted replica's ledger starts empty, and what was admitted in the
    minutes before is not in the spend data yet (`evaluating.recall`). Whether it was held
    (not when the rule has no group or no cap to charge)."""
    group = _group(config, target)
    if group is None or config.caps.get(group, config.default_cap) is None:
        return False
    left = hours_left(admitted, period=config.period, timezone=config.timezone)
    expected, _ = expected_runtime(config, target, left=left)
    return reservations.reserve(
        budget=name,
        group=group,
        key=reservation_key(target.namespace, target.kind, target.name),
        amount=target.estimate.hourly.total * expected,
        limit=_UNLIMITED,
        now=admitted,  # it expires a TTL after its admission, as it would have
        owner=owner_uid(target.object.get("metadata") or {}),
        pods=int(target.template.pods),
    ).fits


_UNLIMITED = Decimal("Infinity")


def _group(config: models.Budget, target: Target) -> str | None:
    """The group `target` is charged to (`check` spells this out on its path)."""
    if config.group_by == "namespace":
        return target.namespace
    assert config.label is not None  # the model requires it for groupBy: label
    return target.labels.get(config.label) or target.namespace_labels.get(config.label)


def hold(reservation: Reservation, reservations: Reservations, *, now: datetime) -> Finding | None:
    """Hold a reservation checked earlier (several budget rules: `Hold` "later"); the
    finding that denies it should the room have gone since."""
    fits = reservations.reserve(
        budget=reservation.budget,
        group=reservation.group,
        key=reservation.key,
        amount=reservation.amount,
        limit=reservation.limit,
        now=now,
        owner=reservation.owner,
        pods=reservation.pods,
    ).fits
    return None if fits else _refused(reservation.describe())


def _refused(what: str) -> Finding:
    return Finding("reservation", what, _REFUSED_FIX)


_NO_SPEND = BudgetSpend(_ZERO, _ZERO)


class _Standing(NamedTuple):
    """A group's figures for one snapshot and rule, and the period they fall in (its end
    does not move while `now` stays in [since, until), UTC)."""

    config: models.Budget
    spend: BudgetSpend
    cap: Decimal
    warn_above: Decimal
    """cap × warnAt."""
    since: datetime
    until: datetime


class _Figures(NamedTuple):
    """A group's figures at whole seconds left in the period: the same for every `now` in
    (after, upto] (UTC), while the spend data is fresh. One flat record, so that a review
    finding it reads its fields without a second lookup."""

    standing: _Standing
    config: models.Budget
    """`standing.config`: the rule object the figures were worked out for."""
    after: datetime
    upto: datetime
    """Never past the moment the spend data turns stale."""
    server_stale_after: timedelta
    """The server's staleness bound `upto` was worked out with (`Context.spend_stale_after`;
    the rule's own `staleAfter` goes with the rule)."""
    left: Decimal
    """Hours left in the period."""
    committed: Decimal
    """What runs now, until the period ends."""
    base: Decimal
    """spent + committed: the projection before reservations and the workload."""
    limit: Decimal
    """cap − spent − committed: room for reservations and the workload."""
    warn_above: Decimal
    """`standing.warn_above`: cap × warnAt."""


_STANDINGS: tuple[SpendSnapshot, dict[tuple[str, str], _Figures]] = (EMPTY_SPEND, {})
"""The current snapshot's figures by (rule, group); a new snapshot starts afresh."""
_MAX_STANDINGS = 4096
"""Groups are label values: a flood of made-up ones must not grow the cache for ever."""


def _standing(
    name: str,
    config: models.Budget,
    group: str,
    cap: Decimal,
    snapshot: SpendSnapshot,
    now: datetime,
    held: _Figures | None,
    *,
    fresh: tuple[datetime, timedelta],
) -> _Figures:
    """The group's figures at `now` (`held`: what the group had, if anything), kept for the
    reviews of the same snapshot and second; `fresh`: until when the data is fresh, and the
    server's staleness bound that says so."""
    global _STANDINGS
    cached, standings = _STANDINGS
    if cached is not snapshot or len(standings) >= _MAX_STANDINGS:
        # One tuple swapped whole: a thread racing this one sees the old pair or the new.
        standings = {}
        _STANDINGS = (snapshot, standings)
    standing = held.standing if held is not None and held.config is config else None
    if standing is None or not standing.since <= now < standing.until:
        since, until, _ = _period(now, config.period, config.timezone)
        spend = snapshot.budgets[name].get(group) or _NO_SPEND
        standing = _Standing(config, spend, cap, cap * config.warn_at, since, until)
    spend, until = standing.spend, standing.until
    seconds = int((until - now).total_seconds())  # `now` lies before `until`: never < 0
    left = Decimal(seconds) / _HOUR
    committed = spend.run_rate_hourly * left
    held = standings[(name, group)] = _Figures(
        standing,
        config,
        # Every `now` in (after, upto] lies in the period, [since, until), and has the same
        # whole seconds left: int((until − now).total_seconds()) == seconds.
        max(until - timedelta(0, seconds + 1), standing.since - _INSTANT),
        min(until - timedelta(0, seconds), until - _INSTANT, fresh[0]),
        fresh[1],
        left,
        committed,
        spend.spent + committed,
        cap - spend.spent - committed,
        standing.warn_above,
    )
    return held


def _scope(config: models.Budget, group: str) -> str:
    return f"{config.label}={group}" if config.group_by == "label" else f"namespace {group}"


@dataclass(frozen=True, slots=True)
class _Terms:
    """One decision's figures; formatted only when a finding or a refusal needs them."""

    standing: _Standing
    figures: _Figures
    currency: str
    group: str
    reserved: Decimal
    expected: Decimal
    source: str
    workload: Decimal
    projected: Decimal
    hourly: Decimal

    def text(self) -> str:
        currency, standing = self.currency, self.standing
        return (
            f"spent {wording.money(standing.spend.spent, currency)} + run-rate "
            f"{wording.money(standing.spend.run_rate_hourly, currency)}/h × "
            f"{wording.hours(self.figures.left)} left = "
            f"{wording.money(self.figures.committed, currency)} + "
            f"reserved {wording.money(self.reserved, currency)} + this workload "
            f"{wording.money(self.hourly, currency)}/h × {wording.hours(self.expected)} "
            f"({self.source}) = {wording.money(self.workload, currency)} → "
            f"{wording.money(self.projected, currency)}"
        )

    def finding(self, key: str, action: str) -> Finding:
        config, currency, standing = self.standing.config, self.currency, self.standing
        scope = _scope(config, self.group)
        cap = wording.money(standing.cap, currency)
        if key == "cap":
            what = (
                f"{config.period}ly budget of {scope} would be exceeded: {self.text()} > cap {cap}"
            )
            finding_action: Action | None = None
        else:
            what = (
                f"{config.period}ly budget of {scope} is nearly used: {self.text()} > "
                f"{wording.number(config.warn_at * 100)} % of cap {cap}"
            )
            finding_action = "warn" if action != "dryrun" else "dryrun"
        return Finding(
            key=key,
            what=what,
            fix=(
                "lower replicas, GPUs or runtime (activeDeadlineSeconds or annotation "
                f"{EXPECTED_RUNTIME_ANNOTATION}), or wait for the next {config.period}"
            ),
            numbers={
                "group": self.group,
                "spent": str(standing.spend.spent),
                "run_rate_hourly": str(standing.spend.run_rate_hourly),
                "hours_left": str(self.figures.left),
                "reserved": str(self.reserved),
                "workload_hourly": str(self.hourly),
                "expected_hours": str(self.expected),
                "projected": str(self.projected),
                "cap": str(standing.cap),
            },
            action=finding_action,
        )

    def refused(self) -> str:
        config, currency = self.standing.config, self.currency
        return (
            f"{config.period}ly budget of {_scope(config, self.group)} is taken by "
            f"workloads admitted moments ago: {self.text()} fits, but the ledger refused "
            f"{wording.money(self.workload, currency)} against the cap "
            f"{wording.money(self.standing.cap, currency)}"
        )


def _stale(
    config: models.Budget,
    group: str,
    *,
    context: Context,
    stale_after: timedelta,
    action: str,
    missing: bool = False,
) -> Outcome:
    snapshot = context.spend
    scope = _scope(config, group)
    behaviour = config.on_stale_data or context.budget_stale_default
    if missing:
        how_old = "this budget's spend has not been fetched yet (added since the last refresh)"
    elif snapshot.fetched_at is None:
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
