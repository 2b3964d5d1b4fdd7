"""The engine's loop, pure: targets -> matching rules -> outcomes -> verdict.

`evaluate` decides (/validate), `repair` answers /mutate's narrower question — which repairs
the policies make and what the repaired object costs — and `recall` says what a pod admitted
before this replica started holds in budgets. None of them writes anything: a verdict says
what admitting would hold (`Verdict.holds`) and the caller commits it to the ledger.

What a request is checked against (UPDATE semantics):

- CREATE of a Pod or workload: every matching rule (workloads through their pod template).
- UPDATE: the rules whose kind looks at this change (`RuleKind.updates`): a new pod spec
  (a workload's template changed), more pods at once (replicas, parallelism), a running
  pod grown in place (`resize`), or any UPDATE. A pod's spec is otherwise fixed once
  created: a Pod UPDATE changes no spec. A grandfathered kind (required labels) reports
  only what the old object did not already break, and patches nothing.
- `pods/resize` (subresource `resize`, Kubernetes 1.33+): the whole Pod with its new
  `resources`, judged as the UPDATE above. One that grows the pod's CPU, memory or $/h is
  seen by the kinds that look at a resize (the size envelope) as it is now, whatever the
  old pod already broke; budgets charge the $/h it adds (a shrink adds nothing).
- `autoscaling/v1 Scale` (`kubectl scale`, subresource `scale`): one that adds pods is
  priced at the new replica count on the workload looked up through `context.workloads`,
  then judged as the UPDATE above. When it cannot be priced — no lookup, or the lookup
  failed — `context.scale_lookup_failure` decides (deny, warn, or allow with a notice),
  never a silent allow. A workload that is not there (deleted since) scales nothing:
  allowed with a notice. A scale-down or no change adds no pod: allowed, no lookup.
- DELETE, CONNECT, other subresources and kinds that run no pods: allowed untouched.

Each rule's findings become `Violation`s with the rule's action unless an exception waives
them (`waivers`). Rules of a budget-phase kind come last; what they reserve is held only if
the verdict allows. An exception waives a budget rule's finding, not the cost: what fits is
reserved either way. `repair` runs only the rules that repair; it does not decide:
/validate judges the repaired object, so a repair some other rule will deny is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from costwarden import estimating, workloads
from costwarden.catalog.models import Catalog
from costwarden.engine import lines, patching, waivers, wording
from costwarden.engine.contexts import Context, LookupFailure
from costwarden.engine.findings import Change, Finding, Outcome, Target
from costwarden.engine.kinds import Review
from costwarden.engine.ports import LookupFailed, Reservation
from costwarden.engine.rules import budget
from costwarden.engine.verdicts import (
    NO_CHANGES,
    Action,
    Exempted,
    Hold,
    MergePatch,
    PatchOperation,
    Repair,
    Verdict,
    Violation,
)
from costwarden.estimating.estimates import WorkloadEstimate
from costwarden.policies import approving, matching, sets
from costwarden.reviews import AdmissionRequest, GroupVersionKind, request_for

ALLOWED = Verdict(allowed=True)
POLICY_EXCEPTION = GroupVersionKind("costwarden.io", "v1alpha1", "PolicyException")
APPROVAL = "policy-exception-approval"
"""The name denials of a PolicyException go under (`policies.approving`)."""
UNREPAIRED = Repair()
RESIZE = "resize"
"""The subresource of an in-place pod resize (`pods/resize`)."""
SCALE_LOOKUP = "scale-lookup"
"""The name a scale-up the engine could not price is reported under (`[scale-lookup] ...`,
metrics, logs), in policy `costwarden`: no rule of any policy, the server's own
`--scale-lookup-failure`."""


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
    if request.kind == POLICY_EXCEPTION:
        return _approval(request, policies=policies, context=context)
    if request.sub_resource == "scale":
        return _evaluate_scale(request, policies=policies, catalog=catalog, context=context)
    resize = request.sub_resource == RESIZE
    if (request.sub_resource and not resize) or request.object is None:
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
        new, old, policies=policies, catalog=catalog, context=context,
        operation=request.operation, resize=resize,
    )  # fmt: skip


def _approval(request: AdmissionRequest, *, policies: sets.PolicySet, context: Context) -> Verdict:
    """A PolicyException is an approval: admitted only as `policies.approving` allows."""
    assert request.object is not None  # the API server sends one on CREATE and UPDATE
    user = (request.user_info or {}).get("username")
    problems = approving.problems(request.object, user=user, policies=policies, now=context.now)
    violations = tuple(
        Violation(
            policy="costwarden",
            rule=APPROVAL,
            action="deny",
            message=wording.message(APPROVAL, problem, "fix it and apply again (docs/security.md)"),
        )
        for problem in problems
    )
    return Verdict(allowed=not violations, violations=violations)


def repair(
    request: AdmissionRequest,
    *,
    policies: sets.PolicySet,
    catalog: Catalog,
    context: Context,
) -> Repair:
    """The repairs the policies make to the request's object, and its estimate once repaired.

    The changes whose JSONPatch `evaluate` returns when it allows, from the rules that
    repair alone (labels inherited from the namespace on CREATE, Spot placement for a new
    pod spec), unless an exception waives them, as one merge patch of the object: /mutate
    adds its own changes before it turns them into JSONPatch. A Scale changes no pod spec:
    nothing to repair or annotate, and no workload lookup; a resize changes a running pod's
    resources, never its labels or placement: nothing to repair either. Raises
    `workloads.InvalidObject` for an object whose pod template is malformed.
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
    change: Change | None = _CREATED if creating else None  # worked out only if needed
    repairs: list[MergePatch] = []
    for rule in policies.repairing_rules.applying(subject):
        kind = rule.kind
        if not creating:
            if kind.grandfathered:
                continue  # on UPDATE such a rule patches nothing
            if change is None:
                change = _spec_change(request, target)
            if not kind.looks_at(change):
                continue
        review = Review(target, None, change or _CREATED, context, catalog)
        outcome = kind.check(rule.compiled, review)
        if outcome.patch and (
            not outcome.repairs_breach
            or waivers.waiver(rule, target, subject=subject, policies=policies) is None
        ):
            repairs.append(outcome.patch)
    carried = _exception_labels(target, policies)
    if carried:
        repairs.append(carried)
    if not repairs:
        return Repair(estimate=target.estimate)
    patch = patching.at(target.template.pointer, patching.combine(repairs))
    repaired = _target(
        patching.merge_patch(request.object, patch),
        request=request,
        catalog=catalog,
        context=context,
    )
    return Repair(patch=patch, estimate=repaired.estimate if repaired else None)


