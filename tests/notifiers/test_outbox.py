"""The outbox worker: retries with backoff, dead letters, restarts, and racing workers."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from secret_keys import keys_for

from bot.notifiers.email import EmailError, EmailSettings, build_message, send_email
from bot.outbox import Backoff, OutboxWorker, PermanentFailure
from notifiers.smtp_server import SmtpServer
from storage.database import open_storage, sqlite_url_for, upgrade
from storage.memory import MemoryStorage
from storage.repositories import OutboxItem, Storage, UnitOfWork

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


class FakeSender:
    """Fails the first `failures` calls, then answers with a message id; records every call."""

    def __init__(self, failures: int = 0, pause: float = 0.0) -> None:
        self.failures = failures
        self.pause = pause
        self.calls: list[int] = []
        self.delivered: list[int] = []

    async def __call__(self, item: OutboxItem) -> str | None:
        self.calls.append(item.id)
        if self.pause:
            await asyncio.sleep(self.pause)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("Bot API unreachable (text that must not be stored)")
        self.delivered.append(item.id)
        return f"msg-{item.id}"


def queue(storage: Storage, kind: str = "team_alert", reference: str = "QC-1") -> int:
    with storage.unit_of_work() as uow:
        return uow.outbox.add(OutboxItem.new(kind, {"reference": reference}, T0, reference))


def stored(storage: Storage, id: int) -> OutboxItem:
    with storage.unit_of_work() as uow:
        item = uow.outbox.get(id)
    assert item is not None
    return item


def worker(storage: Storage, **senders: FakeSender) -> OutboxWorker:
    return OutboxWorker(storage, senders, max_attempts=4, random_fraction=lambda: 0.5)


def test_the_backoff_doubles_up_to_its_ceiling_with_jitter() -> None:
    backoff = Backoff()
    nominal = [backoff.delay(n, 0.999999).total_seconds() for n in range(1, 12)]
    assert [round(s) for s in nominal] == [5, 10, 20, 40, 80, 160, 320, 640, 900, 900, 900]
    assert backoff.delay(1, 0.0) == timedelta(seconds=2.5)  # jitter spans half to all
    assert backoff.delay(10_000, 0.5) == timedelta(minutes=15) * 0.75


async def test_failures_are_retried_with_backoff_then_sent_exactly_once() -> None:
    storage = MemoryStorage()
    id = queue(storage)
    sender = FakeSender(failures=2)
    outbox = worker(storage, team_alert=sender)

    assert await outbox.drain_once(T0) == 0
    first = stored(storage, id)
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "ConnectionError")
    assert first.next_attempt_at == T0 + 3.75 * SECOND  # 5 s, jittered by 0.5

    assert await outbox.drain_once(T0 + 3 * SECOND) == 0  # not due yet: no call
    assert sender.calls == [id]

    assert await outbox.drain_once(first.next_attempt_at) == 0
    second = stored(storage, id)
    assert second.attempts == 2
    assert second.next_attempt_at == first.next_attempt_at + 7.5 * SECOND

    assert await outbox.drain_once(second.next_attempt_at) == 1
    assert await outbox.drain_once(T0 + timedelta(days=1)) == 0

    done = stored(storage, id)
    assert (done.status, done.external_id, done.attempts) == ("sent", f"msg-{id}", 2)
    assert done.sent_at == second.next_attempt_at
    assert sender.delivered == [id] and len(sender.calls) == 3


async def test_an_item_is_dead_after_max_attempts() -> None:
    storage = MemoryStorage()
    id = queue(storage)
    sender = FakeSender(failures=100)
    outbox = worker(storage, team_alert=sender)

    moment = T0
    for _ in range(6):
        await outbox.drain_once(moment)
        moment += timedelta(hours=1)

    dead = stored(storage, id)
    assert (dead.status, dead.attempts, dead.last_error) == ("dead", 4, "ConnectionError")
    assert len(sender.calls) == 4


async def test_one_failing_item_does_not_hold_back_the_others() -> None:
    storage = MemoryStorage()
    failing = queue(storage, "team_email")
    fine = queue(storage, "team_alert")
    outbox = worker(storage, team_email=FakeSender(failures=1), team_alert=FakeSender())

    assert await outbox.drain_once(T0) == 1

    assert stored(storage, failing).status == "pending"
    assert stored(storage, fine).status == "sent"


async def test_an_item_without_a_sender_stays_pending_and_untouched() -> None:
    storage = MemoryStorage()
    email = queue(storage, "team_email")
    alert = queue(storage, "team_alert")

    assert await worker(storage, team_alert=FakeSender()).drain_once(T0) == 1

    waiting = stored(storage, email)
    assert (waiting.status, waiting.attempts, waiting.next_attempt_at) == ("pending", 0, T0)
    assert stored(storage, alert).status == "sent"


async def test_a_restarted_worker_does_not_send_again() -> None:
    storage = MemoryStorage()
    ids = [queue(storage) for _ in range(3)]
    first = FakeSender()
    assert await worker(storage, team_alert=first).drain_once(T0) == 3

    again = FakeSender()
    assert await worker(storage, team_alert=again).drain_once(T0 + timedelta(days=1)) == 0

    assert first.delivered == ids and again.calls == []


async def test_an_item_caught_in_a_crash_goes_again_once_its_lease_is_over() -> None:
    storage = MemoryStorage()
    id = queue(storage)
    hanging = FakeSender(pause=3600)
    crashed = asyncio.create_task(worker(storage, team_alert=hanging).drain_once(T0))
    while not hanging.calls:
        await asyncio.sleep(0.01)
    crashed.cancel()  # the process dies mid-send
    with pytest.raises(asyncio.CancelledError):
        await crashed

    restarted = FakeSender()
    outbox = worker(storage, team_alert=restarted)
    assert await outbox.drain_once(T0 + timedelta(minutes=4)) == 0  # still leased
    assert await outbox.drain_once(T0 + outbox.lease) == 1
    assert restarted.delivered == [id]


async def test_a_send_that_takes_too_long_is_a_retry() -> None:
    storage = MemoryStorage()
    id = queue(storage)
    outbox = OutboxWorker(
        storage, {"team_alert": FakeSender(pause=5)}, send_timeout=0.05, random_fraction=lambda: 0
    )

    assert await outbox.drain_once(T0) == 0

    item = stored(storage, id)
    assert (item.status, item.attempts, item.last_error) == ("pending", 1, "TimeoutError")


async def test_an_email_error_is_kept_by_the_name_it_carries() -> None:
    storage = MemoryStorage()
    id = queue(storage, "team_email")

    async def refuse(item: OutboxItem) -> str | None:
        raise EmailError("SMTPAuthenticationError")

    await OutboxWorker(storage, {"team_email": refuse}).drain_once(T0)

    assert stored(storage, id).last_error == "SMTPAuthenticationError"


async def test_on_sent_writes_in_the_transaction_that_marks_the_item_sent() -> None:
    storage = MemoryStorage()
    id = queue(storage, "team_message", "QC-7")

    def remember(uow: UnitOfWork, item: OutboxItem, external_id: str | None) -> None:
        assert external_id is not None and item.reference is not None
        assert uow.outbox.get(item.id) is not None
        uow.relays.add(item.reference, "to_team", "telegram:-100", external_id, T0)

    outbox = OutboxWorker(storage, {"team_message": FakeSender()}, on_sent=remember)
    assert await outbox.drain_once(T0) == 1

    with storage.unit_of_work() as uow:
        relay = uow.relays.find("telegram:-100", f"msg-{id}")
    assert relay is not None and relay.reference == "QC-7"


async def test_workers_racing_on_sqlite_send_each_item_once(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path)
    upgrade(url, keys_for(url))
    storage = open_storage(url, keys_for(url))
    try:
        ids = [queue(storage) for _ in range(12)]
        senders = [FakeSender(pause=0.01) for _ in range(3)]
        workers = [worker(storage, team_alert=sender) for sender in senders]

        for _ in range(3):
            await asyncio.gather(*(w.drain_once(T0) for w in workers))

        delivered = Counter(id for sender in senders for id in sender.delivered)
        assert sorted(delivered) == ids
        assert set(delivered.values()) == {1}
        assert all(stored(storage, id).status == "sent" for id in ids)
    finally:
        storage.close()


async def test_run_drains_when_woken_and_stops_when_asked() -> None:
    storage = MemoryStorage()
    sender = FakeSender()
    outbox = worker(storage, team_alert=sender)
    stop = asyncio.Event()
    running = asyncio.create_task(outbox.run(stop, interval=60))
    await asyncio.sleep(0.05)  # the first pass finds nothing and settles into its pause

    id = queue(storage)
    outbox.wake()
    for _ in range(200):
        if sender.delivered:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, timeout=5)

    assert sender.delivered == [id]


async def test_an_email_goes_through_the_outbox_to_a_real_server_once(
    smtp_server: SmtpServer,
) -> None:
    storage = MemoryStorage()
    settings = EmailSettings.from_url(
        f"smtp://{smtp_server.host}:{smtp_server.port}", "bot@bot.example", "team@nhs.example"
    )

    async def send_alert_email(item: OutboxItem) -> str | None:
        message = build_message(
            f"Quality concern {item.reference}",
            "See the attached alert.",
            [(f"{item.reference}.docx", b"PK\x03\x04 document", "application/octet-stream")],
            settings.sender,
            settings.to,
        )
        return await send_email(settings, message)

    id = queue(storage, "team_email", "QC-9")
    outbox = OutboxWorker(storage, {"team_email": send_alert_email})
    assert await outbox.drain_once(T0) == 1
    assert await outbox.drain_once(T0 + timedelta(hours=1)) == 0

    (received,) = smtp_server.received
    assert received.message["Subject"] == "Quality concern QC-9"
    assert stored(storage, id).external_id == received.message["Message-ID"]


class Refusing:
    """A sender the far side refuses for good, every time."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, item: OutboxItem) -> str | None:
        self.calls += 1
        raise PermanentFailure("BadRequest.MessageTooLong")


