"""`costwarden test [DIR]`: run the policy test suites (`tests.yaml`) — the CI gate for policies.

Every `tests.yaml` under DIR (default `policies/`) holds `PolicyTest` documents: resources,
namespace labels, a spend snapshot, the time, and per case the expected verdict. Each case
runs through the engine; a wrong expectation prints a unified diff (expected vs actual)
and the verdict's messages. Exit 0 when every case passes, 1 when any fails, 2 when a
suite or its policies cannot be read.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from costwarden import documents
from costwarden.catalog.loading import load_catalog
from costwarden.cli import EXIT_DENIED, EXIT_OK, InputError, _report
from costwarden.engine import verifying
from costwarden.policies import loading, suites


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "directory",
        nargs="?",
        type=Path,
        default=Path("policies"),
        metavar="DIR",
        help="directory searched for tests.yaml (or one suite file); default: policies/",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    _report.add_output_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        results = run_directory(args.directory)
    except documents.InvalidInput as exc:
        raise InputError(str(exc)) from None
    failed = [r for r in results if not r.passed]
    status = EXIT_DENIED if failed else EXIT_OK
    if args.output in ("json", "yaml"):
        print(_report.emit(as_json(results), args.output))
        return status
    if args.output == "markdown":
        print(as_markdown(results))
        return status
    for result in results:
        if result.passed and args.verbose:
            print(f"PASS  {result.suite}: {result.case}")
        if not result.passed:
            print(f"FAIL  {result.suite}: {result.case}")
            print(textwrap.indent(result.diff.rstrip("\n"), "      "))
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return EXIT_DENIED if failed else EXIT_OK


def as_json(results: Sequence[verifying.CaseResult]) -> dict[str, Any]:
    """The `test` report of the one output contract (docs/output.md)."""
    return {
        "report": "test",
        "passed": sum(1 for r in results if r.passed),
        "failed": sum(1 for r in results if not r.passed),
        "cases": [
            {
                "suite": r.suite,
                "case": r.case,
                "passed": r.passed,
                "verdict": r.verdict.outcome,
                "diff": r.diff,
            }
            for r in results
        ],
    }


def as_markdown(results: Sequence[verifying.CaseResult]) -> str:
    failed = [r for r in results if not r.passed]
    lines = [
        "### costwarden test",
        "",
        f"**{len(results) - len(failed)} passed, {len(failed)} failed**",
    ]
    for result in failed:
        lines += [
            "",
            f"**FAIL** {result.suite}: {result.case}",
            "",
            "```diff",
            result.diff.rstrip("\n"),
            "```",
        ]
    return "\n".join(lines)


def run_directory(directory: Path) -> list[verifying.CaseResult]:
    """Every case of every suite under `directory`; raises InvalidInput for bad files."""
    files = suites.find_suites(directory)
    if not files:
        raise InputError(f"{directory}: no tests.yaml found")
    results: list[verifying.CaseResult] = []
    for file in files:
        docs = documents.read_files([file], exact_numbers=True)
        found = suites.suites_from_documents(docs)
        if not found:  # a CI gate pointed at the wrong file must not pass having run nothing
            raise InputError(f"{file}: no PolicyTest document (kind: PolicyTest)")
        for _, suite in found:
            base = file.parent
            policies = loading.load_policies([base / p for p in suite.spec.policies])
            catalog = load_catalog([base / c for c in suite.spec.catalogs])
            results.extend(verifying.run_suite(suite, policies=policies, catalog=catalog))
    return results