def _exception_labels(target: Target, policies: sets.PolicySet) -> MergePatch:
    """The exception labels a workload carries that its pod template lacks, as a patch of the
    template: an exception asked for on a Job covers the pods its controller makes, which
    are admitted on their own labels (as Kyverno's autogen carries rules to pod templates)."""
    if target.template.pointer == "":  # a Pod: its labels are its own
        return NO_CHANGES
    labels = (target.object.get("metadata") or {}).get("labels") or {}
    carried = {
        key: labels[key]
        for key in policies.exception_label_keys
        if isinstance(labels.get(key), str) and key not in target.labels
    }
    return {"metadata": {"labels": carried}} if carried else NO_CHANGES


def recall(
    pod: Mapping[str, Any],
    *,
    admitted: datetime,
    policies: sets.PolicySet,
    catalog: Catalog,
    context: Context,
) -> tuple[Reservation, ...]:
    """What a pod admitted at `admitted` holds in the budgets whose rules apply to it, for
    the caller to hold again. `pod` is as the API server stores it (a list's item: no
    `kind`).

    The ledger is in memory: a replica that starts (a restart, a rollout, one more replica)
    knows nothing of what was admitted in the minutes before, and the spend data does not
    show it yet. The pod watch's first list tells: each pod made within a TTL is held as a
    pod charged itself would have been, until the spend data shows it, it is deleted or
    the TTL from its admission passes. A controller's pod holds its own share of what its
    workload held: a Deployment's pod, the rest of the period, as its Deployment did for
    it; a Job's pods do not carry its `activeDeadlineSeconds`, so they hold the rest of
    the period or the runtime they state, more than their Job did, until they show.
    """
    budget_rules = policies.budget_rules
    if not budget_rules:
        return ()
    request = request_for({**pod, "apiVersion": "v1", "kind": "Pod"}, uid="costwarden-recall")
    assert request.object is not None
    target = _target(request.object, request=request, catalog=catalog, context=context)
    if target is None:
        return ()
    subject = _subject(target, operation="CREATE")
    held = (
        budget.recall(rule.compiled, target, admitted=admitted)
        for rule in budget_rules
        if rule.applies_to(subject)
    )
    return tuple(reservation for reservation in held if reservation is not None)


