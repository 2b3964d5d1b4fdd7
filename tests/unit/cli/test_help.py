"""What `--help` promises: the default policy set, the namespace-labels flag."""

from __future__ import annotations

import pytest

from costwarden import cli


def help_text(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", ["check", "lint", "serve"])
def test_the_default_policy_set_is_named_as_the_packaged_copy_of_policies_dir(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_text(command, capsys)
    assert "the bundled policies, the packaged copy of the repository's" in text
    assert "policies/" in text


@pytest.mark.parametrize("command", ["check", "serve"])
def test_check_and_serve_show_one_namespace_labels_flag_that_takes_kubectl_output(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_text(command, capsys)
    assert "--namespace-labels-file" in text
    assert "--namespace-labels " not in text
    assert "kubectl get namespaces -o yaml" in text
