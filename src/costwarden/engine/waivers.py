"""Exceptions: what waives a rule's findings for one object, and how to ask for one.

Two ways, each allowed per rule (`exceptions` in the rule):
- a label on the object (`cost-exception=<ticket>`) with an unexpired expiry annotation
  no further ahead than the rule's `maxDuration`;
- a `PolicyException` object naming the rule, matching the object, not yet expired.
"""

from __future__ import annotations

from datetime import datetime, timedelta

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
    exceptions = rule.rule.exceptions
    label = exceptions.label
    if label is not None:
        value = target.label(label.key)
        if value is not None and _label_problem(label, target) is None:
            expiry = _label_expiry(label, target)
            assert isinstance(expiry, datetime)
            reason = target.annotation(label.reason_annotation) or f"ticket {value}"
            return Exempted(
                policy=rule.policy,
                rule=rule.name,
                exception=f"label {label.key}={value}",
                reason=reason,
                expires=expiry,
            )
    if exceptions.objects:
        for exception in policies.compiled_exceptions:
            if exception.waives(rule.name, subject=subject, name=target.name, now=target.now):
                return Exempted(
                    policy=rule.policy,
                    rule=rule.name,
                    exception=f"PolicyException {exception.name}",
                    reason=exception.reason,
                    expires=exception.expires,
                )
    return None


def hint(rule: models.RuleBase, target: Target) -> str:
    """How to ask for an exception, with why a label that is present does not count."""
    label = rule.exceptions.label
    if label is not None:
        problem = _label_problem(label, target)
        if problem is not None:
            return problem
        return (
            f"or request an exception: label {label.key}=<ticket> with annotation "
            f"{label.expires_annotation}=<YYYY-MM-DD>"
        )
    if rule.exceptions.objects:
        return f"or request a PolicyException for rule {rule.name}"
    return ""


def _label_problem(label: models.LabelException, target: Target) -> str | None:
    value = target.label(label.key)
    if value is None:
        return None
    if label.value_pattern is not None and label.value_pattern.fullmatch(value) is None:
        return (
            f"exception label {label.key}={value} ignored: not a ticket "
            f"({label.value_pattern.pattern})"
        )
    expiry = _label_expiry(label, target)
    if isinstance(expiry, str):
        return f"exception label {label.key}={value} ignored: {expiry}"
    return None


def _label_expiry(label: models.LabelException, target: Target) -> datetime | str:
    raw = target.annotation(label.expires_annotation)
    if raw is None:
        return f"needs annotation {label.expires_annotation}=<YYYY-MM-DD>"
    try:
        expiry = models.parse_expiry(raw)
    except ValueError:
        return f"annotation {label.expires_annotation}={raw} is not a date"
    if expiry <= target.now:
        return f"expired {wording.day(expiry)}"
    if label.max_duration is not None and expiry - target.now > label.max_duration:
        days = label.max_duration // timedelta(days=1)
        return f"expiry {wording.day(expiry)} is more than {days} days ahead"
    return expiry
