"""The reservation ledger: cost admitted but not yet visible in spend data (implements
`engine.ports.Reservations`, the read-only side the engine asks; `commit` holds what a
verdict reserves).

Between admitting a pod and its cost showing in Prometheus lie scheduling, the first
scrape (up to one scrape interval) and the next spend refresh — 1–3 minutes, longer while
a node is provisioned. Without a ledger, every request of a burst sees the same snapshot
and all pass. With it, the app commits each admission's reservations in one step that
checks them again under the ledger's lock, so 50 concurrent creations against room for 10
admit exactly 10.

- Keyed by workload key: admitting the same object again (API server retries, a
  namesake re-created) replaces its reservation instead of adding a second one. A change
  of an existing object (a scale-up, more GPUs) holds what it adds under the object's key
  and its request's uid (`reservations.keys.change_key`), beside what the object holds:
  the releases below that name an object (running, relisted) drop its changes with it;
  a deleted pod's changes (a priced annotation edited on it) go at the next relist or TTL.
- A pod's entry goes once spend data shows it running (`release_visible`), a workload's
  once it shows the pods that run at it (`held_workloads`, `release_shown`), and every
  entry expires after `ttl` (default 10 min: scrape interval + 5-min lookback + refresh
  interval + a margin for node provisioning). By then the workload's cost is in the
  run-rate, or it never started and should no longer hold budget. While both overlap
  (the pods that show before all of a workload's do), the cost is counted twice: the
  ledger errs towards denying, never towards overshooting.
  Expired entries are found through a heap of expiry times (`_Group`), so a steady
  stream of new pods, which expires one entry per admission, costs each admission that
  one entry, not a scan of what is held.
- `release_visible` drops the reservations of pods the spend data shows running: each
  refresh asks Prometheus which of the pods `held` its run-rate counts
  (`spend.snapshots`), so a running pod is counted once, in the run-rate, not in both
  until the TTL.
- `release(key, owner=uid)` drops a workload's reservation early: the pod watch calls it
  when a pod is deleted (`spend.watched_pods`), only for the reservation that pod made.
- In-memory and per replica: a replica that starts holds again, from its pod watch's
  first list, what the pods created within a TTL hold (`engine.evaluating.recall`), so a rolling
  update does not forget the last minutes' admissions. With R replicas each replica only
  sees its own ledger: in the worst case every replica fills the same headroom within one
  refresh + scrape window, so the overshoot is at most (R − 1) × the headroom.
  `headroom_share = 1/R` (serve flag `--budget-replicas R`) bounds it to zero (each
  replica may reserve only its share of the headroom) at the cost of a single replica
  admitting at most 1/R of the headroom until its reservations expire.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import MAX_PREC, ROUND_CEILING, Context, Decimal
from heapq import heappop, heappush
from typing import NamedTuple

from costwarden.engine.ports import Reservation, Reserving
from costwarden.reservations import keys

DEFAULT_TTL = timedelta(minutes=10)
QUANTUM = Decimal("1e-9")
"""Amounts are held to a billionth of the currency unit, rounded up (towards denying):
sums of such amounts are exact, so a group keeps a running total that never drifts from
the sum of its entries."""
_ZERO = Decimal(0)

_Entry = tuple[Decimal, datetime, str | None, int]
"""A reservation: amount, when it expires, the owner's uid, the pods that run at it."""


class _Group:
    """One (budget, group)'s reservations: key -> (amount, expires_at, owner uid), and
    their running total, so a review costs the same with one reservation or thousands.

    `expiries` is a heap of (expires_at, key): a request on the admission path pops only
    what has expired, so expiring costs what expired, not what is held (a steady stream of
    new pods expires one reservation per admission). Each key has one pair that counts,
    its time in `queued`, never later than the key's entry expires:
    - a key written again later keeps its pair; once the pair comes out, it goes back in
      at the entry's own expiry. So the usual rewrite (mutate then validate, retries)
      pushes nothing;
    - a key written again at an earlier time (clocks of concurrent requests) gets a new
      pair, and the old one no longer counts: it is dropped when it comes out;
    - a released key's pair is dropped when it comes out, unless the key was written
      again by then.
    The heap thus holds about one pair per key written within a TTL, however often a key
    is released and written again (a pod re-created under its name)."""

    __slots__ = ("entries", "expiries", "queued", "total")

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self.expiries: list[tuple[datetime, str]] = []
        self.queued: dict[str, datetime] = {}
        self.total = _ZERO

    def others(self, now: datetime, key: str) -> Decimal:
        """The live total but `key`'s own entry."""
        own = self.own(now, key)
        return self.total if own is None else self.total - own[0]

    def own(self, now: datetime, key: str) -> _Entry | None:
        """`key`'s live entry, once what has expired is dropped."""
        expiries = self.expiries
        if expiries and expiries[0][0] <= now:
            self.expire(now)
        return self.entries.get(key)

    def expire(self, now: datetime) -> None:
        expiries, entries, queued = self.expiries, self.entries, self.queued
        while expiries and expiries[0][0] <= now:
            at, key = heappop(expiries)
            if queued.get(key) != at:
                continue  # a pair that no longer counts
            entry = entries.get(key)
            if entry is not None and entry[1] > now:  # written again since
                heappush(expiries, (entry[1], key))
                queued[key] = entry[1]
                continue
            del queued[key]
            if entry is not None:
                del entries[key]
                self.total -= entry[0]

    def queue(self, key: str, expires_at: datetime) -> None:
        """`key` was written to expire at `expires_at`: a pair, unless one counts already."""
        at = self.queued.get(key)
        if at is None or expires_at < at:
            heappush(self.expiries, (expires_at, key))
            self.queued[key] = expires_at

    def drop(self, key: str) -> None:
        self.total -= self.entries.pop(key)[0]


