"""The outbox worker: sends what the outbox holds, once, and keeps trying when that fails.

Items are written to the outbox in the same transaction as whatever caused them (a filed
concern, a triage action), so they exist exactly when that happened. The worker then:

1. claims one due item at a time in a short transaction: `due` locks the row (SKIP LOCKED on
   PostgreSQL, whole transactions taking turns on SQLite) and `reschedule` leases it by
   moving its next attempt `lease` ahead, so no other worker sees it as due meanwhile. No
   transaction is open while a send is in flight.
2. sends it through the sender for its kind, bounded by `send_timeout` (well inside the
   lease). A kind with no sender is never claimed and stays pending.
3. records the outcome in a transaction of its own: `mark_sent` with the far side's id (and
   `on_sent`, e.g. a relay row, in that same transaction; a sent item is never due again),
   or a retry after an exponential, jittered backoff, or dead after `max_attempts`.

A failure no retry can fix (the far side refused the message itself: too long, a chat that is
gone, a bot blocked, a mail server's permanent 5xx) is dead at once rather than tried twenty
times; the sender says so by raising an error with `permanent = True` (`PermanentFailure`).
An item that dies either way calls `on_dead` in the transaction that marks it, so someone can
be told by another way, and the worker warns at start-up while any dead item is on record.

A kind may be handed on rather than sent (`forwards`): an alert saved while the team had no
channel, say. In one short transaction the worker takes the due items of that kind (locked,
as `due` does), lets the kind's forward add the items it becomes, and marks it sent, naming
them; a second worker skips the locked rows and finds them sent once the first commits, so
an item is handed on exactly once, however many workers start together.

The one way to send twice is a crash between a send and its mark: the lease then runs out
and the item goes again. Errors are kept as class names only.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from storage.repositories import DEAD, OutboxItem, Storage, UnitOfWork, check_error_name

log = logging.getLogger(__name__)


class Sender(Protocol):
    async def __call__(self, item: OutboxItem) -> str | None:
        """Deliver the item and return the far side's id for it (e.g. a message id), if any.

        Raising means "not delivered, try again later".
        """
        ...


# Called inside the transaction that marks an item of its kind handed on: adds the items it
# becomes and returns their names, kept as the item's external id.
Forward = Callable[[UnitOfWork, OutboxItem, datetime], str]
# Called inside the transaction that marks the item sent, with the id the sender returned.
OnSent = Callable[[UnitOfWork, OutboxItem, str | None], None]
# Called inside the transaction that marks the item dead, with the item as it now stands,
# the time, and whether it was refused for good (rather than given up after every attempt).
OnDead = Callable[[UnitOfWork, OutboxItem, datetime, bool], None]


class PermanentFailure(Exception):
    """A send the far side refused for good: no retry can fix it. `error_name` says what
    (a class name, perhaps with a reason: "BadRequest.MessageTooLong"), never message text."""

    permanent = True

    def __init__(self, error_name: str) -> None:
        super().__init__(error_name)
        self.error_name = error_name


def is_permanent(error: BaseException) -> bool:
    """Whether the error says no retry can fix it."""
    return getattr(error, "permanent", False) is True


@dataclass(frozen=True)
class Backoff:
    """How long to wait after a failure: `first`, doubling each time, up to `ceiling`."""

    first: timedelta = timedelta(seconds=5)
    ceiling: timedelta = timedelta(minutes=15)

    def delay(self, failures: int, fraction: float) -> timedelta:
        """The wait after the `failures`-th failure in a row (1 for the first).

        `fraction`, in [0, 1), spreads it between half and all of the nominal wait, so
        items that failed together (an outage) do not all come back at the same moment.
        """
        doublings = min(max(failures - 1, 0), 32)  # 2**32 times 5 s is far past any ceiling
        nominal = min(self.first * (1 << doublings), self.ceiling)
        return nominal / 2 + nominal / 2 * fraction


def _now() -> datetime:
    return datetime.now(UTC)


def error_name(error: BaseException) -> str:
    """A class name for the outbox: the one an error says it stands for, else its own."""
    name = getattr(error, "error_name", None)
    for candidate in (name, type(error).__name__):
        if isinstance(candidate, str):
            try:
                return check_error_name(candidate)
            except ValueError:
                continue
    return "UnnamedError"


class OutboxWorker:
    """Drains the outbox of one storage through `senders`, a sender for each item kind."""

    def __init__(
        self,
        storage: Storage,
        senders: Mapping[str, Sender],
        *,
        max_attempts: int = 20,
        backoff: Backoff = Backoff(),
        batch: int = 20,
        lease: timedelta = timedelta(minutes=5),
        send_timeout: float = 60.0,
        random_fraction: Callable[[], float] = random.random,
        clock: Callable[[], datetime] = _now,
        on_sent: OnSent | None = None,
        on_dead: OnDead | None = None,
        forwards: Mapping[str, Forward] | None = None,
    ) -> None:
        if max_attempts < 1 or batch < 1:
            raise ValueError("max_attempts and batch must be at least 1")
        if lease.total_seconds() <= 2 * send_timeout:
            raise ValueError("the lease must be more than twice the send timeout")
        self.storage = storage
        self.senders = dict(senders)
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.batch = batch
        self.lease = lease
        self.send_timeout = send_timeout
        self.random_fraction = random_fraction
        self.clock = clock
        self.on_sent = on_sent
        self.on_dead = on_dead
        self.forwards = dict(forwards or {})
        self._wake = asyncio.Event()
        self._retry_at: datetime | None = None  # the soonest retry this worker has set

    def wake(self) -> None:
        """Start the next pass of `run` now (e.g. just after something was queued)."""
        self._wake.set()

    async def drain_once(self, now: datetime) -> int:
        """One pass: send up to `batch` items due at `now`; returns how many were sent."""
        sent, _ = await self._pass(now)
        return sent

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Pass after pass until `stop` is set, pausing `interval` seconds between passes
        unless a pass found a full batch, `wake` is called, or a retry this worker set falls
        due sooner. A failing pass is logged and the next one tries again. What other
        processes queue is found within `interval`."""
        try:
            await asyncio.to_thread(self._warn_if_dead)
        except Exception as error:  # the database may be away; the passes will say so
            log.error("outbox check failed: %s", error_name(error))
        while not stop.is_set():
            taken = 0
            try:
                _, taken = await self._pass(self.clock())
            except Exception as error:  # the database may be away; keep the loop alive
                log.error("outbox pass failed: %s", error_name(error))
            if taken < self.batch:
                await self._pause(stop, self._pause_for(interval))

    def _warn_if_dead(self) -> None:
        with self.storage.unit_of_work() as uow:
            dead = sum(n for (_, status), n in uow.outbox.counts().items() if status == DEAD)
        if dead:
            log.warning(
                "%d outbox item(s) could not be delivered and will not be retried: "
                "run `concernbot doctor` to list them",
                dead,
            )

    def _pause_for(self, interval: float) -> float:
        """`interval`, or less when a retry this worker set falls due sooner."""
        if self._retry_at is None:
            return interval
        wait = (self._retry_at - self.clock()).total_seconds()
        if wait <= 0:
            self._retry_at = None  # the next pass, now, takes it
            return 0.0
        return min(interval, wait)

    async def _pause(self, stop: asyncio.Event, interval: float) -> None:
        waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
        try:
            await asyncio.wait(waits, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        self._wake.clear()

    async def _pass(self, now: datetime) -> tuple[int, int]:
        """(sent, taken) for one pass; items handed on count as taken."""
        taken = await asyncio.to_thread(self.forward, now) if self.forwards else 0
        if not self.senders:
            return 0, taken
        # Claim only while every claimed lease still outlasts its send by a send timeout.
        claim_window = self.lease.total_seconds() - 2 * self.send_timeout
        started = time.monotonic()
        sent = 0
        while taken < self.batch and time.monotonic() - started < claim_window:
            item = await asyncio.to_thread(self._claim, now)
            if item is None:
                break
            taken += 1
            sent += await self._deliver(item, now)
        return sent, taken

    def forward(self, now: datetime) -> int:
        """Hand on up to `batch` due items of the forwarded kinds, in one transaction; how
        many. Each pass does this first (it blocks: call it from a thread in async code)."""
        with self.storage.unit_of_work() as uow:
            items = uow.outbox.due(now, self.batch, kinds=self.forwards)
            for item in items:
                made = self.forwards[item.kind](uow, item, now)
                if not uow.outbox.mark_sent(item.id, now, made):
                    # Locked rows make this impossible; were it not, undo the whole batch.
                    raise RuntimeError(f"outbox item id={item.id} was handed on elsewhere")
        for item in items:
            log.info("outbox handed on id=%d kind=%s ref=%s", item.id, item.kind, item.reference)
        return len(items)

    def _claim(self, now: datetime) -> OutboxItem | None:
        with self.storage.unit_of_work() as uow:
            due = uow.outbox.due(now, 1, kinds=self.senders)
            if not due:
                return None
            uow.outbox.reschedule(due[0].id, now + self.lease)
            return due[0]

    async def _deliver(self, item: OutboxItem, now: datetime) -> int:
        """Send one item and record how it went; 1 if it was sent."""
        sender = self.senders[item.kind]
        try:
            async with asyncio.timeout(self.send_timeout):
                external_id = await sender(item)
        except Exception as error:  # any failure of a send is a retry, unless it says not
            failure = error_name(error)
            await asyncio.to_thread(self._record_failure, item, failure, now, is_permanent(error))
            return 0
        await asyncio.to_thread(self._record_sent, item, external_id, now)
        return 1

    def _record_sent(self, item: OutboxItem, external_id: str | None, now: datetime) -> None:
        try:
            with self.storage.unit_of_work() as uow:
                marked = uow.outbox.mark_sent(item.id, now, external_id)
                if marked and self.on_sent is not None:
                    self.on_sent(uow, item, external_id)
        except Exception as error:
            if self.on_sent is None:
                raise
            # It has gone out: better to lose what on_sent records than to send it again.
            log.error(
                "outbox on_sent failed id=%d kind=%s ref=%s: %s",
                item.id,
                item.kind,
                item.reference,
                error_name(error),
            )
            with self.storage.unit_of_work() as uow:
                marked = uow.outbox.mark_sent(item.id, now, external_id)
        if not marked:
            log.warning("outbox item id=%d was no longer pending when sent", item.id)
        else:
            log.info("outbox sent id=%d kind=%s ref=%s", item.id, item.kind, item.reference)

    def _record_failure(
        self, item: OutboxItem, error: str, now: datetime, permanent: bool = False
    ) -> None:
        failures = item.attempts + 1
        dead = permanent or failures >= self.max_attempts
        if not dead:
            with self.storage.unit_of_work() as uow:
                wait = self.backoff.delay(failures, self.random_fraction())
                uow.outbox.mark_retry(item.id, now + wait, error)
            if self._retry_at is None or now + wait < self._retry_at:
                self._retry_at = now + wait
        else:
            given_up = replace(item, status=DEAD, attempts=failures, last_error=error)
            self._record_dead(given_up, now, permanent)
        outcome = ("failed" if permanent else "dead") if dead else "retry"
        log.warning(
            "outbox %s id=%d kind=%s ref=%s attempt=%d: %s",
            outcome,
            item.id,
            item.kind,
            item.reference,
            failures,
            error,
        )

    def _record_dead(self, item: OutboxItem, now: datetime, permanent: bool) -> None:
        error = item.last_error or "UnnamedError"
        try:
            with self.storage.unit_of_work() as uow:
                if uow.outbox.mark_dead(item.id, error) and self.on_dead is not None:
                    self.on_dead(uow, item, now, permanent)
        except Exception as failure:
            if self.on_dead is None:
                raise
            # Better to record it dead untold (doctor still lists it) than to try it for ever.
            log.error("outbox on_dead failed id=%d: %s", item.id, error_name(failure))
            with self.storage.unit_of_work() as uow:
                uow.outbox.mark_dead(item.id, error)
