"""A CI gate that checked nothing never passes: no objects is an input error (exit 2)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from costwarden import cli


@pytest.mark.parametrize("command", ["check", "estimate"])
def test_an_empty_directory_is_an_error_not_a_pass(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([command, "-f", str(tmp_path)]) == cli.EXIT_INPUT_ERROR
    assert f"error: {tmp_path}: no objects found: nothing was checked" in capsys.readouterr().err


def test_empty_stdin_from_a_failed_pipe_is_an_error_not_a_pass(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["check", "-f", "-"]) == cli.EXIT_INPUT_ERROR
    assert "error: <stdin>: no objects found: nothing was checked" in capsys.readouterr().err


def test_a_file_of_only_comments_is_an_error_not_a_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "empty.yaml"
    manifest.write_text("# helm template rendered nothing\n---\n")
    assert cli.main(["check", "-f", str(manifest)]) == cli.EXIT_INPUT_ERROR
    assert "nothing was checked" in capsys.readouterr().err


def test_linting_files_without_a_policy_rule_is_an_error_not_a_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["lint", "--policies", str(tmp_path)]) == cli.EXIT_INPUT_ERROR
    assert "no CostPolicy rules found" in capsys.readouterr().err
