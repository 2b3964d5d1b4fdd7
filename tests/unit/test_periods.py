from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from costwarden import periods


def test_a_month_starts_on_the_first_at_midnight_utc() -> None:
    now = datetime(2026, 3, 17, 15, 4, 5, tzinfo=UTC)
    assert periods.period_start(now, period="month") == datetime(2026, 3, 1, tzinfo=UTC)
    assert periods.period_end(now, period="month") == datetime(2026, 4, 1, tzinfo=UTC)


def test_december_ends_in_january_of_the_next_year() -> None:
    now = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert periods.period_end(now, period="month") == datetime(2027, 1, 1, tzinfo=UTC)


def test_a_week_starts_on_monday_iso_style() -> None:
    sunday = datetime(2026, 3, 8, 23, 0, tzinfo=UTC)
    assert periods.period_start(sunday, period="week") == datetime(2026, 3, 2, tzinfo=UTC)
    assert periods.period_end(sunday, period="week") == datetime(2026, 3, 9, tzinfo=UTC)


def test_the_period_follows_the_budget_timezone() -> None:
    # 23:30 UTC on 31 March is already 1 April in Berlin (CEST, UTC+2).
    now = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    start = periods.period_start(now, period="month", timezone="Europe/Berlin")
    assert start == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
    assert periods.seconds_into_period(now, period="month", timezone="Europe/Berlin") == 5400


def test_seconds_into_a_period_that_crosses_a_dst_change_count_real_seconds() -> None:
    # Berlin moved clocks forward on 2026-03-29: 23:00 on 31 March (CEST) is 30 days 23 h
    # of wall clock after 1 March 00:00 (CET), but only 742 real hours.
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 31, 23, 0, tzinfo=berlin)
    elapsed = periods.seconds_into_period(now, period="month", timezone="Europe/Berlin")
    assert elapsed == 742 * 3600
    end = periods.period_end(now, period="month", timezone="Europe/Berlin")
    assert end == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        periods.period_start(datetime(2026, 3, 1), period="month")


def test_any_aware_timezone_is_accepted_for_now() -> None:
    now = datetime(2026, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert periods.period_start(now, period="month") == datetime(2026, 3, 1, tzinfo=UTC)
