"""Loading policy files into a `PolicySet`, and linting them with every problem at once.

A policy directory holds `CostPolicy` and `PolicyException` documents in any number of
YAML/JSON files; documents of kind `PolicyTest` (the `tests.yaml` suites run by
`costwarden test`) sit beside them and are skipped here. Every problem names the file,
document, path and line; loading reports all of them, not just the first.

The bundled policy set (`bundled_policies()`) is `src/costwarden/data/policies/`, a copy of
the repository's top-level `policies/` kept identical by a test: the package must work
when installed, where `policies/` is not shipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from costwarden import DATA, documents
from costwarden.documents import Document, InvalidInput, Problem
from costwarden.policies import models, sets

BUNDLED_DIR = DATA / "policies"
TEST_SUITE_KIND = "PolicyTest"


class NoRules(InvalidInput):
    """Policy files that hold no rule at all: nothing to judge by, never "allow all"."""


def load_policies(paths: Sequence[Path | str]) -> sets.PolicySet:
    """The policy set in these files and directories (`-` is stdin); raises InvalidInput,
    also for files that hold no rule at all: an empty policy set admits everything, and a
    directory emptied by a careless copy or an empty ConfigMap must not mean that."""
    policies = policies_from_documents(documents.read_files(paths, exact_numbers=True))
    if not policies.rules:
        where = ", ".join("<stdin>" if str(p) == "-" else str(p) for p in paths) or "<no files>"
        raise NoRules(
            [
                Problem(
                    source=where,
                    message="no CostPolicy rules found: an empty policy set would admit "
                    "everything (give the files that hold your policies, or leave --policies "
                    "out for the bundled ones)",
                )
            ]
        )
    return policies


def bundled_policies() -> sets.PolicySet:
    """The default policy set shipped with costwarden (the repository's `policies/`), read
    afresh: its caller keeps it."""
    return load_policies([BUNDLED_DIR])


def lint_policies(paths: Sequence[Path | str]) -> list[Problem]:
    """Every problem in these policy files; an empty list means they load."""
    try:
        load_policies(paths)
    except NoRules:
        raise  # not a problem in the files: there is nothing to lint
    except InvalidInput as exc:
        return list(exc.problems)
    return []


def policies_from_documents(docs: Iterable[Document]) -> sets.PolicySet:
    """Validate and compile documents already read; raises InvalidInput with all problems."""
    problems: list[Problem] = []
    policies: list[tuple[Document, models.CostPolicy]] = []
    exceptions: list[tuple[Document, models.PolicyException]] = []
    sources: list[str] = []
    for doc in docs:
        if doc.source not in sources:
            sources.append(doc.source)
        parsed = _parse(doc, problems)
        if isinstance(parsed, models.CostPolicy):
            policies.append((doc, parsed))
        elif isinstance(parsed, models.PolicyException):
            exceptions.append((doc, parsed))
    problems.extend(_check_names(policies, exceptions))
    if problems:
        raise InvalidInput(problems)
    return sets.PolicySet(
        policies=tuple(policy for _, policy in policies),
        exceptions=tuple(exception for _, exception in exceptions),
        sources=tuple(sources),
    )


def _parse(
    doc: Document, problems: list[Problem]
) -> models.CostPolicy | models.PolicyException | None:
    data: Any = doc.data
    if not isinstance(data, dict):
        problems.append(doc.problem("a policy document must be a mapping"))
        return None
    kind = data.get("kind")
    if kind == TEST_SUITE_KIND:
        return None
    if data.get("apiVersion") != models.API_VERSION:
        problems.append(
            doc.problem(
                f"apiVersion must be {models.API_VERSION} (found {data.get('apiVersion')!r})",
                ["apiVersion"],
            )
        )
        return None
    if kind not in models.KINDS:
        known = ", ".join(sorted(models.KINDS))
        problems.append(
            doc.problem(
                f"unknown kind {kind!r} (policy files hold {known}; "
                f"test suites are kind {TEST_SUITE_KIND})",
                ["kind"],
            )
        )
        return None
    try:
        parsed: models.CostPolicy | models.PolicyException = (
            models.CostPolicy.model_validate(data)
            if kind == "CostPolicy"
            else models.PolicyException.model_validate(data)
        )
    except ValidationError as exc:
        problems.extend(_readable(documents.problems_from_validation(exc, doc)))
        return None
    if isinstance(parsed, models.CostPolicy):
        for index, rule in enumerate(parsed.spec.rules):
            if rule.exclude is not None and rule.exclude == models.Match():
                problems.append(
                    doc.problem(
                        "an empty exclude would exclude everything; give it a condition",
                        ["spec", "rules", index, "exclude"],
                    )
                )
    return parsed


def _check_names(
    policies: list[tuple[Document, models.CostPolicy]],
    exceptions: list[tuple[Document, models.PolicyException]],
) -> list[Problem]:
    problems: list[Problem] = []
    seen_policies: dict[str, Problem] = {}
    seen_rules: dict[str, Problem] = {}
    for doc, policy in policies:
        here = doc.problem("", ["metadata", "name"])
        first = seen_policies.setdefault(policy.metadata.name, here)
        if first is not here:
            problems.append(
                doc.problem(
                    f"duplicate policy name {policy.metadata.name!r} "
                    f"(first defined at {_where(first)})",
                    ["metadata", "name"],
                )
            )
        for index, rule in enumerate(policy.spec.rules):
            path: list[str | int] = ["spec", "rules", index, "name"]
            here = doc.problem("", path)
            first = seen_rules.setdefault(rule.name, here)
            if first is not here:
                problems.append(
                    doc.problem(
                        f"duplicate rule name {rule.name!r} (first defined at {_where(first)}); "
                        "rule names are unique across all policies: messages and "
                        "exceptions name rules alone",
                        path,
                    )
                )
    for doc, exception in exceptions:
        for index, name in enumerate(exception.spec.rules):
            if name not in seen_rules:
                problems.append(
                    doc.problem(
                        f"no rule named {name!r} in the policy set", ["spec", "rules", index]
                    )
                )
    return problems


def _readable(problems: list[Problem]) -> list[Problem]:
    """Drop pydantic's noise: its "Value error, " prefix, and a list's "too short" that only
    echoes an invalid item already reported."""
    paths = [p.path for p in problems]
    kept = []
    for problem in problems:
        if problem.message.startswith("Tuple should have at least") and any(
            other != problem.path and other.startswith((problem.path + "[", problem.path + "."))
            for other in paths
        ):
            continue
        kept.append(replace(problem, message=problem.message.removeprefix("Value error, ")))
    return kept


def _where(problem: Problem) -> str:
    where = problem.source if problem.line is None else f"{problem.source}:{problem.line}"
    return f"{where} document {problem.document} {problem.path}"