_CREATED = Change(spec_changed=True, scaled_up=True, delta_hourly=Decimal(0))
"""What `repair` knows of a CREATE: everything is new (it prices no change)."""


def _spec_change(request: AdmissionRequest, new: Target) -> Change:
    """Whether an UPDATE brings a new pod spec to schedule (as `_change` decides, without
    pricing the old object)."""
    if new.kind == "Pod":
        changed = False  # a Pod's spec is fixed once created
    else:
        assert request.old_object is not None  # `repair` asks only for an UPDATE with one
        with _reading_old_object():
            old = workloads.pod_template(request.old_object)
        changed = old is None or new.template.spec != old.spec
    return Change(spec_changed=changed, scaled_up=False, delta_hourly=Decimal(0), existing=True)


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
    if replicas is None or not request.namespace:
        return ALLOWED  # a Scale omits a zero: scaled to 0
    before = _replicas_before(request)
    if before is not None and replicas <= before:
        return ALLOWED  # no pod added: nothing to price, nothing to look up
    resource = request.resource.resource
    kind = _SCALED_KINDS.get(resource, resource)
    scale = f"scale of {kind} {request.namespace}/{request.name or '?'} to {replicas} replicas"
    if context.workloads is None:
        return _unpriced(
            scale,
            why="no workload lookup (costwarden serve runs without --in-cluster)",
            fix=f"run it with --in-cluster; or set spec.replicas on the {kind} itself",
            behaviour=context.scale_lookup_failure,
        )
    try:
        found = context.workloads.workload(
            group=request.resource.group,
            resource=resource,
            namespace=request.namespace,
            name=request.name or "",
        )
    except LookupFailed as failed:
        return _unpriced(
            scale,
            why=f"workload lookup failed ({failed.reason})",
            fix=f"retry; check costwarden's RBAC (get {resource}); or set spec.replicas on "
            f"the {kind} itself",
            behaviour=context.scale_lookup_failure,
        )
    if found is None:
        # Gone since the API server read it: its own write of the scale finds it gone too.
        what = f"{scale} not priced: the workload was not found (deleted?)"
        return Verdict(allowed=True, notices=(wording.message(SCALE_LOOKUP, what, ""),))
    old = _target(found, request=request, catalog=catalog, context=context)
    if old is None:
        return ALLOWED
    if before is not None:
        old = _scaled(old, before)
    new = _scaled(old, replicas)
    return _judge(
        new, old, policies=policies, catalog=catalog, context=context, operation="UPDATE",
        scale=True,
    )  # fmt: skip


_COSTWARDEN = "costwarden"
_SCALED_KINDS = {
    "deployments": "Deployment",
    "statefulsets": "StatefulSet",
    "replicasets": "ReplicaSet",
    "replicationcontrollers": "ReplicationController",
}
"""How a message names the workload behind a Scale, by its resource."""


def _replicas_before(request: AdmissionRequest) -> int | None:
    """The replicas of the Scale as stored (`oldObject`; a Scale omits a zero), None when
    not known: then the workload is priced as found."""
    if request.old_object is None:
        return None
    try:
        before = workloads.scale_replicas(request.old_object)
    except workloads.InvalidObject:  # the stored Scale, not the caller's: price it as found
        return None
    return 0 if before is None else before


