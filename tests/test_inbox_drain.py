"""The inbox drain: each chat in order and once, no chat waiting for another, floods hushed,
and an unavailable database waited out without losing anything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

import bot.inbox
from bot.inbox import InboxDrain, Outage, keep_all
from storage.memory import MemoryStorage
from storage.repositories import InboxItem, Storage, StorageUnavailable, UnitOfWork

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def items(chat: str, first: int, count: int) -> list[InboxItem]:
    return [
        InboxItem(f"telegram:update:{n}", chat, n, {"n": n}, T0)
        for n in range(first, first + count)
    ]


class Recorder:
    """A handler that notes what it handled, and how; slow for the chats it is told."""

    def __init__(self, slow: dict[str, float] | None = None) -> None:
        self.handled: list[tuple[str, int, bool]] = []
        self.warned: list[str] = []
        self.slow = slow or {}
        self.fail: dict[int, int] = {}  # seq -> how many more times the database is away

    async def handle(self, item: InboxItem, quiet: bool) -> None:
        await asyncio.sleep(self.slow.get(item.chat, 0))
        if self.fail.get(item.seq, 0) > 0:
            self.fail[item.seq] -= 1
            raise StorageUnavailable("locked", "locked by another program", "test")
        self.handled.append((item.chat, item.seq, quiet))

    async def slow_down(self, item: InboxItem) -> None:
        self.warned.append(item.chat)

    def seqs(self, chat: str) -> list[int]:
        return [seq for c, seq, _ in self.handled if c == chat]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.inbox, "RETRY_FIRST", 0.01)


@contextlib.asynccontextmanager
async def draining(drain: InboxDrain, release_taken: bool = False) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(drain.run(stop, release_taken=release_taken))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def until(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def unhandled(storage: Storage, chat: str) -> int:
    with storage.unit_of_work() as uow:
        return uow.inbox.count(chat)


async def test_each_chat_in_order_each_item_once() -> None:
    storage, handler = MemoryStorage(), Recorder()
    keep_all(storage, items("a", 1, 5) + items("b", 6, 5) + items("a", 11, 3))
    drain = InboxDrain(storage, handler, sweep_every=0.05)

    async with draining(drain):
        await until(lambda: len(handler.handled) == 13)

    assert handler.seqs("a") == [1, 2, 3, 4, 5, 11, 12, 13]
    assert handler.seqs("b") == [6, 7, 8, 9, 10]
    assert unhandled(storage, "a") == unhandled(storage, "b") == 0
    with storage.unit_of_work() as uow:
        assert all(i.takes == 1 and i.payload == {} for i in uow.inbox.for_chat("a"))


async def test_a_long_backlog_holds_up_no_other_chat() -> None:
    storage, handler = MemoryStorage(), Recorder(slow={"flood": 0.01})
    keep_all(storage, items("flood", 1, 300))
    drain = InboxDrain(storage, handler, sweep_every=60)
    async with draining(drain):
        drain.wake(["flood"])
        await until(lambda: len(handler.handled) >= 5)
        drain.wake(keep_all(storage, items("other", 1000, 1)))
        await until(lambda: handler.seqs("other") == [1000])
        behind = unhandled(storage, "flood")
        await until(lambda: unhandled(storage, "flood") == 0)

    assert behind > 200  # answered while the flood had hardly begun
    assert handler.seqs("flood") == list(range(1, 301))


async def test_chats_take_turns_when_slots_are_few() -> None:
    storage, handler = MemoryStorage(), Recorder()
    keep_all(storage, items("a", 1, 12) + items("b", 100, 12))
    drain = InboxDrain(storage, handler, slots=1, turn=4, sweep_every=60)

    async with draining(drain):
        await until(lambda: len(handler.handled) == 24)

    order = [chat for chat, _, _ in handler.handled]
    assert order == ["a"] * 4 + ["b"] * 4 + ["a"] * 4 + ["b"] * 4 + ["a"] * 4 + ["b"] * 4


async def test_a_flood_is_asked_once_to_slow_down_and_answered_only_at_its_end() -> None:
    storage, handler = MemoryStorage(), Recorder()
    keep_all(storage, items("flood", 1, 30) + items("person", 100, 3))
    drain = InboxDrain(storage, handler, flood=10, sweep_every=60)

    async with draining(drain):
        await until(lambda: len(handler.handled) == 33)
        drain.wake(keep_all(storage, items("flood", 200, 12)))  # a second burst, soon after
        await until(lambda: len(handler.handled) == 45)

    assert handler.warned == ["flood"]  # once, not again for the second burst
    flood = [quiet for chat, _, quiet in handler.handled if chat == "flood"]
    assert flood[:29] == [True] * 29 and flood[29] is False  # the last one is answered
    assert flood[30:41] == [True] * 11 and flood[41] is False
    assert [quiet for chat, _, quiet in handler.handled if chat == "person"] == [False] * 3


async def test_the_database_away_while_handling_is_waited_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage, handler = MemoryStorage(), Recorder()
    handler.fail[2] = 3
    keep_all(storage, items("a", 1, 3))
    drain = InboxDrain(storage, handler, sweep_every=60)

    with caplog.at_level(logging.WARNING, logger="bot.inbox"):
        async with draining(drain):
            await until(lambda: len(handler.handled) == 3)

    assert handler.seqs("a") == [1, 2, 3]  # in order, each once, none lost
    with storage.unit_of_work() as uow:
        assert [i.takes for i in uow.inbox.for_chat("a")] == [1, 1, 1]
    lines = [r.getMessage() for r in caplog.records]
    assert len([line for line in lines if "database unavailable" in line]) == 1
    assert "database unavailable (locked by another program)" in lines[0]
    assert len([line for line in lines if "available again" in line]) == 1


class Flaky:
    """Storage whose next `failures` units of work find the database away."""

    def __init__(self, inner: Storage, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        if self.failures > 0:
            self.failures -= 1
            raise StorageUnavailable("unreachable", "connection refused", "test")
        with self.inner.unit_of_work() as uow:
            yield uow

    def reading(self) -> contextlib.AbstractContextManager[UnitOfWork]:
        return self.unit_of_work()  # a read finds the database away as a write does

    def close(self) -> None:
        """Nothing to close."""


async def test_the_database_away_when_taking_is_waited_out() -> None:
    inner, handler = MemoryStorage(), Recorder()
    keep_all(inner, items("a", 1, 2))
    storage = Flaky(inner, failures=4)
    outage = Outage()
    drain = InboxDrain(storage, handler, outage, sweep_every=0.05)

    async with draining(drain):
        await until(lambda: len(handler.handled) == 2)

    assert handler.seqs("a") == [1, 2] and not outage.down


async def test_what_a_killed_run_had_taken_is_handled_on_the_next_start() -> None:
    storage, handler = MemoryStorage(), Recorder()
    keep_all(storage, items("a", 1, 2))
    with storage.unit_of_work() as uow:  # a run took it, then died before marking it done
        assert uow.inbox.take("a", datetime.now(UTC), datetime.now(UTC).replace(year=2100))

    async with draining(InboxDrain(storage, handler, sweep_every=0.05), release_taken=True):
        await until(lambda: len(handler.handled) == 2)

    assert handler.seqs("a") == [1, 2]


async def test_an_update_that_cannot_be_handled_does_not_stop_its_chat(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage, handler = MemoryStorage(), Recorder()
    keep_all(storage, items("a", 1, 3))
    original = handler.handle

    async def broken_second(item: InboxItem, quiet: bool) -> None:
        if item.seq == 2:
            raise KeyError("update_id")
        await original(item, quiet)

    handler.handle = broken_second  # type: ignore[method-assign]
    async with draining(InboxDrain(storage, handler, sweep_every=0.05)):
        await until(lambda: unhandled(storage, "a") == 0)

    assert handler.seqs("a") == [1, 3]
    assert "kept update could not be handled: KeyError" in caplog.text


async def test_two_replicas_share_a_chat_in_order_and_a_slow_turn_keeps_its_lease() -> None:
    """Two drains on one database, as two replicas: each woken for the items it kept. A turn
    slower than the lease keeps it alive, so the other never takes that item meanwhile."""
    storage = MemoryStorage()
    handled: list[tuple[str, int]] = []

    class Replica(Recorder):
        def __init__(self, name: str) -> None:
            super().__init__(slow={"a": 0.05})
            self.name = name

        async def handle(self, item: InboxItem, quiet: bool) -> None:
            if item.seq == 3:
                await asyncio.sleep(1.0)  # five leases long
            await super().handle(item, quiet)
            handled.append((self.name, item.seq))

    lease = timedelta(seconds=0.2)
    one = InboxDrain(storage, Replica("one"), lease=lease, sweep_every=0.05)
    two = InboxDrain(storage, Replica("two"), lease=lease, sweep_every=0.05)
    async with draining(one), draining(two):
        for n in range(1, 9):  # delivered in turn to one replica and the other
            (one if n % 2 else two).wake(keep_all(storage, items("a", n, 1)))
            await asyncio.sleep(0.01)
        await until(lambda: unhandled(storage, "a") == 0)

    assert [seq for _, seq in handled] == list(range(1, 9))  # once each, in order
    with storage.unit_of_work() as uow:
        assert [i.takes for i in uow.inbox.for_chat("a")] == [1] * 8


async def test_a_chat_taken_by_a_replica_that_died_is_handled_after_its_lease() -> None:
    storage, handler = MemoryStorage(), Recorder()
    keep_all(storage, items("a", 1, 2))
    now = datetime.now(UTC)
    with storage.unit_of_work() as uow:  # another replica took it, then died
        assert uow.inbox.take("a", now, now + timedelta(seconds=0.3))

    drain = InboxDrain(storage, handler, sweep_every=0.05)
    async with draining(drain):  # polling's release_taken is off: another replica may live
        drain.wake(["a"])
        await asyncio.sleep(0.1)
        assert handler.handled == []  # its lease still holds
        await until(lambda: len(handler.handled) == 2)

    assert handler.seqs("a") == [1, 2]
