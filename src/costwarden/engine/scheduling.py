"""Rules about where and how big pods run: GPU limits, Spot for dev, size envelope, GPU taint.

All read the pod spec (or pod template) and its estimate; none needs outside data, so none
ever degrades. Capacity type is read from the node-label vocabularies clusters use:
Karpenter `karpenter.sh/capacity-type`, EKS `eks.amazonaws.com/capacityType`, GKE
`cloud.google.com/gke-spot` / `gke-preemptible`, AKS `kubernetes.azure.com/scalesetpriority`,
legacy `lifecycle=EC2Spot` — in `nodeSelector` and required node affinity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from costwarden import workloads
from costwarden.catalog.models import Catalog
from costwarden.engine import patching, wording
from costwarden.engine.findings import NOTHING, Finding, Outcome, Target
from costwarden.engine.verdicts import PatchOperation
from costwarden.policies import models, sets

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


# --- GPU limits ----------------------------------------------------------------------------


def check_gpu_limits(
    config: models.GpuLimits, target: Target, *, per_pod: bool, per_workload: bool
) -> Outcome:
    if not (per_pod and config.max_per_pod is not None) and not (
        per_workload and config.max_per_workload is not None
    ):
        return NOTHING
    findings = []
    estimate = target.estimate
    pod_gpus = estimate.pod.requests.accelerator_devices
    if not pod_gpus:
        return NOTHING  # limits are never negative: nothing to exceed
    if per_pod and config.max_per_pod is not None and pod_gpus > config.max_per_pod:
        findings.append(
            Finding(
                key="per-pod",
                what=f"pod requests {wording.number(pod_gpus)} GPUs, above the limit of "
                f"{wording.number(config.max_per_pod)} per pod",
                fix=f"request at most {wording.number(config.max_per_pod)} GPUs per pod "
                "(shard the job across pods)",
                numbers={"gpus": str(pod_gpus), "limit": str(config.max_per_pod)},
            )
        )
    total = pod_gpus * estimate.pods
    limit = config.max_per_workload
    if per_workload and limit is not None and total > limit:
        findings.append(
            Finding(
                key="per-workload",
                what=f"{target.kind} {target.name} runs {wording.number(estimate.pods)} pods × "
                f"{wording.number(pod_gpus)} GPUs = {wording.number(total)} GPUs, above the "
                f"limit of {wording.number(limit)} per workload",
                fix="lower replicas/parallelism or GPUs per pod to stay within "
                f"{wording.number(limit)} GPUs",
                numbers={
                    "pods": str(estimate.pods),
                    "gpus_per_pod": str(pod_gpus),
                    "gpus": str(total),
                    "limit": str(limit),
                },
            )
        )
    return Outcome(findings=tuple(findings)) if findings else NOTHING


# --- Spot ------------------------------------------------------------------------------


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


def check_spot(config: models.Spot, target: Target, *, repair: bool) -> Outcome:
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
    if config.mode == "mutate" and repair and through != "affinity":
        patches = _spot_patches(spec, target.template.pointer, config.cloud)
        notice = f"moved to Spot: nodeSelector {key}={value}"
        return Outcome(patches=tuple(patches), notices=(notice,))
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


# --- size envelope --------------------------------------------------------------------------


def check_size(rule: sets.CompiledRule, target: Target, *, catalog: Catalog) -> Outcome:
    config = rule.rule.size_envelope
    assert config is not None
    pod = target.estimate.pod
    currency = pod.currency
    findings = []

    def over(key: str, what: str, value: Decimal, limit: Decimal | None) -> None:
        # Most pods fit: the numbers are only formatted for a finding.
        if limit is not None and value > limit:
            findings.append(
                Finding(
                    key=key,
                    what=f"{what} {_show(key, value, currency)} is above the envelope's {key} "
                    f"of {_show(key, limit, currency)}",
                    fix=f"reduce {what} to at most {_show(key, limit, currency)}",
                    numbers={key: str(value), "limit": str(limit)},
                )
            )

    requests = pod.requests
    over("maxPodVcpu", "pod vCPU", requests.cpu, config.max_pod_vcpu)
    over("maxPodMemoryGib", "pod memory", requests.memory_gib, config.max_pod_memory_gib)
    over("maxHourly", "pod cost", pod.hourly.total, config.max_hourly)
    instance_name = pod.placement.instance_type
    instance = catalog.instance_types.get(instance_name) if instance_name else None
    if instance is not None:
        over(
            "maxInstanceVcpu",
            f"instance {instance.name} vCPU",
            instance.vcpu,
            config.max_instance_vcpu,
        )
        over(
            "maxInstanceMemoryGib",
            f"instance {instance.name} memory",
            instance.memory_gib,
            config.max_instance_memory_gib,
        )
    if (
        instance_name
        and rule.instance_types is not None
        and rule.instance_types.fullmatch(instance_name) is None
    ):
        allowed = ", ".join(config.allowed_instance_types)
        findings.append(
            Finding(
                key="allowedInstanceTypes",
                what=f"instance type {instance_name} is not in the envelope ({allowed})",
                fix=f"pick an instance type matching {allowed}",
                numbers={"instance_type": instance_name},
            )
        )
    return Outcome(findings=tuple(findings)) if findings else NOTHING


def _show(key: str, limit: Decimal, currency: str) -> str:
    if key == "maxHourly":
        return f"{wording.money(limit, currency)}/h"
    if "Memory" in key:
        return f"{wording.number(limit)} GiB"
    return wording.number(limit)


# --- GPU pool hygiene ----------------------------------------------------------------------


def tolerates(toleration: Mapping[str, Any], *, key: str, value: str | None, effect: str) -> bool:
    """Kubernetes' rule: does this toleration tolerate the taint `key[=value]:effect`?"""
    if toleration.get("effect") not in (None, "", effect):
        return False
    operator = toleration.get("operator") or "Equal"
    tolerated_key = toleration.get("key") or ""
    if not tolerated_key:
        return operator == "Exists"
    if tolerated_key != key:
        return False
    if operator == "Exists" or value is None:
        # A rule that names no taint value accepts any Equal toleration of the key.
        return True
    return (toleration.get("value") or "") == value


