"""Bounded memos: what the request path works out once and looks up after.

The engine and the estimator are pure functions of their inputs; what they memoise lives in
one `Memos` object that its owner (the app, a CLI run, a test) creates and passes in — never
in module globals. Each memo is bounded by its number of entries and by the size of what it
holds (as its `weigh` counts it), since its keys come from users: the oldest entries go first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _one(key: Any, value: Any) -> int:
    return 1


def _text_weight(key: Hashable, value: Any) -> int:
    """The characters of text in a key of strings (or tuples of them), one at least."""
    if isinstance(key, str):
        return max(len(key), 1)
    if isinstance(key, tuple):
        return max(sum(_text_weight(part, None) for part in key), 1)
    return 1


class Memo(Generic[K, V]):
    """At most `entries` entries weighing at most `size` in all; oldest out first.

    Lookups take no lock (a dict read is atomic); storing does, so that concurrent misses
    keep the bounds."""

    __slots__ = ("_entries", "_lock", "_max_entries", "_max_size", "_size", "_weigh", "_weights")

    def __init__(self, *, entries: int, size: int, weigh: Callable[[K, V], int] = _one) -> None:
        self._entries: dict[K, V] = {}
        self._weights: dict[K, int] = {}
        self._max_entries = entries
        self._max_size = size
        self._size = 0
        self._weigh = weigh
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def put(self, key: K, value: V) -> V:
        """Hold `value` under `key` (unless it alone outweighs the memo); returns `value`."""
        weight = self._weigh(key, value)
        if weight > self._max_size:
            return value
        with self._lock:
            entries, weights = self._entries, self._weights
            self._size -= weights.pop(key, 0)
            entries.pop(key, None)
            while entries and (
                len(entries) >= self._max_entries or self._size + weight > self._max_size
            ):
                oldest = next(iter(entries))
                del entries[oldest]
                self._size -= weights.pop(oldest)
            entries[key] = value
            weights[key] = weight
            self._size += weight
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._weights.clear()
            self._size = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """The weight of what is held."""
        return self._size


@dataclass(slots=True)
class Memos:
    """Everything the request path memoises, in one object its owner passes in."""

    pod_entries: int = 4096
    """How many pods each catalog's index remembers priced (by spec, and by what is priced)."""
    spec_bytes: int = 32 << 20
    """How many bytes of pod spec each catalog's index keeps as memo keys, at most."""
    catalogs: Memo[int, Any] = field(default_factory=lambda: Memo(entries=4, size=4))
    """Catalog identity -> its price index (`estimating.indexes`), which holds the memos of
    the pods priced against it; one catalog is current, a reload brings the next."""
    budgets: Memo[Hashable, Any] = field(default_factory=lambda: Memo(entries=4096, size=4096))
    """(budget rule, group) -> the group's figures for the current spend snapshot."""
    periods: Memo[Hashable, Any] = field(default_factory=lambda: Memo(entries=64, size=64))
    """(period, timezone) -> the period's end and the minutes it answers for."""
    lines: Memo[Hashable, Any] = field(default_factory=lambda: Memo(entries=1024, size=1024))
    """(a pod estimate's identity, pods) -> that estimate and the figures of its `kubectl`
    estimate line: pod estimates are memoised, so the pods of one workload share one."""
    pins: Memo[Hashable, Any] = field(
        default_factory=lambda: Memo(entries=256, size=64 << 10, weigh=_text_weight)
    )
    """A requirement on a capacity label (key, operator, values) -> the capacity types it
    allows: the Spot rule reads every review's node requirements."""
    emails: Memo[str, bool] = field(
        default_factory=lambda: Memo(entries=4096, size=256 << 10, weigh=_text_weight)
    )
    """A label value -> whether it reads as an e-mail address: the PII guard asks of every
    label value of every review, and values repeat."""
