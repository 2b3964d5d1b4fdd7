"""What the engine needs from the outside world, as small `typing.Protocol` ports.

The engine never reaches for a cluster, Prometheus, files or the clock: adapters (`kube/`,
`spend/`, the CLI's file sources) implement these and are passed in. Tests pass
real-but-local implementations, never mocks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

# The DRA objects a pod's claims name (DeviceClasses, ResourceClaimTemplates, ResourceClaims):
# the estimator reads them, so the port is defined beside it and passed in through `Context`.
from costwarden.estimating.claims import DraObjects as DraObjects


class NamespaceLabels(Protocol):
    """Labels of namespaces, for "Namespace = Cost Centre" inheritance and selectors."""

    def labels_for(self, namespace: str) -> Mapping[str, str] | None:
        """The namespace's labels, or None when the namespace is unknown."""
        ...


class NodeLabels(Protocol):
    """Labels of nodes, to price a running pod on the node it runs on."""

    def labels_for(self, name: str) -> Mapping[str, str] | None:
        """The node's labels (at least those pricing reads), or None when the node is
        unknown."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class LookupFailed(Exception):
    """A `WorkloadLookup` could not read the workload: a timeout, a refusal (403), a server
    error. Not "not found": a workload that does not exist is None, not this."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        """What failed, short enough for a message (`403 Forbidden`, `no answer within 2 s`)."""


class WorkloadLookup(Protocol):
    """Finds the live object behind a request that does not carry its pod template.

    `kubectl scale` sends an `autoscaling/v1` Scale (replicas, no template): the engine
    looks the workload up to price the new replica count.
    """

    def workload(
        self, *, group: str, resource: str, namespace: str, name: str
    ) -> Mapping[str, Any] | None:
        """The workload as the API server stores it, None when there is none (404).

        Raises `LookupFailed` when it cannot be read: the engine cannot price the scale
        and does what `Context.scale_lookup_failure` says, never allows it unpriced."""
        ...


@dataclass(frozen=True, slots=True)
class BudgetSpend:
    """Spend of one budget group (one cost centre, team or namespace) in the current period."""

    spent: Decimal
    """Period-to-date spend, in the catalog's currency."""
    run_rate_hourly: Decimal
    """Committed $/h of what runs now (it keeps costing until the period ends)."""

    def committed(self, hours_left: Decimal) -> Decimal:
        """What runs now costs until the period ends."""
        return self.run_rate_hourly * hours_left

    def projected(self, hours_left: Decimal, *, reserved: Decimal = Decimal(0)) -> Decimal:
        """The budget's projection for the period, before any new workload:
        spent + run_rate_hourly × hours_left + reserved (the one place this formula lives;
        the budget rule adds the workload, the budget metrics show it as is)."""
        return self.spent + self.run_rate_hourly * hours_left + reserved


@dataclass(frozen=True, slots=True)
class SpendSnapshot:
    """An immutable, background-refreshed view of spend. The request path only reads it."""

    fetched_at: datetime | None
    """When the data was last fetched successfully; None when it never was."""
    budgets: Mapping[str, Mapping[str, BudgetSpend]] = field(default_factory=dict)
    """Budget rule name -> group value (e.g. cost centre `Sales-5045`) -> spend."""
    error: str | None = None
    """Why the last refresh failed, if it did."""


EMPTY_SPEND = SpendSnapshot(fetched_at=None)


class SpendSource(Protocol):
    def snapshot(self) -> SpendSnapshot:
        """The latest snapshot; never blocks on the network."""
        ...


class Reservation(NamedTuple):
    """What admitting a request holds in a budget until the spend data shows it: the engine
    decides it (a verdict's `holds`), its caller commits it to the ledger."""

    budget: str
    """The budget rule's name."""
    group: str
    key: str
    """What it is held under (`reservations.keys`): holding again replaces it."""
    amount: Decimal
    limit: Decimal
    """Room for the group's reservations: cap − spent − committed (the ledger holds this
    replica's share of it)."""
    owner: str | None
    """The object's uid: its deletion releases this reservation, not a namesake's."""
    pods: int
    """The object's pods, created from now on, that run at `amount` (`Change.pods`): once
    the spend data shows that many, it counts them and the reservation can go."""
    at: datetime
    """When it was admitted: it expires a TTL after."""
    enforced: bool = True
    """Whether a refusal denies the request (the rule's action is deny): the ledger then
    holds none of the request's reservations."""


class Reserving(NamedTuple):
    """The ledger's answer to `Reservations.ask`."""

    others: Decimal
    """The group's live reservations, the asking key's own left out."""
    fits: bool
    """`others` + the amount fit in the limit (this replica's share of it)."""


class Reservations(Protocol):
    """The budget reservation ledger, read-only: admitted cost not yet visible in spend data.
    The engine only asks; its caller commits what a verdict holds."""

    def reserved(
        self, *, budget: str, group: str, now: datetime, excluding: str | None = None
    ) -> Decimal:
        """Reserved $ for the group's remaining period (expired entries excluded).

        `excluding`: a reservation key left out — the asking workload's own reservation
        (a retried request must not count its object twice)."""
        ...

    def ask(
        self,
        *,
        budget: str,
        group: str,
        key: str,
        amount: Decimal,
        limit: Decimal,
        now: datetime,
        with_keys: Collection[str] = (),
    ) -> Reserving:
        """The group's live reservations but `key`'s own and `with_keys`' (what `amount`
        holds besides `key`'s: a shared claim's), and whether `amount` fits with them in
        `limit` (this replica's share of it). Writes nothing."""
        ...
