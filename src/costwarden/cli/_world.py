"""The cluster as manifests describe it: namespace labels and approved PolicyExceptions.

`check`, `diff` and `audit` judge objects in the world the manifests given describe, as the
cluster would hold it: Namespace objects among them say which labels their namespaces
carry (where a labels file given does not), and PolicyExceptions among them waive
rules only when approved — a pull request adding its own exception must not pass with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import ValidationError

from costwarden import documents, namespaces
from costwarden.cli import _manifests
from costwarden.cli._manifests import Manifest
from costwarden.engine.contexts import Context, StaticNamespaces
from costwarden.policies import approving, models, sets

NOT_JUDGED = frozenset({"Namespace", "PolicyException"})
"""Kinds among the manifests that describe the world objects are judged in."""


def namespace_labels(
    manifests: Sequence[Manifest],
    problems: list[documents.Problem],
    known: Mapping[str, Mapping[str, str]] = {},
) -> dict[str, Mapping[str, str]]:
    """`known` (a labels file's), with the labels of each Namespace among the manifests
    where the file did not say; a malformed Namespace is a problem."""
    labels: dict[str, Mapping[str, str]] = dict(known)
    for manifest in manifests:
        if manifest.obj["kind"] != "Namespace":
            continue
        try:
            name, own = namespaces.of_namespace(
                manifest.obj, document=manifest.document, path=manifest.path
            )
        except documents.InvalidInput as exc:
            problems.extend(exc.problems)
            continue
        labels.setdefault(name, own)
    return labels


def approved_exceptions(
    manifests: Sequence[Manifest], problems: list[documents.Problem]
) -> list[models.PolicyException]:
    """The approved PolicyExceptions among the manifests; a malformed or unapproved one is
    a problem (a `kubectl get pex -A -o yaml` dump holds only approved ones)."""
    found = []
    for manifest in manifests:
        if manifest.obj["kind"] != "PolicyException":
            continue
        try:
            exception = approving.read(manifest.obj)
        except ValidationError as exc:
            problems.extend(
                documents.problems_from_validation(exc, manifest.document, base=manifest.path)
            )
            continue
        if not exception.metadata.annotations.get(models.APPROVED_BY):
            problems.append(
                manifest.problem(
                    f"not approved: no {models.APPROVED_BY} annotation (the cluster leaves it "
                    "out; approved ones come from the cluster, e.g. kubectl get pex -A -o yaml)",
                    ("metadata", "annotations"),
                )
            )
            continue
        found.append(exception)
    return found


def judged_in(
    manifests: Sequence[Manifest],
    problems: list[documents.Problem],
    *,
    policies: sets.PolicySet,
    labels: Mapping[str, Mapping[str, str]],
    now: datetime,
) -> tuple[sets.PolicySet, Context]:
    """The policies with the manifests' approved exceptions, and the context objects are
    judged in offline: the namespaces' labels known (others' unknown, never empty), the DRA
    objects among the manifests, budgets not checked (no spend)."""
    known = namespace_labels(manifests, problems, labels)
    exceptions = approved_exceptions(manifests, problems)
    if exceptions:
        policies = policies.with_exceptions(exceptions)
    context = Context(
        namespaces=StaticNamespaces(known),
        namespaces_partial=True,  # a namespace none named: its labels are unknown
        now=now,
        budget_stale_default="allow",
        dra=_manifests.dra_objects(manifests, problems),  # what the pods' claims name
    )
    return policies, context
