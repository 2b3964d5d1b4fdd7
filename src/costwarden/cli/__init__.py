"""The `costwarden` command line: one sub-command per module of this package.

`COMMANDS` lists them with the one-line summary `costwarden --help` shows. Only the
command being run is imported (as pip does with its `commands_dict`): the offline
commands never load the webhook's stack (FastAPI, uvicorn, httpx, the kubernetes client).
Each module defines `register(parser)`, adding its arguments and setting `run`, a function
`(args) -> int` returning the exit status: 0 success/allowed, 1 denied or failed checks,
2 usage or input error (unreadable file, invalid manifest or policy).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Collection, Sequence

from costwarden import __version__

EXIT_OK = 0
EXIT_DENIED = 1
EXIT_INPUT_ERROR = 2

COMMANDS = {
    "check": "evaluate manifests against the policies, as admission would (CI gate)",
    "estimate": "estimate what manifests will cost ($/h and $/month)",
    "diff": "what a change does to cost and verdicts (a git ref or files against files)",
    "audit": "who runs what, at what cost, against which rule: showback of a cluster dump",
    "lint": "check policies and price catalogs for errors",
    "serve": "run the admission webhook (HTTPS /validate, /mutate; /metrics, /readyz)",
    "test": "run policy test suites (tests.yaml beside the policies)",
}
"""Sub-command (module `costwarden.cli.<name>`) -> its summary."""


class InputError(Exception):
    """Bad input a user can fix (names the file, document and path); exit status 2."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every command's `--help`: the description as written, and each option's default
    where it has one to show and its help does not already say it (an option off, empty
    or unset by default says in its help what then happens)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or action.nargs == 0  # a switch: its help says what it turns on or off
            or default is None
            or default is False
            or default == []
            or default is argparse.SUPPRESS
            or action.help is argparse.SUPPRESS
        ):
            return action.help
        shown = str(default).replace("%", "%%")
        return f"{text} (default: {shown})" if text else f"(default: {shown})"


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with only `commands` given their arguments (the others
    are listed by name and summary, their modules left unimported)."""
    parser = argparse.ArgumentParser(
        prog="costwarden",
        description="FinOps admission controller for Kubernetes AI/ML workloads.",
    )
    parser.add_argument("--version", action="version", version=f"costwarden {__version__}")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        subparser = subcommands.add_parser(name, help=summary, description=summary)
        if commands is None or name in commands:
            importlib.import_module(f"{__name__}.{name}").register(subparser)
            subparser.formatter_class = HelpFormatter  # defaults shown, whatever it chose
    return parser


def _command(arguments: Sequence[str]) -> str | None:
    """The command named: the top-level options take no value, so it is the first other word."""
    return next((word for word in arguments if not word.startswith("-")), None)


def entry() -> int:
    """The `costwarden` process: `main` on the process's arguments.

    Loading a command's modules makes objects that live as long as the process and no
    garbage, so the collector sits out the imports, and what they made is then frozen out
    of its sight rather than walked again by every collection the command's work triggers.

    costwarden uses no pydantic plugins, and one installed beside it (they hook every
    validation) would be found only by reading every installed distribution's metadata at
    the first model built: the process turns plugin discovery off unless its caller chose.
    """
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    gc.disable()
    try:
        command = _command(sys.argv[1:])
        if command in COMMANDS:
            importlib.import_module(f"{__name__}.{command}")
    finally:
        gc.freeze()
        gc.enable()
    return main()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    command = _command(arguments)
    parser = build_parser([command] if command else [])
    args = parser.parse_args(arguments)
    try:
        status: int = args.run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except BrokenPipeError:  # `costwarden estimate ... | head`
        return EXIT_OK
    return status