class Size(NamedTuple):
    reservations: int
    expiries: int


class ReservationLedger:
    """Thread-safe, in-memory reservations per (budget, group), keyed by workload."""

    def __init__(
        self, *, ttl: timedelta = DEFAULT_TTL, headroom_share: Decimal = Decimal(1)
    ) -> None:
        if not Decimal(0) < headroom_share <= Decimal(1):
            raise ValueError("headroom_share must be in (0, 1]")
        self._ttl = ttl
        self._share = None if headroom_share == 1 else headroom_share
        """None: the whole headroom (one replica), and no multiplication per review."""
        self._lock = threading.Lock()
        self._groups: dict[tuple[str, str], _Group] = {}

    @property
    def ttl(self) -> timedelta:
        """How long a reservation lasts at most."""
        return self._ttl

    def reserved(
        self, *, budget: str, group: str, now: datetime, excluding: str | None = None
    ) -> Decimal:
        """Live reservations of the group; `excluding` leaves one workload's own out."""
        with self._lock:
            held = self._groups.get((budget, group))
            return _ZERO if held is None else held.others(now, excluding or "")  # no key is ""

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
        """The group's live reservations but `key`'s own and `with_keys`' (`others`), and
        whether `others + amount` fit in `limit × headroom_share`. Writes nothing."""
        amount = _held(amount)
        limit = self._share_of(limit)
        with self._lock:
            held = self._groups.get((budget, group))
            if held is None:
                others = _ZERO
            else:
                others = held.others(now, key)
                for also in with_keys:
                    own = held.own(now, also)
                    if own is not None:
                        others -= own[0]
            return _answer(Reserving, (others, others + amount <= limit))

    def commit(self, reservations: Sequence[Reservation]) -> list[Reservation]:
        """Hold what one admission reserves, in one step under the lock: each is checked
        again (others may have taken the room since the engine asked) and held, replacing
        what its key held. The refused ones are returned; if one of them is `enforced` (its
        refusal denies the request), nothing is held at all. `owner` (the object's uid)
        lets `release` tell a reservation from a later namesake's."""
        if not reservations:
            return []
        amounts = [_held(r.amount) for r in reservations]
        limits = [self._share_of(r.limit) for r in reservations]
        with self._lock:
            refused: list[Reservation] = []
            accepted: dict[tuple[str, str], Decimal] = {}  # what this commit adds per group
            for r, amount, limit in zip(reservations, amounts, limits, strict=True):
                group = (r.budget, r.group)
                if self._others(r) + accepted.get(group, _ZERO) + amount > limit:
                    refused.append(r)
                else:
                    accepted[group] = accepted.get(group, _ZERO) + amount
            if any(r.enforced for r in refused):
                return refused
            for r, amount in zip(reservations, amounts, strict=True):
                if r not in refused:
                    self._hold(r, amount)
        return refused

    def _others(self, reservation: Reservation) -> Decimal:
        held = self._groups.get((reservation.budget, reservation.group))
        return _ZERO if held is None else held.others(reservation.at, reservation.key)

    def _hold(self, reservation: Reservation, amount: Decimal) -> None:
        key = reservation.key
        held = self._groups.get((reservation.budget, reservation.group))
        if held is None:
            held = self._groups[(reservation.budget, reservation.group)] = _Group()
        own = held.own(reservation.at, key)
        expires_at = reservation.at + self._ttl
        held.entries[key] = (amount, expires_at, reservation.owner, reservation.pods)
        held.total += amount - (own[0] if own is not None else _ZERO)
        if own is None or expires_at < own[1]:
            held.queue(key, expires_at)  # else the pair of `own` counts

    def _share_of(self, limit: Decimal) -> Decimal:
        return limit if self._share is None else limit * self._share

    def release_unlisted(
        self, kind: str, listed: Mapping[str, str], *, admitted_before: datetime
    ) -> int:
        """After a full list of every `kind` object (`listed`: key -> uid), drop what the
        objects admitted before `admitted_before` and no longer listed under the uid that
        reserved still hold: deleted, or never created. One without an owner uid is kept
        (there is nothing to compare). How many were dropped."""
        dropped = 0
        expiring_before = admitted_before + self._ttl
        with self._lock:  # once per relist
            for held in self._groups.values():
                gone = [
                    key
                    for key, (_, expires_at, owner, _) in held.entries.items()
                    if expires_at < expiring_before
                    and owner is not None
                    and listed.get(keys.object_of(key)) != owner
                    and keys.is_kind(key, kind)
                ]
                for key in gone:
                    held.drop(key)
                dropped += len(gone)
        return dropped

    def held(self, kind: str, budgets: Collection[str], *, admitted_before: datetime) -> set[str]:
        """The `kind` objects (keys) holding reservations in `budgets` made before
        `admitted_before`: what `release_visible` could drop."""
        expiring_before = admitted_before + self._ttl
        with self._lock:  # once per refresh
            return {
                keys.object_of(key)
                for (budget, _), held in self._groups.items()
                if budget in budgets
                for key, (_, expires_at, _, _) in held.entries.items()
                if expires_at < expiring_before and keys.is_kind(key, kind)
            }

    def release_visible(
        self, budgets: Collection[str], visible: Collection[str], *, admitted_before: datetime
    ) -> int:
        """Spend data fetched now shows these objects (keys) running: drop what they hold
        in `budgets` (the budgets whose run-rate that data is), so a running pod is not
        counted both in the run-rate and here until the TTL. Only reservations made
        before `admitted_before`: a namesake deleted just before this object was admitted
        can look visible until the next scrape marks its series stale. How many were
        dropped."""
        return self._drop(budgets, lambda key: keys.object_of(key) in visible, admitted_before)

    def held_workloads(self, budgets: Collection[str]) -> dict[str, tuple[datetime, int]]:
        """The reservations in `budgets` of workloads that run their pods through a
        controller (a Deployment, a Job, ...; a scale-up's too): key -> (when it was made,
        how many pods run at it). What `release_shown` may drop once the spend data shows
        that many of the workload's pods created since. (A pod's and a shared claim's go
        when their own series shows: `release_visible`.)"""
        ttl = self._ttl
        with self._lock:  # like `held`: once per refresh
            return {
                key: (expires_at - ttl, pods)
                for (budget, _), held in self._groups.items()
                if budget in budgets
                for key, (_, expires_at, _, pods) in held.entries.items()
                if not keys.is_kind(key, "Pod") and not keys.is_kind(key, keys.CLAIM)
            }

    def release_shown(
        self, budgets: Collection[str], keys: Collection[str], *, admitted_before: datetime
    ) -> int:
        """Drop these reservations (keys, as `held_workloads` names them) in `budgets`:
        the spend data fetched now shows the pods that run at them. Only those made before
        `admitted_before`, as for `release_visible`. How many were dropped."""
        return self._drop(budgets, keys.__contains__, admitted_before)

    def _drop(
        self, budgets: Collection[str], which: Callable[[str], bool], admitted_before: datetime
    ) -> int:
        dropped = 0
        expiring_before = admitted_before + self._ttl
        with self._lock:  # once per refresh
            for (budget, _), held in self._groups.items():
                if budget not in budgets:
                    continue
                gone = [
                    key
                    for key, (_, expires_at, _, _) in held.entries.items()
                    if expires_at < expiring_before and which(key)
                ]
                for key in gone:
                    held.drop(key)
                dropped += len(gone)
        return dropped

    def size(self) -> Size:
        """What the ledger holds in memory: reservations, and the expiry times queued for
        them (about one per key written within a TTL, however often keys are rewritten)."""
        with self._lock:
            groups = self._groups.values()
            return Size(
                reservations=sum(len(held.entries) for held in groups),
                expiries=sum(len(held.expiries) for held in groups),
            )

    def release(self, key: str, *, owner: str | None = None) -> int:
        """Drop every reservation `key` holds; with `owner`, only those that object made
        (a pod deleted and re-created under its name keeps the new one's). How many."""
        dropped = 0
        with self._lock:
            for held in self._groups.values():
                entry = held.entries.get(key)
                if entry is not None and (owner is None or entry[2] == owner):
                    held.drop(key)
                    dropped += 1
        return dropped


def _held(amount: Decimal) -> Decimal:
    """An amount as the ledger holds it: to `QUANTUM`, rounded up (towards denying), in a
    context wide enough for any amount, so an absurdly large one is refused by the limit,
    not by an exception."""
    return amount.quantize(QUANTUM, ROUND_CEILING, _WIDE)


_WIDE = Context(prec=MAX_PREC)
"""Quantizes any amount without raising (see `_held`)."""
_answer = tuple.__new__
"""Builds a `Reserving` without the Python-level `__new__` of a NamedTuple: the ledger
answers every budgeted review."""
