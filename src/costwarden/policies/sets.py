"""A loaded policy set: every rule and exception, compiled once for the request path.

`loading` builds a `PolicySet` from files; the engine only reads it. Rule names are unique
across the set (every message starts with `[rule-name]`), so exceptions name rules alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from costwarden.policies import matching, models


@dataclass(frozen=True, slots=True)
class CompiledRule:
    policy: str
    rule: models.Rule
    match: matching.Matcher | None
    """None: the rule matches every request (kept None so the hot path skips it)."""
    exclude: matching.Matcher | None
    instance_types: re.Pattern[str] | None = None
    """`sizeEnvelope.allowedInstanceTypes`, compiled."""

    @property
    def name(self) -> str:
        return self.rule.name

    @classmethod
    def compile(cls, policy: str, rule: models.Rule) -> CompiledRule:
        envelope = rule.size_envelope
        match = matching.Matcher.compile(rule.match)
        return cls(
            policy=policy,
            rule=rule,
            match=None if match.is_empty else match,
            exclude=matching.Matcher.compile(rule.exclude) if rule.exclude else None,
            instance_types=(
                matching.compile_globs(envelope.allowed_instance_types) if envelope else None
            ),
        )

    def applies_to(self, subject: matching.Subject) -> bool:
        if self.match is not None and not self.match.matches(subject):
            return False
        return self.exclude is None or not self.exclude.matches(subject)


@dataclass(frozen=True, slots=True)
class CompiledException:
    name: str
    rules: frozenset[str]
    match: matching.Matcher
    names: re.Pattern[str] | None
    expires: datetime
    reason: str

    @classmethod
    def compile(cls, exception: models.PolicyException) -> CompiledException:
        spec = exception.spec
        return cls(
            name=exception.metadata.name,
            rules=frozenset(spec.rules),
            match=matching.Matcher.compile(spec.match),
            names=matching.compile_globs(spec.names),
            expires=spec.expires,
            reason=spec.reason,
        )

    def waives(self, rule: str, *, subject: matching.Subject, name: str, now: datetime) -> bool:
        if rule not in self.rules or now >= self.expires:
            return False
        if self.names is not None and self.names.fullmatch(name) is None:
            return False
        return self.match.matches(subject)


def _repairs(rule: models.Rule) -> bool:
    if rule.action == "dryrun":
        return False
    if rule.spot is not None:
        return rule.spot.mode == "mutate"
    labels = rule.required_labels
    return labels is not None and any(r.inherit_from_namespace for r in labels.labels)


@dataclass(frozen=True, slots=True)
class PolicySet:
    policies: tuple[models.CostPolicy, ...] = ()
    exceptions: tuple[models.PolicyException, ...] = ()
    sources: tuple[str, ...] = ()
    rules: tuple[CompiledRule, ...] = field(init=False)
    checked_rules: tuple[CompiledRule, ...] = field(init=False)
    """Every rule but the budget rules, in order: what the engine checks first."""
    budget_rules: tuple[CompiledRule, ...] = field(init=False)
    """The budget rules, checked last: only what every other rule admits holds budget."""
    repairing_rules: tuple[CompiledRule, ...] = field(init=False)
    """The rules that may patch objects, all that /mutate runs: `spot` in `mutate` mode and
    `requiredLabels` inheriting from the namespace (a `dryrun` rule never patches)."""
    compiled_exceptions: tuple[CompiledException, ...] = field(init=False)

    def __post_init__(self) -> None:
        rules = tuple(
            CompiledRule.compile(policy.metadata.name, rule)
            for policy in self.policies
            for rule in policy.spec.rules
        )
        object.__setattr__(self, "rules", rules)
        object.__setattr__(self, "checked_rules", tuple(r for r in rules if r.rule.budget is None))
        object.__setattr__(
            self, "budget_rules", tuple(r for r in rules if r.rule.budget is not None)
        )
        repairing = tuple(rule for rule in rules if _repairs(rule.rule))
        object.__setattr__(self, "repairing_rules", repairing)
        object.__setattr__(
            self,
            "compiled_exceptions",
            tuple(CompiledException.compile(e) for e in self.exceptions),
        )
