"""`costwarden test`: policy test suites pass, and a wrong expectation fails with a diff."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from costwarden.cli import main


@pytest.fixture
def suite_dir(pytestconfig: pytest.Config, tmp_path: Path) -> Path:
    """A copy of the bundled policies and their suites, to edit."""
    target = tmp_path / "policies"
    shutil.copytree(pytestconfig.rootpath / "policies", target)
    return target


def test_bundled_suites_pass(pytestconfig, capsys):
    assert main(["test", str(pytestconfig.rootpath / "policies")]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("0 failed")
    assert "FAIL" not in out


def test_a_wrong_expectation_fails_with_a_readable_diff(suite_dir, capsys):
    suite = suite_dir / "tests.yaml"
    suite.write_text(
        suite.read_text().replace(
            "  - {resource: four-gpus, expect: {allowed: true}}",
            "  - {resource: four-gpus, expect: {allowed: false, deny: [max-gpus-per-pod]}}",
        )
    )
    assert main(["test", str(suite_dir)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  gpu-limits: case 0: CREATE four-gpus" in out
    assert "      --- expected\n      +++ actual\n" in out
    lines = out.splitlines()
    for line in (
        "-allowed: false",
        "-deny: [max-gpus-per-pod]",
        "+allowed: true",
        "+deny: []",
        " warn: []",
    ):
        assert f"      {line}" in lines
    assert out.rstrip().endswith("1 failed")


def test_a_missing_message_is_shown_with_the_actual_messages(suite_dir, capsys):
    suite = suite_dir / "tests.yaml"
    suite.write_text(suite.read_text().replace("leaves capacity type open", "is on the moon"))
    assert main(["test", str(suite_dir)]) == 1
    out = capsys.readouterr().out
    assert (
        "      -message contains: is on the moon\n      +no message contains: is on the moon" in out
    )
    assert "[dev-on-spot] dev pod leaves capacity type open" in out


def test_a_case_naming_a_missing_resource_is_an_input_error(suite_dir, capsys):
    suite = suite_dir / "tests.yaml"
    suite.write_text(suite.read_text().replace("resource: four-gpus,", "resource: five-gpus,"))
    assert main(["test", str(suite_dir)]) == 2
    assert "no resource named 'five-gpus'" in capsys.readouterr().err


def test_a_directory_without_suites_is_an_input_error(tmp_path, capsys):
    assert main(["test", str(tmp_path)]) == 2
    assert "no tests.yaml found" in capsys.readouterr().err


def test_a_file_holding_no_policy_test_is_an_input_error_not_a_vacuous_pass(tmp_path, capsys):
    # A CI gate pointed at the wrong file must not pass with zero cases run.
    suite = tmp_path / "pod.yaml"
    suite.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
    assert main(["test", str(suite)]) == 2
    assert f"{suite}: no PolicyTest" in capsys.readouterr().err


def test_a_resource_whose_metadata_is_not_a_mapping_is_an_input_error(suite_dir, capsys):
    suite = suite_dir / "tests.yaml"
    text = suite.read_text()
    old = "metadata: {name: four-gpus, namespace: ml-train}"
    assert old in text
    suite.write_text(text.replace(old, "metadata: 5", 1))
    assert main(["test", str(suite_dir)]) == 2
    assert "tests.yaml" in capsys.readouterr().err
