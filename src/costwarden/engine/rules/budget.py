"""The `budget` rule kind: would admitting this workload push its group over the period's cap?

    projected = spent + run_rate_hourly × hours_left + reserved + workload_hourly × expected_hours

`spent` and `run_rate_hourly` come from the spend snapshot (background-refreshed, never
fetched here), `reserved` from the ledger (admitted cost not yet visible in spend data).
`expected_hours` is the Job's `activeDeadlineSeconds`, else the
`costwarden.io/expected-runtime` annotation (`6h`, `90m`), else the rule's
`defaultRuntime`, else the rest of the period — never more than the rest of the period.
projected > cap denies (per the rule's action); projected > warnAt × cap warns.
`workload_hourly` is the high end of the estimate's range (`charge: high`, the default) or
its low end (`charge: low`). A workload the catalog cannot price is denied, warned about or
allowed as `unpriced` says (deny by default: docs/budgets.md says why); warned or allowed,
it is charged what the catalog prices of it, a lower bound.

Who pays comes from trusted places (`group_of`): the namespace's label, which namespace
users cannot write, or a group the policy's `allowedGroups` lets the namespace's pods name;
anything else is refused, never a fresh budget (docs/budgets.md).

Budgets are charged once, at the top-level object: pods and ReplicaSets made by a
built-in controller were priced when their owner was admitted (a Deployment, a StatefulSet,
a Job). Pods of any other controller (PyTorchJob, RayCluster, ...) are charged themselves:
nothing priced their owner. An owner reference counts only when Kubernetes' controllers
sent the object (`evaluating.made_by_controller`); from anyone else it is a claim, and the
pod is charged.
Jobs made by a CronJob are charged at each run — that is when they start to cost; the
CronJob itself is checked for one run and reserves nothing.

The rule decides; it writes nothing. It asks the ledger what the group holds already and
returns what admitting would hold (`Outcome.reservations`); the caller commits the verdict's
reservations in one step of the ledger that checks them again under its lock, so no
admission slips in between — and only for a request that is allowed and not a dry run
(`sideEffects: NoneOnDryRun`). Budget rules are checked after every other rule.

All that does not depend on the review — a group's spend, cap and warn threshold, the
period's end, and the hours left with what they commit — is worked out once per snapshot,
rule and whole second left (`_standing`, kept in the caller's `Memos`), not per review.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Literal, NamedTuple

from pydantic import Field, model_validator

from costwarden import labels, periods, schedules, workloads
from costwarden.engine import wording
from costwarden.engine.contexts import Context, StaleBehaviour
from costwarden.engine.findings import NOTHING, Finding, Outcome, Target
from costwarden.engine.kinds import Head, Review, RuleKind
from costwarden.engine.ports import BudgetSpend, Reservation, SpendSnapshot
from costwarden.engine.specs import (
    Action,
    Duration,
    Money,
    SpecModel,
    Timezone,
    parse_duration,
)
from costwarden.memos import Memos
from costwarden.reservations import keys


class SpendQuery(SpecModel):
    """Where a budget's spend comes from in Prometheus (docs/budgets.md documents the
    default queries and their accuracy)."""

    source: Literal["costwarden", "opencost"] | None = None
    """Default queries over costwarden's own pod cost metric or OpenCost's metrics;
    None: the server's `--spend-source`."""
    run_rate: str | None = None
    """Custom PromQL for the committed $/h per group: an instant vector carrying the group
    label (`cost_centre`, `team` or `namespace`)."""
    spent: str | None = None
    """Custom PromQL for period-to-date spend per group; `{{range}}` (seconds since the
    period started) and `{{step}}` (the scrape step) are filled in."""


Charge = Literal["high", "low"]
"""Which end of an estimate's range a rule charges or compares."""
UnpricedBehaviour = Literal["deny", "warn", "allow"]
"""What a rule does with a workload the catalog cannot price."""


