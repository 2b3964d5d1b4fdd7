"""Compiled `match` / `exclude` blocks and label selectors: built once at load, cheap per request.

Globs become one regular expression, selector values become frozensets; a request is then
a handful of dict and set look-ups per rule.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from costwarden.policies import models

POD_KINDS = frozenset(
    {
        "Pod",
        "Deployment",
        "StatefulSet",
        "ReplicaSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "ReplicationController",
    }
)
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
