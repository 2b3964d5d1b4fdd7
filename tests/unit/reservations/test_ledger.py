from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costwarden.engine.ports import Reservation, Reservations, Reserving
from costwarden.reservations.keys import change_key
from costwarden.reservations.ledger import QUANTUM, ReservationLedger

NOW = datetime(2026, 3, 3, 12, tzinfo=UTC)


def reservation(
    key: str,
    amount: str,
    limit: str = "100",
    *,
    budget: str = "cc",
    group: str = "Sales-5045",
    now: datetime = NOW,
    owner: str | None = None,
    pods: int = 1,
    enforced: bool = True,
) -> Reservation:
    return Reservation(
        budget=budget,
        group=group,
        key=key,
        amount=Decimal(amount),
        limit=Decimal(limit),
        owner=owner,
        pods=pods,
        at=now,
        enforced=enforced,
    )


def reserve(ledger: ReservationLedger, key: str, amount: str, limit: str = "100", **kw) -> bool:
    """Commit one reservation, as the app commits a verdict's: whether the ledger held it."""
    return not ledger.commit([reservation(key, amount, limit, **kw)])


def ask(ledger: ReservationLedger, key: str, amount: str, limit: str = "100", **kw) -> Reserving:
    return ledger.ask(
        budget=kw.get("budget", "cc"),
        group=kw.get("group", "Sales-5045"),
        key=key,
        amount=Decimal(amount),
        limit=Decimal(limit),
        now=kw.get("now", NOW),
    )


def test_the_ledger_implements_the_engine_reservations_port() -> None:
    ledger: Reservations = ReservationLedger()
    assert ledger.reserved(budget="cc", group="x", now=NOW) == 0
    assert ledger.ask(
        budget="cc", group="x", key="k", amount=Decimal(1), limit=Decimal(1), now=NOW
    ) == (0, True)


@pytest.mark.parametrize("asked", [False, True], ids=["committed", "asked then committed"])
def test_fifty_concurrent_reservations_against_room_for_ten_admit_exactly_ten(asked: bool) -> None:
    # As the app runs a burst: each request commits what it holds; asked first (as the
    # engine does), every request sees the room, and the commit checks again under the lock.
    ledger = ReservationLedger()
    start = threading.Barrier(50, timeout=60)

    def one(i: int) -> bool:
        key = f"ml-train/Pod/p{i}"
        if asked:
            assert ask(ledger, key, "10").fits  # nothing is held before every thread asked
        start.wait()  # all 50 threads race into commit together
        return reserve(ledger, key, "10")

    with ThreadPoolExecutor(max_workers=50) as pool:
        admitted = list(pool.map(one, range(50)))
    assert admitted.count(True) == 10
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == Decimal(100)


def test_asking_writes_nothing() -> None:
    ledger = ReservationLedger()
    assert reserve(ledger, "a", "40")
    assert ask(ledger, "b", "60") == (Decimal(40), True)
    assert ask(ledger, "b", "61") == (Decimal(40), False)
    assert ask(ledger, "a", "100") == (0, True)  # its own reservation left out: it replaces it
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == Decimal(40)


def test_asking_with_a_shared_claims_key_leaves_its_own_hold_out_too() -> None:
    # A pod asks for itself and a claim another pod holds already: the claim counts once.
    ledger = ReservationLedger()
    assert reserve(ledger, "ns/ResourceClaim/gpus", "30")
    assert reserve(ledger, "other", "20")
    answer = ledger.ask(
        budget="cc", group="Sales-5045", key="ns/Pod/b", amount=Decimal(40) + Decimal(30),
        limit=Decimal(100), now=NOW, with_keys=["ns/ResourceClaim/gpus", "ns/ResourceClaim/none"],
    )  # fmt: skip
    assert answer == (Decimal(20), True)
    assert ask(ledger, "ns/Pod/b", "70") == (Decimal(50), False)  # without it: counted twice


def test_a_commit_checks_again_what_was_asked() -> None:
    # The engine asked and saw room; another admission took it before this one committed.
    ledger = ReservationLedger()
    assert ask(ledger, "a", "60").fits
    assert reserve(ledger, "b", "50")
    (refused,) = ledger.commit([reservation("a", "60")])
    assert refused.key == "a"
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == Decimal(50)


def test_a_commit_of_nothing_holds_nothing() -> None:
    ledger = ReservationLedger()
    assert ledger.commit([]) == []
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == 0