class Budget(SpecModel):
    """A spend cap per group (cost centre, team or namespace) per period."""

    group_by: Literal["label", "namespace"] = "label"
    label: str | None = labels.COST_CENTRE
    """The label whose value names the group. The namespace's label says who pays (the
    platform team sets it); a pod's own label may only name the same group or one that
    `allowedGroups` lists for its namespace."""
    allowed_groups: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Namespace name or glob -> the groups its pods may name with their own label instead
    of the namespace's (`"*"`: any group — the pod's label is then trusted as it is)."""
    period: Literal["month", "week"] = "month"
    timezone: Timezone = "UTC"
    caps: dict[str, Money] = Field(default_factory=dict)
    """Group value -> cap for the period, in the catalog's currency."""
    default_cap: Money | None = None
    """Cap for groups not in `caps`; None: a group not in `caps` is refused (nobody set a
    budget for it), never left uncapped."""
    warn_at: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.8")
    """Fraction of the cap above which admission warns."""
    on_stale_data: StaleBehaviour | None = None
    """Spend data older than `staleAfter` (or never fetched): deny, warn or allow.
    None: the server's `--budget-stale-default`."""
    stale_after: Duration | None = None
    """None: the server's `--spend-stale-after-seconds`."""
    default_runtime: Duration | None = None
    """Expected runtime when the object states none (no Job deadline, no
    `costwarden.io/expected-runtime` annotation); None: the rest of the period."""
    spend: SpendQuery | None = None
    """Where the spend comes from; None: the server's `--spend-source` default queries."""
    charge: Charge = "high"
    """Which end of an estimate's range is charged: `high` (the default: a budget is never
    overshot because a price was guessed low) or `low`."""
    unpriced: UnpricedBehaviour = "deny"
    """A workload the catalog cannot price (an instance type it does not list...): deny (the
    default: what cannot be priced cannot be charged, and a cap anyone passes by naming an
    uncatalogued type is none), warn or allow — both charge what the catalog prices of it."""

    @model_validator(mode="after")
    def _label_given(self) -> Budget:
        if self.group_by == "label" and not self.label:
            raise ValueError("groupBy: label needs `label` (e.g. cost-centre)")
        if not self.caps and self.default_cap is None:
            raise ValueError("set caps, defaultCap or both")
        spelt: dict[str, str] = {}
        for group in self.caps:
            other = spelt.setdefault(group.casefold(), group)
            if other != group:
                raise ValueError(f"caps {other!r} and {group!r} differ only in case")
        return self


EXPECTED_RUNTIME_ANNOTATION = schedules.EXPECTED_RUNTIME_ANNOTATION  # estimates read it too
_HOUR = Decimal(3600)
_INSTANT = timedelta(microseconds=1)
_ZERO = Decimal(0)
_REST = "rest of the period"
_JOBS = ("Job", "CronJob")
_NONE: Mapping[str, str] = MappingProxyType({})
_REFUSED_FIX = "retry shortly (reservations expire once spend data catches up)"


class Charging(NamedTuple):
    """A compiled budget rule: its spec, and the name and action its figures go under."""

    spec: Budget
    name: str
    action: Action


def compile_budget(spec: Budget, head: Head) -> Charging:
    return Charging(spec, head.name, head.action)


class Group(NamedTuple):
    """Who pays for a workload: a group, or why none can be charged."""

    name: str | None
    refused: Finding | None = None


def group_of(rule: Charging, target: Target) -> Group:
    """The group `target` is charged to, from trusted places only (docs/budgets.md).

    The namespace's label names it: namespace users cannot label namespaces. A pod's own
    label is a claim: it stands when it names the namespace's group, or one `allowedGroups`
    lists for the namespace; a group differing from a known one only in case is refused
    (spend is grouped by the exact value). Anything else is refused, never a fresh budget.
    """
    config = rule.spec
    if config.group_by == "namespace":
        return Group(target.namespace)
    label = config.label
    assert label is not None  # the model requires it for groupBy: label
    assigned = target.namespace_labels.get(label)
    if assigned is None and not target.namespace_known:
        return Group(None)  # who pays is not known here: not checked (`check`)
    claimed = target.labels.get(label)
    if claimed is None or claimed == assigned:
        return Group(assigned) if assigned is not None else _nobody(rule, target)
    allowed = _allowed(config, target.namespace)
    known = [g for g in (assigned, *allowed, *config.caps) if g is not None and g != "*"]
    spelt = next((g for g in known if g.casefold() == claimed.casefold()), None)
    if spelt is not None and spelt != claimed:
        return Group(None, _case_variant(rule, claimed, spelt))
    if claimed in allowed or "*" in allowed:
        return Group(claimed)
    return Group(None, _not_allowed(rule, target, claimed, assigned, allowed))


