"""Handling what the inbox keeps: each chat in order, and no chat waiting for another.

A channel keeps every update in the inbox (storage) before it tells the far side it has it,
then wakes the drain. The drain runs one worker per chat with something waiting: it takes
the chat's oldest unhandled item, has it handled, marks it done, and takes the next. Chats
run side by side, at most `slots` at once; a chat that has handled `turn` items in a row
while others wait for a slot goes to the back of the line. A worker holds one item at a
time, so memory does not grow with a chat's backlog; the backlog stays in the database.

A chat whose backlog reaches `flood` items is sending far faster than anyone types: it is
asked once to slow down (again only after `warn_again` has passed), and its items are
handled quietly, in order, each saved, with no reply but the last one's (the question as it
then stands) and any that must be said (a concern's reference). The flood is over when the
chat has sent nothing more for `settle` seconds after its last item.

Taking is exclusive per chat across processes (storage locks the chat's oldest row and
leases it), so replicas sharing one PostgreSQL database can all drain: a chat's items go one
at a time, in order, whichever replica kept them. A worker keeps its lease alive while the
item is in hand; a replica that dies lets its chats go when the short lease runs out, and
the others' sweeps find them. A replica that kept an item but found the chat taken leaves it
to the taker, whose next take sees it (the item was committed before the wake).

If the database is away, an item stays kept and is tried again, with growing waits, until
it is back; the log says so in one line when it goes and one when it returns. After a
crash, whatever was kept and not marked done is handled on the next start (a turn that was
saved but not marked done is dropped then as a duplicate by the turn service).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from cachetools import TTLCache

from storage.repositories import InboxItem, Storage, StorageUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

FLOOD = 10  # items waiting in one chat: far more than a person typing can leave behind
SLOTS = 32  # chats handled at once
TURN = 20  # items a chat handles in a row before letting a waiting chat in
LEASE = timedelta(seconds=15)  # how long another process leaves a taken chat alone
HOLD_EVERY = 1 / 3  # of the lease: how often a worker renews it while the item is in hand
SWEEP_EVERY = 5.0  # seconds between looks at the inbox for work nobody woke us for
WARN_AGAIN = 600.0  # seconds before a chat that was asked to slow down is asked again
SETTLE = 1.0  # seconds a flooding chat must stay silent before its flood counts as over
KNOWN_CHATS = 5000  # chats remembered as asked to slow down, and chats queued for a slot
STOP_GRACE = 20.0
RETRY_FIRST, RETRY_MOST = 0.5, 15.0


class Handler(Protocol):
    """What the channel does with a kept update."""

    async def handle(self, item: InboxItem, quiet: bool) -> None:
        """Handle it; quiet: send nothing that need not be said. StorageUnavailable if the
        database was away, so that nothing of it was saved."""
        ...

    async def slow_down(self, item: InboxItem) -> None:
        """Ask the item's chat to slow down."""
        ...


def _now() -> datetime:
    return datetime.now(UTC)


class Outage:
    """Says once that the database is away (and why), and once that it is back."""

    def __init__(self) -> None:
        self.down = False

    def failed(self, error: StorageUnavailable) -> None:
        if not self.down:
            self.down = True
            log.error(
                "database unavailable (%s): updates are kept or left with Telegram and "
                "handled when it is back; check the database",
                error.reason,
            )

    def ok(self) -> None:
        if self.down:
            self.down = False
            log.warning("database available again: handling the updates that waited")


async def patiently(
    call: Callable[[], T], outage: Outage, stop: asyncio.Event | None = None
) -> T | None:
    """Run a blocking storage call in a thread until the database takes it.

    None if `stop` is set first (the call then did not happen, or was rolled back).
    """
    delay = RETRY_FIRST
    while True:
        try:
            result = await asyncio.to_thread(call)
        except StorageUnavailable as error:
            outage.failed(error)
        else:
            outage.ok()
            return result
        if stop is not None and stop.is_set():
            return None
        await _sleep(delay, stop)
        delay = min(delay * 2, RETRY_MOST)