def test_an_enforced_refusal_holds_none_of_the_requests_reservations() -> None:
    # One request, two budgets: the team's is full. Its rule denies, so the request is
    # denied and the cost centre must not hold what it will never run.
    ledger = ReservationLedger()
    assert reserve(ledger, "other", "95", budget="teams")
    fits, full = reservation("a", "10"), reservation("a", "10", budget="teams")
    assert ledger.commit([fits, full]) == [full]
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == 0
    assert ledger.reserved(budget="teams", group="Sales-5045", now=NOW) == Decimal(95)


def test_an_unenforced_refusal_holds_the_requests_other_reservations() -> None:
    # The team's rule only warns (or an exception waives it): the request is admitted, so
    # what fits is held; the refused one is not.
    ledger = ReservationLedger()
    assert reserve(ledger, "other", "95", budget="teams")
    fits = reservation("a", "10")
    full = reservation("a", "10", budget="teams", enforced=False)
    assert ledger.commit([fits, full]) == [full]
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == Decimal(10)
    assert ledger.reserved(budget="teams", group="Sales-5045", now=NOW) == Decimal(95)


def test_re_admitting_the_same_workload_replaces_its_reservation_instead_of_adding() -> None:
    ledger = ReservationLedger()
    assert reserve(ledger, "ml-train/Deployment/llm", "60")
    # mutate then validate, or an API server retry: the same key comes again
    assert reserve(ledger, "ml-train/Deployment/llm", "60")
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == Decimal(60)
    # scaled up: the new amount replaces the old one, and still has to fit
    assert reserve(ledger, "ml-train/Deployment/llm", "90")
    assert not reserve(ledger, "ml-train/Deployment/llm", "101")
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == Decimal(90)


def test_a_refused_reservation_changes_nothing() -> None:
    ledger = ReservationLedger()
    assert reserve(ledger, "a", "70")
    assert not reserve(ledger, "b", "31")
    assert reserve(ledger, "b", "30")
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == Decimal(100)


def test_reservations_expire_after_the_ttl() -> None:
    ledger = ReservationLedger(ttl=timedelta(minutes=10))
    assert reserve(ledger, "a", "100")
    just_before = NOW + timedelta(minutes=9, seconds=59)
    assert ledger.reserved(budget="cc", group="Sales-5045", now=just_before) == Decimal(100)
    assert not reserve(ledger, "b", "1", now=just_before)
    expired = NOW + timedelta(minutes=10)
    assert ledger.reserved(budget="cc", group="Sales-5045", now=expired) == 0
    assert reserve(ledger, "b", "100", now=expired)


def test_budgets_and_groups_are_separate() -> None:
    ledger = ReservationLedger()
    assert reserve(ledger, "a", "100")
    assert reserve(ledger, "a", "100", group="Retail-2045")
    assert reserve(ledger, "a", "100", budget="teams")
    assert ledger.reserved(budget="cc", group="Retail-2045", now=NOW) == Decimal(100)


def test_release_drops_every_reservation_of_a_workload() -> None:
    ledger = ReservationLedger()
    assert reserve(ledger, "a", "40")
    assert reserve(ledger, "a", "40", budget="teams")
    assert reserve(ledger, "b", "10")
    ledger.release("a")
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == Decimal(10)
    assert ledger.reserved(budget="teams", group="Sales-5045", now=NOW) == 0


def test_reserved_can_leave_out_the_asking_workloads_own_reservation() -> None:
    ledger = ReservationLedger()
    assert reserve(ledger, "a", "40")
    assert reserve(ledger, "b", "10")
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW, excluding="a") == 10


def test_a_headroom_share_limits_each_replica_to_its_part_of_the_headroom() -> None:
    # Three replicas, each with its own ledger and share 1/3 of a 90 headroom: together
    # they can never reserve more than the headroom.
    replicas = [ReservationLedger(headroom_share=Decimal(1) / 3) for _ in range(3)]
    admitted = [
        reserve(ledger, f"p{i}-{r}", "10", limit="90")
        for r, ledger in enumerate(replicas)
        for i in range(10)
    ]
    assert admitted.count(True) == 9
    total = sum(ledger.reserved(budget="cc", group="Sales-5045", now=NOW) for ledger in replicas)
    assert total <= Decimal(90)


@pytest.mark.parametrize("share", ["0", "1.5", "-1"])
def test_a_headroom_share_outside_zero_to_one_is_refused(share: str) -> None:
    with pytest.raises(ValueError, match="headroom_share"):
        ReservationLedger(headroom_share=Decimal(share))


