"""Exceptions: what waives a rule's findings for one object, and how to ask for one.

Only an approved `PolicyException` waives a rule — approved by someone who may (RBAC on the
PolicyException resource, or review of the policy files), and never for a request its own
approver sends. It waives the rules it names, for the objects it matches, until it expires:
- through the object's exception label (`cost-exception=FIN-1234`, per rule `exceptions.label`)
  naming it or a ticket it lists — the way to ask for one without its approver knowing the
  object's name; an exception listing tickets waives only objects labelled so;
- or, listing no tickets, by its `match` and `names` alone (per rule `exceptions.objects`).

A label no approved exception backs waives nothing, and the denial says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from costwarden.engine import wording
from costwarden.engine.findings import Target
from costwarden.engine.verdicts import Exempted
from costwarden.policies import matching, models, sets


def waiver(
    rule: sets.CompiledRule,
    target: Target,
    *,
    subject: matching.Subject,
    policies: sets.PolicySet,
) -> Exempted | None:
    """The exception that waives `rule` for `target`, if one does, with when it ends."""
    for how, exception in _asked(rule, target, policies):
        if _stands(exception, rule, target, subject=subject):
            return Exempted(
                policy=rule.policy,
                rule=rule.name,
                exception=f"{how}{exception.title}{_approver(exception)}",
                reason=exception.reason,
                expires=exception.expires,
            )
    return None


def undecided(
    rule: sets.CompiledRule,
    target: Target,
    *,
    subject: matching.Subject,
    policies: sets.PolicySet,
) -> sets.CompiledException | None:
    """An exception that would waive `rule` for `target` or not as only the namespace's
    labels could say, and they are unknown (`check` without them): its `namespaceSelector`
    is left to decide. None when the labels are known, or no such exception stands."""
    if subject.namespace_known:
        return None
    for _, exception in _asked(rule, target, policies):
        if exception.match.decides(subject) is None:
            loose = replace(exception, match=replace(exception.match, namespace_selector=None))
            if _stands(loose, rule, target, subject=subject):
                return exception
    return None


def _asked(
    rule: sets.CompiledRule, target: Target, policies: sets.PolicySet
) -> Iterator[tuple[str, sets.CompiledException]]:
    """The exceptions the object may have by how the rule lets it ask, with how it asked."""
    exceptions = rule.rule.exceptions
    asked = _asked_for(rule.rule, target)
    for exception in policies.compiled_exceptions:
        if asked is not None and asked in exception.tickets:
            yield (f"label {exceptions.label.key}={asked}, " if exceptions.label else ""), exception
        elif exceptions.objects and not exception.labelled_only:
            yield "", exception


def hint(
    rule: models.RuleBase,
    target: Target,
    *,
    subject: matching.Subject,
    policies: sets.PolicySet,
) -> str:
    """How to ask for an exception, or why the exception label the object carries does not
    count."""
    label = rule.exceptions.label
    asked = _asked_for(rule, target)
    if label is not None and asked is not None:
        why = _why_not(rule, target, asked, subject=subject, policies=policies)
        return f"exception label {label.key}={asked} ignored: {why}"
    if label is not None:
        if target.label(label.key) is not None:  # present, but not a ticket
            assert label.value_pattern is not None
            return (
                f"exception label {label.key}={target.label(label.key)} ignored: not a ticket "
                f"({label.value_pattern.pattern})"
            )
        return (
            f"or ask an approver for a PolicyException for rule {rule.name} in namespace "
            f"{target.namespace}, then label {label.key}=<its ticket>"
        )
    if rule.exceptions.objects:
        return f"or ask an approver for a PolicyException for rule {rule.name}"
    return ""


def _asked_for(rule: models.RuleBase, target: Target) -> str | None:
    """The ticket the object's exception label names, if it carries a well-formed one."""
    label = rule.exceptions.label
    if label is None:
        return None
    value = target.label(label.key)
    if value is None:
        return None
    if label.value_pattern is not None and label.value_pattern.fullmatch(value) is None:
        return None
    return value


def _stands(
    exception: sets.CompiledException,
    rule: sets.CompiledRule,
    target: Target,
    *,
    subject: matching.Subject,
) -> bool:
    return (
        exception.covers(rule.name, subject=subject, name=target.name)
        and target.now < exception.expires
        and (exception.approved_by is None or exception.approved_by != target.user)
    )


def _approver(exception: sets.CompiledException) -> str:
    return f" approved by {exception.approved_by}" if exception.approved_by else ""


def _why_not(
    rule: models.RuleBase,
    target: Target,
    asked: str,
    *,
    subject: matching.Subject,
    policies: sets.PolicySet,
) -> str:
    """Why no exception the label names waives `rule` here: the closest reason."""
    named = [e for e in policies.compiled_exceptions if asked in e.tickets]
    covering = [e for e in named if e.covers(rule.name, subject=subject, name=target.name)]
    if not covering:
        return (
            f"no approved PolicyException names ticket {asked} for rule {rule.name} in "
            f"namespace {target.namespace}; ask an approver for one"
        )
    live = [e for e in covering if target.now < e.expires]
    if not live:
        ended = max(e.expires for e in covering)
        return f"{covering[0].title} expired {wording.day(ended)}"
    return (
        f"{live[0].title} was approved by {live[0].approved_by}, who sent this request: "
        f"an exception is approved by someone other than who uses it"
    )