def _unpriced(scale: str, *, why: str, fix: str, behaviour: LookupFailure) -> Verdict:
    """The verdict on a scale-up the engine cannot price, as `behaviour` says: denied or
    warned naming what failed and the way out, or allowed with a notice saying so. Setting
    `spec.replicas` on the workload itself is always a way out: that UPDATE carries the pod
    template, so it is priced without a lookup."""
    if behaviour == "allow":
        notice = wording.message(SCALE_LOOKUP, f"{scale} not priced: {why}", "")
        return Verdict(allowed=True, notices=(notice,))
    violation = Violation(
        policy=_COSTWARDEN,
        rule=SCALE_LOOKUP,
        action=behaviour,
        message=wording.message(SCALE_LOOKUP, f"cannot price {scale}: {why}", fix),
        numbers={"behaviour": behaviour},
    )
    return Verdict(allowed=behaviour != "deny", violations=(violation,))


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
        # The request's namespace is the pod's, where its claims are looked up.
        in_namespace = template._replace(namespace=namespace)
        estimate = estimating.estimate_template(
            in_namespace, catalog=catalog, memos=context.memos, dra=context.dra
        )
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
    if controller is not None and not made_by_controller(request, controllers=context.controllers):
        controller = None  # anyone may write an owner reference: see `made_by_controller`
    found = context.namespaces.labels_for(namespace) if namespace else None
    namespace_labels = found or {}
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
        user=(request.user_info or {}).get("username"),
        # Unknown only where the labels given are partial (`check`): the webhook's are whole.
        namespace_known=found is not None or not namespace or not context.namespaces_partial,
    )


def made_by_controller(request: AdmissionRequest, *, controllers: frozenset[str]) -> bool:
    """Whether the request comes from one of `controllers`: Kubernetes' own, by default
    (`workloads.BUILT_IN_CONTROLLERS`), each by its exact name.

    An object's controller owner reference is believed only then: the API server accepts
    an owner reference to anything, and a pod claiming a ReplicaSet would otherwise skip
    its budget (charged with its owner) and, claiming a DaemonSet, the GPU-node rule —
    until the garbage collector found the owner missing. Not a prefix such as
    `system:serviceaccount:kube-system:`: an add-on's service account there (or whoever can
    use it) is not a controller. A request without a user (the offline `check`) is a
    user's `kubectl apply`: its owner references are not believed.
    """
    user = (request.user_info or {}).get("username")
    return isinstance(user, str) and user in controllers


def _same_pods(template: workloads.PodTemplate, other: workloads.PodTemplate) -> bool:
    """Whether one pod of each is priced the same: `estimate_pod` reads only the spec and
    the annotations."""
    return template.spec == other.spec and template.metadata.get(
        "annotations"
    ) == other.metadata.get("annotations")


def _change(new: Target, old: Target | None, *, scale: bool, resize: bool) -> Change:
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
        resized_up=resize and _grown(new, old),
    )


def _grown(new: Target, old: Target) -> bool:
    """Whether one pod of `new` asks for more CPU or memory than one of `old`, or costs more."""
    after, before = new.estimate.pod, old.estimate.pod
    return (
        after.requests.cpu > before.requests.cpu
        or after.requests.memory_gib > before.requests.memory_gib
        or after.hourly.total > before.hourly.total
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
    resize: bool = False,
) -> Verdict:
    change = _change(new, old, scale=scale, resize=resize)
    subject = _subject(new, operation=operation)
    if not new.namespace_known:  # `check` was not given its labels
        subject = subject._replace(namespace_known=False)
    review = Review(new, old, change, context, catalog)
    tally = _Tally(new, subject, policies)
    for rule in policies.index.undecided(subject):  # empty unless the labels are unknown
        tally.notices.append(f"[{rule.name}] {_labels_unknown(new)}")
    for rule in policies.index.applying(subject):
        kind = rule.kind
        if old is not None and not kind.looks_at(change):
            continue
        outcome = kind.check(rule.compiled, review)
        if old is not None and kind.grandfathered:
            outcome = _grandfathered(rule, outcome, review)
        tally.take(rule, outcome)
    allowed = not tally.denied
    return Verdict(
        allowed=allowed,
        violations=tuple(tally.violations),
        exempted=tuple(tally.exempted),
        notices=(*lines.estimate_lines(new.estimate, memos=context.memos), *tally.notices),
        patches=_json_patch(new, tally.patches) if allowed and tally.patches else (),
        estimate=new.estimate,
        holds=tuple(tally.holds) if allowed else (),
    )


def _labels_unknown(target: Target) -> str:
    namespace = target.namespace
    return f"not checked: labels of namespace {namespace} unknown (it selects namespaces by label)"