@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["reserve", "release"]),
            st.sampled_from(["a", "b", "c", "d"]),
            st.integers(min_value=0, max_value=60),
            st.integers(min_value=0, max_value=15),  # minutes after NOW
        ),
        max_size=40,
    ),
    share=st.sampled_from([Decimal(1), Decimal(1) / 2, Decimal(1) / 3]),
)
def test_live_reservations_never_exceed_the_share_of_the_limit(
    steps: list[tuple[str, str, int, int]], share: Decimal
) -> None:
    ledger = ReservationLedger(headroom_share=share)
    limit = Decimal(100)
    for action, key, amount, minutes in sorted(steps, key=lambda step: step[3]):
        now = NOW + timedelta(minutes=minutes)
        if action == "reserve":
            reserve(ledger, key, str(amount), limit=str(limit), now=now)
        else:
            ledger.release(key)
        assert ledger.reserved(budget="cc", group="Sales-5045", now=now) <= limit * share


class PlainLedger:
    """The ledger's rules at their plainest: every call drops what has expired, then sums
    (amounts held to the nano-unit, rounded up, as the ledger documents)."""

    def __init__(self, ttl: timedelta) -> None:
        self.ttl = ttl
        self.entries: dict[str, dict[str, tuple[Decimal, datetime]]] = {}

    def live(self, group: str, now: datetime) -> dict[str, tuple[Decimal, datetime]]:
        entries = self.entries.setdefault(group, {})
        for key in [key for key, (_, expires) in entries.items() if expires <= now]:
            del entries[key]
        return entries

    def others(self, group: str, now: datetime, key: str | None) -> Decimal:
        return sum(
            (amount for other, (amount, _) in self.live(group, now).items() if other != key),
            Decimal(0),
        )


Step = tuple[str, str, str | None, int, int, int]
"""(action, group, key, amount × divisor, minutes after NOW, divisor): see `replay`."""

REGRESSIONS: dict[str, list[Step]] = {
    "time going back: `b` expires before `a`, which was reserved later": [
        ("reserve", "g1", "a", 1, 20, 1),
        ("reserve", "g1", "b", 1, 0, 1),
        ("reserved", "g1", None, 0, 15, 1),
    ],
    "`a` expired and `b` is left: `b` must still expire before the later `c`": [
        ("reserve", "g1", "a", 1, 0, 1),
        ("reserve", "g1", "b", 1, 5, 1),
        ("reserved", "g1", None, 0, 12, 1),
        ("reserve", "g1", "c", 1, 12, 1),
        ("reserved", "g1", None, 0, 16, 1),
    ],
    "`a` written again at an earlier time expires at that time's end, not the first's": [
        ("reserve", "g1", "a", 1, 20, 1),
        ("reserve", "g1", "a", 1, 17, 1),
        ("reserved", "g1", None, 0, 28, 1),
    ],
    "a running total of 28-digit amounts: 1/3 + 50/7 − 1/3 is not 50/7 to the last digit": [
        ("reserve", "g1", "a", 1, 0, 3),
        ("reserve", "g1", "b", 50, 0, 7),
        ("release", "g1", "a", 0, 0, 1),
        ("reserved", "g1", None, 0, 0, 1),
    ],
}


@pytest.mark.parametrize("steps", REGRESSIONS.values(), ids=REGRESSIONS.keys())
def test_cases_that_once_failed_answer_like_the_plain_ledger(steps: list[Step]) -> None:
    replay(steps)


@settings(max_examples=300)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["reserve", "would", "reserved", "release"]),
            st.sampled_from(["g1", "g2"]),
            st.sampled_from(["a", "b", "c", None]),
            st.integers(min_value=0, max_value=60),
            st.integers(min_value=0, max_value=40),  # minutes after NOW, in any order
            st.sampled_from([1, 3, 7]),  # amount / this: hourly × hours has many digits
        ),
        max_size=50,
    )
)
def test_the_ledger_answers_like_one_that_drops_expired_entries_at_every_call(
    steps: list[Step],
) -> None:
    # The ledger looks for expired entries only once its earliest one has expired: out of
    # order times, replaced and released entries must not make it keep or drop one wrongly.
    # It keeps a running total per group: replacing, releasing and expiring entries with
    # amounts of 28 significant digits must leave it equal to a fresh sum, to the last digit.
    replay(steps)


