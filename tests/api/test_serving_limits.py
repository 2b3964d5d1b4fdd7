"""The server's connection cap against the open-file limit, and its one-line-per-kind log."""

from __future__ import annotations

import logging

import pytest

from costwarden import settings as serve_settings
from costwarden.api import serving


def test_the_cap_defaults_to_what_fits_under_the_open_file_limit() -> None:
    # 1,024 files (a container runtime's default), 32 for the operations port, 64 kept back.
    assert serving.connection_limit(0, others=32, file_limit=1024) == 928
    assert serving.connection_limit(0, others=0, file_limit=1024) == 960


def test_a_cap_that_fits_is_kept(caplog: pytest.LogCaptureFixture) -> None:
    assert serving.connection_limit(100, others=32, file_limit=1024) == 100
    assert caplog.records == []


def test_a_cap_past_the_open_file_limit_is_lowered_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert serving.connection_limit(5000, others=32, file_limit=1024) == 928
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "--max-connections 5000" in record.getMessage()
    assert "open-file limit 1024" in record.getMessage()


def test_a_tiny_open_file_limit_still_leaves_one_connection() -> None:
    assert serving.connection_limit(0, others=32, file_limit=50) == 1


def test_the_cap_is_read_from_this_process_limit_when_none_is_given() -> None:
    limit = serving.open_file_limit()
    assert serving.connection_limit(0, others=0) == max(limit - serving.RESERVED_FILES, 1)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_event_log_writes_one_line_per_kind_per_interval_and_counts_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="test.events")
    clock = Clock()
    events = serving.EventLog(logging.getLogger("test.events"), interval=60, clock=clock)
    for _ in range(1000):
        events.event("timeout", logging.INFO, "closed a connection after %d s", 10)
        events.event("handshake", logging.INFO, "a TLS handshake failed")
        clock.now += 0.01  # 1,000 of each in 10 s
    assert [r.getMessage() for r in caplog.records] == [
        "closed a connection after 10 s",
        "a TLS handshake failed",
    ]
    clock.now = 61
    events.event("timeout", logging.INFO, "closed a connection after %d s", 10)
    assert caplog.records[-1].getMessage() == (
        "closed a connection after 10 s (and 999 more like it since the last such line)"
    )
    clock.now = 200
    events.event("timeout", logging.INFO, "closed a connection after %d s", 10)
    assert caplog.records[-1].getMessage() == "closed a connection after 10 s"


@pytest.mark.parametrize(
    ("flag", "env", "field", "value"),
    [
        ("--header-timeout-seconds", "HEADER_TIMEOUT_SECONDS", "header_timeout_seconds", 2.5),
        ("--body-timeout-seconds", "BODY_TIMEOUT_SECONDS", "body_timeout_seconds", 3.0),
        ("--max-connections", "MAX_CONNECTIONS", "max_connections", 500),
        ("--shutdown-timeout-seconds", "SHUTDOWN_TIMEOUT_SECONDS", "shutdown_timeout_seconds", 8),
    ],
)
def test_the_limits_are_serve_flags_and_environment_variables(
    flag: str, env: str, field: str, value: float
) -> None:
    assert serve_settings.flag_name(field) == flag
    from_env = serve_settings.load(flags={}, environ={f"COSTWARDEN_{env}": str(value)})
    assert getattr(from_env, field) == value
    with pytest.raises(serve_settings.SettingsError, match=flag):
        serve_settings.load(flags={field: "-1"}, environ={})
