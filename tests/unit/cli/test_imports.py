"""The offline commands import only what they use: never the webhook's stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from tests.conftest import ROOT

import costwarden

SERVER_STACK = {"fastapi", "starlette", "uvicorn", "httpx", "kubernetes", "prometheus_client"}
EXAMPLES = str(resources.files("costwarden").joinpath("data", "examples"))
SOURCE = {**os.environ, "PYTHONPATH": str(Path(costwarden.__file__).parent.parent)}
"""The costwarden under test, not whichever one is installed."""

RUN_AND_LIST_MODULES = """
import json, sys
from costwarden.cli import main
try:
    status = main(sys.argv[1:])
finally:
    print(json.dumps(sorted(sys.modules)))
sys.exit(status)
"""


def modules_imported_by(*args: str) -> set[str]:
    """`sys.modules` after `costwarden ARGS` ran, in a fresh interpreter (pytest itself
    has imported half of them already)."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=SOURCE,
    )
    assert done.returncode in (0, 1), done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "args",
    [
        ("check", "-f", EXAMPLES),
        ("estimate", "-f", EXAMPLES),
        ("lint",),
        ("test", str(ROOT / "policies")),
    ],
    ids=lambda args: args[0],
)
def test_offline_commands_do_not_import_the_webhook_stack(args: tuple[str, ...]) -> None:
    modules = modules_imported_by(*args)
    imported = {name.partition(".")[0] for name in modules}
    assert "costwarden" in imported
    assert imported & SERVER_STACK == set()
    # nor the webhook's own layer: its wire models are the HTTP contract, not the engine's
    assert {name for name in modules if name.startswith("costwarden.api")} == set()


def test_help_lists_the_commands_without_importing_any() -> None:
    imported = modules_imported_by("--help")
    assert {name for name in imported if name.startswith("costwarden.")} == {"costwarden.cli"}
