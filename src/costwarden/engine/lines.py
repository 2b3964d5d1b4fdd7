"""The estimate lines: what `kubectl` shows as `Warning:` lines for every object priced.

`costwarden: Pod ml-train/train-a100 ≈ $131.21/h ($95,783.30/month), 4× a100-40gb,
p4d.24xlarge on-demand` — one line when it fits in 120 characters. A range shows both
ends (`≈ $0.53–$6.26/h`), an estimate the catalog cannot price says so and how to add a
price. What does not fit goes to a second warning, each a whole statement: nothing is cut
(a name too long for any line is wrapped by the API layer, never clipped).
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from costwarden.engine import wording
from costwarden.estimating.estimates import WorkloadEstimate
from costwarden.memos import Memos

LINE_LIMIT = 120
"""Characters of one warning the API server passes on whole."""


class _Figures(NamedTuple):
    """What a line says that depends only on the pod estimate and the pod count."""

    head: str
    """`≈ $1.00/h ($730.00/month)`, or `is unpriced: …`."""
    fix: str
    """The way out of an unpriced estimate ("" when priced)."""
    parts: tuple[str, ...]
    """`3 pods × $1.00/h`, `4× a100-40gb`, `p4d.24xlarge on-demand`."""


def estimate_lines(estimate: WorkloadEstimate, *, memos: Memos | None = None) -> tuple[str, ...]:
    """The estimate as `kubectl` warnings: one line, or two whole statements when one line
    would pass `LINE_LIMIT` (the figures, then where the pods run)."""
    where = f"{estimate.namespace}/{estimate.name}" if estimate.namespace else estimate.name
    name = f"{estimate.kind} {where}"
    figures = _figures(estimate, memos)
    first = f"costwarden: {name} {figures.head}"
    if figures.fix:
        fixed = f"{first} — {figures.fix}"
        said = [fixed] if len(fixed) <= LINE_LIMIT else [f"{first}.", f"costwarden: {figures.fix}."]
    else:
        said = [first]
    if figures.parts:
        rest = ", ".join(figures.parts)
        joined = f"{said[0]}, {rest}"
        if len(said) == 1 and not figures.fix and len(joined) <= LINE_LIMIT:
            said[0] = joined
        else:
            said.append(f"costwarden: {name} runs {rest}")
    return tuple(said)


def estimate_line(estimate: WorkloadEstimate, *, memos: Memos | None = None) -> str:
    """The estimate lines as one text, a line each (logs, tests)."""
    return "\n".join(estimate_lines(estimate, memos=memos))


def _figures(estimate: WorkloadEstimate, memos: Memos | None) -> _Figures:
    """What depends only on the pod estimate and the pod count, formatted once per pair
    when `memos` keeps them (by the estimate's identity, held with it, so a reused id never
    lends its figures)."""
    pod, pods = estimate.pod, estimate.pods
    key = (id(pod), pods, estimate.runs)  # a Job's and a Deployment's pods may be alike
    if memos is not None:
        held = memos.lines.get(key)
        if held is not None and held[0] is pod and isinstance(held[1], _Figures):
            return held[1]
    currency = pod.currency
    low, high = estimate.low_hourly.total, estimate.hourly.total
    if pod.unpriced:
        head, fix = f"is {wording.unpriced(pod.unpriced)}", wording.ADD_A_PRICE
        if high:
            head += f" (what is priced: {wording.money(high, currency)}/h)"
    else:
        head, fix = f"≈ {wording.price_range(low, high, currency)}/h ({_per(estimate)})", ""
    parts = []
    if pods != 1:
        each = wording.price_range(pod.low_hourly.total, pod.hourly.total, currency)
        parts.append(f"{wording.number(pods)} pods × {each}/h")
    gpus = pod.requests.accelerator_devices
    low_placement = pod.low_placement or pod.placement
    if gpus:
        model = pod.placement.accelerator_model
        low_model = low_placement.accelerator_model
        if model and low_model and low_model != model and not pod.unpriced:
            model = f"GPU ({wording.between(low_model, model)})"
        parts.append(f"{wording.number(gpus)}× {model or 'GPU'}")
    instance = pod.placement.instance_type or ""
    low_instance = low_placement.instance_type
    if instance and low_instance and not pod.unpriced:
        instance = wording.between(low_instance, instance)
    parts.append(f"{instance} {pod.placement.capacity_type}".strip())
    figures = _Figures(head, fix, tuple(parts))
    if memos is not None:
        memos.lines.put(key, (pod, figures))
    return figures


def _per(estimate: WorkloadEstimate) -> str:
    """`$730.00/month`, `$35.50/run, $1,079.79/month` (both ends of a range): the figures
    for the time the pods run; `per running hour` when that is unknown."""
    currency = estimate.pod.currency
    low, high = estimate.low_hourly.total, estimate.hourly.total
    said = []
    run = None if estimate.runs is None else estimate.runs.hours
    if run is not None:
        said.append(f"{_span(low, high, run, currency)}/run")
    month = estimate.hours_per_month
    if month is not None:
        said.append(f"{_span(low, high, month, currency)}/month")
    return ", ".join(said) or "per running hour"


def _span(low: Decimal, high: Decimal, hours: Decimal, currency: str) -> str:
    return wording.price_range(low * hours, high * hours, currency)
