"""The `spot` rule kind: dev pods run on Spot — required, or moved there by a patch.

What capacity a pod pins is read with the same vocabulary pricing uses
(`estimating.capacity`): a pod priced as Spot is a pod this rule sees on Spot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from costwarden.engine.findings import NOTHING, Finding, Outcome
from costwarden.engine.kinds import Review, RuleKind
from costwarden.engine.specs import SpecModel, SpotCloud
from costwarden.engine.verdicts import MergePatch
from costwarden.estimating import capacity


class Spot(SpecModel):
    """Pods this rule matches (select dev by namespace or labels) must run on Spot."""

    mode: Literal["require", "mutate"] = "require"
    """`require`: a violation when the pod pins On-Demand or leaves capacity open.
    `mutate`: the engine returns patches that put the pod on Spot."""
    cloud: SpotCloud = "karpenter"
    """Which node-label vocabulary the mutation writes (and its toleration)."""


def check(config: Spot, review: Review) -> Outcome:
    target = review.target
    spec = target.template.spec
    pin = capacity.pinned(spec, memo=review.context.memos.pins)
    if pin.spot_only:
        return NOTHING
    placement = capacity.SPOT_PLACEMENT[config.cloud]
    key, value = placement.selector
    fix = f"set nodeSelector {key}={value}"
    if placement.taint is not None:
        fix += f" and tolerate {placement.taint[0]}={placement.taint[1]}:NoSchedule"
    if not pin.excludes_spot:
        what, pinned = "dev pod leaves capacity type open", "open"
    else:
        pinned = _pinned(pin.allowed)
        what = f"dev pod pins {pinned} capacity (through {pin.through})"
    if config.mode == "mutate" and pin.through != "affinity":
        notice = f"moved to Spot: nodeSelector {key}={value}"
        return Outcome(patch=_spot_patch(spec, placement), notices=(notice,), repairs_breach=True)
    if config.mode == "mutate":
        pins = pinned if pin.excludes_spot else "its capacity"
        fix = f"required node affinity pins {pins} and is not rewritten; {fix}"
    return Outcome(
        findings=(
            Finding(
                key="spot",
                what=what + "; dev workloads must run on Spot",
                fix=fix,
                numbers={
                    "capacity": "+".join(sorted(pin.allowed)) if pin.excludes_spot else "open"
                },
            ),
        )
    )


def _pinned(allowed: frozenset[str]) -> str:
    """How a message names capacity that excludes Spot."""
    if "on-demand" in allowed:
        return "On-Demand"
    if allowed:
        return "reserved"
    return "no capacity type (its requirements contradict each other)"


def _spot_patch(spec: Mapping[str, Any], placement: capacity.SpotPlacement) -> MergePatch:
    """The pod template moved to Spot: the selector (conflicting capacity pins dropped, an
    On-Demand one of another vocabulary say) and the cloud's toleration, after the pod's
    own (a merge patch replaces a list whole)."""
    key, value = placement.selector
    selector: dict[str, Any] = {
        other: None
        for other in spec.get("nodeSelector") or {}
        if other != key and other in capacity.LABELS
    }
    selector[key] = value
    patch: dict[str, Any] = {"nodeSelector": selector}
    toleration = placement.toleration()
    if toleration is not None:
        tolerations = spec.get("tolerations") or []
        if toleration not in tolerations:
            patch["tolerations"] = [*tolerations, toleration]
    return {"spec": patch}


def _repairs(config: Spot) -> bool:
    return config.mode == "mutate"


KIND = RuleKind(field="spot", spec=Spot, check=check, repairs=_repairs)
