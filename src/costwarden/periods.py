"""Budget periods: where the current calendar month or ISO week starts and ends — the one
period arithmetic, used by the budget rule, the spend queries and the budget metrics.

A budget period is a wall-clock period in the budget's own timezone (a cost centre in
Berlin budgets Berlin months), computed from an injected `now` so it is deterministic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

Period = Literal["month", "week"]


def period_start(now: datetime, *, period: Period, timezone: str = "UTC") -> datetime:
    """The first instant of the period containing `now`, as an aware datetime in `timezone`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        start = midnight.replace(day=1)
    else:  # ISO week: Monday 00:00
        start = midnight - timedelta(days=local.weekday())
    # Re-attach the zone so a DST change between `now` and the start gets its own offset.
    return start.replace(tzinfo=None).replace(tzinfo=ZoneInfo(timezone))


def period_end(now: datetime, *, period: Period, timezone: str = "UTC") -> datetime:
    """The first instant of the next period (exclusive end of the current one)."""
    start = period_start(now, period=period, timezone=timezone)
    if period == "month":
        naive = start.replace(tzinfo=None)
        following = (
            naive.replace(year=naive.year + 1, month=1)
            if naive.month == 12
            else naive.replace(month=naive.month + 1)
        )
    else:
        following = start.replace(tzinfo=None) + timedelta(days=7)
    return following.replace(tzinfo=ZoneInfo(timezone))


def seconds_into_period(now: datetime, *, period: Period, timezone: str = "UTC") -> int:
    """Whole seconds elapsed since the period started."""
    start = period_start(now, period=period, timezone=timezone)
    # Subtract in UTC: aware datetimes sharing one tzinfo subtract as wall clock (DST-blind).
    return int((now.astimezone(UTC) - start.astimezone(UTC)).total_seconds())


def hours_left(now: datetime, *, period: Period, timezone: str = "UTC") -> Decimal:
    """Hours from `now` to the period's end, in whole seconds, as budgets count them."""
    seconds = int((period_end(now, period=period, timezone=timezone) - now).total_seconds())
    return Decimal(seconds) / _HOUR


_HOUR = Decimal(3600)
