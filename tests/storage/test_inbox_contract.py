"""The inbox's contract, on every backend: updates kept until handled, one taker per chat."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from test_contract import T0, Boom

from storage.repositories import InboxItem, Storage

LEASE = timedelta(minutes=1)


def an_update(n: int, chat: str = "telegram:42", **payload: object) -> InboxItem:
    body = payload or {"update_id": n, "message": {"text": f"message {n} — «ü» 🚑"}}
    return InboxItem(key=f"telegram:update:{n}", chat=chat, seq=n, payload=body, received_at=T0)


def keep(storage: Storage, *items: InboxItem) -> list[bool]:
    """Each kept in a call of its own, in one unit of work: whether it was new."""
    with storage.unit_of_work() as work:
        return [bool(work.inbox.add([item])) for item in items]


def take(storage: Storage, chat: str = "telegram:42", now: datetime = T0) -> InboxItem | None:
    with storage.unit_of_work() as work:
        return work.inbox.take(chat, now, now + LEASE)


def handle(storage: Storage, id: int, at: datetime = T0) -> bool:
    with storage.unit_of_work() as work:
        return work.inbox.done(id, at)


def test_an_update_comes_back_as_it_was_kept(storage: Storage) -> None:
    assert keep(storage, an_update(7)) == [True]

    taken = take(storage)

    assert taken is not None and taken.id > 0
    assert (taken.key, taken.chat, taken.seq, taken.received_at) == (
        "telegram:update:7", "telegram:42", 7, T0
    )  # fmt: skip
    assert taken.payload == an_update(7).payload
    assert (taken.takes, taken.taken_until, taken.handled_at) == (1, T0 + LEASE, None)


def test_a_key_is_kept_once_handled_or_not(storage: Storage) -> None:
    assert keep(storage, an_update(1), an_update(1)) == [True, False]
    assert keep(storage, an_update(1)) == [False]
    taken = take(storage)
    assert taken is not None and handle(storage, taken.id)

    assert keep(storage, an_update(1)) == [False]  # a redelivery after handling, too

    with storage.unit_of_work() as work:
        assert work.inbox.count("telegram:42") == 0


def test_a_batch_keeps_what_is_new_once(storage: Storage) -> None:
    keep(storage, an_update(2))

    with storage.unit_of_work() as work:
        kept = work.inbox.add([an_update(1), an_update(2), an_update(3), an_update(1)])
        assert work.inbox.add([]) == set()

    assert kept == {"telegram:update:1", "telegram:update:3"}
    with storage.unit_of_work() as work:
        assert [i.seq for i in work.inbox.for_chat("telegram:42")] == [1, 2, 3]


def test_a_chat_is_taken_in_order_one_item_at_a_time(storage: Storage) -> None:
    keep(storage, an_update(12), an_update(10), an_update(11))

    first = take(storage)
    assert first is not None and first.seq == 10
    assert take(storage) is None  # its oldest is taken: nobody else works on the chat
    assert handle(storage, first.id)
    second = take(storage)
    assert second is not None and second.seq == 11
    with storage.unit_of_work() as work:
        assert work.inbox.count("telegram:42") == 2  # the taken one counts


def test_chats_do_not_wait_for_each_other(storage: Storage) -> None:
    keep(storage, an_update(1, "telegram:1"), an_update(2, "telegram:2"))

    one, two = take(storage, "telegram:1"), take(storage, "telegram:2")

    assert one is not None and two is not None and (one.seq, two.seq) == (1, 2)
    assert take(storage, "telegram:3") is None


def test_a_lease_that_ran_out_lets_another_take_it_again(storage: Storage) -> None:
    keep(storage, an_update(1))
    first = take(storage)
    assert first is not None

    assert take(storage, now=T0 + LEASE - timedelta(seconds=1)) is None
    again = take(storage, now=T0 + LEASE)

    assert again is not None and again.id == first.id and again.takes == 2


def test_a_lease_kept_alive_holds_the_chat_until_handled(storage: Storage) -> None:
    keep(storage, an_update(1), an_update(2))
    first = take(storage)
    assert first is not None

    with storage.unit_of_work() as work:
        assert work.inbox.extend(first.id, T0 + 3 * LEASE)
    assert take(storage, now=T0 + 2 * LEASE) is None  # still in hand: nobody else takes it
    assert handle(storage, first.id, T0 + 2 * LEASE)
    with storage.unit_of_work() as work:
        assert not work.inbox.extend(first.id, T0 + 4 * LEASE)  # handled: nothing to hold
    second = take(storage, now=T0 + 2 * LEASE)
    assert second is not None and second.seq == 2


def test_a_released_item_is_taken_again_at_once(storage: Storage) -> None:
    keep(storage, an_update(1), an_update(2, "telegram:2"))
    first, other = take(storage), take(storage, "telegram:2")
    assert first is not None and other is not None

    with storage.unit_of_work() as work:
        assert work.inbox.release(first.id)
    again = take(storage)
    assert again is not None and again.id == first.id
    with storage.unit_of_work() as work:
        assert work.inbox.release_all() == 2
    assert take(storage) is not None and take(storage, "telegram:2") is not None


def test_handling_forgets_the_payload_and_happens_once(storage: Storage) -> None:
    keep(storage, an_update(1))
    taken = take(storage)
    assert taken is not None

    assert handle(storage, taken.id, T0 + timedelta(seconds=3))
    assert not handle(storage, taken.id, T0 + timedelta(seconds=9))

    with storage.unit_of_work() as work:
        (stored,) = work.inbox.for_chat("telegram:42")
        assert not work.inbox.release(taken.id)
    assert stored.payload == {} and stored.handled_at == T0 + timedelta(seconds=3)
    assert stored.taken_until is None and stored.takes == 1
    assert take(storage) is None


def test_waiting_chats_longest_waiting_first(storage: Storage) -> None:
    keep(
        storage, an_update(5, "telegram:b"), an_update(3, "telegram:a"), an_update(4, "telegram:b")
    )
    keep(storage, an_update(6, "telegram:c"))
    taken = take(storage, "telegram:a")
    assert taken is not None

    with storage.unit_of_work() as work:
        assert work.inbox.waiting(10) == ["telegram:a", "telegram:b", "telegram:c"]
        assert work.inbox.waiting(1) == ["telegram:a"]
    handle(storage, taken.id)
    with storage.unit_of_work() as work:
        assert work.inbox.waiting(10) == ["telegram:b", "telegram:c"]


def test_handled_items_are_forgotten_after_a_while_and_waiting_ones_never(
    storage: Storage,
) -> None:
    keep(storage, an_update(1), an_update(2), an_update(3, "telegram:7"))
    old = take(storage)
    assert old is not None
    handle(storage, old.id, T0)
    recent = take(storage)
    assert recent is not None
    handle(storage, recent.id, T0 + timedelta(days=2))

    with storage.unit_of_work() as work:
        assert work.inbox.forget_before(T0 + timedelta(days=1)) == 1

    with storage.unit_of_work() as work:
        assert [i.seq for i in work.inbox.for_chat("telegram:42")] == [2]
        assert [i.seq for i in work.inbox.for_chat("telegram:7")] == [3]
        assert work.inbox.forget_before(T0 + timedelta(days=30)) == 1
    assert keep(storage, an_update(1)) == [True]  # long forgotten: new again


def test_forgetting_a_chat_drops_its_handled_items_and_the_one_named_only(
    storage: Storage,
) -> None:
    keep(
        storage, an_update(1), an_update(2), an_update(3), an_update(4), an_update(5, "telegram:7")
    )
    for _ in range(2):
        item = take(storage)
        assert item is not None
        handle(storage, item.id)  # 1 and 2 handled
    now = take(storage)
    assert now is not None and now.seq == 3  # being handled; 4 still waits
    handled_elsewhere = take(storage, "telegram:7")
    assert handled_elsewhere is not None
    handle(storage, handled_elsewhere.id)

    with storage.unit_of_work() as work:
        assert work.inbox.forget_chat("telegram:42", now.key) == 3
        assert [i.seq for i in work.inbox.for_chat("telegram:42")] == [4]  # seen inside

    with storage.unit_of_work() as work:
        assert [i.seq for i in work.inbox.for_chat("telegram:42")] == [4]
        assert [i.seq for i in work.inbox.for_chat("telegram:7")] == [5]  # another chat's
        assert work.inbox.count("telegram:42") == 1
        assert not work.inbox.done(now.id, T0)  # its row is gone: nothing to mark
        assert work.inbox.forget_chat("telegram:42") == 0  # what waits is never dropped
    waiting = take(storage)
    assert waiting is not None and waiting.seq == 4


def test_forgetting_a_chat_is_rolled_back_with_its_unit_of_work(storage: Storage) -> None:
    keep(storage, an_update(1))
    item = take(storage)
    assert item is not None
    handle(storage, item.id)

    with pytest.raises(Boom), storage.unit_of_work() as work:
        work.inbox.forget_chat("telegram:42")
        raise Boom

    with storage.unit_of_work() as work:
        assert [i.seq for i in work.inbox.for_chat("telegram:42")] == [1]


def test_a_rollback_discards_kept_taken_and_handled(storage: Storage) -> None:
    keep(storage, an_update(1))

    with pytest.raises(Boom), storage.unit_of_work() as work:
        assert work.inbox.add([an_update(2)]) == {"telegram:update:2"}
        taken = work.inbox.take("telegram:42", T0, T0 + LEASE)
        assert taken is not None and work.inbox.done(taken.id, T0)
        assert work.inbox.count("telegram:42") == 1  # its own writes, seen inside
        raise Boom

    with storage.unit_of_work() as work:
        (only,) = work.inbox.for_chat("telegram:42")
    assert only.seq == 1 and only.takes == 0 and only.handled_at is None
    assert take(storage) is not None


def test_changing_a_returned_payload_changes_nothing_kept(storage: Storage) -> None:
    keep(storage, an_update(1, message={"text": "hello", "entities": [1]}))
    taken = take(storage)
    assert taken is not None
    taken.payload["message"]["entities"].append(2)  # type: ignore[index]

    with storage.unit_of_work() as work:
        (stored,) = work.inbox.for_chat("telegram:42")
    assert stored.payload == {"message": {"text": "hello", "entities": [1]}}


def test_naive_times_are_refused(storage: Storage) -> None:
    naive = datetime(2025, 3, 1, 9, 30)
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.inbox.add([InboxItem("telegram:update:1", "telegram:1", 1, {}, naive)])
    keep(storage, an_update(1))
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.inbox.take("telegram:42", naive, naive)


def test_takers_racing_for_a_chat_never_both_get_it(storage: Storage) -> None:
    keep(storage, *(an_update(n) for n in range(1, 4)))
    start = threading.Barrier(4)
    got: list[int] = []
    failures: list[BaseException] = []

    def race() -> None:
        start.wait()
        try:
            now = datetime.now(UTC)
            with storage.unit_of_work() as work:
                taken = work.inbox.take("telegram:42", now, now + LEASE)
            if taken is not None:
                got.append(taken.seq)
        except BaseException as error:  # collected and asserted on below
            failures.append(error)

    racers = [threading.Thread(target=race) for _ in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)

    assert failures == []
    assert got == [1]


def test_a_taker_that_has_not_committed_yet_still_holds_the_chat(
    row_locking_storage: Storage,
) -> None:
    storage = row_locking_storage
    keep(storage, an_update(1), an_update(2))
    took = threading.Event()
    results: dict[str, InboxItem | None] = {}

    def first() -> None:
        with storage.unit_of_work() as work:
            results["first"] = work.inbox.take("telegram:42", T0, T0 + LEASE)
            took.set()
            time.sleep(0.3)  # the second asks meanwhile (on PostgreSQL it waits for us)

    holder = threading.Thread(target=first)
    holder.start()
    assert took.wait(30)
    results["second"] = take(storage)
    holder.join(timeout=30)

    assert results["first"] is not None and results["first"].seq == 1
    assert results["second"] is None
