"""Answering one admission review: evaluate, build the response, record what happened.

`/validate` decides: the engine's verdict becomes allowed/denied with warnings, and it is
the only path that may have side effects (the engine's budget reservations), never on
`dryRun`. `/mutate` repairs and annotates and always allows — the API server runs
validating webhooks on the *mutated* object, so deciding there sees the repaired pod. It
asks the engine only `repair` (the rules that patch, and the repaired object's estimate),
never a whole verdict.

What /mutate changes, as one merge patch of desired changes turned into JSONPatch once,
against the object sent (`engine.patching`: a value already there is left alone, so a
second pass over the result adds nothing):

1. the engine's repairs (Spot placement for dev pods, labels a rule inherits from the
   namespace);
2. cost labels missing on the object (and not given by a repair), copied from its
   namespace;
3. estimate annotations: `costwarden.io/hourly-cost`, `gpu-model`, `capacity-type`,
   `catalog-version`, from the estimate of the object *after* the repairs (a pod moved to
   Spot is annotated with its Spot price). Each is a fact of ONE pod, written where the pod
   spec is and so kept true: on a Pod, and on a workload's pod template (every pod it makes
   carries them). Never on a workload's own metadata: a figure for all its pods would go
   stale at `kubectl scale`, which admits a Scale the webhook cannot patch the workload
   through — and the ones older versions wrote there are removed. A template is annotated
   when the workload is created or its template changes (a rollout either way), never on
   an update that leaves the template alone (that would roll the pods for a label), and
   never when a controller made the workload (a ReplicaSet's template must stay its
   Deployment's, or the Deployment controller no longer finds it).

Label propagation and annotations live here, not in the engine: they depend on no policy,
only on the estimate and the namespace, and they only make sense on the mutating path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from costwarden import labels, reviews, workloads
from costwarden.api import reading, responding
from costwarden.documents import format_path
from costwarden.engine import patching, wording
from costwarden.engine.ports import NamespaceLabels
from costwarden.engine.verdicts import MergePatch, Repair, Verdict
from costwarden.estimating.estimates import WorkloadEstimate
from costwarden.metrics import AdmissionMetrics

log = logging.getLogger(__name__)

ANNOTATION_PREFIX = "costwarden.io/"
COST_QUANTUM = Decimal("0.0001")
"""Annotations show $/h to 1/100 of a cent: enough to compare, short enough to read."""
NONE = "none"
"""Metric/annotation value for an absent dimension (no GPU, no cost-centre label)."""
UNPRICED = "unpriced"
"""`costwarden.io/hourly-cost` of a pod the catalog cannot price (`costwarden.io/unpriced`
says why)."""
EVALUATED_OPERATIONS = frozenset({"CREATE", "UPDATE"})
"""DELETE and CONNECT start nothing that costs money: they pass untouched."""


class Evaluator(Protocol):
    """The engine with the live policies, catalog and context bound (see `app`)."""

    def __call__(self, request: reviews.AdmissionRequest, *, side_effects: bool) -> Verdict:
        """`side_effects=False` evaluates identically but writes nothing (no reservation)."""
        ...


class Repairer(Protocol):
    """The engine's repairs with the live policies and catalog bound (see `app`)."""

    def __call__(self, request: reviews.AdmissionRequest) -> Repair:
        """The patches the policies make and the repaired object's estimate (no side effects)."""
        ...


@dataclass(frozen=True, slots=True)
class CostLabels:
    cost_centre: str = labels.COST_CENTRE
    team: str = labels.TEAM
    propagate: bool = True