async def test_a_permanent_refusal_is_dead_at_once_and_told_in_the_same_transaction() -> None:
    storage = MemoryStorage()
    id = queue(storage)
    told: list[tuple[str | None, int, bool]] = []

    def on_dead(uow: UnitOfWork, item: OutboxItem, now: datetime, permanent: bool) -> None:
        told.append((item.last_error, item.attempts, permanent))
        uow.outbox.add(OutboxItem.new("team_email", {"notice": True}, now, item.reference))

    sender = Refusing()
    outbox = OutboxWorker(storage, {"team_alert": sender}, max_attempts=20, on_dead=on_dead)
    for hour in range(3):
        await outbox.drain_once(T0 + timedelta(hours=hour))
    dead = stored(storage, id)
    assert (dead.status, dead.attempts, dead.last_error) == (
        "dead", 1, "BadRequest.MessageTooLong",
    )  # fmt: skip
    assert sender.calls == 1 and told == [("BadRequest.MessageTooLong", 1, True)]
    with storage.unit_of_work() as uow:
        assert [i.kind for i in uow.outbox.for_reference("QC-1")] == ["team_alert", "team_email"]


async def test_an_item_given_up_after_every_attempt_is_told_too_and_a_failing_hook_loses_nothing(
) -> None:  # fmt: skip
    storage = MemoryStorage()
    id = queue(storage)
    told: list[bool] = []

    def on_dead(uow: UnitOfWork, item: OutboxItem, now: datetime, permanent: bool) -> None:
        told.append(permanent)
        raise RuntimeError("the notice could not be written")

    outbox = OutboxWorker(
        storage, {"team_alert": FakeSender(failures=100)}, max_attempts=2, on_dead=on_dead
    )
    for hour in range(4):
        await outbox.drain_once(T0 + timedelta(hours=hour))
    assert told == [False]
    assert (stored(storage, id).status, stored(storage, id).attempts) == ("dead", 2)


