"""`evaluate(request, *, policies, catalog, context) -> Verdict`: the whole engine, pure.

What a request is checked against (UPDATE semantics):

- CREATE of a Pod or workload: every matching rule (workloads through their pod template).
- UPDATE of a Pod: `requiredLabels` only, and only problems the old pod did not have. A
  pod's scheduling is fixed once created, so label edits are never blocked by scheduling
  rules.
- UPDATE of a workload whose pod template changed: every rule (`requiredLabels` reports only
  new problems); `budget` charges the increase in $/h.
- UPDATE of a workload with more pods at once (replicas, parallelism): `gpuLimits` per
  workload, and `budget` for the added pods. Fewer pods, or metadata only: nothing but
  `requiredLabels` (new problems only).
- `autoscaling/v1 Scale` (`kubectl scale`, subresource `scale`): the workload is looked up
  through `context.workloads` and priced at the new replica count, then judged as the UPDATE
  above. No lookup, unknown workload or scale-down: allowed.
- DELETE, CONNECT, other subresources and kinds that run no pods: allowed untouched.

`repair` answers /mutate's narrower question — which repairs the policies make (Spot
placement) and what the repaired object costs — running only the rules that repair. It
does not decide: /validate judges the repaired object, so a repair that some other rule
will deny is harmless (the API server stores nothing denied).

Each rule's findings become `Violation`s with the rule's action unless an exception waives
them: a label (`cost-exception=<ticket>` with an unexpired expiry annotation) or a
`PolicyException` object naming the rule. Budget rules are checked last (`_charge`), and
reserve in the ledger only when every other rule allowed; a dry run asks the ledger the
same question read-only. An exception waives a budget rule's finding, not the cost: what
fits is reserved either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from costwarden import estimating, workloads
from costwarden.catalog.models import Catalog
from costwarden.engine import budgeting, labelling, patching, scheduling, wording
from costwarden.engine.contexts import Context
from costwarden.engine.findings import NOTHING, Change, Finding, Outcome, Reservation, Target
from costwarden.engine.verdicts import (
    Action,
    Exempted,
    PatchOperation,
    Repair,
    Verdict,
    Violation,
)
from costwarden.estimating.estimates import HOURS_PER_MONTH, PodEstimate, WorkloadEstimate
from costwarden.policies import matching, models, sets
from costwarden.reviews import AdmissionRequest, read_review

ALLOWED = Verdict(allowed=True)
UNREPAIRED = Repair()


def evaluate(
    request: AdmissionRequest,
    *,
    policies: sets.PolicySet,
    catalog: Catalog,
    context: Context,
) -> Verdict:
    """The verdict on one admission request (see the module docstring for what runs when).

    Raises `workloads.InvalidObject` for an object whose pod template is malformed.
    """
    if request.operation not in ("CREATE", "UPDATE"):
        return ALLOWED
    if request.sub_resource == "scale":
        return _evaluate_scale(request, policies=policies, catalog=catalog, context=context)
    if request.sub_resource or request.object is None:
        return ALLOWED  # status, binding, ...: not the object's spec
    new = _target(request.object, request=request, catalog=catalog, context=context)
    if new is None:
        return ALLOWED
    old = None
    if request.operation == "UPDATE" and request.old_object is not None:
        with _reading_old_object():
            old = _target(
                request.old_object, request=request, catalog=catalog, context=context, like=new
            )
    return _judge(
        new, old, policies=policies, catalog=catalog, context=context, operation=request.operation
    )


def repair(
    request: AdmissionRequest,
    *,
    policies: sets.PolicySet,
    catalog: Catalog,
    context: Context,
) -> Repair:
    """The repairs the policies make to the request's object, and its estimate once repaired.

    The same patches `evaluate` returns when it allows, from the rules that patch alone:
    labels inherited from the namespace (on CREATE) and Spot placement (for a new or changed
    pod spec, unless an exception waives it). A Scale changes no pod spec: nothing to repair
    or annotate, and no workload lookup. Raises `workloads.InvalidObject` for an object
    whose pod template is malformed.
    """
    if request.operation not in ("CREATE", "UPDATE") or request.object is None:
        return UNREPAIRED
    if request.sub_resource == "scale":
        workloads.scale_replicas(request.object)  # a malformed Scale is refused by both webhooks
    if request.sub_resource:
        return UNREPAIRED
    target = _target(request.object, request=request, catalog=catalog, context=context)
    if target is None:
        return UNREPAIRED
    creating = request.operation == "CREATE" or request.old_object is None
    subject = _subject(target, operation=request.operation)
    spec_changed: bool | None = None  # only worked out for a spot rule that applies
    patches: list[PatchOperation] = []
    for rule in policies.repairing_rules:
        if not rule.applies_to(subject):
            continue
        spec = rule.rule
        if spec.required_labels is not None:
            # On UPDATE the rule reports and patches nothing the old object had (see _check).
            if creating:
                patches.extend(labelling.check(spec.required_labels, target).patches)
            continue
        assert spec.spot is not None  # `repairing_rules` are spot and label rules
        if spec_changed is None:
            spec_changed = creating or _spec_changed(request, target)
        if not spec_changed:
            continue
        outcome = scheduling.check_spot(spec.spot, target, repair=True)
        if outcome.patches and _waiver(rule, target, subject=subject, policies=policies) is None:
            patches.extend(outcome.patches)
    if not patches:
        return Repair(estimate=target.estimate)
    merged = merge_patches(patches)
    repaired = _target(
        patching.apply(request.object, merged), request=request, catalog=catalog, context=context
    )
    return Repair(patches=merged, estimate=repaired.estimate if repaired else None)


def recall(
    pod: Mapping[str, Any],
    *,
    admitted: datetime,
    policies: sets.PolicySet,
    catalog: Catalog,
    context: Context,
) -> int:
    """Hold again in `context.reservations` what a pod admitted at `admitted` holds in the
    budgets whose rules apply to it; how many hold it. `pod` is as the API server stores
    it (a list's item: no `kind`).

    The ledger is in memory: a replica that starts (a restart, a rollout, one more replica)
    knows nothing of what was admitted in the minutes before, and the spend data does not
    show it yet. The pod watch's first list tells: each pod made within a TTL is held as a
    pod charged itself would have been, until the spend data shows it, it is deleted or
    the TTL from its admission passes. A controller's pod holds its own share of what its
    workload held: a Deployment's pod, the rest of the period, as its Deployment did for
    it; a Job's pods do not carry its `activeDeadlineSeconds`, so they hold the rest of
    the period or the runtime they state, more than their Job did, until they show.
    """
    reservations = context.reservations
    if reservations is None or not policies.budget_rules:
        return 0
    request = request_for({**pod, "apiVersion": "v1", "kind": "Pod"}, uid="costwarden-recall")
    assert request.object is not None
    target = _target(request.object, request=request, catalog=catalog, context=context)
    if target is None:
        return 0
    subject = _subject(target, operation="CREATE")
    return sum(
        budgeting.recall(
            rule.name, rule.rule.budget, target, reservations=reservations, admitted=admitted
        )
        for rule in policies.budget_rules
        if rule.rule.budget is not None and rule.applies_to(subject)
    )


def _spec_changed(request: AdmissionRequest, new: Target) -> bool:
    """Whether an UPDATE brings a new pod spec to schedule (as `_change` decides, without
    pricing the old object)."""
    if new.kind == "Pod":
        return False  # a Pod's spec is fixed once created
    assert request.old_object is not None  # `repair` asks only for an UPDATE with one
    with _reading_old_object():
        old = workloads.pod_template(request.old_object)
    return old is None or new.template.spec != old.spec


@contextmanager
def _reading_old_object() -> Iterator[None]:
    """An error in the old object is named as the old object's (`oldObject`, not `object`)."""
    try:
        yield
    except workloads.InvalidObject as exc:
        raise workloads.InvalidObject(exc.message, exc.path, field="oldObject") from None


def _evaluate_scale(
    request: AdmissionRequest, *, policies: sets.PolicySet, catalog: Catalog, context: Context
) -> Verdict:
    replicas = workloads.scale_replicas(request.object or {})
    if context.workloads is None or replicas is None or not request.namespace:
        return ALLOWED
    found = context.workloads.workload(
        group=request.resource.group,
        resource=request.resource.resource,
        namespace=request.namespace,
        name=request.name or "",
    )
    if found is None:
        return ALLOWED
    old = _target(found, request=request, catalog=catalog, context=context)
    if old is None:
        return ALLOWED
    try:
        before = workloads.scale_replicas(request.old_object or {})
    except workloads.InvalidObject:  # the stored Scale, not the caller's: price it as found
        before = None
    if before is not None:
        old = _scaled(old, before)
    new = _scaled(old, replicas)
    return _judge(
        new,
        old,
        policies=policies,
        catalog=catalog,
        context=context,
        operation="UPDATE",
        scale=True,
    )


def _scaled(target: Target, replicas: int) -> Target:
    template = workloads.with_replicas(target.template, replicas)
    estimate = target.estimate._replace(pods=template.pods, assumptions=template.assumptions)
    return target._replace(template=template, estimate=estimate)


def _target(
    obj: Mapping[str, Any],
    *,
    request: AdmissionRequest,
    catalog: Catalog,
    context: Context,
    like: Target | None = None,
) -> Target | None:
    """The target of `obj`; `like` (the new object, for an old one) lends its pod estimate
    when the pod spec and annotations are the same — most UPDATEs change labels, replicas or
    rollout bookkeeping, and comparing two specs costs far less than pricing one."""
    template = workloads.pod_template(obj)
    if template is None:
        return None
    namespace = template.namespace or request.namespace
    if like is not None and _same_pods(template, like.template):
        estimate = WorkloadEstimate(
            kind=template.kind,
            name=template.name,
            namespace=namespace,
            pod=like.estimate.pod,
            pods=template.pods,
            assumptions=template.assumptions,
        )
    else:
        estimate = estimating.estimate_template(template, catalog=catalog)
        if estimate.namespace != namespace:
            estimate = estimate._replace(namespace=namespace)
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    controller = next(
        (
            str(o.get("kind"))
            for o in owners
            if isinstance(o, workloads.JSON_OBJECT) and o.get("controller")
        ),
        None,
    )
    if controller is not None and not made_by_controller(request):
        controller = None  # anyone may write an owner reference: see `made_by_controller`
    namespace_labels = (context.namespaces.labels_for(namespace) if namespace else None) or {}
    return Target(
        kind=template.kind,
        name=template.name,
        namespace=namespace,
        object=obj,
        template=template,
        labels=template.metadata.get("labels") or {},
        namespace_labels=namespace_labels,
        estimate=estimate,
        controller=controller,
        dry_run=request.dry_run,
        uid=request.uid,
        now=context.now,
    )


CONTROLLER_MANAGER_USERS = ("system:kube-controller-manager",)
CONTROLLER_ACCOUNTS = "system:serviceaccount:kube-system:"


def made_by_controller(request: AdmissionRequest) -> bool:
    """Whether the request comes from Kubernetes' own controllers (kube-controller-manager,
    by its own name or a `kube-system` service account such as `replicaset-controller`).

    An object's controller owner reference is believed only then: the API server accepts
    an owner reference to anything, and a pod claiming a ReplicaSet would otherwise skip
    its budget (charged with its owner) and, claiming a DaemonSet, the GPU-node rule —
    until the garbage collector found the owner missing. A request without a user (the
    offline `check`) is a user's `kubectl apply`: its owner references are not believed.
    """
    user = (request.user_info or {}).get("username")
    return isinstance(user, str) and (
        user.startswith(CONTROLLER_ACCOUNTS) or user in CONTROLLER_MANAGER_USERS
    )


def _same_pods(template: workloads.PodTemplate, other: workloads.PodTemplate) -> bool:
    """Whether one pod of each is priced the same: `estimate_pod` reads only the spec and
    the annotations."""
    return template.spec == other.spec and template.metadata.get(
        "annotations"
    ) == other.metadata.get("annotations")


def _change(new: Target, old: Target | None, *, scale: bool) -> Change:
    pods = new.template.pods
    if old is None:
        return Change(
            spec_changed=True,
            scaled_up=True,
            delta_hourly=new.estimate.hourly.total,
            pods=int(pods),
        )
    spec_changed = not scale and new.kind != "Pod" and new.template.spec != old.template.spec
    if new.estimate.pod.hourly.total == old.estimate.pod.hourly.total:
        pods = max(pods - old.template.pods, _NO_PODS)  # only the added pods cost more
    return Change(
        spec_changed=spec_changed,
        scaled_up=new.template.pods > old.template.pods,
        delta_hourly=new.estimate.hourly.total - old.estimate.hourly.total,
        existing=True,
        pods=int(pods),
    )


_NO_PODS = Decimal(0)


def _judge(
    new: Target,
    old: Target | None,
    *,
    policies: sets.PolicySet,
    catalog: Catalog,
    context: Context,
    operation: str,
    scale: bool = False,
) -> Verdict:
    change = _change(new, old, scale=scale)
    subject = _subject(new, operation=operation)
    tally = _Tally(new, subject, policies)
    for rule in policies.checked_rules:
        if not rule.applies_to(subject):
            continue
        outcome = _check(rule, new, old, change=change, context=context, catalog=catalog)
        if outcome is not NOTHING:
            tally.take(rule, outcome)
    budgets = [rule for rule in policies.budget_rules if rule.applies_to(subject)]
    if budgets:
        _charge(budgets, new, tally, change=change, context=context)
    allowed = not tally.denied
    return Verdict(
        allowed=allowed,
        violations=tuple(tally.violations),
        exempted=tuple(tally.exempted),
        notices=(estimate_line(new.estimate), *tally.notices),
        patches=merge_patches(tally.patches) if allowed and tally.patches else (),
        estimate=new.estimate,
    )


class _Tally:
    """What the rules say about one request, in the order they say it."""

    __slots__ = (
        "denied", "exempted", "notices", "patches", "policies", "subject", "target", "violations",
    )  # fmt: skip

    def __init__(self, target: Target, subject: matching.Subject, policies: sets.PolicySet):
        self.target = target
        self.subject = subject
        self.policies = policies
        self.violations: list[Violation] = []
        self.denied = False
        """A violation denies: the request is not allowed."""
        self.exempted: list[Exempted] = []
        self.patches: list[PatchOperation] = []
        self.notices: list[str] = []

    def take(self, rule: sets.CompiledRule, outcome: Outcome) -> None:
        """A rule's outcome: its findings, unless an exception waives the rule."""
        findings = outcome.findings
        if findings or (outcome.patches and rule.rule.spot is not None):
            waiver = _waiver(rule, self.target, subject=self.subject, policies=self.policies)
            if waiver is not None:
                self.exempted.append(waiver)
                return
        for finding in findings:
            self.add(rule, finding)
        if rule.rule.action != "dryrun":
            self.patches.extend(outcome.patches)
        if outcome.notices:
            self.notices.extend(f"[{rule.name}] {notice}" for notice in outcome.notices)

    def add(self, rule: sets.CompiledRule, finding: Finding) -> None:
        violation = _violation(rule, finding, self.target)
        self.violations.append(violation)
        self.denied = self.denied or violation.action == "deny"


def _charge(
    rules: list[sets.CompiledRule],
    target: Target,
    tally: _Tally,
    *,
    change: Change,
    context: Context,
) -> None:
    """The budget rules, after every other rule: only a request the others allow holds
    budget, and a dry run never does (it is checked the same, ledger included).

    One budget rule (the usual case) counts the group's reservations and holds this one
    in one step of the ledger. Several are each checked first, and held once none objects;
    should a hold then be refused (another admission took the room in between), the ones
    before it simply expire (the ledger's reconciliation): cheaper than a two-phase commit
    on the admission path. An exception waives a budget rule's finding, not the cost: an
    admitted workload holds what fits either way."""
    hold: budgeting.Hold = "no"
    if not target.dry_run and not tally.denied:
        hold = "now" if len(rules) == 1 else "later"
    held: list[tuple[sets.CompiledRule, Reservation]] = []
    for rule in rules:
        spec = rule.rule
        assert spec.budget is not None
        outcome = budgeting.check(
            rule.name, spec.budget, target, change=change, context=context, action=spec.action,
            hold=hold,
        )  # fmt: skip
        if outcome is NOTHING:
            continue
        tally.take(rule, outcome)
        if outcome.reservation is not None:
            held.append((rule, outcome.reservation))
    if not held or context.reservations is None or tally.denied:
        return
    for rule, reservation in held:
        refused = budgeting.hold(reservation, context.reservations, now=context.now)
        if refused is not None:
            tally.add(rule, refused)
            if tally.denied:
                return


def _subject(target: Target, *, operation: str) -> matching.Subject:
    return matching.Subject(
        kind=target.kind,
        operation=operation,
        namespace=target.namespace,
        namespace_labels=target.namespace_labels,
        labels=target.labels,
    )


def _check(
    rule: sets.CompiledRule,
    new: Target,
    old: Target | None,
    *,
    change: Change,
    context: Context,
    catalog: Catalog,
) -> Outcome:
    spec = rule.rule
    if spec.required_labels is not None:
        outcome = labelling.check(spec.required_labels, new)
        if old is None or not outcome.findings:
            return outcome if old is None else Outcome(notices=outcome.notices)
        # Grandfathered: report only what the old object did not already break.
        before = {f.key for f in labelling.check(spec.required_labels, old).findings}
        return Outcome(findings=tuple(f for f in outcome.findings if f.key not in before))
    if spec.gpu_limits is not None:
        return scheduling.check_gpu_limits(
            spec.gpu_limits,
            new,
            per_pod=change.spec_changed,
            per_workload=change.spec_changed or change.scaled_up,
        )
    if not change.spec_changed:
        return NOTHING
    if spec.spot is not None:
        return scheduling.check_spot(spec.spot, new, repair=True)
    if spec.size_envelope is not None:
        return scheduling.check_size(rule, new, catalog=catalog)
    assert spec.gpu_taint is not None
    return scheduling.check_gpu_taint(spec.gpu_taint, new)


def _violation(rule: sets.CompiledRule, finding: Finding, target: Target) -> Violation:
    action: Action = finding.action or rule.rule.action
    fix = f"{finding.fix} ({rule.rule.fix})" if rule.rule.fix else finding.fix
    hint = exception_hint(rule.rule, target)
    return Violation(
        policy=rule.policy,
        rule=rule.name,
        action=action,
        message=wording.message(rule.name, finding.what, f"{fix}; {hint}" if hint else fix),
        numbers=dict(finding.numbers),
    )


def exception_hint(rule: models.Rule, target: Target) -> str:
    """How to ask for an exception, with why a label that is present does not count."""
    label = rule.exceptions.label
    if label is not None:
        problem = _label_problem(label, target)
        if problem is not None:
            return problem
        return (
            f"or request an exception: label {label.key}=<ticket> with annotation "
            f"{label.expires_annotation}=<YYYY-MM-DD>"
        )
    if rule.exceptions.objects:
        return f"or request a PolicyException for rule {rule.name}"
    return ""


def _label_problem(label: models.LabelException, target: Target) -> str | None:
    value = target.label(label.key)
    if value is None:
        return None
    if label.value_pattern is not None and label.value_pattern.fullmatch(value) is None:
        return (
            f"exception label {label.key}={value} ignored: not a ticket "
            f"({label.value_pattern.pattern})"
        )
    expiry = _label_expiry(label, target)
    if isinstance(expiry, str):
        return f"exception label {label.key}={value} ignored: {expiry}"
    return None


def _label_expiry(label: models.LabelException, target: Target) -> datetime | str:
    raw = target.annotation(label.expires_annotation)
    if raw is None:
        return f"needs annotation {label.expires_annotation}=<YYYY-MM-DD>"
    try:
        expiry = models.parse_expiry(raw)
    except ValueError:
        return f"annotation {label.expires_annotation}={raw} is not a date"
    if expiry <= target.now:
        return f"expired {wording.day(expiry)}"
    if label.max_duration is not None and expiry - target.now > label.max_duration:
        days = label.max_duration // timedelta(days=1)
        return f"expiry {wording.day(expiry)} is more than {days} days ahead"
    return expiry


def _waiver(
    rule: sets.CompiledRule,
    target: Target,
    *,
    subject: matching.Subject,
    policies: sets.PolicySet,
) -> Exempted | None:
    label = rule.rule.exceptions.label
    if label is not None:
        value = target.label(label.key)
        if value is not None and _label_problem(label, target) is None:
            expiry = _label_expiry(label, target)
            assert isinstance(expiry, datetime)
            reason = target.annotation(label.reason_annotation) or f"ticket {value}"
            return Exempted(
                policy=rule.policy,
                rule=rule.name,
                exception=f"label {label.key}={value}",
                reason=f"{reason} (until {wording.day(expiry)})",
            )
    if rule.rule.exceptions.objects:
        for exception in policies.compiled_exceptions:
            if exception.waives(rule.name, subject=subject, name=target.name, now=target.now):
                return Exempted(
                    policy=rule.policy,
                    rule=rule.name,
                    exception=f"PolicyException {exception.name}",
                    reason=f"{exception.reason} (until {wording.day(exception.expires)})",
                )
    return None


def estimate_line(estimate: WorkloadEstimate) -> str:
    """One line (≤ 120 characters) for `kubectl`'s `Warning:` output."""
    where = f"{estimate.namespace}/{estimate.name}" if estimate.namespace else estimate.name
    return wording.clip(f"costwarden: {estimate.kind} {where} {_estimate_figures(estimate)}")


_FIGURES: dict[tuple[int, Decimal], tuple[PodEstimate, str]] = {}
"""(id of a pod estimate, pods) -> (that estimate, the line's figures). Pod estimates are
memoised by spec (`estimating`), so the pods of one workload share theirs and the figures
are formatted once. The estimate is held with its text: an id is never reused while the
entry lives."""
_MAX_FIGURES = 1024


def _estimate_figures(estimate: WorkloadEstimate) -> str:
    """`≈ $131.21/h ($95,783.30/month), 4× A100, p4d.24xlarge on-demand`: what the line says
    after the workload's name, which depends only on its pod estimate and pod count."""
    pod, pods = estimate.pod, estimate.pods
    key = (id(pod), pods)
    held = _FIGURES.get(key)
    if held is not None and held[0] is pod:
        return held[1]
    currency = pod.currency
    hourly = estimate.hourly.total  # a computed property: once, not once per figure
    parts = [
        f"≈ {wording.money(hourly, currency)}/h"
        f" ({wording.money(hourly * HOURS_PER_MONTH, currency)}/month)"
    ]
    if pods != 1:
        parts.append(f"{wording.number(pods)} pods × {wording.money(pod.hourly.total, currency)}/h")
    gpus = pod.requests.accelerator_devices
    if gpus:
        model = pod.placement.accelerator_model or "GPU"
        parts.append(f"{wording.number(gpus)}× {model}")
    placement = pod.placement.instance_type or ""
    parts.append(f"{placement} {pod.placement.capacity_type}".strip())
    figures = ", ".join(parts)
    if len(_FIGURES) >= _MAX_FIGURES:
        _FIGURES.clear()
    _FIGURES[key] = (pod, figures)
    return figures


def merge_patches(patches: list[PatchOperation]) -> tuple[PatchOperation, ...]:
    """Merge `add` operations that create the same map (two rules adding nodeSelector, say),
    which would otherwise overwrite each other."""
    merged: list[PatchOperation] = []
    for patch in patches:
        twin = next(
            (
                i
                for i, seen in enumerate(merged)
                if seen.op == "add"
                and patch.op == "add"
                and seen.path == patch.path
                and isinstance(seen.value, dict)
                and isinstance(patch.value, dict)
            ),
            None,
        )
        if twin is None:
            merged.append(patch)
        else:
            merged[twin] = PatchOperation("add", patch.path, {**merged[twin].value, **patch.value})
    return tuple(merged)


def request_for(
    obj: Mapping[str, Any],
    *,
    operation: str = "CREATE",
    old_object: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    uid: str = "costwarden-offline",
    default_namespace: str = "default",
    user: str | None = None,
) -> AdmissionRequest:
    """The AdmissionRequest the API server would send for a manifest (for `check`, `test`),
    made by `user` (None: no userInfo, as from a person nobody named)."""
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    kind = str(obj.get("kind", ""))
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):  # evaluating the object names what is wrong
        metadata = {}
    return read_review(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": uid,
                "kind": {"group": group, "version": version, "kind": kind},
                "resource": {"group": group, "version": version, "resource": f"{kind.lower()}s"},
                "name": _text(metadata.get("name")),
                "namespace": _text(metadata.get("namespace")) or default_namespace,
                "operation": operation,
                "object": dict(obj),
                "oldObject": dict(old_object) if old_object is not None else None,
                "dryRun": dry_run,
                "userInfo": None if user is None else {"username": user},
            },
        }
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
