"""Compiled `match` / `exclude` blocks and label selectors: built once at load, cheap per request.

Globs become one regular expression, selector values become frozensets; a request is then
a handful of dict and set look-ups per rule.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Generic, NamedTuple, Protocol, TypeVar

from costwarden import workloads
from costwarden.memos import Memo
from costwarden.policies import models

POD_KINDS = workloads.WORKLOAD_KINDS
"""Kinds whose objects run pods: a rule about Pods applies to all of them (autogen)."""


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    values: frozenset[str]

    def holds(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        value = labels.get(self.key)
        if self.operator == "In":
            return value is not None and value in self.values
        return value is None or value not in self.values  # NotIn, as Kubernetes reads it


@dataclass(frozen=True, slots=True)
class Selector:
    match_labels: tuple[tuple[str, str], ...]
    expressions: tuple[Requirement, ...]

    @classmethod
    def compile(cls, selector: models.LabelSelector) -> Selector:
        return cls(
            match_labels=tuple(sorted(selector.match_labels.items())),
            expressions=tuple(
                Requirement(e.key, e.operator, frozenset(e.values))
                for e in selector.match_expressions
            ),
        )

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        return all(requirement.holds(labels) for requirement in self.expressions)


def compile_globs(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regular expression for names and globs (`ml-*`, `*-dev`); None for no patterns."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


class Subject(NamedTuple):
    """What matching looks at in one request (a NamedTuple: one is built per review)."""

    kind: str
    operation: str
    namespace: str | None
    namespace_labels: Mapping[str, str]
    labels: Mapping[str, str]
    """Labels of the pod, or of the pod template for workloads."""
    namespace_known: bool = True
    """False: the namespace's labels were not given (`check` without them), and a
    `namespaceSelector` can say neither yes nor no (`Matcher.decides`)."""


@dataclass(frozen=True, slots=True)
class Matcher:
    namespaces: re.Pattern[str] | None
    namespace_selector: Selector | None
    selector: Selector | None
    kinds: frozenset[str] | None
    operations: frozenset[str] | None

    @classmethod
    def compile(cls, match: models.Match) -> Matcher:
        kinds: frozenset[str] | None = None
        if match.kinds:
            kinds = frozenset(match.kinds)
            if "Pod" in kinds:
                kinds |= POD_KINDS
        return cls(
            namespaces=compile_globs(match.namespaces),
            namespace_selector=(
                Selector.compile(match.namespace_selector) if match.namespace_selector else None
            ),
            selector=Selector.compile(match.selector) if match.selector else None,
            kinds=kinds,
            operations=frozenset(match.operations) if match.operations else None,
        )

    @property
    def is_empty(self) -> bool:
        return (
            self.namespaces is None
            and self.namespace_selector is None
            and self.selector is None
            and self.kinds is None
            and self.operations is None
        )

    def matches(self, subject: Subject) -> bool:
        """Every condition given holds (an empty matcher matches everything); never when
        it has a namespace selector and the namespace's labels are unknown."""
        if self.kinds is not None and subject.kind not in self.kinds:
            return False
        if self.operations is not None and subject.operation not in self.operations:
            return False
        if self.namespaces is not None and (
            subject.namespace is None or self.namespaces.fullmatch(subject.namespace) is None
        ):
            return False
        if self.namespace_selector is not None and (
            not subject.namespace_known
            or not self.namespace_selector.matches(subject.namespace_labels)
        ):
            return False
        return self.selector is None or self.selector.matches(subject.labels)

    def decides(self, subject: Subject) -> bool | None:
        """Whether it matches; None when only its namespace selector is left to say and
        the namespace's labels are unknown."""
        if self.namespace_selector is None or subject.namespace_known:
            return self.matches(subject)
        rest = replace(self, namespace_selector=None)
        return None if rest.matches(subject) else False


class Indexed(Protocol):
    """What `RuleIndex` indexes: a rule with its matchers."""

    @property
    def match(self) -> Matcher | None: ...

    @property
    def exclude(self) -> Matcher | None: ...

    def applies_to(self, subject: Subject) -> bool: ...


def undecided(rule: Indexed, subject: Subject) -> bool:
    """Whether the rule may or may not apply, as only the namespace's labels, unknown,
    could say: its `match` or `exclude` has a namespace selector left to decide."""
    if subject.namespace_known:
        return False
    matched = True if rule.match is None else rule.match.decides(subject)
    excluded = False if rule.exclude is None else rule.exclude.decides(subject)
    return matched is not False and excluded is not True and (matched is None or excluded is None)


R = TypeVar("R", bound=Indexed)


class RuleIndex(Generic[R]):
    """Rules by what they match: which could apply to a namespace, kind and operation is
    worked out once per such triple (they are few: a cluster's namespaces × the kinds and
    operations reviewed) and kept, bounded; only those rules' selectors are tried on a review.
    """

    __slots__ = ("_candidates", "rules")

    def __init__(self, rules: tuple[R, ...]) -> None:
        self.rules = rules
        self._candidates: Memo[tuple[str, str, str | None], tuple[R, ...]] = Memo(
            entries=4096, size=4096
        )

    def applying(self, subject: Subject) -> list[R]:
        """The rules that apply to `subject`, in order; when the namespace's labels are
        unknown, not those whose namespace selector would decide (`undecided`)."""
        candidates = self._candidates_for(subject)
        if not subject.namespace_known:
            return [
                rule
                for rule in candidates
                if rule.applies_to(subject) and not undecided(rule, subject)
            ]
        return [rule for rule in candidates if rule.applies_to(subject)]

    def undecided(self, subject: Subject) -> list[R]:
        """The rules that may or may not apply, as only the namespace's unknown labels
        could say (none when they are known)."""
        if subject.namespace_known:
            return []
        return [rule for rule in self._candidates_for(subject) if undecided(rule, subject)]

    def _candidates_for(self, subject: Subject) -> tuple[R, ...]:
        key = (subject.kind, subject.operation, subject.namespace)
        candidates = self._candidates.get(key)
        if candidates is None:
            candidates = self._candidates.put(
                key, tuple(rule for rule in self.rules if _may_apply(rule.match, *key))
            )
        return candidates


def _may_apply(match: Matcher | None, kind: str, operation: str, namespace: str | None) -> bool:
    """Whether a rule's kind, operation and namespace conditions let it apply."""
    if match is None:
        return True
    if match.kinds is not None and kind not in match.kinds:
        return False
    if match.operations is not None and operation not in match.operations:
        return False
    return match.namespaces is None or (
        namespace is not None and match.namespaces.fullmatch(namespace) is not None
    )
