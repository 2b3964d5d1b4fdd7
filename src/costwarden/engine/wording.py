"""How the engine writes numbers and messages: one format, everywhere.

`[rule-name] what is wrong (numbers) — how to fix or how to request an exception`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def rounded(value: Decimal, places: int = 2) -> Decimal:
    """`value` rounded half up to `places` decimals: how every figure is shown."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def money(amount: Decimal, currency: str = "USD") -> str:
    """`$1,234.56` (USD) or `EUR 1,234.56`."""
    text = f"{rounded(amount):,}"
    if currency == "USD":
        return f"-${text[1:]}" if text.startswith("-") else f"${text}"
    return f"{currency} {text}"


def number(value: Decimal) -> str:
    """`4`, `0.14`, `2.5`: at most two decimals, no trailing zeros."""
    rounded = value.quantize(CENT, rounding=ROUND_HALF_UP).normalize()
    return f"{rounded:f}"


def hours(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)} h"


def duration(span: timedelta) -> str:
    """`1h30m`, `90d`, `45s`: whole units, largest first (how policies write durations)."""
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def age(delta: timedelta) -> str:
    """How old something is, as precisely as a person needs: seconds up to two minutes,
    whole minutes after (`90s`, `7m`, `2h5m`)."""
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    return duration(timedelta(seconds=seconds - seconds % 60))


def day(moment: datetime) -> str:
    """`2026-12-31 16:00 UTC`: the moment converted to UTC (a naive one is taken as UTC)."""
    utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    return utc.strftime("%Y-%m-%d %H:%M UTC")


def message(rule: str, what: str, fix: str) -> str:
    return f"[{rule}] {what} — {fix}" if fix else f"[{rule}] {what}"


def clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


ADD_A_PRICE = "add it to a catalog (docs/cost-model.md#adding-a-price)"
"""The way out of an unpriced estimate, in every message that names one."""


def price_range(low: Decimal, high: Decimal, currency: str = "USD") -> str:
    """`$1.00–$6.88`, or `$6.88` when the two ends show alike."""
    low_text, high_text = money(low, currency), money(high, currency)
    if low_text == high_text:
        return high_text
    if currency != "USD":  # `EUR 1.00–2.00`: the currency once
        high_text = high_text.removeprefix(f"{currency} ")
    return f"{low_text}–{high_text}"


def between(low: str, high: str) -> str:
    """`a10 to b200`: what a pod may be placed on, from the low end's to the high end's
    (`b200` when both are the same)."""
    return high if low == high else f"{low} to {high}"


def unpriced(reasons: Sequence[str]) -> str:
    """`unpriced: instance type p5e.48xlarge not in the catalog`."""
    return "unpriced: " + "; ".join(reasons)
