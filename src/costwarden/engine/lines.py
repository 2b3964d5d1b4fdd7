"""The estimate line: what `kubectl` shows as a `Warning:` for every object priced.

`costwarden: Pod ml-train/train-a100 ≈ $131.21/h ($95,783.30/month), 4× A100, p4d.24xlarge
on-demand` — at most 120 characters.
"""

from __future__ import annotations

from costwarden.engine import wording
from costwarden.estimating.estimates import HOURS_PER_MONTH, WorkloadEstimate
from costwarden.memos import Memos


def estimate_line(estimate: WorkloadEstimate, *, memos: Memos | None = None) -> str:
    """One line (≤ 120 characters) for `kubectl`'s `Warning:` output."""
    where = f"{estimate.namespace}/{estimate.name}" if estimate.namespace else estimate.name
    return wording.clip(f"costwarden: {estimate.kind} {where} {_figures(estimate, memos)}")


def _figures(estimate: WorkloadEstimate, memos: Memos | None) -> str:
    """`≈ $131.21/h ($95,783.30/month), 4× A100, p4d.24xlarge on-demand`: what depends only
    on the pod estimate and the pod count, formatted once per pair when `memos` keeps them
    (by the estimate's identity, held with it, so a reused id never lends its figures)."""
    pod, pods = estimate.pod, estimate.pods
    if memos is not None:
        held = memos.lines.get((id(pod), pods))
        if held is not None and held[0] is pod:
            figures: str = held[1]
            return figures
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
    figures = ", ".join(parts)
    if memos is not None:
        memos.lines.put((id(pod), pods), (pod, figures))
    return figures
