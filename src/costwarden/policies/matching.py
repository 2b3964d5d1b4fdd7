"""Compiled `match` / `exclude` blocks and label selectors: built once at load, cheap per request.

Globs become one regular expression, selector values become frozensets; a request is then
a handful of dict and set look-ups per rule.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
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
        """Every condition given holds (an empty matcher matches everything)."""
        if self.kinds is not None and subject.kind not in self.kinds:
            return False
        if self.operations is not None and subject.operation not in self.operations:
            return False
        if self.namespaces is not None and (
            subject.namespace is None or self.namespaces.fullmatch(subject.namespace) is None
        ):
            return False
        if self.namespace_selector is not None and not self.namespace_selector.matches(
            subject.namespace_labels
        ):
            return False
        return self.selector is None or self.selector.matches(subject.labels)


class Indexed(Protocol):
    """What `RuleIndex` indexes: a rule with its matchers."""

    @property
    def match(self) -> Matcher | None: ...

    def applies_to(self, subject: Subject) -> bool: ...


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
        """The rules that apply to `subject`, in order."""
        key = (subject.kind, subject.operation, subject.namespace)
        candidates = self._candidates.get(key)
        if candidates is None:
            candidates = self._candidates.put(
                key, tuple(rule for rule in self.rules if _may_apply(rule.match, *key))
            )
        return [rule for rule in candidates if rule.applies_to(subject)]


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
