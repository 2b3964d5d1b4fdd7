"""The `costwarden` command line: one sub-command per module of this package.

Each module defines `register(subcommands)`, adding its parser and setting `run`, a
function `(args) -> int` returning the exit status: 0 success/allowed, 1 denied or
failed checks, 2 usage or input error (unreadable file, invalid manifest or policy).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from costwarden import __version__

EXIT_OK = 0
EXIT_DENIED = 1
EXIT_INPUT_ERROR = 2


class InputError(Exception):
    """Bad input a user can fix (names the file, document and path); exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="costwarden",
        description="FinOps admission controller for Kubernetes AI/ML workloads.",
    )
    parser.add_argument("--version", action="version", version=f"costwarden {__version__}")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        module.register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except BrokenPipeError:  # `costwarden estimate ... | head`
        return EXIT_OK
    return status