def _grandfathered(rule: sets.CompiledRule, outcome: Outcome, review: Review) -> Outcome:
    """On UPDATE: only what the old object did not already break, and no patches."""
    assert review.old is not None
    if not outcome.findings:
        return Outcome(notices=outcome.notices)
    before = review._replace(target=review.old, old=None)
    known = {f.key for f in rule.kind.check(rule.compiled, before).findings}
    return Outcome(findings=tuple(f for f in outcome.findings if f.key not in known))


class _Tally:
    """What the rules say about one request, in the order they say it."""

    __slots__ = (
        "denied", "exempted", "holds", "notices", "patches", "policies", "subject", "target",
        "violations",
    )  # fmt: skip

    def __init__(self, target: Target, subject: matching.Subject, policies: sets.PolicySet):
        self.target = target
        self.subject = subject
        self.policies = policies
        self.violations: list[Violation] = []
        self.denied = False
        """A violation denies: the request is not allowed."""
        self.exempted: list[Exempted] = []
        self.patches: list[MergePatch] = []
        self.notices: list[str] = []
        self.holds: list[Hold] = []

    def take(self, rule: sets.CompiledRule, outcome: Outcome) -> None:
        """A rule's outcome: its findings, unless an exception waives the rule."""
        findings = outcome.findings
        waived = False
        if findings or outcome.repairs_breach:
            waiver = waivers.waiver(rule, self.target, subject=self.subject, policies=self.policies)
            if waiver is not None:
                self.exempted.append(waiver)
                waived = True
            elif findings and not self.subject.namespace_known:
                waived = self._maybe_waived(rule)
        if outcome.reservations:
            # An exception waives a rule's finding, not the cost: what fits is held either
            # way, and a refusal then denies nothing.
            refusal = self._refusal(rule, outcome, waived)
            for reservation in outcome.reservations:
                if waived:
                    reservation = reservation._replace(enforced=False)
                self.holds.append(Hold(reservation, refusal))
        if waived:
            return
        for finding in findings:
            self.add(rule, finding)
        if outcome.patch and rule.rule.action != "dryrun":
            self.patches.append(outcome.patch)
        if outcome.notices:
            self.notices.extend(f"[{rule.name}] {notice}" for notice in outcome.notices)

    def _maybe_waived(self, rule: sets.CompiledRule) -> bool:
        """Whether an exception may waive the rule, as only the namespace's labels (unknown
        to `check`) could say: then it is not checked, never a false denial."""
        maybe = waivers.undecided(rule, self.target, subject=self.subject, policies=self.policies)
        if maybe is None:
            return False
        self.notices.append(
            f"[{rule.name}] not checked: {maybe.title} may waive it, as the labels of "
            f"namespace {self.target.namespace} would say (unknown)"
        )
        return True

    def add(self, rule: sets.CompiledRule, finding: Finding) -> None:
        violation = self._violation(rule, finding)
        self.violations.append(violation)
        self.denied = self.denied or violation.action == "deny"

    def _refusal(
        self, rule: sets.CompiledRule, outcome: Outcome, waived: bool
    ) -> Callable[[], Violation | None]:
        """What the verdict says should the ledger refuse the rule's reservation: its
        violation, or nothing when an exception waives the rule."""
        refusal = outcome.refusal
        if waived or refusal is None:
            return _no_violation
        return lambda: self._violation(rule, refusal())

    def _violation(self, rule: sets.CompiledRule, finding: Finding) -> Violation:
        action: Action = finding.action or rule.rule.action
        fix = f"{finding.fix} ({rule.rule.fix})" if rule.rule.fix else finding.fix
        hint = waivers.hint(rule.rule, self.target, subject=self.subject, policies=self.policies)
        return Violation(
            policy=rule.policy,
            rule=rule.name,
            action=action,
            message=wording.message(rule.name, finding.what, f"{fix}; {hint}" if hint else fix),
            numbers=dict(finding.numbers),
        )


def _no_violation() -> Violation | None:
    return None


def _subject(target: Target, *, operation: str) -> matching.Subject:
    return matching.Subject(
        kind=target.kind,
        operation=operation,
        namespace=target.namespace,
        namespace_labels=target.namespace_labels,
        labels=target.labels,
    )


def _json_patch(target: Target, patches: list[MergePatch]) -> tuple[PatchOperation, ...]:
    """The rules' patches of the pod template as one JSONPatch of the object."""
    return patching.json_patch(
        target.object, patching.at(target.template.pointer, patching.combine(patches))
    )
