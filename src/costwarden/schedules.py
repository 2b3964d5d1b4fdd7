"""Runs of Jobs and CronJobs: how long one run lasts and how many a month brings (pure).

A Deployment runs all month, so its monthly figure is $/h × 730. A Job runs once and a
CronJob once per tick of its schedule, so theirs is $/h × the hours they run:

    CronJob $/month = $/h × run length × runs per month
    Job     $/run   = $/h × run length          (a Job runs once: no monthly figure)

The run length is what the object states — its Job's `activeDeadlineSeconds` (the most a
run may last), else the `costwarden.io/expected-runtime` annotation (`90m`, `6h`) on the
object or its pod template, the same annotation the budget rule charges — and unknown
otherwise: the figure is then per running hour only, never 730 hours by default.

Runs per month come from the cron `schedule` (its fields parsed by cronsim; read as the
cronjob controller reads it): the runs of a common year (2027) divided by 12 — a month of 730 hours
is a twelfth of an 8,760-hour year. Counted as (runs a matching day) × (matching days of
the year), so a schedule every minute costs no more to count than a nightly one. The
`timeZone` must name an IANA zone and is shown with the figure; it moves the runs in time,
not their number, except on the days a daylight-saving shift skips or repeats an hour (a
run or two a year, not counted).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

EXPECTED_RUNTIME_ANNOTATION = "costwarden.io/expected-runtime"
"""On a Job, CronJob or their pod template: how long one run is expected to last (`6h`)."""

_HOUR = Decimal(3600)
_YEAR = 2027
"""The common year (365 days, no 29 February) whose runs a schedule is counted over."""
_MONTHS = 12
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
"""The macros the cronjob controller (robfig/cron's standard parser) accepts."""


def parse_duration(text: str) -> timedelta:
    """`6h`, `90m`, `1h30m`, `2d`, `45s` -> timedelta; ValueError for anything else."""
    found = _DURATION.match(text.strip())
    if not text.strip() or found is None:
        raise ValueError(f"{text!r} is not a duration like 6h, 90m, 1h30m or 2d")
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    try:
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is longer than any duration can be") from None


@dataclass(frozen=True, slots=True)
class RunLength:
    """How long one run lasts, and where that was read."""

    hours: Decimal
    source: str
    """`activeDeadlineSeconds` or the expected-runtime annotation."""


def run_length(deadline: object, annotation: object) -> RunLength | None:
    """One run's length: `activeDeadlineSeconds` (a positive integer) when set, else the
    expected-runtime annotation (a positive duration), else None (unknown). A malformed
    annotation states nothing: the API server does not check annotations."""
    if isinstance(deadline, int) and not isinstance(deadline, bool) and deadline > 0:
        return RunLength(Decimal(deadline) / _HOUR, "activeDeadlineSeconds")
    if isinstance(annotation, str):
        try:
            duration = parse_duration(annotation)
        except ValueError:
            return None
        if duration > timedelta(0):
            hours = Decimal(int(duration.total_seconds())) / _HOUR
            return RunLength(hours, EXPECTED_RUNTIME_ANNOTATION)
    return None


def stated_run_length(
    job_spec: Mapping[str, Any],
    pod_spec: Mapping[str, Any],
    *annotations: Mapping[str, Any] | None,
) -> RunLength | None:
    """A run's length as a Job (or a CronJob's Job template) states it: the Job's deadline,
    else its pods', else the annotation on the first of `annotations` that has it (the
    object's, then its pod template's)."""
    deadline = job_spec.get("activeDeadlineSeconds")
    if deadline is None:
        deadline = pod_spec.get("activeDeadlineSeconds")
    annotation = next(
        (
            a[EXPECTED_RUNTIME_ANNOTATION]
            for a in annotations
            if a and EXPECTED_RUNTIME_ANNOTATION in a
        ),
        None,
    )
    return run_length(deadline, annotation)


@dataclass(frozen=True, slots=True)
class Runs:
    """How a Job or a CronJob runs: one run's length, and how often for a CronJob."""

    length: RunLength | None
    """None: the object states no run length."""
    per_month: Decimal | None = None
    """Runs in a 730-hour month (a CronJob); None for a Job, which runs once."""
    schedule: str | None = None
    time_zone: str | None = None

    @property
    def hours(self) -> Decimal | None:
        """Hours one run lasts, None when unknown."""
        return None if self.length is None else self.length.hours

    @property
    def hours_per_month(self) -> Decimal | None:
        """Hours a month the pods run: runs × run length for a CronJob whose run length is
        known; None for a Job (it runs once) or an unknown run length."""
        if self.length is None or self.per_month is None:
            return None
        return self.length.hours * self.per_month

    def describe(self) -> str:
        """In plain words, for an estimate's notes: what the figures rest on."""
        if self.per_month is not None:
            zone = f" {self.time_zone}" if self.time_zone else " UTC"
            runs = f"{_number(self.per_month)} runs/month ({self.schedule!r}{zone})"
        else:
            runs = "runs once"
        if self.length is None:
            return (
                f"{runs}; run length unknown, so $/h is per running hour and $/month unknown "
                f"(set activeDeadlineSeconds or annotate {EXPECTED_RUNTIME_ANNOTATION}: 2h)"
            )
        length = f"{_number(self.length.hours)} h a run ({self.length.source})"
        if self.length.source == "activeDeadlineSeconds":
            length += ", the most a run may last"
        return f"{runs}; {length}"


def cronjob_runs(schedule: str, time_zone: str | None, length: RunLength | None) -> Runs:
    """A CronJob's runs. Raises ValueError naming what is wrong with the schedule or zone."""
    return Runs(length, runs_per_month(schedule, time_zone), schedule, time_zone)


SCHEDULE_AT_MOST = 256
"""The longest schedule read: five cron fields are short. A longer one (the webhook sees an
object before the API server validates it) is refused before the memo of runs, whose keys
are the schedules."""


def runs_per_month(schedule: str, time_zone: str | None = None) -> Decimal:
    """Runs of a cron schedule in a 730-hour month: the runs of a common year, ÷ 12.

    Raises ValueError naming what is wrong with the schedule or the time zone.
    """
    if len(schedule) > SCHEDULE_AT_MOST or len(time_zone or "") > SCHEDULE_AT_MOST:
        shown = repr(f"{schedule[:77]}..." if len(schedule) > 80 else schedule)
        raise ValueError(
            f"schedule {shown} or its time zone is longer than {SCHEDULE_AT_MOST} characters: "
            "not a cron schedule"
        )
    return _runs_per_month(schedule, time_zone)


@functools.lru_cache(maxsize=256)
def _runs_per_month(schedule: str, time_zone: str | None) -> Decimal:
    _zone(time_zone)  # named with the figure: it must exist
    shown = repr(schedule if len(schedule) <= 80 else f"{schedule[:77]}...")
    expression = _MACROS.get(schedule.strip().lower(), schedule.strip())
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"schedule {shown} is not a cron expression of 5 fields "
            "(minute hour day-of-month month day-of-week) or a macro such as @daily"
        )
    _, _, day, _, weekday = fields
    if re.search(r"[LW#]", f"{day} {weekday}", re.IGNORECASE):
        raise ValueError(
            f"schedule {shown} uses L, W or #, which the cronjob controller does not accept"
        )
    # robfig/cron reads `?` in the day fields as `*`; cronsim knows only `*`.
    fields[2], fields[4] = (re.sub(r"^\?", "*", field) for field in (day, weekday))
    try:
        parsed = CronSim(" ".join(fields), datetime(_YEAR, 1, 1))
    except (CronSimError, ValueError) as exc:
        raise ValueError(
            f"schedule {shown} is not a valid cron expression: {str(exc)[:120]}"
        ) from None
    weekdays = {d % 7 for d in parsed.weekdays if isinstance(d, int)}  # 7 is Sunday too
    # As the cronjob controller (robfig/cron) reads a day: when the day-of-month or the
    # day-of-week field starts with * or ?, a day must match both; otherwise either.
    either = not (day.startswith(("*", "?")) or weekday.startswith(("*", "?")))
    per_day = len(parsed.minutes) * len(parsed.hours)
    matching = sum(
        1
        for date in _DAYS
        if date.month in parsed.months and _day_matches(date, parsed.days, weekdays, either=either)
    )
    return Decimal(per_day * matching) / _MONTHS


_DAYS = tuple(datetime(_YEAR, 1, 1) + timedelta(days=n) for n in range(365))


def _day_matches(
    date: datetime, days: Collection[int], weekdays: Collection[int], *, either: bool
) -> bool:
    in_month = date.day in days
    in_week = date.isoweekday() % 7 in weekdays  # Sunday is 0
    return (in_month or in_week) if either else (in_month and in_week)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone {name!r} is not in the IANA time zone database") from None


def _number(value: Decimal) -> str:
    """`30.42`, `1`, `0.5`: at most 2 decimal places, no trailing zeros."""
    rounded = value.quantize(Decimal("0.01")).normalize()
    return f"{rounded:f}"
