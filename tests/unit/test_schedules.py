"""Runs of Jobs and CronJobs: run lengths as objects state them, runs a month from a cron
schedule as the cronjob controller reads it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from costwarden import schedules

D = Decimal


@pytest.mark.parametrize(
    ("schedule", "runs_a_year"),
    [
        ("0 2 * * *", 365),  # nightly
        ("@daily", 365),
        ("@midnight", 365),
        ("@hourly", 365 * 24),
        ("* * * * *", 365 * 24 * 60),
        ("@weekly", 52),  # 2027 has 52 Sundays
        ("0 3 * * 0", 52),
        ("0 3 * * 7", 52),  # 7 is Sunday too
        ("@monthly", 12),
        ("@yearly", 1),
        ("*/15 9-17 * * 1-5", 4 * 9 * 261),  # 2027 has 261 weekdays
        ("0 0 * JAN-MAR MON,FRI", 26),  # 13 Mondays and 13 Fridays in Q1 2027
        # Day of month and day of week both restricted: either matches (24 days on the 1st
        # or 15th, 53 Fridays in 2027, 4 of them on the 1st or 15th).
        ("0 0 1,15 * 5", 24 + 53 - 4),
        # One of them starts with * or ?: both must match.
        ("0 0 */2 * 5", 27),  # Fridays on an odd day of the month
        ("0 0 ? * 5", 53),
    ],
)
def test_runs_a_month_are_the_runs_of_a_common_year_over_twelve(
    schedule: str, runs_a_year: int
) -> None:
    assert schedules.runs_per_month(schedule) == D(runs_a_year) / 12


def test_a_nightly_schedule_runs_about_thirty_times_a_month() -> None:
    runs = schedules.runs_per_month("0 2 * * *")
    assert runs * 12 == 365
    assert D("30.41") < runs < D("30.42")


def test_the_time_zone_must_exist_and_moves_runs_not_their_number() -> None:
    assert schedules.runs_per_month("0 2 * * *", "Europe/Berlin") == D(365) / 12
    with pytest.raises(ValueError, match="'Mars/Olympus' is not in the IANA"):
        schedules.runs_per_month("0 2 * * *", "Mars/Olympus")


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ("0 2 * *", "is not a cron expression of 5 fields"),
        ("0 2 * * * 2027", "is not a cron expression of 5 fields"),
        ("61 * * * *", "is not a valid cron expression"),
        ("0 2 * * funday", "is not a valid cron expression"),
        ("0 0 L * *", "the cronjob controller does not accept"),
        ("0 0 * * 1#2", "the cronjob controller does not accept"),
        ("", "is not a cron expression of 5 fields"),
    ],
)
def test_a_schedule_the_controller_would_refuse_is_an_error_naming_it(
    schedule: str, says: str
) -> None:
    with pytest.raises(ValueError, match=says) as raised:
        schedules.runs_per_month(schedule)
    assert repr(schedule) in str(raised.value)


def test_the_deadline_is_the_run_length_before_the_annotation() -> None:
    length = schedules.run_length(14400, "1h")
    assert length == schedules.RunLength(D(4), "activeDeadlineSeconds")
    annotated = schedules.run_length(None, "90m")
    assert annotated == schedules.RunLength(D("1.5"), schedules.EXPECTED_RUNTIME_ANNOTATION)


@pytest.mark.parametrize(
    ("deadline", "annotation"),
    [(None, None), (0, None), (True, None), ("3600", None), (None, "soon"), (None, "0h")],
)
def test_no_usable_deadline_or_annotation_is_an_unknown_run_length(
    deadline: object, annotation: object
) -> None:
    assert schedules.run_length(deadline, annotation) is None


def test_stated_run_length_reads_the_job_then_its_pods_then_the_annotations() -> None:
    note = {schedules.EXPECTED_RUNTIME_ANNOTATION: "2h"}
    job, pods = {"activeDeadlineSeconds": 3600}, {"activeDeadlineSeconds": 7200}
    assert schedules.stated_run_length(job, pods, note) == schedules.RunLength(
        D(1), "activeDeadlineSeconds"
    )
    assert schedules.stated_run_length({}, pods, note) == schedules.RunLength(
        D(2), "activeDeadlineSeconds"
    )
    on_template = schedules.stated_run_length({}, {}, None, note)
    assert on_template == schedules.RunLength(D(2), schedules.EXPECTED_RUNTIME_ANNOTATION)
    assert schedules.stated_run_length({}, {}, None, {}) is None


def test_a_cronjobs_hours_a_month_are_its_runs_times_its_run_length() -> None:
    runs = schedules.cronjob_runs("0 2 * * *", None, schedules.run_length(None, "1h"))
    assert runs.hours == 1
    assert runs.hours_per_month == D(365) / 12
    assert "30.42 runs/month ('0 2 * * *' UTC); 1 h a run" in runs.describe()


def test_without_a_run_length_the_hours_a_month_are_unknown_and_said_so() -> None:
    runs = schedules.cronjob_runs("0 2 * * *", "Europe/Berlin", None)
    assert runs.hours is None
    assert runs.hours_per_month is None
    said = runs.describe()
    assert "Europe/Berlin" in said
    assert "$/h is per running hour and $/month unknown" in said
    assert schedules.EXPECTED_RUNTIME_ANNOTATION in said


def test_a_job_runs_once_and_has_no_hours_a_month() -> None:
    runs = schedules.Runs(schedules.run_length(21600, None))
    assert runs.hours == 6
    assert runs.hours_per_month is None
    assert runs.describe().startswith("runs once; 6 h a run (activeDeadlineSeconds)")


@pytest.mark.parametrize(
    ("text", "duration"),
    [("6h", timedelta(hours=6)), ("90m", timedelta(minutes=90)), ("1h30m", timedelta(minutes=90))],
)
def test_durations_read_as_the_policies_write_them(text: str, duration: timedelta) -> None:
    assert schedules.parse_duration(text) == duration


def test_a_duration_that_is_none_says_how_to_write_one() -> None:
    with pytest.raises(ValueError, match="is not a duration like 6h, 90m"):
        schedules.parse_duration("six hours")


def test_a_long_schedule_is_named_cut_short() -> None:
    with pytest.raises(ValueError, match=r"'0{77}\.\.\.'") as raised:
        schedules.runs_per_month("0" * 5000 + " * * * *")
    assert len(str(raised.value)) < 300


def test_a_schedule_too_long_to_be_cron_is_refused_before_it_is_memoised() -> None:
    # Five fields and a megabyte of whitespace would split into a valid schedule, and the
    # memo of runs keys on the text a CronJob carries (before the API server validates it).
    padded = "0 2 * * *" + " " * 2**20
    with pytest.raises(ValueError, match="longer than 256 characters: not a cron schedule"):
        schedules.runs_per_month(padded)
    assert schedules.runs_per_month("0 2 * * *" + " " * 10) == schedules.runs_per_month("0 2 * * *")
