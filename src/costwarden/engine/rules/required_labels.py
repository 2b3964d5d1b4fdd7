"""The `requiredLabels` rule kind: cost-allocation labels, namespace inheritance, hints, PII guard.

Mandatory keys must be present (on the pod, or inherited from the namespace when the rule
allows); discretionary keys are checked only when present. A missing key that is almost
there (`Cost-Centre`, `costcentre`, `cost_centre` for `cost-centre`) and a value in the
wrong case get a "did you mean" hint: reports that split `Project` from `project` are
what the rule exists to prevent. Inherited values are patched onto the pod so cost data
carries them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, model_validator

from costwarden.engine.findings import NOTHING, Finding, Outcome, Target
from costwarden.engine.kinds import Review, RuleKind
from costwarden.engine.specs import Regex, SpecModel
from costwarden.memos import Memo


class LabelRequirement(SpecModel):
    key: Annotated[str, Field(min_length=1)]
    required: bool = True
    """Mandatory (must be present) or discretionary (checked only when present)."""
    values: tuple[str, ...] = ()
    """Allowed values; empty allows any value the pattern allows."""
    pattern: Regex | None = None
    """A regular expression the whole value must match."""
    inherit_from_namespace: bool = False
    """Take the value from the namespace's label of the same key when the pod has none
    ("Namespace = Cost Centre"); the engine then patches it onto the pod."""


class RequiredLabels(SpecModel):
    labels: Annotated[tuple[LabelRequirement, ...], Field(min_length=1)]
    pii_guard: bool = True
    """Reject label values that look like e-mail addresses (labels must not carry PII)."""

    @model_validator(mode="after")
    def _unique_keys(self) -> RequiredLabels:
        keys = [label.key for label in self.labels]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"label keys listed twice: {', '.join(duplicates)}")
        return self


# Kubernetes label values cannot hold `@`, so addresses arrive disguised; manifests
# checked before the API server sees them (`costwarden check`) can still hold the real one.
_EMAIL = re.compile(
    r"[a-z0-9._%+-]+(?:@|_at_|-at-|\.at\.)[a-z0-9-]+(?:[._][a-z0-9-]+)*[._](?:com|org|net|io|"
    r"de|uk|fr|eu|edu|gov|co|dev|ai|[a-z]{2})$",
    re.IGNORECASE,
)


LABEL_VALUE_MAX = 63
"""Kubernetes' limit on a label value. /mutate sees objects before the API server validates
them: a longer value is no label that will be stored, and is never read or memoised here."""


def looks_like_email(value: str, memo: Memo[str, bool]) -> bool:
    """Whether a label value reads as an e-mail address (a value too long to be a label
    value is not looked at); `memo` is `Memos.emails`."""
    if len(value) > LABEL_VALUE_MAX:
        return False
    seen = memo.get(value)
    if seen is None:
        seen = memo.put(value, _EMAIL.fullmatch(value) is not None)
    return seen


def _normal(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def near_miss(key: str, present: Mapping[str, str]) -> str | None:
    """A present label key that is probably a misspelling of `key`, or None."""
    wanted = _normal(key)
    candidates = {_normal(k): k for k in present if k != key}
    if wanted in candidates:
        return candidates[wanted]
    close = difflib.get_close_matches(wanted, list(candidates), n=1, cutoff=0.8)
    return candidates[close[0]] if close else None


def check(config: RequiredLabels, review: Review) -> Outcome:
    target = review.target
    labels = target.labels
    findings: list[Finding] = []
    inherited: dict[str, str] = {}
    unknown = _labels_unknown(review)
    unchecked: list[str] = []
    for requirement in config.labels:
        key = requirement.key
        value = labels.get(key)
        where = "label"
        if value is None and requirement.inherit_from_namespace:
            value = target.namespace_labels.get(key)
            if value is not None:
                inherited[key] = value
                where = f"label inherited from namespace {target.namespace}"
            elif unknown:  # it may be there: never a false denial
                unchecked.append(key)
                continue
        if value is None:
            if requirement.required:
                findings.append(_missing(requirement, target))
            continue
        allowed = requirement.values
        pattern = requirement.pattern
        if (not allowed or value in allowed) and (pattern is None or pattern.fullmatch(value)):
            continue  # the common case, without building a message
        problem = _bad_value(requirement, value, where)
        if problem is not None:
            findings.append(problem)
    if config.pii_guard:
        emails = review.context.memos.emails
        for key, value in labels.items():
            if looks_like_email(value, emails):
                findings.append(
                    Finding(
                        key=f"pii:{key}",
                        what=f"label {key}={value} looks like an e-mail address "
                        "(labels are copied into cost reports and must not carry personal data)",
                        fix=f"use a team or cost-centre id instead of a person in {key}",
                        numbers={"label": key},
                    )
                )
    notices = (_not_checked(target, unchecked),) if unchecked else ()
    if findings:
        return Outcome(findings=tuple(findings), notices=notices)
    if not inherited:
        return Outcome(notices=notices) if notices else NOTHING
    return Outcome(patch={"metadata": {"labels": inherited}}, notices=notices)


def _labels_unknown(review: Review) -> bool:
    """Whether the target's namespace has labels nobody gave (`check` without them)."""
    return not review.target.namespace_known


