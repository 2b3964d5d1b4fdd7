"""Every `--help` shows its defaults; `check` colours verdicts on a terminal only."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from costwarden import cli

SHOWN = {
    "check": ["--fail-on {deny,warn}", "(default: deny)", "(default: table)"],
    "estimate": ["(default: table)"],
    "diff": ["(default: table)"],
    "audit": ["(default: table)", "(default: 10)"],
    "test": ["default: policies/"],
    "serve": [
        "(default: 8443)",  # webhook port
        "(default: deny)",  # scale lookup failure
        "(default: off) [env COSTWARDEN_INSECURE_HTTP]",
        "(default: on) [env COSTWARDEN_PROPAGATE_COST_LABELS]",
        "(default: cost-centre) [env COSTWARDEN_COST_CENTRE_LABEL]",
    ],
    "lint": ["default: the bundled policies"],
}


def help_text(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_every_command_is_listed() -> None:
    assert set(SHOWN) == set(cli.COMMANDS)


@pytest.mark.parametrize("command", sorted(SHOWN))
def test_help_shows_the_defaults(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(command, capsys)
    for expected in SHOWN[command]:
        assert expected in text
    assert "(default: None)" not in text
    assert "(default: [])" not in text
    assert "(default: False)" not in text


def test_check_help_documents_fail_on_and_the_exit_codes(capsys) -> None:
    text = help_text("check", capsys)
    assert "exit 1 when anything is denied (deny), or also when anything is warned (warn)" in text
    assert "2 unreadable or invalid input" in text
    assert "--require-namespaces" in text
    assert "--from-cluster" in text


# --- colour -----------------------------------------------------------------------------

RED, YELLOW = "\033[31m", "\033[33m"


def check_output(manifests: Path, *, tty: bool, environ: dict[str, str]) -> str:
    """What `costwarden check` prints to a terminal (a pseudo-terminal) or a pipe."""
    argv = [sys.executable, "-m", "costwarden", "check", "-f", str(manifests)]
    argv += ["--now", "2026-11-22T12:00:00Z"]
    if not tty:
        done = subprocess.run(argv, capture_output=True, text=True, env=environ, timeout=120)
        return done.stdout
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(argv, stdout=follower, stderr=follower, env=environ)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=120)
    finally:
        os.close(leader)
    return b"".join(chunks).decode()


@pytest.fixture
def environ() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k != "NO_COLOR" and not k.startswith("COSTWARDEN_")
    }


@pytest.fixture(scope="module")
def denied_and_warned(tmp_path_factory: pytest.TempPathFactory, pytestconfig) -> Path:
    """The fixtures (some warned) and a Namespace making ml-dev a dev namespace (denied)."""
    directory = tmp_path_factory.mktemp("manifests")
    fixtures = pytestconfig.rootpath / "tests" / "fixtures" / "manifests"
    for name in ("dev-notebook-pod.yaml", "mig-infer-pod.yaml"):
        (directory / name).write_text((fixtures / name).read_text())
    (directory / "ns.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\n"
        "metadata: {name: ml-dev, labels: {env: dev, cost-centre: RnD-1001, team: vision}}\n"
    )
    return directory


def test_a_terminal_sees_denied_red_and_warned_yellow(denied_and_warned, environ) -> None:
    out = check_output(denied_and_warned, tty=True, environ=environ)
    assert f"{RED}denied\033[0m" in out
    assert f"{YELLOW}warned\033[0m" in out
    assert f"  {RED}DENY\033[0m  [dev-on-spot]" in out
    assert f"  {YELLOW}WARN\033[0m  [gpu-pods-tolerate-gpu-taint]" in out


def test_no_color_and_a_pipe_get_plain_text(denied_and_warned, environ) -> None:
    piped = check_output(denied_and_warned, tty=False, environ=environ)
    told = check_output(denied_and_warned, tty=True, environ={**environ, "NO_COLOR": "1"})
    for out in (piped, told):
        assert "\033[" not in out
        assert "denied" in out
        assert "  DENY  [dev-on-spot]" in out