def _allowed(config: Budget, namespace: str | None) -> tuple[str, ...]:
    """The groups `allowedGroups` lets pods of `namespace` name."""
    if namespace is None:
        return ()
    return tuple(
        group
        for pattern, groups in config.allowed_groups.items()
        if fnmatch.fnmatchcase(namespace, pattern)
        for group in groups
    )


def _ask_the_platform_team(rule: Charging, namespace: str | None, label: str) -> str:
    return (
        f"to charge another group, ask the platform team to set the namespace's {label} label "
        f"or to list the group for namespace {namespace} in rule {rule.name}'s allowedGroups"
    )


def _nobody(rule: Charging, target: Target) -> Group:
    label = rule.spec.label
    assert label is not None
    return Group(
        None,
        Finding(
            key="group:none",
            what=(
                f"nobody pays: namespace {target.namespace} has no {label} label and the pod "
                f"names no group it may charge"
            ),
            fix=f"the platform team labels namespace {target.namespace} with {label}=<group>",
            numbers={"namespace": str(target.namespace)},
        ),
    )


def _case_variant(rule: Charging, claimed: str, spelt: str) -> Finding:
    label = rule.spec.label
    return Finding(
        key="group:case",
        what=f"{label}={claimed} differs from the group {spelt} only in case",
        fix=f"write {label}: {spelt} (spend is grouped by the exact value)",
        numbers={"claimed": claimed, "group": spelt},
    )


def _not_allowed(
    rule: Charging,
    target: Target,
    claimed: str,
    assigned: str | None,
    allowed: tuple[str, ...],
) -> Finding:
    label, namespace = rule.spec.label, target.namespace
    assert label is not None
    groups = [g for g in (assigned, *allowed) if g is not None]
    if groups:
        may = ", ".join(groups)
        what = f"{label}={claimed} is not a group namespace {namespace} may charge ({may})"
    else:
        what = (
            f"{label}={claimed} is a claim nothing backs: namespace {namespace} has no {label} "
            f"label and allowedGroups lists no group for it"
        )
    if assigned is not None:
        fix = f"remove the pod's {label} label (the namespace's {assigned} applies)"
    elif groups:
        fix = f"set {label} to {' or '.join(groups)}"
    else:
        fix = f"the platform team labels namespace {namespace} with {label}=<group>"
    return Finding(
        key="group:claimed",
        what=what,
        fix=f"{fix}; {_ask_the_platform_team(rule, namespace, label)}",
        numbers={"claimed": claimed, "namespace_group": assigned or ""},
    )


def expected_runtime(config: Budget, target: Target, *, left: Decimal) -> tuple[Decimal, str]:
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
            duration = parse_duration(annotation)
        except ValueError:
            duration = None
        if duration is not None and duration > timedelta(0):
            hours = Decimal(int(duration.total_seconds())) / _HOUR
            return _within(hours, EXPECTED_RUNTIME_ANNOTATION, left)
    if config.default_runtime is not None:
        hours = Decimal(int(config.default_runtime.total_seconds())) / _HOUR
        return _within(hours, "the rule's defaultRuntime", left)
    return left, _REST


def _within(hours: Decimal, source: str, left: Decimal) -> tuple[Decimal, str]:
    return (left, _REST) if hours > left else (hours, source)


def _states_runtime(config: Budget, target: Target) -> bool:
    """Whether the workload could state a runtime: most do not, and run for the rest of the
    period; a glance at where one could be stated settles it without reading each."""
    template = target.template
    return (
        target.kind in _JOBS
        or config.default_runtime is not None
        or "activeDeadlineSeconds" in template.spec
        or EXPECTED_RUNTIME_ANNOTATION
        in ((target.object.get("metadata") or _NONE).get("annotations") or _NONE)
        or EXPECTED_RUNTIME_ANNOTATION in (template.metadata.get("annotations") or _NONE)
    )