async def test_the_worker_warns_at_start_while_anything_failed_for_good(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = MemoryStorage()
    id = queue(storage)
    with storage.unit_of_work() as uow:
        uow.outbox.mark_dead(id, "Forbidden.BotKicked")
    stop = asyncio.Event()
    stop.set()
    with caplog.at_level(logging.WARNING, logger="bot.outbox"):
        await worker(storage, team_alert=FakeSender()).run(stop)
    assert [r.getMessage() for r in caplog.records] == [
        "1 outbox item(s) could not be delivered and will not be retried: "
        "run `concernbot doctor` to list them"
    ]


def becomes_an_alert(uow: UnitOfWork, item: OutboxItem, now: datetime) -> str:
    """A forward as the team's hand-on is: the waiting item becomes an alert, due now."""
    made = uow.outbox.add(OutboxItem.new("team_alert", {}, now, item.reference))
    return f"team_alert:{made}"


async def test_a_forwarded_item_is_handed_on_once_and_what_it_became_is_sent() -> None:
    storage = MemoryStorage()
    waiting = queue(storage, "team_waiting", "QC-8")
    sender = FakeSender()
    outbox = OutboxWorker(
        storage, {"team_alert": sender}, forwards={"team_waiting": becomes_an_alert}
    )

    assert await outbox.drain_once(T0) == 1  # handed on and sent in the same pass
    handed = stored(storage, waiting)
    assert (handed.status, handed.sent_at) == ("sent", T0)
    with storage.unit_of_work() as uow:
        [alert] = [i for i in uow.outbox.for_reference("QC-8") if i.kind == "team_alert"]
    assert handed.external_id == f"team_alert:{alert.id}"
    assert sender.delivered == [alert.id]

    again = OutboxWorker(
        storage, {"team_alert": sender}, forwards={"team_waiting": becomes_an_alert}
    )
    assert await again.drain_once(T0 + timedelta(days=1)) == 0  # a restart hands on nothing
    with storage.unit_of_work() as uow:
        assert len(uow.outbox.for_reference("QC-8")) == 2


async def test_a_failing_forward_hands_on_nothing_and_the_item_still_waits() -> None:
    storage = MemoryStorage()
    waiting = queue(storage, "team_waiting", "QC-9")

    def half_then_fail(uow: UnitOfWork, item: OutboxItem, now: datetime) -> str:
        becomes_an_alert(uow, item, now)
        raise ConnectionError("the database went away")

    failing = OutboxWorker(storage, {"team_alert": FakeSender()},
                           forwards={"team_waiting": half_then_fail})  # fmt: skip
    with pytest.raises(ConnectionError):
        await failing.drain_once(T0)
    assert stored(storage, waiting).status == "pending"
    with storage.unit_of_work() as uow:
        assert [i.kind for i in uow.outbox.for_reference("QC-9")] == ["team_waiting"]


async def test_workers_racing_on_sqlite_hand_each_item_on_once(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path)
    upgrade(url, keys_for(url))
    storage = open_storage(url, keys_for(url))
    try:
        ids = [queue(storage, "team_waiting", f"QC-{n}") for n in range(25)]
        senders = [FakeSender() for _ in range(3)]
        workers = [
            OutboxWorker(storage, {"team_alert": s}, forwards={"team_waiting": becomes_an_alert})
            for s in senders
        ]
        for _ in range(3):
            await asyncio.gather(*(w.drain_once(T0) for w in workers))

        with storage.unit_of_work() as uow:
            counts = uow.outbox.counts()
        assert counts == {("team_waiting", "sent"): 25, ("team_alert", "sent"): 25}
        assert len(Counter(i for s in senders for i in s.delivered)) == 25
        assert all(stored(storage, id).external_id for id in ids)
    finally:
        storage.close()


async def test_a_retry_goes_when_due_not_at_the_next_look() -> None:
    storage = MemoryStorage()
    sender = FakeSender(failures=1)
    outbox = OutboxWorker(
        storage, {"team_alert": sender}, backoff=Backoff(first=timedelta(seconds=0.1))
    )
    id = queue(storage)
    stop = asyncio.Event()
    running = asyncio.create_task(outbox.run(stop, interval=60))
    for _ in range(300):
        if sender.delivered:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, timeout=5)

    assert sender.calls == [id, id]
    assert sender.delivered == [id]


async def test_the_database_wakes_the_worker_when_an_item_is_queued_here(
    tmp_path: Path,
) -> None:
    url = sqlite_url_for(tmp_path)
    upgrade(url, keys_for(url))
    storage = open_storage(url, keys_for(url))
    sender = FakeSender()
    outbox = worker(storage, team_alert=sender)
    loop = asyncio.get_running_loop()
    storage.on_queued = lambda: loop.call_soon_threadsafe(outbox.wake)
    stop = asyncio.Event()
    running = asyncio.create_task(outbox.run(stop, interval=60))
    try:
        await asyncio.sleep(0.05)  # the first pass finds nothing and settles into its pause
        id = await asyncio.to_thread(queue, storage)
        for _ in range(300):
            if sender.delivered:
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=5)
        storage.close()

    assert sender.delivered == [id]
