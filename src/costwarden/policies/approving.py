"""Admitting a PolicyException: what makes one a valid approval.

A `PolicyException` in the cluster is an approval, so the webhook checks it as it is created
or changed (RBAC decides who may; this decides what they may write):
- it is a well-formed `costwarden.io/v1alpha1` PolicyException;
- `costwarden.io/approved-by` names the user sending the request: the record of who approved
  it is the API server's word, not the author's;
- every rule it names exists in the loaded policies and takes exceptions;
- it has not expired, and expires no later than each rule's `maxDuration` from now.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from costwarden.documents import format_path
from costwarden.engine import wording
from costwarden.policies import models, sets

MANAGED_METADATA = ("name", "namespace", "labels", "annotations")
"""The metadata a PolicyException is read with: the rest (uid, managedFields, ...) is the
API server's."""


def read(obj: Mapping[str, Any]) -> models.PolicyException:
    """A PolicyException as the API server stores it, read as the model; raises pydantic's
    `ValidationError` naming what is wrong."""
    metadata = obj.get("metadata")
    data = dict(obj)
    if isinstance(metadata, Mapping):
        data["metadata"] = {k: v for k, v in metadata.items() if k in MANAGED_METADATA}
    return models.PolicyException.model_validate(data)


def problems(
    obj: Mapping[str, Any], *, user: str | None, policies: sets.PolicySet, now: datetime
) -> list[str]:
    """What keeps `obj` from being admitted as an approval by `user`, each naming its path;
    empty when it may be."""
    try:
        exception = read(obj)
    except ValidationError as exc:
        return [
            f"{format_path([p for p in e['loc'] if isinstance(p, str | int)]) or 'object'}: "
            f"{e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        ]
    found: list[str] = []
    approver = exception.metadata.annotations.get(models.APPROVED_BY)
    if user is None or approver != user:
        found.append(
            f"metadata.annotations[{models.APPROVED_BY!r}]: must name who approves this "
            f"exception, the user sending it ({user or 'unknown'}); it is {approver or 'missing'}"
        )
    spec = exception.spec
    if spec.expires <= now:
        found.append(f"spec.expires: {wording.day(spec.expires)} has passed")
    rules = {rule.name: rule.rule for rule in policies.rules}
    for index, name in enumerate(spec.rules):
        rule = rules.get(name)
        if rule is None:
            found.append(f"spec.rules[{index}]: no rule {name} in the loaded policies")
            continue
        takes = rule.exceptions
        if takes.label is None and not takes.objects:
            found.append(f"spec.rules[{index}]: rule {name} takes no exceptions")
            continue
        longest = takes.label.max_duration if takes.label is not None else None
        if longest is not None and spec.expires - now > longest:
            found.append(
                f"spec.expires: {wording.day(spec.expires)} is more than "
                f"{wording.duration(longest)} ahead (rule {name}'s maxDuration)"
            )
    return found
