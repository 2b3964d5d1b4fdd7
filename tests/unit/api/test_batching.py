"""`Batches`: reviews that arrive together are answered together, in arrival order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from costwarden.api.batching import Batches


def batches_with(in_progress: int, **options: int) -> Batches:
    batches = Batches(**options)
    batches.in_progress = lambda: in_progress
    return batches


def logged(log: list[str], name: str, result: object = None) -> Callable[[], object]:
    def work() -> object:
        log.append(f"answer {name}")
        return result if result is not None else name

    return work


async def test_a_request_alone_is_answered_at_once_without_a_turn_of_the_loop() -> None:
    batches = batches_with(1)
    log: list[str] = []
    asyncio.get_running_loop().call_soon(log.append, "next turn")
    assert await batches.run(logged(log, "only")) == "only"
    assert log == ["answer only"]  # the callback queued before did not run yet
    assert (batches.answered, batches.batches) == (1, 1)


async def test_requests_in_progress_together_are_answered_back_to_back_in_arrival_order() -> None:
    batches = batches_with(3)
    log: list[str] = []

    async def request(name: str) -> object:
        log.append(f"in {name}")
        return await batches.run(logged(log, name))

    results = await asyncio.gather(request("a"), request("b"), request("c"))
    assert results == ["a", "b", "c"]
    assert log == ["in a", "in b", "in c", "answer a", "answer b", "answer c"]
    assert (batches.answered, batches.batches) == (3, 1)


async def answered_at_turn(rounds: int) -> int:
    """The loop turn at which a batch is answered when only two of the five requests in
    progress ever hand over a review."""
    batches = batches_with(5, rounds=rounds)
    loop = asyncio.get_running_loop()
    turn = 0

    def count() -> None:
        nonlocal turn
        turn += 1
        loop.call_soon(count)

    loop.call_soon(count)
    seen: list[int] = []
    await asyncio.wait_for(
        asyncio.gather(batches.run(lambda: seen.append(turn)), batches.run(lambda: None)), 1
    )
    assert batches.batches == 1
    return seen[0]


async def test_a_batch_waits_its_rounds_at_most_for_requests_that_do_not_come() -> None:
    # Not until a timeout: `rounds` turns of the event loop, one each.
    assert await answered_at_turn(4) - await answered_at_turn(1) == 3


async def test_a_full_batch_is_answered_without_waiting() -> None:
    batches = batches_with(10, most=2)
    log: list[str] = []
    first = asyncio.ensure_future(batches.run(logged(log, "a")))
    await asyncio.sleep(0)  # `a` is queued, waiting for company
    assert log == []
    assert await batches.run(logged(log, "b")) == "b"  # the second fills the batch
    assert log == ["answer a", "answer b"]
    assert await first == "a"


async def test_a_failing_review_fails_only_its_own_request() -> None:
    batches = batches_with(2)

    def broken() -> object:
        raise ValueError("this one")

    good, bad = await asyncio.gather(
        batches.run(lambda: "fine"), batches.run(broken), return_exceptions=True
    )
    assert good == "fine"
    assert isinstance(bad, ValueError)
    assert str(bad) == "this one"


async def test_a_request_whose_caller_went_away_is_not_answered() -> None:
    # Its answer would reach nobody, and answering /validate may reserve budget.
    batches = batches_with(3)
    log: list[str] = []
    gone = asyncio.ensure_future(batches.run(logged(log, "gone")))
    stays = asyncio.ensure_future(batches.run(logged(log, "stays")))
    await asyncio.sleep(0)
    gone.cancel()
    assert await stays == "stays"
    assert log == ["answer stays"]
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert batches.answered == 1


async def test_an_interrupted_batch_fails_the_rest_instead_of_leaving_them_waiting() -> None:
    batches = batches_with(3, most=3)

    def interrupted() -> object:
        raise KeyboardInterrupt

    first = asyncio.ensure_future(batches.run(interrupted))
    second = asyncio.ensure_future(batches.run(lambda: "never"))
    await asyncio.sleep(0)
    with pytest.raises(KeyboardInterrupt):  # the third fills the batch and answers it
        await batches.run(lambda: "never either")
    for waiting in (first, second):
        with pytest.raises(RuntimeError, match="stopped before"):
            await asyncio.wait_for(waiting, 1)


async def test_each_batch_reports_its_size_and_a_request_alone_counts_as_one() -> None:
    sizes: list[int] = []
    alone = batches_with(1)
    alone.on_batch = sizes.append
    await alone.run(lambda: None)
    together = batches_with(3)
    together.on_batch = sizes.append
    await asyncio.gather(*(together.run(lambda: None) for _ in range(3)))
    assert sizes == [1, 3]
