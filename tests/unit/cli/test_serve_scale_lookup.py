"""`costwarden serve --scale-lookup-failure` / `COSTWARDEN_SCALE_LOOKUP_FAILURE` reaches the
engine: a Scale that cannot be priced (here: no `--in-cluster`, so nothing to look the
workload up with) is denied, warned or allowed as the server was told."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tests.conftest import ADMISSION_FIXTURES

from costwarden import app as application
from costwarden import cli, settings

SCALE = ADMISSION_FIXTURES / "034-validate-scale-scale-update-ml-train-llm-server.json"
"""`kubectl -n ml-train scale deployment llm-server --replicas=4` (from 2)."""
NAMESPACES = {"ml-train": {"cost-centre": "Sales-5045", "team": "nlp", "env": "prod"}}


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def serve_settings(argv: list[str], environ: Mapping[str, str]) -> settings.Settings:
    """The Settings `costwarden serve` builds from these args and environment."""
    namespace = cli.build_parser().parse_args(["serve", "--insecure-http", *argv])
    flags = {field: getattr(namespace, field) for field in settings.Settings.model_fields}
    return settings.load(flags=flags, environ=environ)


async def validate_scale(loaded: settings.Settings) -> dict[str, Any]:
    webhook = application.create_app(
        loaded, namespaces=application.StaticNamespaceLabels(NAMESPACES), clock=FixedClock()
    )
    transport = httpx.ASGITransport(app=webhook.admission)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        answer = await http.post("/validate", json=json.loads(SCALE.read_text()))
    assert answer.status_code == 200
    response: dict[str, Any] = answer.json()["response"]
    return response


def test_a_scale_that_cannot_be_priced_is_denied_by_default() -> None:
    assert serve_settings([], {}).scale_lookup_failure == "deny"


@pytest.mark.parametrize(
    ("argv", "environ", "allowed", "shown"),
    [
        ([], {}, False, "status"),
        (["--scale-lookup-failure", "warn"], {}, True, "warnings"),
        ([], {"COSTWARDEN_SCALE_LOOKUP_FAILURE": "allow"}, True, "warnings"),
        # The flag wins over the environment.
        (["--scale-lookup-failure", "deny"], {"COSTWARDEN_SCALE_LOOKUP_FAILURE": "warn"}, False,
         "status"),
    ],
)  # fmt: skip
async def test_the_flag_and_the_variable_reach_the_engine(
    argv: list[str], environ: dict[str, str], allowed: bool, shown: str
) -> None:
    response = await validate_scale(serve_settings(argv, environ))
    assert response["allowed"] is allowed
    lines = [response["status"]["message"]] if shown == "status" else response[shown]
    said = " ".join(" ".join(lines).split())  # warnings are split into lines of 120
    assert said.startswith("[scale-lookup] ")
    assert "scale of Deployment ml-train/llm-server to 4 replicas" in said
    assert "--in-cluster" in said


def test_a_value_that_is_no_behaviour_names_the_flag_and_the_variable() -> None:
    with pytest.raises(settings.SettingsError) as raised:
        serve_settings([], {"COSTWARDEN_SCALE_LOOKUP_FAILURE": "ignore"})
    assert "--scale-lookup-failure / COSTWARDEN_SCALE_LOOKUP_FAILURE" in str(raised.value)