def check(rule: Charging, review: Review) -> Outcome:
    target = review.target
    if target.controller in workloads.CHARGED_WITH_OWNER:
        return NOTHING
    config = rule.spec
    hourly = charged_hourly(config, review)
    unpriced = _unpriced_added(review)
    claims = _shared_claims(config, review)
    group, refused = group_of(rule, target)
    # Relabelling a running object moves its spend to the group it names (spend is grouped by
    # the pods' labels): such an UPDATE is judged as a claim even though it adds no cost.
    adds = hourly > _ZERO or unpriced or bool(claims)
    if refused is not None and (adds or _relabelled(config, review)):
        return Outcome(findings=(refused,))
    if not adds:
        return NOTHING
    if group is None:
        if not target.namespace_known:
            return Outcome(notices=(f"budget not checked: {_UNKNOWN_LABELS}",))
        return NOTHING
    if not unpriced:
        return _charge(rule, review, group, hourly, claims)
    said = _unpriced(rule, group, review.target, hourly)
    if config.unpriced == "deny" or (hourly <= _ZERO and not claims):
        return said
    charged = _charge(rule, review, group, hourly, claims)
    return charged._replace(
        findings=(*said.findings, *charged.findings), notices=(*said.notices, *charged.notices)
    )


def charged_hourly(config: Budget, review: Review) -> Decimal:
    """The $/h the request adds, at the end of the range the rule charges."""
    if config.charge == "high":
        return review.change.delta_hourly
    before = _ZERO if review.old is None else review.old.estimate.low_hourly.total
    return review.target.estimate.low_hourly.total - before


class _Claim(NamedTuple):
    """A shared ResourceClaim the request charges: its key, its name, its $/h."""

    key: str
    name: str
    hourly: Decimal


def _shared_claims(config: Budget, review: Review) -> tuple[_Claim, ...]:
    """The shared ResourceClaims the request's pods name, each once, at the end of their
    range the rule charges — but those the object's running pods named already: a
    relabel or a new image of a workload using a claim adds no device. (A workload scaled
    up from no pods starts using its claims: they are charged.) Their devices are in no
    pod's figures: a claim is charged with whichever pod names it, under its own key, so a
    second pod naming it holds it again in its place, never twice
    (`reservations.keys.claim_key`)."""
    named = review.target.estimate.pod.shared_claims
    if not named:
        return ()
    old = review.old
    before = set() if old is None or not old.template.pods else {
        (c.namespace, c.name) for c in old.estimate.pod.shared_claims
    }  # fmt: skip
    charged: dict[str, _Claim] = {}
    for claim in named:
        hourly = claim.high if config.charge == "high" else claim.low
        if (claim.namespace, claim.name) in before or hourly <= _ZERO:
            continue
        key = keys.claim_key(claim.namespace, claim.name)
        charged.setdefault(key, _Claim(key, claim.name, hourly))
    return tuple(charged.values())


def _unpriced_added(review: Review) -> bool:
    """Whether the request adds pods the catalog cannot price: a new object, a new pod spec,
    more pods, or a pod grown in place (a relabel adds none)."""
    if not review.target.estimate.unpriced:
        return False
    change = review.change
    return review.old is None or change.spec_changed or change.scaled_up or change.resized_up


def _unpriced(rule: Charging, group: str, target: Target, hourly: Decimal) -> Outcome:
    """What the rule says of a workload the catalog cannot price, as `unpriced` says."""
    config = rule.spec
    scope = _scope(config, group)
    estimate = target.estimate
    reasons = wording.unpriced(estimate.unpriced)
    known = wording.money(hourly, estimate.pod.currency)
    if config.unpriced == "allow":
        return Outcome(
            notices=(
                f"budget of {scope} charges only what the catalog prices ({known}/h), {reasons}",
            )
        )
    if config.unpriced == "deny":
        what = f"{config.period}ly budget of {scope} cannot charge this workload: {reasons}"
        action: Action | None = None
    else:
        what = (
            f"{config.period}ly budget of {scope} charges only what the catalog prices of this "
            f"workload ({known}/h, a lower bound): {reasons}"
        )
        action = "dryrun" if rule.action == "dryrun" else "warn"
    return Outcome(
        findings=(
            Finding(
                key="unpriced",
                what=what,
                fix=f"{wording.ADD_A_PRICE}; or ask the platform team to set unpriced: warn "
                f"in rule {rule.name}",
                numbers={"unpriced": "; ".join(estimate.unpriced), "behaviour": config.unpriced},
                action=action,
            ),
        )
    )