async def _sleep(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class InboxDrain:
    """The workers that handle what the inbox keeps; `wake` them as items arrive."""

    def __init__(
        self,
        storage: Storage,
        handler: Handler,
        outage: Outage | None = None,
        *,
        clock: Callable[[], datetime] = _now,
        slots: int = SLOTS,
        turn: int = TURN,
        flood: int = FLOOD,
        lease: timedelta = LEASE,
        sweep_every: float = SWEEP_EVERY,
        warn_again: float = WARN_AGAIN,
        settle: float = SETTLE,
    ) -> None:
        self.storage = storage
        self.handler = handler
        self.outage = outage or Outage()
        self.clock = clock
        self.slots, self.turn, self.flood = slots, turn, flood
        self.lease = lease
        self.sweep_every = sweep_every
        self.settle = settle
        self._queued: OrderedDict[str, None] = OrderedDict()  # chats waiting for a slot
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()  # woken while their worker was finishing
        self._flooding: set[str] = set()
        self._warned: TTLCache[str, bool] = TTLCache(KNOWN_CHATS, warn_again)
        self._wakeup = asyncio.Event()
        self._stop = asyncio.Event()

    def wake(self, chats: Iterable[str]) -> None:
        """Items were kept for these chats: have them handled."""
        for chat in chats:
            if chat in self._running:
                self._again.add(chat)
            elif chat not in self._queued and len(self._queued) < KNOWN_CHATS:
                # Past that many, the sweep finds the rest in the database.
                self._queued[chat] = None
        self._wakeup.set()

    async def run(self, stop: asyncio.Event, release_taken: bool = False) -> None:
        """Drain until `stop`; `release_taken`: no other process can be draining (polling),
        so items a killed run had taken are free at once rather than after their lease."""
        if release_taken:
            released = await patiently(self._release_all, self.outage, stop)
            if released:
                log.info("took back %d updates a previous run had begun", released)
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while not stop.is_set():
            if loop.time() >= next_sweep:
                await self._sweep()
                next_sweep = loop.time() + self.sweep_every
            self._fill()
            self._wakeup.clear()
            waits = {asyncio.ensure_future(self._wakeup.wait()), asyncio.ensure_future(stop.wait())}
            _, pending = await asyncio.wait(
                waits,
                timeout=max(next_sweep - loop.time(), 0),
                return_when=asyncio.FIRST_COMPLETED,
            )
            for waiting in pending:
                waiting.cancel()
        await self._finish()

    async def _sweep(self) -> None:
        try:
            chats = await asyncio.to_thread(self._waiting)
        except StorageUnavailable as error:
            self.outage.failed(error)
            return
        self.wake(chats)

    def _fill(self) -> None:
        while self._queued and len(self._running) < self.slots:
            chat, _ = self._queued.popitem(last=False)
            task = asyncio.create_task(self._work(chat), name="inbox-worker")
            self._running[chat] = task
            task.add_done_callback(lambda _, chat=chat: self._ended(chat))  # type: ignore[misc]

    def _ended(self, chat: str) -> None:
        del self._running[chat]
        if chat in self._again:  # woken while finishing, or yielding its slot: to the back
            self._again.discard(chat)
            self.wake([chat])
        self._wakeup.set()

    async def _finish(self) -> None:
        """Let each worker end the item in hand; a worker still busy after the grace is
        cancelled and its item given back for the next run."""
        self._stop.set()
        self._queued.clear()
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=STOP_GRACE)
        for task in list(self._running.values()):
            task.cancel()
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=5)

    async def _work(self, chat: str) -> None:
        handled = 0
        while not self._stop.is_set():
            taken = await patiently(lambda: self._take(chat), self.outage, self._stop)
            item, backlog = taken or (None, 0)
            if item is None:
                return  # nothing waiting, or another process is working on this chat
            holding = asyncio.create_task(self._hold(item.id), name="inbox-lease")
            try:
                await self._handle(item, backlog)
            except asyncio.CancelledError:
                with contextlib.suppress(StorageUnavailable):
                    self._release(item.id)  # blocking, but only at a forced stop
                raise
            finally:
                holding.cancel()
            handled += 1
            if handled >= self.turn and self._queued:
                self._again.add(chat)  # let a waiting chat in; this one goes to the back
                return

    async def _handle(self, item: InboxItem, backlog: int) -> None:
        chat = item.chat
        if backlog >= self.flood:
            self._flooding.add(chat)
            if chat not in self._warned:
                self._warned[chat] = True
                log.warning("chat sending faster than it can be answered: %d waiting", backlog)
                try:
                    await self.handler.slow_down(item)
                except Exception as error:  # a notice only: the items go on regardless
                    log.warning("could not ask a chat to slow down: %s", type(error).__name__)
        if chat in self._flooding and backlog <= 1:
            backlog = await self._settled(chat)
        quiet = chat in self._flooding and backlog > 1
        delay = RETRY_FIRST
        while True:
            try:
                await self.handler.handle(item, quiet)
                break  # (not proof the database is back: the update may not have needed it)
            except StorageUnavailable as error:
                self.outage.failed(error)
            except Exception as error:  # an update that cannot be read: trying again won't help
                log.error("kept update could not be handled: %s", type(error).__name__)
                break
            await _sleep(delay, self._stop)
            if self._stop.is_set():
                return  # still kept: the next run handles it
            delay = min(delay * 2, RETRY_MOST)
        if backlog <= 1:
            self._flooding.discard(chat)
        await patiently(lambda: self._done(item.id), self.outage)

    async def _hold(self, id: int) -> None:
        """Renew the item's lease while it is in hand: a turn slower than the lease (Telegram
        slow, the database away) is not taken by another replica meanwhile, and the lease can
        be short, so a replica that dies holds its chats up only briefly."""
        every = self.lease.total_seconds() * HOLD_EVERY
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(self._extend, id)
            except StorageUnavailable as error:
                self.outage.failed(error)
            except Exception as error:  # the lease then runs out; the turn service dedupes
                log.warning("could not renew an inbox lease: %s", type(error).__name__)

    async def _settled(self, chat: str) -> int:
        """The backlog once a flooding chat has sent nothing more for `settle` seconds: the
        flood is over only then, so that a pause between bursts is not taken for its end."""
        await _sleep(self.settle, self._stop)
        counted = await patiently(lambda: self._count(chat), self.outage, self._stop)
        return counted if counted is not None else 1

    # -- storage, in a worker thread -----------------------------------------------------

    def _take(self, chat: str) -> tuple[InboxItem | None, int]:
        now = self.clock()
        with self.storage.unit_of_work() as uow:
            item = uow.inbox.take(chat, now, now + self.lease)
            return item, (uow.inbox.count(chat) if item is not None else 0)

    def _count(self, chat: str) -> int:
        with self.storage.unit_of_work() as uow:
            return uow.inbox.count(chat)

    def _done(self, id: int) -> None:
        with self.storage.unit_of_work() as uow:
            uow.inbox.done(id, self.clock())

    def _extend(self, id: int) -> None:
        with self.storage.unit_of_work() as uow:
            uow.inbox.extend(id, self.clock() + self.lease)

    def _release(self, id: int) -> None:
        with self.storage.unit_of_work() as uow:
            uow.inbox.release(id)

    def _release_all(self) -> int:
        with self.storage.unit_of_work() as uow:
            return uow.inbox.release_all()

    def _waiting(self) -> list[str]:
        with self.storage.unit_of_work() as uow:
            return uow.inbox.waiting(KNOWN_CHATS)


def keep_all(storage: Storage, items: Iterable[InboxItem]) -> list[str]:
    """Keep the items in one transaction; the chats that got something new, in order."""
    items = list(items)
    with storage.unit_of_work() as uow:
        kept = uow.inbox.add(items)
    return list(dict.fromkeys(item.chat for item in items if item.key in kept))
