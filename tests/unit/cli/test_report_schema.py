"""One output contract: every command's `-o json` validates against the published schema
(`src/costwarden/data/schema/report.json`), and the file is what the models say."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from tests.conftest import MANIFEST_FIXTURES, ROOT

from costwarden.cli import main, report_schema

SCHEMA_FILE = Path(report_schema.__file__).parent.parent / "data" / "schema" / "report.json"
NAMESPACES = textwrap.dedent(
    """\
    ml-train: {cost-centre: Sales-5045, team: nlp, env: prod}
    ml-dev: {cost-centre: RnD-1001, team: vision, env: dev}
    ml-infer: {cost-centre: Retail-2045, team: search}
    """
)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    path = tmp_path / "namespaces.yaml"
    path.write_text(NAMESPACES)
    return path


def printed(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    status = main([*args, "-o", "json"])
    assert status in (0, 1)
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_the_schema_file_is_what_the_models_say():
    regenerate = "python -m costwarden.cli.report_schema > src/costwarden/data/schema/report.json"
    assert json.loads(SCHEMA_FILE.read_text()) == report_schema.schema(), regenerate


def test_check_output_follows_the_schema(validator, labels, capsys):
    report = printed(
        capsys, "check", "-f", str(MANIFEST_FIXTURES), "--namespace-labels-file", str(labels)
    )
    validator.validate(report)
    assert report["report"] == "check"
    assert {o["verdict"] for o in report["objects"]} >= {"allowed", "denied"}


def test_estimate_output_follows_the_schema(validator, capsys):
    report = printed(capsys, "estimate", "-f", str(MANIFEST_FIXTURES))
    validator.validate(report)
    assert report["report"] == "estimate"
    assert report["total"]["objects"] == len(report["objects"])


def test_audit_output_follows_the_schema(validator, labels, capsys):
    report = printed(
        capsys, "audit", "-f", str(MANIFEST_FIXTURES), "--namespace-labels-file", str(labels)
    )
    validator.validate(report)
    assert report["report"] == "audit"


def test_diff_output_follows_the_schema(validator, labels, tmp_path, capsys):
    base = tmp_path / "base.yaml"
    base.write_text((MANIFEST_FIXTURES / "gpu-infer-deploy.yaml").read_text())
    report = printed(
        capsys,
        "diff",
        "--base",
        str(base),
        "-f",
        str(MANIFEST_FIXTURES),
        "--namespace-labels-file",
        str(labels),
    )
    validator.validate(report)
    assert {item["change"] for item in report["objects"]} >= {"added", "unchanged"}


def test_a_report_that_breaks_the_contract_is_caught(validator, labels, capsys):
    report = printed(
        capsys, "audit", "-f", str(MANIFEST_FIXTURES), "--namespace-labels-file", str(labels)
    )
    report["objects"][0]["estimate"]["hourly"]["high"] = 6.2629  # a float, not a decimal string
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(report)


def test_lint_and_test_outputs_follow_the_schema(validator, capsys):
    lint = printed(capsys, "lint")
    validator.validate(lint)
    assert (lint["report"], lint["ok"]) == ("lint", True)
    suites = printed(capsys, "test", str(ROOT / "policies"))
    validator.validate(suites)
    assert suites["passed"] == len(suites["cases"]) > 0


@pytest.mark.parametrize("command", ["check", "estimate", "audit"])
def test_yaml_is_the_same_report_as_json(command, labels, capsys):
    args = [command, "-f", str(MANIFEST_FIXTURES)]
    if command != "estimate":
        args += ["--namespace-labels-file", str(labels)]
    if command == "audit":
        args += ["--now", "2026-12-06T12:00:00Z"]
    as_json = printed(capsys, *args)
    status = main([*args, "-o", "yaml"])
    assert status in (0, 1)
    assert yaml.safe_load(capsys.readouterr().out) == as_json