def test_keys_written_again_and_again_written_once_and_released_answer_alike() -> None:
    # Longer than hypothesis' runs: a key written again keeps its expiry pair, which is
    # put back at the entry's own expiry when it comes out; times going back and forth,
    # releases, and keys written once (which only expiring drops) must not make the ledger
    # keep or drop an entry wrongly.
    rng = random.Random(5045)
    steps = [
        (
            rng.choice(["reserve", "reserve", "reserve", "would", "reserved", "release"]),
            rng.choice(["g1", "g2"]),
            rng.choice(["a", "b", "c", None]) if rng.random() < 0.9 else f"once-{step}",
            rng.randint(0, 60),
            step // 100 + rng.randint(-3, 3),  # ~300 writes a group per ttl; at times back
            rng.choice([1, 3, 7]),
        )
        for step in range(2000)
    ]
    replay(steps)


def test_writing_the_same_keys_again_and_again_keeps_one_expiry_pair_per_key() -> None:
    ledger = ReservationLedger()
    for second in range(3000):  # five TTLs, the pairs coming out and going back
        for key in "abc":
            reserve(ledger, key, "1", now=NOW + timedelta(seconds=second))
    assert ledger.size() == (3, 3)  # one reservation and one queued expiry per key
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW + timedelta(hours=1)) == 0


def test_a_pod_re_created_under_its_name_again_and_again_keeps_one_expiry_pair() -> None:
    # A busy group (a new pod every second) and one pod re-created under its name every
    # 37 s for two hours: its released reservations' pairs must not pile up in the heap.
    ledger = ReservationLedger()
    for second in range(2 * 3600):
        now = NOW + timedelta(seconds=second)
        if second % 37 == 0:
            ledger.release("ml-train/Pod/worker-0")
            reserve(ledger, "ml-train/Pod/worker-0", "1", limit="1e9", now=now)
        reserve(
            ledger, f"ml-train/Pod/p{second}", "1", limit="1e9", now=now + timedelta(seconds=0.5)
        )
    # The last TTL's pods and worker-0, each with one queued expiry: worker-0's released
    # reservations left none behind.
    assert ledger.size() == (601, 601)


def replay(steps: list[Step]) -> ReservationLedger:
    ttl = timedelta(minutes=10)
    ledger, plain = ReservationLedger(ttl=ttl), PlainLedger(ttl)
    limit = Decimal(100)
    for action, group, key, whole, minutes, divisor in steps:
        now = NOW + timedelta(minutes=minutes)
        amount = Decimal(whole) / divisor
        if action == "reserved":
            expected = plain.others(group, now, key)
            assert ledger.reserved(budget="cc", group=group, now=now, excluding=key) == expected
            continue
        key = key or "d"
        if action == "release":
            ledger.release(key)
            for entries in plain.entries.values():
                entries.pop(key, None)
            continue
        held = amount.quantize(QUANTUM, ROUND_CEILING)
        others = plain.others(group, now, key)
        fits = others + held <= limit
        if action == "would":
            answer = ledger.ask(
                budget="cc", group=group, key=key, amount=amount, limit=limit, now=now
            )
            assert answer == (others, fits)
        else:
            committed = Reservation("cc", group, key, amount, limit, None, 1, now)
            assert (ledger.commit([committed]) == []) is fits
        if fits and action == "reserve":
            plain.live(group, now)[key] = (held, now + ttl)
    return ledger


def test_release_with_an_owner_drops_only_the_reservation_that_owner_made() -> None:
    ledger = ReservationLedger()
    assert reserve(ledger, "ml-train/Pod/x", "40", owner="uid-1")
    assert reserve(ledger, "ml-train/Pod/x", "30", owner="uid-2")  # re-created: replaced
    ledger.release("ml-train/Pod/x", owner="uid-1")
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == Decimal(30)
    ledger.release("ml-train/Pod/x", owner="uid-2")
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == 0


def test_release_visible_drops_what_the_spend_data_shows_running_in_those_budgets_only() -> None:
    ledger = ReservationLedger(ttl=timedelta(minutes=10))
    assert reserve(ledger, "ml-train/Pod/a", "40")
    assert reserve(ledger, "ml-train/Pod/a", "40", budget="custom")  # a run-rate not queried
    assert reserve(ledger, "ml-train/Pod/b", "10")  # not shown yet
    later = NOW + timedelta(minutes=2)
    assert reserve(ledger, "ml-train/Pod/c", "5", now=later)  # shown, but admitted since
    visible = {"ml-train/Pod/a", "ml-train/Pod/c", "ml-train/Pod/elsewhere"}
    # Admitted exactly at the bound: kept; a microsecond later, released.
    assert ledger.release_visible({"cc"}, visible, admitted_before=NOW) == 0
    dropped = ledger.release_visible(
        {"cc"}, visible, admitted_before=NOW + timedelta(microseconds=1)
    )
    assert dropped == 1
    assert ledger.reserved(budget="cc", group="Sales-5045", now=later) == Decimal(15)
    assert ledger.reserved(budget="custom", group="Sales-5045", now=later) == Decimal(40)
    # Released, it holds nothing: the room is there for the next admission.
    assert reserve(ledger, "ml-train/Pod/d", "85", now=later)
    assert not reserve(ledger, "ml-train/Pod/e", "1", now=later)


