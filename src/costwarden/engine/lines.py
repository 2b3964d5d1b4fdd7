"""The estimate line: what `kubectl` shows as a `Warning:` for every object priced.

`costwarden: Pod ml-train/train-a100 ≈ $131.21/h ($95,783.30/month), 4× A100, p4d.24xlarge
on-demand` — at most 120 characters.
"""

from __future__ import annotations

from costwarden.engine import wording
from costwarden.estimating.estimates import WorkloadEstimate
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
    key = (id(pod), pods, estimate.runs)  # a Job's and a Deployment's pods may be alike
    if memos is not None:
        held = memos.lines.get(key)
        if held is not None and held[0] is pod:
            figures: str = held[1]
            return figures
    currency = pod.currency
    hourly = estimate.hourly.total
    monthly = estimate.monthly  # runs × run length for a CronJob; None when unknown
    if estimate.per_run is not None:
        per = f"{wording.money(estimate.per_run, currency)}/run"
        if monthly is not None:
            per += f", {wording.money(monthly, currency)}/month"
    elif monthly is not None:
        per = f"{wording.money(monthly, currency)}/month"
    else:
        per = "per running hour"
    parts = [f"≈ {wording.money(hourly, currency)}/h ({per})"]
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
        memos.lines.put(key, (pod, figures))
    return figures
