"""A loaded policy set: every rule and exception, compiled once for the request path.

`loading` builds a `PolicySet` from files; the engine only reads it. Rule names are unique
across the set (every message starts with `[rule-name]`), so exceptions name rules alone.

Rules are indexed by what they match (`matching.RuleIndex`): a review looks only at the
rules that could apply to its namespace, kind and operation, so an organisation with a
policy per team pays for its own team's rules, not for everyone's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from costwarden.engine.kinds import Head, RuleKind
from costwarden.policies import matching, models


@dataclass(frozen=True, slots=True)
class CompiledRule:
    policy: str
    rule: models.RuleBase
    kind: RuleKind  # type: ignore[type-arg]
    compiled: Any
    """What the kind's compile step made of the spec: what its `check` takes."""
    match: matching.Matcher | None
    """None: the rule matches every request (kept None so the hot path skips it)."""
    exclude: matching.Matcher | None

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def repairs(self) -> bool:
        """Whether the rule may patch objects: its kind says so for its spec, and it is not
        a `dryrun` rule (those never patch)."""
        return self.rule.action != "dryrun" and self.kind.repairs(self.rule.spec)

    @classmethod
    def compile(cls, policy: str, rule: models.RuleBase) -> CompiledRule:
        match = matching.Matcher.compile(rule.match)
        kind = rule.kind
        return cls(
            policy=policy,
            rule=rule,
            kind=kind,
            compiled=kind.compile(rule.spec, Head(rule.name, rule.action)),
            match=None if match.is_empty else match,
            exclude=matching.Matcher.compile(rule.exclude) if rule.exclude else None,
        )

    def applies_to(self, subject: matching.Subject) -> bool:
        if self.match is not None and not self.match.matches(subject):
            return False
        return self.exclude is None or not self.exclude.matches(subject)


@dataclass(frozen=True, slots=True)
class CompiledException:
    name: str
    namespace: str | None
    """Waives objects in this namespace only; None: wherever `match` allows."""
    rules: frozenset[str]
    match: matching.Matcher
    names: re.Pattern[str] | None
    tickets: frozenset[str]
    """What an exception label may name to ask for it: its name and its tickets."""
    labelled_only: bool
    """It listed tickets: it waives only objects whose exception label names it."""
    expires: datetime
    reason: str
    approved_by: str | None
    """Who approved it (`models.APPROVED_BY`); None for one from policy files, approved by
    their review."""

    @classmethod
    def compile(cls, exception: models.PolicyException) -> CompiledException:
        spec, metadata = exception.spec, exception.metadata
        return cls(
            name=metadata.name,
            namespace=metadata.namespace,
            rules=frozenset(spec.rules),
            match=matching.Matcher.compile(spec.match),
            names=matching.compile_globs(spec.names),
            tickets=frozenset((metadata.name, *spec.tickets)),
            labelled_only=bool(spec.tickets),
            expires=spec.expires,
            reason=spec.reason,
            approved_by=metadata.annotations.get(models.APPROVED_BY),
        )

    @property
    def title(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"PolicyException {where}{self.name}"

    def covers(self, rule: str, *, subject: matching.Subject, name: str) -> bool:
        """Whether it names `rule` and matches the object (expiry and approval aside)."""
        if rule not in self.rules:
            return False
        if self.namespace is not None and subject.namespace != self.namespace:
            return False
        if self.names is not None and self.names.fullmatch(name) is None:
            return False
        return self.match.matches(subject)


@dataclass(frozen=True, slots=True)
class PolicySet:
    policies: tuple[models.CostPolicy, ...] = ()
    exceptions: tuple[models.PolicyException, ...] = ()
    sources: tuple[str, ...] = ()
    rules: tuple[CompiledRule, ...] = field(init=False)
    """Every rule, in order: the order the engine checks them in, but that a budget-phase
    kind's rules come after all others (what they reserve is held only when all allow)."""
    budget_rules: tuple[CompiledRule, ...] = field(init=False)
    """The rules of budget-phase kinds (the spend refresher fetches their groups)."""
    repairing_rules: matching.RuleIndex[CompiledRule] = field(init=False)
    """The rules that may patch objects, all that /mutate runs."""
    index: matching.RuleIndex[CompiledRule] = field(init=False)
    """`rules` by what they match."""
    compiled_exceptions: tuple[CompiledException, ...] = field(init=False)
    exception_label_keys: frozenset[str] = field(init=False)
    """The labels objects ask for exceptions with (the rules' `exceptions.label.key`)."""

    def __post_init__(self) -> None:
        written = [
            (policy.metadata.name, rule) for policy in self.policies for rule in policy.spec.rules
        ]
        # Budget-phase kinds last, in policy order otherwise (the sort is stable).
        ordered = sorted(written, key=lambda written_rule: written_rule[1].kind.budget_phase)
        rules = tuple(CompiledRule.compile(policy, rule) for policy, rule in ordered)
        object.__setattr__(self, "rules", rules)
        object.__setattr__(self, "index", matching.RuleIndex(rules))
        object.__setattr__(
            self, "budget_rules", tuple(rule for rule in rules if rule.kind.budget_phase)
        )
        object.__setattr__(
            self, "repairing_rules", matching.RuleIndex(tuple(r for r in rules if r.repairs))
        )
        object.__setattr__(
            self,
            "compiled_exceptions",
            tuple(CompiledException.compile(e) for e in self.exceptions),
        )
        keys = {r.rule.exceptions.label.key for r in rules if r.rule.exceptions.label}
        object.__setattr__(self, "exception_label_keys", frozenset(keys))

    def with_exceptions(self, exceptions: Sequence[models.PolicyException]) -> PolicySet:
        """This set with `exceptions` beside its own (those approved in the cluster)."""
        return PolicySet(
            policies=self.policies,
            exceptions=(*self.exceptions, *exceptions),
            sources=self.sources,
        )
