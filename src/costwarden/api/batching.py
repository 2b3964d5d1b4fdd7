"""Reviews that arrive together are answered together, back to back.

A request reads its body, then hands its review to `Batches.run`. A request alone on the
server is answered at once. With others in progress, it waits until every request in
progress has handed over its review, or for `rounds` turns of the event loop, whichever
comes first; the batch is then answered in arrival order, one review after another, and
each request writes its own response. A request whose caller went away before its turn
is skipped (nothing is reserved for an answer nobody receives).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Entry = tuple[Callable[[], Any], "asyncio.Future[Any]"]


def _unknown() -> int:
    return 1


def _ignore(size: int) -> None:
    pass


# Kept: `make bench` shows batching pays >= 3 % of server CPU per review at 8 clients.
class Batches:
    """Runs the synchronous work of requests that arrive together back to back."""

    def __init__(self, *, rounds: int = 3, most: int = 16) -> None:
        self.rounds = rounds
        """Turns of the event loop a batch waits, at most, for the rest of the requests."""
        self.most = most
        """Reviews in one batch, at most: the first waits for all of them to be answered."""
        self.in_progress: Callable[[], int] = _unknown
        """How many requests the server is working on, this one included (`Serving` sets
        it from uvicorn's task set; until then every request is answered at once)."""
        self.on_batch: Callable[[int], None] = _ignore
        """Told each batch's size (1 for a request answered alone): the batch-size metric."""
        self._batch: list[_Entry] = []
        self.answered = 0
        self.batches = 0
        """Reviews answered and batches drained (requests answered alone count as one)."""

    async def run(self, work: Callable[[], T]) -> T:
        """`work()`, run at once when this request is alone, else with its batch."""
        batch = self._batch
        if not batch and self.in_progress() <= 1:
            self.answered += 1
            self.batches += 1
            self.on_batch(1)
            return work()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        batch.append((work, future))
        if len(batch) >= self.most:
            self._drain()
        elif len(batch) == 1:
            loop.call_soon(self._tick, batch, self.rounds, loop)
        return await future

    def _tick(self, batch: list[_Entry], rounds: int, loop: asyncio.AbstractEventLoop) -> None:
        if batch is not self._batch:
            return  # drained already, once everyone was in
        if rounds > 1:
            loop.call_soon(self._tick, batch, rounds - 1, loop)
        else:
            self._drain()

    def _drain(self) -> None:
        batch, self._batch = self._batch, []
        self.batches += 1
        self.on_batch(len(batch))
        try:
            for work, future in batch:
                if future.done():  # cancelled: the caller is gone
                    continue
                self.answered += 1
                try:
                    future.set_result(work())
                except Exception as exc:  # the request's own failure, delivered to it alone
                    future.set_exception(exc)
        finally:  # interrupted (the process is stopping): fail the rest, never leave them hanging
            for _, future in batch:
                if not future.done():
                    future.set_exception(RuntimeError("stopped before this review's turn"))