def _not_checked(target: Target, keys: list[str]) -> str:
    return (
        f"{', '.join(keys)} not checked: labels of namespace {target.namespace} unknown "
        f"(the pod may inherit {'them' if len(keys) > 1 else 'it'} from there)"
    )


def _missing(requirement: LabelRequirement, target: Target) -> Finding:
    key = requirement.key
    what = f"missing mandatory label {key}"
    if requirement.inherit_from_namespace:
        what += f" (neither the pod nor namespace {target.namespace} has it)"
    fix = f"add label {key}{_allowed(requirement)} to the pod (template)"
    if requirement.inherit_from_namespace:
        fix += f" or to namespace {target.namespace}"
    miss = near_miss(key, target.labels)
    if miss is not None:
        what += f"; found {miss}={target.labels[miss]}"
        fix = f"rename label {miss} to {key} (label keys are case- and spelling-sensitive)"
    return Finding(key=f"missing:{key}", what=what, fix=fix, numbers={"label": key})


def _allowed(requirement: LabelRequirement) -> str:
    if requirement.values:
        return f" with one of: {', '.join(requirement.values)}"
    if requirement.pattern is not None:
        return f" matching {requirement.pattern.pattern}"
    return ""


def _bad_value(requirement: LabelRequirement, value: str, where: str) -> Finding | None:
    key = requirement.key
    if requirement.values and value not in requirement.values:
        allowed = requirement.values
        return _value_finding(
            key,
            value,
            casing=next((v for v in allowed if v.lower() == value.lower()), None),
            case_what=f"{where} {key}={value} has the wrong case",
            what=f"{where} {key}={value} is not an allowed value",
            fix=f"use one of: {', '.join(allowed)}",
        )
    pattern = requirement.pattern
    if pattern is not None and pattern.fullmatch(value) is None:
        variants = (value.capitalize(), value.upper(), value.lower(), value.title())
        return _value_finding(
            key,
            value,
            casing=next((v for v in variants if pattern.fullmatch(v)), None),
            case_what=f"{where} {key}={value} has the wrong case (pattern {pattern.pattern})",
            what=f"{where} {key}={value} does not match {pattern.pattern}",
            fix=f"set {key} to a value matching {pattern.pattern}",
        )
    return None


def _value_finding(
    key: str, value: str, *, casing: str | None, case_what: str, what: str, fix: str
) -> Finding:
    """A wrong value; when only its casing is wrong, say so and give the right spelling."""
    if casing is not None:
        what = case_what
        fix = f"use {key}={casing} (values are case-sensitive; reports would split them)"
    return Finding(key=f"value:{key}", what=what, fix=fix, numbers={"label": key, "value": value})


def _repairs(config: RequiredLabels) -> bool:
    return any(requirement.inherit_from_namespace for requirement in config.labels)


KIND = RuleKind(
    field="requiredLabels",
    spec=RequiredLabels,
    check=check,
    updates=frozenset({"any"}),
    repairs=_repairs,
    grandfathered=True,
)
