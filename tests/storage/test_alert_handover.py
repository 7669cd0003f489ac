"""Alerts that waited for a team channel are handed on exactly once, on every backend, however
many workers start together (two replicas of the bot starting at once, say).

The hand-on is the outbox worker's `forward` with the team's `hand_on`, as the bot wires it:
one transaction takes the waiting items (rows locked, SKIP LOCKED on PostgreSQL), adds each
one's alert, reminder and email, and marks it sent.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.outbox import OutboxWorker
from bot.triage import WAITING, Team, hand_on
from storage.repositories import OutboxItem, Storage, UnitOfWork

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TEAM = Team(chat_id=-100, members=frozenset(), email=True)
CHANNEL_KINDS = ("team_alert", "team_email", "team_reminder")


def waiting(storage: Storage, count: int) -> list[str]:
    references = [f"QC-{n:04d}" for n in range(count)]
    with storage.unit_of_work() as uow:
        for n, reference in enumerate(references):
            uow.outbox.add(OutboxItem.new(WAITING, {}, T0 + timedelta(seconds=n), reference))
    return references


def converter(storage: Storage, forward: Callable[..., str] | None = None) -> OutboxWorker:
    """A worker that only hands on (its senders are never asked in these tests)."""
    return OutboxWorker(storage, {}, forwards={WAITING: forward or hand_on(TEAM)}, batch=5)


def handed_on(storage: Storage, references: list[str]) -> Counter[tuple[str, str]]:
    """How many items of each (reference, kind) there are, waiting ones counted if pending."""
    made: Counter[tuple[str, str]] = Counter()
    with storage.unit_of_work() as uow:
        for reference in references:
            for item in uow.outbox.for_reference(reference):
                if item.kind != WAITING or item.status == "pending":
                    made[(reference, item.kind)] += 1
    return made


def test_converters_started_together_hand_each_alert_on_once(storage: Storage) -> None:
    references = waiting(storage, 40)
    start = threading.Barrier(4)
    done: list[int] = []
    failures: list[BaseException] = []

    def run() -> None:
        worker = converter(storage)
        start.wait(timeout=30)
        try:
            while (n := worker.forward(T0 + timedelta(minutes=1))) > 0:
                done.append(n)
        except BaseException as error:  # collected and asserted on below
            failures.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    assert sum(done) == 40
    expected = {(r, kind): 1 for r in references for kind in CHANNEL_KINDS}
    assert handed_on(storage, references) == expected
    with storage.unit_of_work() as uow:
        assert uow.outbox.counts()[(WAITING, "sent")] == 40
    # A restart finds nothing left to hand on.
    assert converter(storage).forward(T0 + timedelta(days=1)) == 0
    assert handed_on(storage, references) == expected


def test_a_converter_holding_its_items_is_skipped_not_doubled(
    row_locking_storage: Storage,
) -> None:
    """The race made certain: the first converter holds its locked, half-handed-on items
    open while the second runs from start to end."""
    storage = row_locking_storage
    references = waiting(storage, 8)
    first_holds, second_done = threading.Event(), threading.Event()
    taken: dict[str, int] = {}
    failures: list[BaseException] = []
    team_hand_on = hand_on(TEAM)

    def slow(uow: UnitOfWork, item: OutboxItem, now: datetime) -> str:
        made = team_hand_on(uow, item, now)
        first_holds.set()
        assert second_done.wait(timeout=30)  # the second runs while these rows are held
        return made

    def first() -> None:
        try:
            taken["first"] = converter(storage, slow).forward(T0 + timedelta(minutes=1))
        except BaseException as error:  # collected and asserted on below
            failures.append(error)

    holder = threading.Thread(target=first)
    holder.start()
    assert first_holds.wait(timeout=30)
    taken["second"] = converter(storage).forward(T0 + timedelta(minutes=1))
    second_done.set()
    holder.join(timeout=60)

    assert failures == []
    assert taken == {"first": 5, "second": 3}  # the second took only what was free
    expected = {(r, kind): 1 for r in references for kind in CHANNEL_KINDS}
    assert handed_on(storage, references) == expected