def _charge(
    rule: Charging, review: Review, group: str, hourly: Decimal, claims: tuple[_Claim, ...]
) -> Outcome:
    """The group's projection with the workload charged at `hourly`, and the shared claims
    it names at theirs."""
    target, change, context = review.target, review.change, review.context
    config, name = rule.spec, rule.name
    now = context.now
    figures = _figures(rule, group, context)
    if isinstance(figures, Outcome):
        return figures  # no cap (NOTHING), or data too stale to judge
    # The same object may already hold a reservation (the API server retries, a namesake
    # re-created): it is replaced on admission, so it must not count against itself. An
    # object named only by `generateName` has no name yet: its request uid tells it apart
    # from its siblings. A change of an existing object holds what it adds beside what the
    # object holds, under its request's uid too.
    metadata = target.object.get("metadata") or _NONE
    key = keys.object_key(target.namespace, target.kind, metadata.get("name") or target.uid)
    if change.existing:
        key = keys.change_key(key, target.uid)
    if _states_runtime(config, target):
        expected, source = expected_runtime(config, target, left=figures.left)
    else:
        expected, source = figures.left, _REST
    workload = hourly * expected
    claimed = sum((claim.hourly * expected for claim in claims), _ZERO)
    charged = target.kind != "CronJob"  # checked for one run; its Jobs hold their own
    reservations = context.reservations
    if reservations is None:
        reserved, fits = _ZERO, True
    else:
        reserved, fits = reservations.ask(
            budget=name, group=group, key=key, amount=workload + claimed, limit=figures.limit,
            now=now, with_keys=[claim.key for claim in claims],
        )  # fmt: skip
    projected = figures.base + reserved + workload + claimed

    def terms() -> _Terms:  # formatted only when something is said
        return _Terms(
            figures, target.estimate.pod.currency, group, reserved, expected, source,
            workload, projected, hourly, _end_charged(config, target), claims, claimed,
        )  # fmt: skip

    def refusal() -> Finding:
        return terms().refusal()

    def held(key: str, amount: Decimal, owner: str | None, pods: int) -> Reservation:
        return Reservation(
            budget=name, group=group, key=key, amount=amount, limit=figures.limit,
            owner=owner, pods=pods, at=now, enforced=rule.action == "deny",
        )  # fmt: skip

    holds: tuple[Reservation, ...] = ()
    if charged:
        if hourly > _ZERO or not claims:  # a pod adding only a shared claim holds only it
            holds = (held(key, workload, keys.owner_uid(metadata), change.pods),)
        holds += tuple(held(claim.key, claim.hourly * expected, None, 1) for claim in claims)
    if projected > figures.standing.cap:
        return Outcome(findings=(terms().finding("cap", rule.action),))
    if not fits and charged:
        # Under the cap, but the ledger's share for this replica is taken.
        return Outcome(findings=(refusal(),))
    if projected <= figures.warn_above:
        return Outcome(reservations=holds, refusal=refusal)
    return Outcome(
        findings=(terms().finding("warn", rule.action),),
        reservations=holds,
        refusal=refusal,
    )


def _end_charged(config: Budget, target: Target) -> str:
    """Which end of a range the workload is charged at, in words (`` without a range)."""
    estimate = target.estimate
    if not estimate.pod.ranged:
        return ""
    span = wording.price_range(
        estimate.low_hourly.total, estimate.hourly.total, estimate.pod.currency
    )
    return f" (the {config.charge} end of {span}/h)"


def _relabelled(config: Budget, review: Review) -> bool:
    """Whether an UPDATE changes the label that names the group."""
    old = review.old
    return (
        config.group_by == "label"
        and old is not None
        and old.labels.get(config.label or "") != review.target.labels.get(config.label or "")
    )


def recall(rule: Charging, target: Target, *, admitted: datetime) -> Reservation | None:
    """What a pod admitted at `admitted` holds, as `check` reserved it then (its group, its
    key and uid, its expected hours at that time), whether or not it fits: it was admitted.
    A restarted replica's ledger starts empty, and what was admitted in the minutes before
    is not in the spend data yet (`evaluating.recall`). None when the rule has no group or
    no cap to charge."""
    config = rule.spec
    group = group_of(rule, target).name
    if group is None or config.caps.get(group, config.default_cap) is None:
        return None
    left = periods.hours_left(admitted, period=config.period, timezone=config.timezone)
    expected, _ = expected_runtime(config, target, left=left)
    return Reservation(
        budget=rule.name,
        group=group,
        key=keys.object_key(target.namespace, target.kind, target.name),
        amount=_hourly_of(config, target) * expected,
        limit=_UNLIMITED,
        owner=keys.owner_uid(target.object.get("metadata") or _NONE),
        pods=int(target.template.pods),
        at=admitted,  # it expires a TTL after its admission, as it would have
        enforced=False,
    )


