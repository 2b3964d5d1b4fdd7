"""Policy test suites (`kind: PolicyTest`, in `tests.yaml` beside the policies they test).

Like `kyverno test` or `gator verify`: resources, the world they are admitted into
(namespace labels, a spend snapshot, the time) and, per case, the expected verdict::

    apiVersion: costwarden.io/v1alpha1
    kind: PolicyTest
    metadata: {name: gpu-limits}
    spec:
      policies: [.]                   # relative to this file; default: its directory
      now: 2026-11-15T12:00:00Z
      namespaces: {ml-train: {cost-centre: Sales-5045, team: nlp}}
      spend:
        fetchedAt: 2026-11-15T11:59:00Z
        budgets: {cost-centre-monthly-budget: {Sales-5045: {spent: "41000", runRateHourly: "20"}}}
      resources: [<Kubernetes manifests>]
      cases:
      - resource: train-8gpu          # metadata.name of one of `resources`
        expect: {allowed: false, deny: [max-gpus-per-pod]}

`deny`, `warn`, `dryrun` and `exempt` list rule names and are compared exactly (leaving
one out expects none); `patched` and `messages` (substrings) are checked when given.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, ValidationError

from costwarden.documents import Document, InvalidInput, Problem, problems_from_validation
from costwarden.engine.specs import Money, SpecModel
from costwarden.policies import models
from costwarden.policies.models import Metadata

SUITE_FILE_NAMES = ("tests.yaml", "tests.yml")


class BudgetSpendData(SpecModel):
    spent: Money
    run_rate_hourly: Money = Decimal(0)


class SpendData(SpecModel):
    fetched_at: AwareDatetime | None = None
    """None: spend data was never fetched (budget rules see stale data)."""
    budgets: dict[str, dict[str, BudgetSpendData]] = Field(default_factory=dict)
    error: str | None = None


class Expectation(SpecModel):
    allowed: bool
    deny: tuple[str, ...] = ()
    warn: tuple[str, ...] = ()
    dryrun: tuple[str, ...] = ()
    exempt: tuple[str, ...] = ()
    patched: bool | None = None
    messages: tuple[str, ...] = ()
    """Substrings the verdict's messages must contain (one message each)."""


class Case(SpecModel):
    name: str = ""
    resource: Annotated[str, Field(min_length=1)]
    """`metadata.name` of a resource (or `Kind/name` when names repeat)."""
    operation: Literal["CREATE", "UPDATE"] = "CREATE"
    old_resource: str | None = None
    """For UPDATE: the resource as it was before."""
    dry_run: bool = False
    user: str | None = None
    """Who sends the request (`userInfo.username`), e.g.
    `system:serviceaccount:kube-system:replicaset-controller` for a pod its ReplicaSet
    made: owner references count only from Kubernetes' controllers. None: a person."""
    expect: Expectation


class PolicyTestSpec(SpecModel):
    description: str = ""
    policies: tuple[str, ...] = (".",)
    catalogs: tuple[str, ...] = ()
    """Extra catalogs over the bundled one, relative to this file."""
    now: AwareDatetime
    namespaces: dict[str, dict[str, str]] = Field(default_factory=dict)
    spend: SpendData = Field(default_factory=SpendData)
    stale_after_seconds: Annotated[int, Field(gt=0)] = 300
    budget_stale_default: Literal["deny", "warn", "allow"] = "warn"
    exceptions: tuple[models.PolicyException, ...] = ()
    """PolicyExceptions approved in the suite's cluster, beside any in the policy files."""
    resources: Annotated[tuple[dict[str, Any], ...], Field(min_length=1)]
    cases: Annotated[tuple[Case, ...], Field(min_length=1)]


class PolicyTest(SpecModel):
    api_version: Literal["costwarden.io/v1alpha1"]
    kind: Literal["PolicyTest"]
    metadata: Metadata
    spec: PolicyTestSpec


def find_suites(root: Path) -> list[Path]:
    """`tests.yaml` files under `root` (or `root` itself when it is a file), sorted."""
    if root.is_file():
        return [root]
    return sorted(p for name in SUITE_FILE_NAMES for p in root.rglob(name) if p.is_file())


def suites_from_documents(docs: list[Document]) -> list[tuple[Document, PolicyTest]]:
    """The `PolicyTest` documents, validated; raises InvalidInput listing every problem."""
    problems: list[Problem] = []
    suites: list[tuple[Document, PolicyTest]] = []
    for doc in docs:
        if not isinstance(doc.data, dict) or doc.data.get("kind") != "PolicyTest":
            continue
        try:
            suites.append((doc, PolicyTest.model_validate(doc.data)))
        except ValidationError as exc:
            problems.extend(problems_from_validation(exc, doc))
            continue
        resources = suites[-1][1].spec.resources
        for index, resource in enumerate(resources):
            if not isinstance(resource.get("metadata") or {}, dict):
                problems.append(
                    doc.problem("expected a mapping", ["spec", "resources", index, "metadata"])
                )
        names = [_resource_key(r) for r in resources]
        for index, case in enumerate(suites[-1][1].spec.cases):
            for field, wanted in (("resource", case.resource), ("oldResource", case.old_resource)):
                if wanted is not None and resource_index(names, wanted) is None:
                    problems.append(
                        doc.problem(
                            f"no resource named {wanted!r} (or it is ambiguous: use Kind/name)",
                            ["spec", "cases", index, field],
                        )
                    )
    if problems:
        raise InvalidInput(problems)
    return suites


def _resource_key(resource: dict[str, Any]) -> tuple[str, str]:
    metadata = resource.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    name = metadata.get("name") or metadata.get("generateName") or ""
    return str(resource.get("kind", "")), str(name)


def resource_index(names: list[tuple[str, str]], wanted: str) -> int | None:
    kind, _, name = wanted.rpartition("/")
    hits = [i for i, (k, n) in enumerate(names) if n == name and (not kind or k == kind)]
    return hits[0] if len(hits) == 1 else None


def find_resource(suite: PolicyTest, wanted: str) -> dict[str, Any]:
    names = [_resource_key(r) for r in suite.spec.resources]
    index = resource_index(names, wanted)
    assert index is not None, "validated by suites_from_documents"
    return suite.spec.resources[index]
