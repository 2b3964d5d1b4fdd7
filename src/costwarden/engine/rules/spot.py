"""The `spot` rule kind: dev pods run on Spot — required, or moved there by a patch.

Capacity type is read from the node-label vocabularies clusters use: Karpenter
`karpenter.sh/capacity-type`, EKS `eks.amazonaws.com/capacityType`, GKE
`cloud.google.com/gke-spot` / `gke-preemptible`, AKS `kubernetes.azure.com/scalesetpriority`,
legacy `lifecycle=EC2Spot` — in `nodeSelector` and required node affinity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from costwarden.engine import patching
from costwarden.engine.findings import NOTHING, Finding, Outcome
from costwarden.engine.rules.kinds import Review, RuleKind
from costwarden.engine.rules.specs import SpecModel, SpotCloud
from costwarden.engine.verdicts import PatchOperation


class Spot(SpecModel):
    """Pods this rule matches (select dev by namespace or labels) must run on Spot."""

    mode: Literal["require", "mutate"] = "require"
    """`require`: a violation when the pod pins On-Demand or leaves capacity open.
    `mutate`: the engine returns patches that put the pod on Spot."""
    cloud: SpotCloud = "karpenter"
    """Which node-label vocabulary the mutation writes (and its toleration)."""


Capacity = Literal["spot", "on-demand"]

# Node label -> value -> capacity it means.
_CAPACITY_LABELS: dict[str, dict[str, Capacity]] = {
    "karpenter.sh/capacity-type": {
        "spot": "spot",
        "on-demand": "on-demand",
        "reserved": "on-demand",
    },
    "eks.amazonaws.com/capacityType": {"SPOT": "spot", "ON_DEMAND": "on-demand"},
    "cloud.google.com/gke-spot": {"true": "spot", "false": "on-demand"},
    "cloud.google.com/gke-preemptible": {"true": "spot", "false": "on-demand"},
    "kubernetes.azure.com/scalesetpriority": {"spot": "spot", "regular": "on-demand"},
    "lifecycle": {"EC2Spot": "spot", "OnDemand": "on-demand"},
}

# Cloud -> (node selector that puts a pod on Spot, the toleration its Spot nodes need).
SPOT_PLACEMENT: dict[str, tuple[tuple[str, str], dict[str, str] | None]] = {
    "karpenter": (("karpenter.sh/capacity-type", "spot"), None),
    "eks": (("eks.amazonaws.com/capacityType", "SPOT"), None),
    "gke": (
        ("cloud.google.com/gke-spot", "true"),
        {
            "key": "cloud.google.com/gke-spot",
            "operator": "Equal",
            "value": "true",
            "effect": "NoSchedule",
        },
    ),
    "aks": (
        ("kubernetes.azure.com/scalesetpriority", "spot"),
        {
            "key": "kubernetes.azure.com/scalesetpriority",
            "operator": "Equal",
            "value": "spot",
            "effect": "NoSchedule",
        },
    ),
}


def _capacities(key: str, operator: str, values: Sequence[str]) -> set[Capacity] | None:
    """Capacities a node-affinity expression allows, or None when it does not constrain it."""
    meaning = _CAPACITY_LABELS.get(key)
    if meaning is None:
        return None
    if operator == "In":
        return {meaning[v] for v in values if v in meaning}
    if operator == "NotIn":
        return {meaning[v] for v in meaning if v not in values}
    if operator == "Exists" and key in ("cloud.google.com/gke-spot", "lifecycle"):
        return None if key == "lifecycle" else {"spot"}
    return None


def capacity_pin(spec: Mapping[str, Any]) -> tuple[Capacity | None, str]:
    """What capacity the pod spec pins (None: left open) and through what (`nodeSelector`
    or `affinity`)."""
    selector = spec.get("nodeSelector") or {}
    for key, value in selector.items():
        meaning = _CAPACITY_LABELS.get(key)
        if meaning is not None and value in meaning:
            return meaning[value], "nodeSelector"
    terms = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms") or []
    allowed_per_term: list[set[Capacity]] = []
    for term in terms:
        allowed: set[Capacity] = {"spot", "on-demand"}
        for expression in term.get("matchExpressions") or []:
            capacities = _capacities(
                str(expression.get("key")),
                str(expression.get("operator")),
                expression.get("values") or [],
            )
            if capacities is not None:
                allowed &= capacities
        allowed_per_term.append(allowed)
    if allowed_per_term:
        # Terms are ORed: the pod can land on any capacity some term allows.
        union = set().union(*allowed_per_term)
        if union == {"spot"}:
            return "spot", "affinity"
        if union == {"on-demand"}:
            return "on-demand", "affinity"
    return None, ""


def check(config: Spot, review: Review) -> Outcome:
    target = review.target
    spec = target.template.spec
    pinned, through = capacity_pin(spec)
    if pinned == "spot":
        return NOTHING
    (key, value), toleration = SPOT_PLACEMENT[config.cloud]
    fix = f"set nodeSelector {key}={value}"
    if toleration is not None:
        fix += f" and tolerate {toleration['key']}={toleration['value']}:NoSchedule"
    state = "pins On-Demand capacity" if pinned else "leaves capacity type open"
    what = f"dev pod {state}" + (f" (through {through})" if through else "")
    if config.mode == "mutate" and through != "affinity":
        patches = _spot_patches(spec, target.template.pointer, config.cloud)
        notice = f"moved to Spot: nodeSelector {key}={value}"
        return Outcome(patches=tuple(patches), notices=(notice,), repairs_breach=True)
    if config.mode == "mutate" and through == "affinity":
        fix = "required node affinity pins On-Demand and is not rewritten; " + fix
    return Outcome(
        findings=(
            Finding(
                key="spot",
                what=what + "; dev workloads must run on Spot",
                fix=fix,
                numbers={"capacity": pinned or "open"},
            ),
        )
    )


def _spot_patches(spec: Mapping[str, Any], pointer: str, cloud: str) -> list[PatchOperation]:
    (key, value), toleration = SPOT_PLACEMENT[cloud]
    selector = spec.get("nodeSelector")
    # Drop conflicting capacity pins (On-Demand through another vocabulary).
    patches = [
        PatchOperation("remove", f"{pointer}/spec/nodeSelector/{patching.escape(other)}")
        for other in selector or {}
        if other != key and other in _CAPACITY_LABELS
    ]
    patches += patching.set_keys(selector, f"{pointer}/spec/nodeSelector", {key: value})
    if toleration is not None:
        tolerations = spec.get("tolerations")
        if tolerations is None:
            patches.append(PatchOperation("add", f"{pointer}/spec/tolerations", [toleration]))
        elif toleration not in tolerations:
            patches.append(PatchOperation("add", f"{pointer}/spec/tolerations/-", toleration))
    return patches


def _repairs(config: Spot) -> bool:
    return config.mode == "mutate"


KIND = RuleKind(field="spot", spec=Spot, check=check, repairs=_repairs)
