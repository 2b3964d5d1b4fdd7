"""The reservation ledger: cost admitted but not yet visible in spend data (implements
`engine.ports.Reservations`).

Between admitting a pod and its cost showing in Prometheus lie scheduling, the first
scrape (up to one scrape interval) and the next spend refresh — 1–3 minutes, longer while
a node is provisioned. Without a ledger, every request of a burst sees the same snapshot
and all pass. With it, each admission reserves its expected cost under one lock, so 50
concurrent creations against room for 10 admit exactly 10.

- Keyed by workload key: re-admitting the same object (mutate then validate, API server
  retries, re-applies) replaces its reservation instead of adding a second one.
- Entries expire after `ttl` (default 10 min: scrape interval + 5-min lookback + refresh
  interval + a margin for node provisioning). By then the pod's cost is in the run-rate,
  or the pod never started and should no longer hold budget. While both overlap, the pod
  is counted twice: the ledger errs towards denying, never towards overshooting.
- `release(key, owner=uid)` drops a workload's reservation early: the pod watch calls it
  when a pod is deleted (`spend.tracking`), only for the reservation that pod made.
- In-memory and per replica. With R replicas each replica only sees its own ledger: in
  the worst case every replica fills the same headroom within one refresh + scrape window,
  so the overshoot is at most (R − 1) × the headroom. `headroom_share = 1/R` (serve flag
  `--budget-replicas R`) bounds it to zero (each replica may reserve only its share of the
  headroom) at the cost of a single replica admitting at most 1/R of the headroom until
  its reservations expire.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal

DEFAULT_TTL = timedelta(minutes=10)
_ZERO = Decimal(0)


class _Group:
    """One (budget, group)'s reservations: key -> (amount, expires_at, owner uid).

    `next_expiry` is the earliest `expires_at` held, so a request on the admission path
    scans for expired entries only once one has expired, not at every call."""

    __slots__ = ("entries", "next_expiry")

    def __init__(self) -> None:
        self.entries: dict[str, tuple[Decimal, datetime, str | None]] = {}
        self.next_expiry: datetime | None = None

    def others(self, now: datetime, excluding: str | None) -> Decimal:
        """Live reservations but `excluding`'s, summed in insertion order; drops the
        expired ones first."""
        if self.next_expiry is not None and self.next_expiry <= now:
            self.entries = {k: e for k, e in self.entries.items() if e[1] > now}
            self.next_expiry = min((e[1] for e in self.entries.values()), default=None)
        total = _ZERO
        for key, (amount, _, _) in self.entries.items():
            if key != excluding:
                total += amount
        return total


class ReservationLedger:
    """Thread-safe, in-memory reservations per (budget, group), keyed by workload."""

    def __init__(
        self, *, ttl: timedelta = DEFAULT_TTL, headroom_share: Decimal = Decimal(1)
    ) -> None:
        if not Decimal(0) < headroom_share <= Decimal(1):
            raise ValueError("headroom_share must be in (0, 1]")
        self._ttl = ttl
        self._share = headroom_share
        self._lock = threading.Lock()
        self._groups: dict[tuple[str, str], _Group] = {}

    def reserved(
        self, *, budget: str, group: str, now: datetime, excluding: str | None = None
    ) -> Decimal:
        """Live reservations of the group; `excluding` leaves one workload's own out."""
        with self._lock:
            held = self._groups.get((budget, group))
            return _ZERO if held is None else held.others(now, excluding)

    def try_reserve(
        self,
        *,
        budget: str,
        group: str,
        key: str,
        amount: Decimal,
        limit: Decimal,
        now: datetime,
        owner: str | None = None,
    ) -> bool:
        """Reserve `amount` for `key` if the group's other reservations + amount fit in
        `limit × headroom_share`; a reservation the key already holds is replaced, never
        added to. On refusal an existing reservation of the key stays as it was.
        `owner` (the object's uid) lets `release` tell it from a later namesake's."""
        with self._lock:
            held = self._groups.get((budget, group))
            if held is None:
                held = self._groups[(budget, group)] = _Group()
            if held.others(now, key) + amount > limit * self._share:
                return False
            expires_at = now + self._ttl
            held.entries[key] = (amount, expires_at, owner)
            if held.next_expiry is None or expires_at < held.next_expiry:
                held.next_expiry = expires_at
            return True

    def would_reserve(
        self,
        *,
        budget: str,
        group: str,
        key: str,
        amount: Decimal,
        limit: Decimal,
        now: datetime,
        owner: str | None = None,
    ) -> bool:
        """What `try_reserve` would answer, writing nothing (a dry run's view)."""
        with self._lock:
            held = self._groups.get((budget, group))
            others = _ZERO if held is None else held.others(now, key)
            return others + amount <= limit * self._share

    def release(self, key: str, *, owner: str | None = None) -> None:
        """Drop every reservation `key` holds; with `owner`, only those that object made
        (a pod deleted and re-created under its name keeps the new one's)."""
        with self._lock:
            for held in self._groups.values():
                entry = held.entries.get(key)
                if entry is not None and (owner is None or entry[2] == owner):
                    del held.entries[key]
