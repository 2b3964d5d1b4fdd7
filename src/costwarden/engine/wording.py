"""How the engine writes numbers and messages: one format, everywhere.

`[rule-name] what is wrong (numbers) — how to fix or how to request an exception`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(amount: Decimal, currency: str = "USD") -> str:
    """`$1,234.56` (USD) or `EUR 1,234.56`."""
    text = f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):,}"
    if currency == "USD":
        return f"-${text[1:]}" if text.startswith("-") else f"${text}"
    return f"{currency} {text}"


def number(value: Decimal) -> str:
    """`4`, `0.14`, `2.5`: at most two decimals, no trailing zeros."""
    rounded = value.quantize(CENT, rounding=ROUND_HALF_UP).normalize()
    return f"{rounded:f}"


def hours(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)} h"


def age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def day(moment: datetime) -> str:
    """`2026-12-31 16:00 UTC`: the moment converted to UTC (a naive one is taken as UTC)."""
    utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    return utc.strftime("%Y-%m-%d %H:%M UTC")


def message(rule: str, what: str, fix: str) -> str:
    return f"[{rule}] {what} — {fix}" if fix else f"[{rule}] {what}"


def clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
