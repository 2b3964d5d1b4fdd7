"""Running policy test suites (`PolicyTest`): each case's verdict against its expectation.

Pure: the suite arrives parsed, with its policy set and catalog; the CLI reads the files
and prints. A mismatch is shown as a unified diff of the expected and actual outcome.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import timedelta

from costwarden.catalog.models import Catalog
from costwarden.engine.contexts import Context, StaticNamespaces
from costwarden.engine.evaluating import evaluate
from costwarden.engine.ports import BudgetSpend, SpendSnapshot
from costwarden.engine.verdicts import Verdict
from costwarden.estimating import claims
from costwarden.policies import sets, suites
from costwarden.reviews import request_for


@dataclass(frozen=True, slots=True)
class CaseResult:
    suite: str
    case: str
    passed: bool
    diff: str
    """Unified diff, expected (-) against actual (+); empty when the case passed."""
    verdict: Verdict


def context_for(suite: suites.PolicyTest) -> Context:
    spec = suite.spec
    spend = SpendSnapshot(
        fetched_at=spec.spend.fetched_at,
        budgets={
            rule: {
                group: BudgetSpend(spent=data.spent, run_rate_hourly=data.run_rate_hourly)
                for group, data in groups.items()
            }
            for rule, groups in spec.spend.budgets.items()
        },
        error=spec.spend.error,
    )
    return Context(
        namespaces=StaticNamespaces(spec.namespaces),
        now=spec.now,
        spend=spend,
        spend_stale_after=timedelta(seconds=spec.stale_after_seconds),
        budget_stale_default=spec.budget_stale_default,
        dra=claims.StaticDraObjects(spec.resources),  # what the resources' claims name
    )


def run_suite(
    suite: suites.PolicyTest, *, policies: sets.PolicySet, catalog: Catalog
) -> list[CaseResult]:
    context = context_for(suite)
    if suite.spec.exceptions:
        policies = policies.with_exceptions(suite.spec.exceptions)
    results = []
    for index, case in enumerate(suite.spec.cases):
        obj = suites.find_resource(suite, case.resource)
        old = suites.find_resource(suite, case.old_resource) if case.old_resource else None
        request = request_for(
            obj, operation=case.operation, old_object=old, dry_run=case.dry_run, user=case.user
        )
        verdict = evaluate(request, policies=policies, catalog=catalog, context=context)
        expected = _expected_lines(case.expect)
        actual = _actual_lines(case.expect, verdict)
        name = case.name or f"case {index}: {case.operation} {case.resource}"
        diff = ""
        if expected != actual:
            diff = "\n".join(
                difflib.unified_diff(
                    expected, actual, fromfile="expected", tofile="actual", lineterm="", n=9
                )
            )
            messages = [v.message for v in verdict.violations]
            if messages:
                diff += "\nmessages:\n" + "\n".join(f"  {m}" for m in messages)
        results.append(
            CaseResult(
                suite=suite.metadata.name, case=name, passed=not diff, diff=diff, verdict=verdict
            )
        )
    return results


def _expected_lines(expect: suites.Expectation) -> list[str]:
    lines = [f"allowed: {str(expect.allowed).lower()}"]
    for outcome in ("deny", "warn", "dryrun", "exempt"):
        lines.append(f"{outcome}: [{', '.join(sorted(getattr(expect, outcome)))}]")
    if expect.patched is not None:
        lines.append(f"patched: {str(expect.patched).lower()}")
    lines.extend(f"message contains: {text}" for text in expect.messages)
    return lines


def _actual_lines(expect: suites.Expectation, verdict: Verdict) -> list[str]:
    by_action = {
        "deny": sorted({v.rule for v in verdict.violations if v.action == "deny"}),
        "warn": sorted({v.rule for v in verdict.violations if v.action == "warn"}),
        "dryrun": sorted({v.rule for v in verdict.violations if v.action == "dryrun"}),
        "exempt": sorted({e.rule for e in verdict.exempted}),
    }
    lines = [f"allowed: {str(verdict.allowed).lower()}"]
    lines.extend(f"{outcome}: [{', '.join(rules)}]" for outcome, rules in by_action.items())
    if expect.patched is not None:
        lines.append(f"patched: {str(bool(verdict.patches)).lower()}")
    messages = [v.message for v in verdict.violations]
    for text in expect.messages:
        found = any(text in message for message in messages)
        lines.append(f"message contains: {text}" if found else f"no message contains: {text}")
    return lines