def test_held_names_the_old_enough_reservations_of_one_kind_in_the_budgets_asked() -> None:
    ledger = ReservationLedger()
    assert reserve(ledger, "ml-train/Pod/a", "1")
    assert reserve(ledger, "ml-train/Deployment/a", "1")  # its pods are not "a"
    assert reserve(ledger, "ml-train/Pod/b", "1", budget="custom")
    assert reserve(ledger, "ml-train/Pod/c", "1", now=NOW + timedelta(seconds=1))
    after = NOW + timedelta(microseconds=1)
    assert ledger.held("Pod", {"cc"}, admitted_before=after) == {"ml-train/Pod/a"}
    assert ledger.held("Pod", {"cc", "custom"}, admitted_before=after) == {
        "ml-train/Pod/a",
        "ml-train/Pod/b",
    }


def test_a_change_of_an_object_is_released_with_the_object_it_belongs_to() -> None:
    """A charged change (`change_key`) holds beside its object's reservation, and goes
    where the object's goes: shown running, or no longer listed under its uid."""
    ledger = ReservationLedger()
    a, b = "ml-train/Pod/a", "ml-train/Pod/b"
    for key, owner in (
        (a, "uid-a"), (change_key(a, "update-1"), "uid-a"),
        (b, "uid-b"), (change_key(b, "update-2"), "uid-b"),
    ):  # fmt: skip
        assert reserve(ledger, key, "10", owner=owner)
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == Decimal(40)
    after = NOW + timedelta(microseconds=1)
    assert ledger.held("Pod", {"cc"}, admitted_before=after) == {a, b}
    assert ledger.release_visible({"cc"}, {a}, admitted_before=after) == 2
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == Decimal(20)
    # b listed under its uid: kept, its change too; listed under a new uid: both go.
    assert ledger.release_unlisted("Pod", {b: "uid-b"}, admitted_before=after) == 0
    assert ledger.release_unlisted("Pod", {b: "uid-new"}, admitted_before=after) == 2
    assert ledger.reserved(budget="cc", group="Sales-5045", now=NOW) == 0


def test_workloads_reservations_are_named_with_when_they_were_made_and_their_pods() -> None:
    ledger = ReservationLedger(ttl=timedelta(minutes=10))
    later = NOW + timedelta(minutes=1)
    deployment = "ml-train/Deployment/llm"
    assert reserve(ledger, deployment, "2", group="g")
    assert reserve(ledger, change_key(deployment, "scale"), "3", group="g", now=later, pods=3)
    assert reserve(ledger, "ml-train/Pod/a", "1")  # a bare pod: `held` names it
    assert reserve(ledger, "ml-train/Job/j", "1", budget="other")
    assert ledger.held_workloads({"cc"}) == {
        deployment: (NOW, 1),
        change_key(deployment, "scale"): (later, 3),
    }
    # Only those made before the bound, in the budgets named, by their exact keys.
    keys = {deployment, change_key(deployment, "scale"), "ml-train/Job/j"}
    assert ledger.release_shown({"cc"}, keys, admitted_before=later) == 1
    assert ledger.held_workloads({"cc"}) == {change_key(deployment, "scale"): (later, 3)}
    assert ledger.reserved(budget="cc", group="g", now=later) == Decimal(3)
    assert ledger.held_workloads({"other"}) == {"ml-train/Job/j": (NOW, 1)}


def test_one_commit_holding_twice_in_a_group_counts_both_against_the_limit() -> None:
    ledger = ReservationLedger()
    first = Reservation("b", "g", "ns/Pod/a", Decimal(60), Decimal(100), None, 1, NOW)
    second = first._replace(key="ns/Pod/b")
    assert ledger.commit([first, second]) == [second]  # enforced: nothing held
    assert ledger.reserved(budget="b", group="g", now=NOW) == Decimal(0)
    lenient = second._replace(enforced=False)
    assert ledger.commit([first, lenient]) == [lenient]
    assert ledger.reserved(budget="b", group="g", now=NOW) == Decimal(60)
