"""The `gpuLimits` rule kind: accelerators per pod and per workload (whole-device
equivalents: a MIG 1g slice of an A100 is 1/7)."""

from __future__ import annotations

from pydantic import model_validator

from costwarden.engine import wording
from costwarden.engine.findings import NOTHING, Finding, Outcome
from costwarden.engine.kinds import Review, RuleKind
from costwarden.engine.specs import Count, SpecModel


class GpuLimits(SpecModel):
    """Accelerators (whole-device equivalents; a MIG 1g slice of an A100 is 1/7)."""

    max_per_pod: Count | None = None
    max_per_workload: Count | None = None
    """Pods running at once × per pod (replicas, Job parallelism)."""

    @model_validator(mode="after")
    def _some_limit(self) -> GpuLimits:
        if self.max_per_pod is None and self.max_per_workload is None:
            raise ValueError("set maxPerPod, maxPerWorkload or both")
        return self


def check(config: GpuLimits, review: Review) -> Outcome:
    """Per pod for a new pod spec; per workload for a new pod spec or more pods at once."""
    target, change = review.target, review.change
    per_pod, per_workload = change.spec_changed, change.spec_changed or change.scaled_up
    if not (per_pod and config.max_per_pod is not None) and not (
        per_workload and config.max_per_workload is not None
    ):
        return NOTHING
    findings = []
    estimate = target.estimate
    own = estimate.pod.requests.accelerator_devices
    shared = estimate.pod.requests.shared_devices  # a ResourceClaim its pods share
    pod_gpus = own + shared
    if not pod_gpus:
        return NOTHING  # limits are never negative: nothing to exceed
    if per_pod and config.max_per_pod is not None and pod_gpus > config.max_per_pod:
        through = f" ({wording.number(shared)} through a shared claim)" if shared else ""
        findings.append(
            Finding(
                key="per-pod",
                what=f"pod requests {wording.number(pod_gpus)} GPUs{through}, above the limit "
                f"of {wording.number(config.max_per_pod)} per pod",
                fix=f"request at most {wording.number(config.max_per_pod)} GPUs per pod "
                "(shard the job across pods)",
                numbers={"gpus": str(pod_gpus), "limit": str(config.max_per_pod)},
            )
        )
    total = own * estimate.pods + shared  # its pods share one claim's devices: once
    limit = config.max_per_workload
    if per_workload and limit is not None and total > limit:
        plus = f" + {wording.number(shared)} shared" if shared else ""
        findings.append(
            Finding(
                key="per-workload",
                what=f"{target.kind} {target.name} runs {wording.number(estimate.pods)} pods × "
                f"{wording.number(own)} GPUs{plus} = {wording.number(total)} GPUs, above the "
                f"limit of {wording.number(limit)} per workload",
                fix="lower replicas/parallelism or GPUs per pod to stay within "
                f"{wording.number(limit)} GPUs",
                numbers={
                    "pods": str(estimate.pods),
                    "gpus_per_pod": str(own),
                    "shared": str(shared),
                    "gpus": str(total),
                    "limit": str(limit),
                },
            )
        )
    return Outcome(findings=tuple(findings)) if findings else NOTHING


KIND = RuleKind(
    field="gpuLimits", spec=GpuLimits, check=check, updates=frozenset({"spec", "scale"})
)