def check_gpu_taint(config: models.GpuTaint, target: Target) -> Outcome:
    prefix = config.key.partition("/")[0] + "/"
    requests = target.estimate.pod.requests
    gpu_pod = any(a.resource.startswith(prefix) and a.count > 0 for a in requests.accelerators)
    if gpu_pod and not config.gpu_pods_must_tolerate:
        return NOTHING
    if not gpu_pod and not config.other_pods_must_not_tolerate:
        return NOTHING
    tolerations = target.template.spec.get("tolerations") or []
    tolerated = any(
        tolerates(t, key=config.key, value=config.value, effect=config.effect)
        for t in tolerations
        if isinstance(t, workloads.JSON_OBJECT)
    )
    if gpu_pod and not tolerated:
        taint = _taint(config)
        return Outcome(
            findings=(
                Finding(
                    key="gpu-untolerated",
                    what=f"GPU pod does not tolerate the GPU nodes' taint {taint} "
                    "(it would stay Pending)",
                    fix=f"add toleration {{key: {config.key}, operator: Exists, "
                    f"effect: {config.effect}}}",
                    numbers={"taint": taint},
                ),
            )
        )
    daemon = target.kind == "DaemonSet" or target.controller == "DaemonSet"
    if not gpu_pod and tolerated and not daemon:
        taint = _taint(config)
        return Outcome(
            findings=(
                Finding(
                    key="cpu-tolerated",
                    what=f"pod without GPUs tolerates the GPU taint {taint} "
                    "(it can land on GPU nodes and keep them from scaling down)",
                    fix=f"remove the toleration of {config.key}",
                    numbers={"taint": taint},
                ),
            )
        )
    return NOTHING


def _taint(config: models.GpuTaint) -> str:
    return f"{config.key}{'=' + config.value if config.value else ''}:{config.effect}"
