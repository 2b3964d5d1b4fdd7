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
- `release(key)` drops a workload's reservations early (e.g. when it is deleted).
- In-memory and per replica. With R replicas each replica only sees its own ledger: in
  the worst case every replica fills the same headroom within one refresh + scrape window,
  so the overshoot is at most (R − 1) × the headroom. `headroom_share = 1/R` (serve flag
  `--budget-replicas R`) bounds it to zero (each replica may reserve only its share of the
  headroom) at the cost of a single replica admitting at most 1/R of the headroom until
  its reservations expire.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

DEFAULT_TTL = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class _Entry:
    amount: Decimal
    expires_at: datetime


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
        self._entries: dict[tuple[str, str], dict[str, _Entry]] = {}

    def reserved(
        self, *, budget: str, group: str, now: datetime, excluding: str | None = None
    ) -> Decimal:
        """Live reservations of the group; `excluding` leaves one workload's own out."""
        with self._lock:
            entries = self._live(budget, group, now)
            return sum(
                (entry.amount for key, entry in entries.items() if key != excluding),
                Decimal(0),
            )

    def try_reserve(
        self,
        *,
        budget: str,
        group: str,
        key: str,
        amount: Decimal,
        limit: Decimal,
        now: datetime,
    ) -> bool:
        """Reserve `amount` for `key` if the group's other reservations + amount fit in
        `limit × headroom_share`; a reservation the key already holds is replaced, never
        added to. On refusal an existing reservation of the key stays as it was."""
        with self._lock:
            entries = self._live(budget, group, now)
            if not self._fits(entries, key=key, amount=amount, limit=limit):
                return False
            entries[key] = _Entry(amount=amount, expires_at=now + self._ttl)
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
    ) -> bool:
        """What `try_reserve` would answer, writing nothing (a dry run's view)."""
        with self._lock:
            entries = self._live(budget, group, now)
            return self._fits(entries, key=key, amount=amount, limit=limit)

    def _fits(
        self, entries: dict[str, _Entry], *, key: str, amount: Decimal, limit: Decimal
    ) -> bool:
        others = sum((entry.amount for other, entry in entries.items() if other != key), Decimal(0))
        return others + amount <= limit * self._share

    def release(self, key: str) -> None:
        """Drop every reservation `key` holds."""
        with self._lock:
            for entries in self._entries.values():
                entries.pop(key, None)

    def _live(self, budget: str, group: str, now: datetime) -> dict[str, _Entry]:
        entries = self._entries.setdefault((budget, group), {})
        for key in [key for key, entry in entries.items() if entry.expires_at <= now]:
            del entries[key]
        return entries