class Admission:
    """The webhook's behaviour, independent of HTTP."""

    def __init__(
        self,
        *,
        evaluate: Evaluator,
        repair: Repairer,
        namespaces: NamespaceLabels,
        metrics: AdmissionMetrics,
        labels: CostLabels = CostLabels(),
        looks_up_workloads: bool = False,
    ) -> None:
        self._evaluate = evaluate
        self._repair = repair
        self._namespaces = namespaces
        self._metrics = metrics
        self._labels = labels
        self._looks_up_workloads = looks_up_workloads

    def may_block(self, webhook: str, request: reviews.AdmissionRequest) -> bool:
        """True when answering may wait on the network: validating a Scale looks up its
        workload, when there is a cluster to ask (/mutate never does)."""
        return (
            self._looks_up_workloads and webhook == "validate" and request.sub_resource == "scale"
        )

    def answer(self, webhook: str, request: reviews.AdmissionRequest, *, started: float) -> bytes:
        """The response body for `webhook` (`validate` or `mutate`); records metrics.

        `started` is the `time.perf_counter()` at which the body began to be read.
        """
        decision = "error"
        try:
            if request.operation not in EVALUATED_OPERATIONS:
                decision, response = "skipped", responding.untouched(request.uid)
            elif (problem := reviews.inconsistency(request) or _unplaced(request)) is not None:
                decision = "invalid"  # fail closed: what it claims is not what it is
                raise reading.BadReview(problem)
            elif webhook == "validate":
                decision, response = self._validate(request)
            else:
                decision, response = self._mutate(request)
            return responding.review(response)
        except workloads.InvalidObject as exc:
            # Kubernetes would not have accepted the object either: the caller's fault.
            decision = "invalid"
            where = format_path(("request", exc.field, *exc.path))
            raise reading.BadReview(f"{where}: {exc.message}") from None
        except RecursionError:
            # A value nested almost as deep as the decoder allows, read or named in an error:
            # the caller's fault when the request holds one, else ours (a 500).
            deep = reading.too_deep(request)
            if deep is None:
                raise
            decision = "invalid"
            raise reading.BadReview(
                f"{deep}: nested more than {reading.MAX_DEPTH} levels deep"
            ) from None
        finally:
            self._metrics.review(
                webhook=webhook,
                operation=request.operation,
                kind=request.kind.kind,
                decision=decision,
                seconds=time.perf_counter() - started,
            )

    def invalid(self, webhook: str, *, started: float) -> None:
        """Count a body that was not a usable AdmissionReview (answered 4xx by the route)."""
        self._metrics.review(
            webhook=webhook,
            operation="invalid",
            kind="invalid",
            decision="invalid",
            seconds=time.perf_counter() - started,
        )

    def _validate(self, request: reviews.AdmissionRequest) -> tuple[str, responding.Response]:
        verdict = self._evaluate(request, side_effects=not request.dry_run)
        for violation in verdict.violations:
            self._metrics.violation(
                policy=violation.policy, rule=violation.rule, action=violation.action
            )
        # Denials at info (someone's apply failed: worth a line); warn and dryrun findings
        # at debug — they can fire on most reviews, and metrics count them. The line is
        # only put together when it will be written.
        level = logging.INFO if not verdict.allowed else logging.DEBUG
        if verdict.violations and log.isEnabledFor(level):
            log.log(
                level,
                "%s %s %s/%s uid=%s dry_run=%s: %s",
                "allowed" if verdict.allowed else "denied",
                request.kind.kind,
                request.namespace or "",
                _name(request),
                request.uid,
                request.dry_run,
                "; ".join(f"{v.action} {v.policy}/{v.rule}" for v in verdict.violations),
            )
        if verdict.allowed and not request.dry_run:
            # Counted here only: /mutate never asks for a verdict, and a dry run admits nothing.
            for exempted in verdict.exempted:
                self._metrics.waived(rule=exempted.rule)
            self._record_admitted_pod(request, verdict.estimate)
        response = responding.validation(request.uid, verdict)
        return ("allowed" if verdict.allowed else "denied"), response

    def _mutate(self, request: reviews.AdmissionRequest) -> tuple[str, responding.Response]:
        assert request.object is not None  # checked by `answer`
        repair = self._repair(request)
        desired = repair.patch
        if repair.estimate is not None and request.sub_resource is None:
            annotations = _annotation_patch(request, repair.estimate)
            labels = self._propagated_labels(request, repaired=desired)
            if labels:
                annotations = patching.combine(({"metadata": {"labels": labels}}, annotations))
            desired = patching.combine((desired, annotations))
        operations = patching.json_patch(request.object, desired)
        return ("patched" if operations else "allowed"), responding.mutation(
            request.uid, operations
        )

    def _propagated_labels(
        self, request: reviews.AdmissionRequest, *, repaired: Mapping[str, Any]
    ) -> dict[str, str]:
        """The cost labels the namespace has and neither the object nor its repairs give."""
        if not self._labels.propagate:
            return {}
        namespace_labels = self._namespace_labels(request)
        present, given = _labels(request.object or {}), _labels(repaired)
        return {
            key: namespace_labels[key]
            for key in (self._labels.cost_centre, self._labels.team)
            if key in namespace_labels and key not in present and key not in given
        }

    def _namespace_labels(self, request: reviews.AdmissionRequest) -> Mapping[str, str]:
        namespace = request.namespace or _object_namespace(request.object)
        return (self._namespaces.labels_for(namespace) or {}) if namespace else {}

    def _record_admitted_pod(
        self, request: reviews.AdmissionRequest, estimate: WorkloadEstimate | None
    ) -> None:
        if estimate is None or request.kind.kind != "Pod" or request.operation != "CREATE":
            return
        own = _labels(request.object or {})
        inherited = self._namespace_labels(request)

        def label(key: str) -> str:
            return own.get(key) or inherited.get(key) or NONE

        placement = estimate.pod.placement
        self._metrics.admitted_pod(
            namespace=request.namespace or NONE,
            cost_centre=label(self._labels.cost_centre),
            team=label(self._labels.team),
            gpu_model=placement.accelerator_model or NONE,
            capacity_type=placement.capacity_type,
            hourly_cost=estimate.hourly.total,
            currency=estimate.pod.currency,
        )


def _unplaced(request: reviews.AdmissionRequest) -> str | None:
    """What is wrong with a Pod or workload sent without a namespace (the API server always
    sends one for them): its namespace's labels decide which rules apply (dev on Spot, the
    budget's group), so judging it without one would skip them."""
    kind = request.kind
    if request.namespace or not workloads.is_workload(kind.group, kind.kind):
        return None
    return f"request.namespace: required for a {kind.kind} (a namespaced kind)"