def _hourly_of(config: Budget, target: Target) -> Decimal:
    estimate = target.estimate
    return (estimate.hourly if config.charge == "high" else estimate.low_hourly).total


_UNKNOWN_LABELS = (
    "the namespace's labels, which say who pays, are unknown "
    "(give them with --namespace-labels or a Namespace object)"
)
_UNLIMITED = Decimal("Infinity")
_NO_SPEND = BudgetSpend(_ZERO, _ZERO)


class _Standing(NamedTuple):
    """A group's figures for one snapshot and rule, and the period they fall in (its end
    does not move while `now` stays in [since, until), UTC)."""

    snapshot: SpendSnapshot
    config: Budget
    spend: BudgetSpend
    cap: Decimal
    warn_above: Decimal
    """cap × warnAt."""
    since: datetime
    until: datetime


class _Figures(NamedTuple):
    """A group's figures at whole seconds left in the period: the same for every `now` in
    (after, upto] (UTC), while the spend data is fresh."""

    standing: _Standing
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


def _figures(rule: Charging, group: str, context: Context) -> _Figures | Outcome:
    """The group's figures at `context.now`, from the memo when they still hold; an Outcome
    when there is nothing to compare (no cap) or the data cannot be trusted (stale)."""
    config, name = rule.spec, rule.name
    now, snapshot, memo = context.now, context.spend, context.memos.budgets
    held: _Figures | None = memo.get((name, group))
    # Held figures are for one snapshot, one rule object (a policy reload keeps the snapshot,
    # not the caps) and one server staleness bound, and hold for the second they were
    # worked out for, while the data is fresh.
    if (
        held is not None
        and held.standing.snapshot is snapshot
        and held.standing.config is config
        and held.server_stale_after is context.spend_stale_after
        and held.after < now <= held.upto
    ):
        return held
    cap = config.caps.get(group, config.default_cap)
    if cap is None:
        return _no_budget(rule, group)
    stale_after = config.stale_after or context.spend_stale_after
    fetched_at = snapshot.fetched_at
    if fetched_at is None or now - fetched_at > stale_after:
        return _stale(rule, group, context=context, stale_after=stale_after)
    if name not in snapshot.budgets:
        # Fetched data without this budget: added by a policy reload since the last refresh.
        # Not fetched is not "nothing spent" — only a group missing from a fetched budget is.
        return _stale(rule, group, context=context, stale_after=stale_after, missing=True)
    standing = held.standing if held is not None else None
    if (
        standing is None
        or standing.snapshot is not snapshot
        or standing.config is not config
        or not standing.since <= now < standing.until
    ):
        since, until = _period(now, config, context.memos)
        spend = snapshot.budgets[name].get(group) or _NO_SPEND
        standing = _Standing(snapshot, config, spend, cap, cap * config.warn_at, since, until)
    spend, until = standing.spend, standing.until
    seconds = int((until - now).total_seconds())  # `now` lies before `until`: never < 0
    left = Decimal(seconds) / _HOUR
    committed = spend.committed(left)
    figures = _Figures(
        standing,
        # Every `now` in (after, upto] lies in the period, [since, until), and has the same
        # whole seconds left: int((until − now).total_seconds()) == seconds.
        max(until - timedelta(0, seconds + 1), standing.since - _INSTANT),
        min(until - timedelta(0, seconds), until - _INSTANT, fetched_at + stale_after),
        context.spend_stale_after,
        left,
        committed,
        spend.projected(left),
        cap - spend.projected(left),
        standing.warn_above,
    )
    memo.put((name, group), figures)
    return figures


def _no_budget(rule: Charging, group: str) -> Outcome:
    """A group nobody set a cap for: refused, never charged against a fresh budget."""
    scope = _scope(rule.spec, group)
    return Outcome(
        findings=(
            Finding(
                key="group:uncapped",
                what=f"{scope} has no budget in this rule (no cap, no defaultCap)",
                fix=(
                    f"charge a group that has one; or ask the platform team to add a cap "
                    f"for {group} (or a defaultCap) to rule {rule.name}"
                ),
                numbers={"group": group},
            ),
        )
    )


