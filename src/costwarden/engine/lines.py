"""The estimate line: what `kubectl` shows as a `Warning:` for every object priced.

`costwarden: Pod ml-train/train-a100 ≈ $131.21/h ($95,783.30/month), 4× A100, p4d.24xlarge
on-demand` — at most 120 characters.
"""

from __future__ import annotations

from costwarden.engine import wording
from costwarden.estimating.estimates import HOURS_PER_MONTH, WorkloadEstimate


def estimate_line(estimate: WorkloadEstimate) -> str:
    """One line (≤ 120 characters) for `kubectl`'s `Warning:` output."""
    where = f"{estimate.namespace}/{estimate.name}" if estimate.namespace else estimate.name
    return wording.clip(f"costwarden: {estimate.kind} {where} {_figures(estimate)}")


def _figures(estimate: WorkloadEstimate) -> str:
    """`≈ $131.21/h ($95,783.30/month), 4× A100, p4d.24xlarge on-demand`."""
    pod, pods = estimate.pod, estimate.pods
    currency = pod.currency
    hourly = estimate.hourly.total
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
    return ", ".join(parts)
