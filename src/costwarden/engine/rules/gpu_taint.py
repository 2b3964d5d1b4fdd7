"""The `gpuTaint` rule kind, GPU pool hygiene: GPU pods tolerate the GPU nodes' taint (or
they stay Pending), pods without accelerators do not (or they keep GPU nodes from scaling
down). DaemonSet pods are exempt: they run on every node by design."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from costwarden import workloads
from costwarden.engine.findings import NOTHING, Finding, Outcome
from costwarden.engine.kinds import Review, RuleKind
from costwarden.engine.specs import SpecModel
from costwarden.estimating import claims


class GpuTaint(SpecModel):
    """GPU pool hygiene: GPU pods tolerate the GPU nodes' taint, other pods do not."""

    key: str = "nvidia.com/gpu"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"
    gpu_pods_must_tolerate: bool = True
    other_pods_must_not_tolerate: bool = True
    """Pods without accelerators on GPU nodes block their scale-down. DaemonSet pods are
    exempt: they run on every node by design."""


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


def check(config: GpuTaint, review: Review) -> Outcome:
    target = review.target
    prefix = config.key.partition("/")[0] + "/"
    requests = target.estimate.pod.requests
    gpu_pod = any(a.resource.startswith(prefix) and a.count > 0 for a in requests.accelerators)
    if not gpu_pod and claims.unread(requests.accelerators):
        return NOTHING  # DRA devices of unknown kind: a GPU pod or not, it cannot say
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


def _taint(config: GpuTaint) -> str:
    return f"{config.key}{'=' + config.value if config.value else ''}:{config.effect}"


KIND = RuleKind(field="gpuTaint", spec=GpuTaint, check=check)