def _annotation_patch(request: reviews.AdmissionRequest, estimate: WorkloadEstimate) -> MergePatch:
    """The estimate annotations where they stay true (see the module docstring)."""
    obj = request.object or {}
    annotations = _annotations(estimate)
    template = workloads.pod_template(obj)
    if template is None or not template.pointer:  # a Pod: its own figures
        return {"metadata": {"annotations": annotations}}
    # Written on the workload by earlier versions: removed (a no-op when absent).
    patch: MergePatch = {"metadata": {"annotations": dict.fromkeys(annotations)}}
    if _controlled(obj) or not _template_changed(request, template.pointer):
        return patch
    templated = patching.at(template.pointer, {"metadata": {"annotations": annotations}})
    return patching.combine((patch, templated))


def _controlled(obj: Mapping[str, Any]) -> bool:
    """Whether a controller owns the object (a ReplicaSet of a Deployment, a CronJob's Job):
    its template is its owner's copy, already annotated there."""
    metadata = obj.get("metadata")
    owners = (
        metadata.get("ownerReferences") if isinstance(metadata, workloads.JSON_OBJECT) else None
    )
    return isinstance(owners, list) and any(
        isinstance(owner, workloads.JSON_OBJECT) and owner.get("controller") is True
        for owner in owners
    )


def _template_changed(request: reviews.AdmissionRequest, pointer: str) -> bool:
    """A CREATE, or an UPDATE whose pod template differs from the old one other than in the
    estimate annotations."""
    if request.operation != "UPDATE" or request.old_object is None:
        return True
    new, old = _at(request.object, pointer), _at(request.old_object, pointer)
    changed: bool = _without_ours(new) != _without_ours(old)
    return changed


def _at(obj: Mapping[str, Any] | None, pointer: str) -> Any:
    node: Any = obj
    for token in pointer.split("/")[1:]:
        node = (
            node.get(patching.unescape(token)) if isinstance(node, workloads.JSON_OBJECT) else None
        )
    return node


def _without_ours(template: Any) -> Any:
    """A pod template as its owner wrote it: the estimate annotations left out (an
    `annotations` or `metadata` left empty by that, too)."""
    if not isinstance(template, workloads.JSON_OBJECT):
        return template
    metadata = template.get("metadata")
    if not isinstance(metadata, workloads.JSON_OBJECT):
        return {k: v for k, v in template.items() if k != "metadata" or v}
    annotations = metadata.get("annotations")
    kept_metadata = {k: v for k, v in metadata.items() if k != "annotations"}
    if isinstance(annotations, workloads.JSON_OBJECT):
        kept = {k: v for k, v in annotations.items() if not k.startswith(ANNOTATION_PREFIX)}
        if kept:
            kept_metadata["annotations"] = kept
    elif annotations is not None:
        kept_metadata["annotations"] = annotations
    rest = {k: v for k, v in template.items() if k != "metadata"}
    return {**rest, "metadata": kept_metadata} if kept_metadata else rest


def _annotations(estimate: WorkloadEstimate) -> dict[str, str | None]:
    """Facts of one pod: its $/h (all a workload's pods cost that × their count), said as
    far as they are known — a range (`0.3900–12.5900 USD`) where the pod leaves the price
    open, `unpriced` (and why, in `costwarden.io/unpriced`) where the catalog cannot price
    it, never one figure that reads as the price when it is not. A priced pod's
    `costwarden.io/unpriced` is None: a merge patch removes one an earlier estimate wrote."""
    pod = estimate.pod
    high = pod.hourly.total.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)
    low = pod.low_hourly.total.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)
    hourly = f"{high} {pod.currency}" if low == high else f"{low}–{high} {pod.currency}"
    model = pod.placement.accelerator_model or NONE
    low_model = (pod.low_placement or pod.placement).accelerator_model or NONE
    return {
        f"{ANNOTATION_PREFIX}hourly-cost": UNPRICED if pod.unpriced else hourly,
        f"{ANNOTATION_PREFIX}gpu-model": wording.between(low_model, model),
        f"{ANNOTATION_PREFIX}capacity-type": pod.placement.capacity_type,
        f"{ANNOTATION_PREFIX}catalog-version": pod.catalog_version,
        f"{ANNOTATION_PREFIX}unpriced": "; ".join(pod.unpriced) if pod.unpriced else None,
    }


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    metadata = obj.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, workloads.JSON_OBJECT) else None
    return labels if isinstance(labels, workloads.JSON_OBJECT) else {}


def _object_namespace(obj: Mapping[str, Any] | None) -> str | None:
    metadata = (obj or {}).get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, workloads.JSON_OBJECT) else None
    return namespace if isinstance(namespace, str) else None


def _name(request: reviews.AdmissionRequest) -> str:
    if request.name:
        return request.name
    metadata = (request.object or {}).get("metadata")
    generate = metadata.get("generateName") if isinstance(metadata, workloads.JSON_OBJECT) else None
    return f"{generate}*" if isinstance(generate, str) else "?"
