"""`costwarden lint`: check policies and price catalogs before they reach a cluster.

Prints every problem, one per line as `file:line: document N: path: message` (the
format editors and CI annotations understand), then a summary; exits 1 when there is
any problem, 0 when everything is clean. `report` holds the printing and exit logic so
each kind of file linted only has to contribute its list of problems.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from costwarden import cli
from costwarden.catalog import loading
from costwarden.cli import _manifests, _report
from costwarden.documents import Problem
from costwarden.policies import loading as policy_loading


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check policy files (unknown fields, wrong types, bad values, duplicate rule names, "
        "invalid regexes and selectors) and price catalogs (YAML syntax, unknown or missing "
        "fields, negative prices, duplicates, Spot above on-demand, undefined accelerator "
        "models, currency mismatches), each problem with file, line and path. User catalogs "
        "are checked composed over the bundled one, as `serve` loads them. "
        "Exit 1 if there is any problem."
    )
    _manifests.add_policies_argument(parser)
    _manifests.add_catalog_argument(parser)
    _report.add_output_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Lint what is named; with nothing named, the bundled policies and catalog. Files that
    hold no policy rule are an input error (exit 2): a lint that read nothing checked
    nothing."""
    try:
        return _run(args)
    except policy_loading.NoRules as exc:
        raise cli.InputError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    policies: list[Path] = args.policies
    catalogs: list[Path] = args.catalog
    if not policies and not catalogs:
        bundled = policy_loading.BUNDLED_DIR
        return report(
            [*policy_loading.lint_policies([bundled]), *loading.lint_catalogs([])],
            checked=["the bundled policies", "the bundled catalog"],
            output=args.output,
        )
    missing = [path for path in (*policies, *catalogs) if str(path) != "-" and not path.exists()]
    if missing:  # a lint pointed at nothing checked nothing: an input error, not a finding
        raise cli.InputError(f"{', '.join(map(str, missing))}: no such file or directory")
    problems = [*policy_loading.lint_policies(policies)] if policies else []
    if catalogs:
        problems.extend(loading.lint_catalogs(catalogs))
    checked = [f"policies {path}" for path in policies] + [f"catalog {path}" for path in catalogs]
    return report(problems, checked=checked, output=args.output)


def report(
    problems: Sequence[Problem],
    *,
    checked: Sequence[str],
    out: TextIO | None = None,
    output: str = "table",
) -> int:
    """Print `problems` and a summary naming what was `checked`; the exit status."""
    stream = sys.stdout if out is None else out
    status = cli.EXIT_DENIED if problems else cli.EXIT_OK
    if output in ("json", "yaml"):
        print(_report.emit(as_json(problems, checked=checked), output), file=stream)
        return status
    if output == "markdown":
        print("### costwarden lint\n", file=stream)
        print(f"**{_summary(problems, checked)}**\n", file=stream)
        for problem in problems:
            print(f"- `{problem}`", file=stream)
        return status
    for problem in problems:
        print(problem, file=stream)
    print(_summary(problems, checked), file=stream)
    return status


def _summary(problems: Sequence[Problem], checked: Sequence[str]) -> str:
    what = ", ".join(checked)
    if not problems:
        return f"ok: no problems in {what}"
    files = len({problem.source for problem in problems})
    noun = "problem" if len(problems) == 1 else "problems"
    file_noun = "file" if files == 1 else "files"
    return f"{len(problems)} {noun} in {files} {file_noun} ({what})"


def as_json(problems: Sequence[Problem], *, checked: Sequence[str]) -> dict[str, Any]:
    """The `lint` report of the one output contract (docs/output.md)."""
    return {
        "report": "lint",
        "ok": not problems,
        "checked": list(checked),
        "problems": [
            {
                "source": p.source,
                "line": p.line,
                "document": p.document,
                "path": p.path,
                "message": p.message,
            }
            for p in problems
        ],
    }