def _period(now: datetime, config: Budget, memos: Memos) -> tuple[datetime, datetime]:
    """[since, until): the minutes from `now`'s on for which the period's end, `until`, holds
    (UTC, so the usual UTC `now` compares without time-zone arithmetic). Periods turn at a
    local midnight, always a whole minute."""
    key = (config.period, config.timezone)
    held: tuple[datetime, datetime] | None = memos.periods.get(key)
    if held is not None and held[0] <= now < held[1]:
        return held
    since = now.replace(second=0, microsecond=0)
    end = periods.period_end(since, period=config.period, timezone=config.timezone)
    bounds = (since.astimezone(UTC), end.astimezone(UTC))
    memos.periods.put(key, bounds)
    return bounds


def _scope(config: Budget, group: str) -> str:
    return f"{config.label}={group}" if config.group_by == "label" else f"namespace {group}"


@dataclass(frozen=True, slots=True)
class _Terms:
    """One decision's figures; formatted only when a finding or a refusal needs them."""

    figures: _Figures
    currency: str
    group: str
    reserved: Decimal
    expected: Decimal
    source: str
    workload: Decimal
    projected: Decimal
    hourly: Decimal
    end: str
    """` (the high end of $1.00–$6.88/h)` when the estimate is a range, else ``."""
    claims: tuple[_Claim, ...]
    claimed: Decimal
    """What the shared claims are charged: their $/h × the expected hours."""

    def text(self) -> str:
        currency, spend = self.currency, self.figures.standing.spend
        claims = ""
        if self.claims:
            names = ", ".join(claim.name for claim in self.claims)
            claim_hourly = sum((claim.hourly for claim in self.claims), _ZERO)
            claims = (
                f" + shared claim{'s' if len(self.claims) > 1 else ''} {names} "
                f"{wording.money(claim_hourly, currency)}/h × {wording.hours(self.expected)} = "
                f"{wording.money(self.claimed, currency)}"
            )
        return (
            f"spent {wording.money(spend.spent, currency)} + run-rate "
            f"{wording.money(spend.run_rate_hourly, currency)}/h × "
            f"{wording.hours(self.figures.left)} left = "
            f"{wording.money(self.figures.committed, currency)} + "
            f"reserved {wording.money(self.reserved, currency)} + this workload "
            f"{wording.money(self.hourly, currency)}/h{self.end} × {wording.hours(self.expected)} "
            f"({self.source}) = {wording.money(self.workload, currency)}{claims} → "
            f"{wording.money(self.projected, currency)}"
        )

    def finding(self, key: str, action: str) -> Finding:
        standing, currency = self.figures.standing, self.currency
        config = standing.config
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
                "shared_claims_hourly": str(sum((c.hourly for c in self.claims), _ZERO)),
                "expected_hours": str(self.expected),
                "projected": str(self.projected),
                "cap": str(standing.cap),
            },
            action=finding_action,
        )

    def refusal(self) -> Finding:
        """Why admitting fails when the ledger refuses the reservation: the room went to
        workloads admitted moments ago."""
        config, currency = self.figures.standing.config, self.currency
        what = (
            f"{config.period}ly budget of {_scope(config, self.group)} is taken by "
            f"workloads admitted moments ago: {self.text()} fits, but the ledger refused "
            f"{wording.money(self.workload + self.claimed, currency)} against the cap "
            f"{wording.money(self.figures.standing.cap, currency)}"
        )
        return Finding("reservation", what, _REFUSED_FIX)


def _stale(
    rule: Charging,
    group: str,
    *,
    context: Context,
    stale_after: timedelta,
    missing: bool = False,
) -> Outcome:
    config, snapshot = rule.spec, context.spend
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
    finding_action: Action | None = (
        None if behaviour == "deny" else ("dryrun" if rule.action == "dryrun" else "warn")
    )
    return Outcome(
        findings=(
            Finding(
                key="stale",
                what=f"budget of {scope} cannot be checked: {how_old}",
                fix="retry once spend data is fresh (check the Prometheus connection)",
                numbers={"behaviour": behaviour},
                action=finding_action,
            ),
        )
    )


KIND = RuleKind(
    field="budget",
    spec=Budget,
    check=check,
    compile=compile_budget,
    updates=frozenset({"any"}),
    budget_phase=True,
)
