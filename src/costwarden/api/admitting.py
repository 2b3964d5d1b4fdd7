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
   Spot is annotated with its Spot price).

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

from costwarden import reviews, workloads
from costwarden.api import reading, responding
from costwarden.documents import format_path
from costwarden.engine import patching
from costwarden.engine.ports import NamespaceLabels
from costwarden.engine.verdicts import Repair, Verdict
from costwarden.estimating.estimates import WorkloadEstimate
from costwarden.metrics import AdmissionMetrics

log = logging.getLogger(__name__)

ANNOTATION_PREFIX = "costwarden.io/"
COST_QUANTUM = Decimal("0.0001")
"""Annotations show $/h to 1/100 of a cent: enough to compare, short enough to read."""
NONE = "none"
"""Metric/annotation value for an absent dimension (no GPU, no cost-centre label)."""
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
    cost_centre: str = "cost-centre"
    team: str = "team"
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
            metadata: dict[str, Any] = {"annotations": _annotations(repair.estimate)}
            labels = self._propagated_labels(request, repaired=desired)
            if labels:
                metadata = {"labels": labels, **metadata}
            desired = patching.combine((desired, {"metadata": metadata}))
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


def _annotations(estimate: WorkloadEstimate) -> dict[str, str]:
    hourly = estimate.hourly.total.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)
    placement = estimate.pod.placement
    return {
        f"{ANNOTATION_PREFIX}hourly-cost": f"{hourly} {estimate.pod.currency}",
        f"{ANNOTATION_PREFIX}gpu-model": placement.accelerator_model or NONE,
        f"{ANNOTATION_PREFIX}capacity-type": placement.capacity_type,
        f"{ANNOTATION_PREFIX}catalog-version": estimate.pod.catalog_version,
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
