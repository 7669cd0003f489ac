"""Read-only units of work (`Storage.reading`): an export streamed over one snapshot takes no
write lock, so a learner's turn commits while it runs and two exports run at once; a write
inside one is refused. On real databases: SQLite in a file (WAL), and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import islice
from typing import Any

import pytest
from secret_keys import keys_for
from test_contract import T0, a_concern

from bot.service import TurnService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.turns import Command
from storage.database import open_storage, upgrade
from storage.repositories import Storage, WriteInReading
from storage.streaming import STREAM_BATCH, ConcernFilter

COUNT = STREAM_BATCH * 2 + 50  # more than two batches: the stream is open between them


@pytest.fixture
def filled(database_url: str) -> Iterator[Storage]:
    upgrade(database_url, keys_for(database_url))
    storage = open_storage(database_url, keys_for(database_url))
    with storage.unit_of_work() as uow:
        for n in range(COUNT):
            uow.concerns.add(a_concern(f"QC-{n:04d}", created_at=T0 + timedelta(minutes=n)))
    try:
        yield storage
    finally:
        storage.close()


def in_thread(work: Callable[[], Any]) -> Callable[[], Any]:
    """Start `work` on a thread; the returned call waits for it and gives its result (or
    raises its error)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the waiting test
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()

    def result() -> Any:
        thread.join(timeout=120)
        assert not thread.is_alive(), "still waiting"
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return result


def test_a_turn_commits_while_an_export_is_read_mid_way(filled: Storage) -> None:
    service = TurnService(Dialogue(load_content()), filled)
    with filled.reading() as uow:
        stream = uow.concerns.stream(ConcernFilter())
        first = list(islice(stream, STREAM_BATCH + 10))
        # A learner's turn, and a concern filed, on other threads while the export is open:
        # before, each waited for the export's write lock and failed as "locked".
        in_thread(lambda: service.handle_now("learner", "learner", Command("new")))()
        assert service.conversation("learner") is not None  # committed, export still open

        def file_one() -> None:
            with filled.unit_of_work() as writing:
                writing.concerns.add(a_concern("QC-LATE", created_at=T0 - timedelta(days=1)))

        in_thread(file_one)()
        rest = list(stream)
    # One snapshot: the concern filed meanwhile (oldest, so last in order) is not in it.
    references = [concern.reference for concern in first + rest]
    assert len(references) == COUNT and "QC-LATE" not in references


def test_two_exports_at_once_both_read_everything(filled: Storage) -> None:
    both_reading = threading.Barrier(2, timeout=60)

    def export() -> int:
        with filled.reading() as uow:
            stream = uow.concerns.stream(ConcernFilter())
            read = len(list(islice(stream, 1)))
            both_reading.wait()  # each is inside its unit of work, mid-stream
            return read + sum(1 for _ in stream)

    first, second = in_thread(export), in_thread(export)
    assert first() == COUNT and second() == COUNT


def test_a_write_in_a_reading_unit_is_refused_and_writing_goes_on(filled: Storage) -> None:
    with pytest.raises(WriteInReading), filled.reading() as uow:
        uow.concerns.add(a_concern("QC-WRITE"))
    with filled.unit_of_work() as uow:  # the same pooled connection writes again
        assert uow.concerns.get("QC-WRITE") is None
        uow.concerns.add(a_concern("QC-WRITE"))
    with filled.reading() as uow:
        assert uow.concerns.get("QC-WRITE") is not None
