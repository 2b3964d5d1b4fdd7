"""Serve settings from flags and environment: precedence, lists, switches, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from costwarden import settings


def test_flags_override_the_environment_which_overrides_defaults() -> None:
    loaded = settings.load(
        flags={"webhook_port": 9443, "log_level": None},
        environ={"COSTWARDEN_WEBHOOK_PORT": "7443", "COSTWARDEN_LOG_LEVEL": "debug"},
    )
    assert loaded.webhook_port == 9443
    assert loaded.log_level == "debug"
    assert loaded.metrics_port == 8080


def test_list_settings_repeat_as_flags_and_are_comma_separated_in_the_environment() -> None:
    from_env = settings.load(flags={}, environ={"COSTWARDEN_POLICIES": "/a,/b"})
    assert from_env.policies == (Path("/a"), Path("/b"))
    from_flags = settings.load(flags={"catalogs": ["/c", "/d"]}, environ={})
    assert from_flags.catalogs == (Path("/c"), Path("/d"))


def test_switches_accept_true_and_false_words_and_flags_can_turn_defaults_off() -> None:
    assert settings.load(flags={}, environ={"COSTWARDEN_IN_CLUSTER": "true"}).in_cluster
    assert not settings.load(flags={}, environ={"COSTWARDEN_IN_CLUSTER": "0"}).in_cluster
    assert not settings.load(
        flags={"propagate_cost_labels": False}, environ={}
    ).propagate_cost_labels
    with pytest.raises(settings.SettingsError, match="COSTWARDEN_IN_CLUSTER='maybe'"):
        settings.load(flags={}, environ={"COSTWARDEN_IN_CLUSTER": "maybe"})


def test_an_invalid_value_names_its_flag_and_variable() -> None:
    with pytest.raises(settings.SettingsError) as raised:
        settings.load(flags={"webhook_port": 70000}, environ={"COSTWARDEN_LOG_LEVEL": "loud"})
    message = str(raised.value)
    assert "--webhook-port / COSTWARDEN_WEBHOOK_PORT" in message
    assert "--log-level / COSTWARDEN_LOG_LEVEL" in message


@pytest.mark.parametrize("url", ["notaurl", "http://[::1", "http://prometheus:99999", "ftp://p"])
def test_a_prometheus_url_that_cannot_be_queried_is_refused_at_start(url: str) -> None:
    with pytest.raises(
        settings.SettingsError, match="--prometheus-url / COSTWARDEN_PROMETHEUS_URL"
    ):
        settings.load(flags={"prometheus_url": url}, environ={})


def test_a_prometheus_url_with_a_path_prefix_is_accepted() -> None:
    url = "https://mimir.example:8080/prometheus"
    assert settings.load(flags={"prometheus_url": url}, environ={}).prometheus_url == url


def test_every_setting_has_a_documented_flag_name() -> None:
    for field, info in settings.Settings.model_fields.items():
        assert info.description, f"{field} needs a docstring (it is the --help text)"
        assert settings.flag_name(field).startswith("--")
