"""What one evaluation knows about the world besides the request: the engine's `Context`.

Everything time- or cluster-dependent arrives here, so `evaluate` stays pure: the same
request, policies, catalog and context always give the same verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from costwarden.engine.ports import (
    EMPTY_SPEND,
    DraObjects,
    NamespaceLabels,
    Reservations,
    SpendSnapshot,
    WorkloadLookup,
)
from costwarden.memos import Memos
from costwarden.workloads import BUILT_IN_CONTROLLERS

StaleBehaviour = Literal["deny", "warn", "allow"]
"""What a budget rule does when spend data is too old to judge by."""
LookupFailure = Literal["deny", "warn", "allow"]
"""What a Scale that adds pods does when its workload cannot be read to price it."""


@dataclass(frozen=True, slots=True)
class Context:
    namespaces: NamespaceLabels
    now: datetime
    """The evaluation's time (timezone-aware); the engine never reads a clock."""
    namespaces_partial: bool = False
    """Whether `namespaces` knows only some namespaces (`check` given a labels file,
    Namespace objects or neither): the labels of one it does not know were not given, and
    the rules that read them — a label inherited from the namespace, a `namespaceSelector`,
    the group a budget charges — say "not checked", never a false denial
    (`Target.namespace_known`). False (the cluster's watch, `serve`'s file, a policy test
    suite): one it does not know has no labels, and is judged so — never a way around."""
    spend: SpendSnapshot = EMPTY_SPEND
    workloads: WorkloadLookup | None = None
    """Looks up the workload behind a `Scale` request; None: no scale-up can be priced, and
    each does what `scale_lookup_failure` says."""
    scale_lookup_failure: LookupFailure = "deny"
    """What a Scale that adds pods does when its workload cannot be read (no lookup, or the
    lookup failed): `deny` (fail closed: an unpriced scale-up would escape GPU limits and
    budgets), `warn` (allow, saying so) or `allow` (with a notice). Never a silent allow."""
    reservations: Reservations | None = None
    """The budget ledger, read-only (the caller commits what a verdict holds); None: no
    admissions are held anywhere (CLI, audit, tests of pure decisions)."""
    spend_stale_after: timedelta = timedelta(minutes=5)
    """Spend older than this is stale, unless a budget rule sets its own `staleAfter`."""
    budget_stale_default: StaleBehaviour = "warn"
    """What a budget rule without `onStaleData` does with stale spend data."""
    controllers: frozenset[str] = BUILT_IN_CONTROLLERS
    """The users whose owner references are believed (`evaluating.made_by_controller`);
    exact names, never a prefix: anyone else's owner reference is a claim."""
    dra: DraObjects | None = None
    """The DRA objects pods' claims name (DeviceClasses, ResourceClaimTemplates,
    ResourceClaims); None: none are known, and a pod naming a claim is unpriced."""
    memos: Memos = field(default_factory=Memos)
    """What the request path memoises; pass the one the caller owns (a fresh one per
    context otherwise: correct, and slower)."""


@dataclass(frozen=True, slots=True)
class StaticNamespaces:
    """Namespace labels from a mapping (a file, a test suite, a snapshot of the cluster)."""

    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def labels_for(self, namespace: str) -> Mapping[str, str] | None:
        return self.labels.get(namespace)


@dataclass(frozen=True, slots=True)
class StaticWorkloads:
    """Workloads from a list of objects, keyed by kind, namespace and name."""

    objects: tuple[Mapping[str, Any], ...] = ()

    def workload(
        self, *, group: str, resource: str, namespace: str, name: str
    ) -> Mapping[str, Any] | None:
        for obj in self.objects:
            metadata = obj.get("metadata") or {}
            api_group = str(obj.get("apiVersion", "")).rpartition("/")[0]
            if (
                api_group == group
                and f"{str(obj.get('kind', '')).lower()}s" == resource
                and metadata.get("namespace") == namespace
                and metadata.get("name") == name
            ):
                return obj
        return None
