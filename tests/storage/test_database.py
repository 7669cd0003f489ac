"""Opening the database: where SQLite lives, how its connections are set up, and what a
database that cannot be reached or written looks like to the bot."""

from __future__ import annotations

import socket
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from secret_keys import keys_for

from dialogues.records import Conversation
from storage.database import DATABASE_FILE, Synchronous, open_storage, sqlite_url_for, upgrade
from storage.repositories import StorageUnavailable

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_the_sqlite_url_names_a_file_in_the_data_folder(tmp_path: Path) -> None:
    assert sqlite_url_for(tmp_path) == f"sqlite:///{tmp_path.as_posix()}/concernbot.db"


def test_first_run_creates_the_folder_and_a_ready_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "there" / "yet"
    url = sqlite_url_for(data_dir)

    upgrade(url, keys_for(url))
    storage = open_storage(url, keys_for(url))
    try:
        with storage.unit_of_work() as work:
            assert work.concerns.count() == 0
    finally:
        storage.close()

    assert (data_dir / "concernbot.db").is_file()


def test_sqlite_connections_use_wal_foreign_keys_a_busy_timeout_and_secure_delete(
    tmp_path: Path,
) -> None:
    url = sqlite_url_for(tmp_path)
    storage = open_storage(url, keys_for(url))
    try:
        with storage.engine.connect() as connection:
            journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
            busy_timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
            secure_delete = connection.exec_driver_sql("PRAGMA secure_delete").scalar()
    finally:
        storage.close()

    assert journal == "wal"
    assert foreign_keys == 1
    assert busy_timeout == 5000
    assert secure_delete == 1  # whatever the SQLite build's own default


@pytest.mark.parametrize(("asked", "level"), [(None, 1), ("NORMAL", 1), ("FULL", 2)])
def test_sqlite_connections_flush_at_commit_as_asked(
    tmp_path: Path, asked: Synchronous | None, level: int
) -> None:
    """NORMAL (1) unless FULL (2) is asked for, on every connection of the pool."""
    url = sqlite_url_for(tmp_path)
    keys = keys_for(url)
    storage = open_storage(url, keys) if asked is None else open_storage(url, keys, asked)
    try:
        # Two of the pool's connections at once, each as set up; no transaction begun.
        pooled = [storage.engine.raw_connection() for _ in range(2)]
        found = [c.cursor().execute("PRAGMA synchronous").fetchone()[0] for c in pooled]
        for connection in pooled:
            connection.close()
    finally:
        storage.close()
    assert found == [level, level]


def test_sqlite_synchronous_takes_only_normal_or_full(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path)
    with pytest.raises(ValueError, match="NORMAL, FULL"):
        open_storage(url, keys_for(url), "OFF; DROP TABLE concerns")  # type: ignore[arg-type]


def test_a_deleted_conversation_leaves_nothing_of_its_answers_in_the_file(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path)
    upgrade(url, keys_for(url))
    storage = open_storage(url, keys_for(url))
    phrase = "nobody-signs-off-my-competencies-7391"
    try:
        with storage.unit_of_work() as uow:
            for journey, answers in (("concern", {"note": "kept"}), ("pathway", {"note": phrase})):
                uow.conversations.put(
                    Conversation(f"console:ann/{journey}", "console:ann", journey, "told",
                                 answers=answers, created_at=T0, updated_at=T0)
                )  # fmt: skip  # the concern keeps the page in use
        with storage.unit_of_work() as uow:
            uow.conversations.delete("console:ann/pathway", 1)
    finally:
        storage.close()  # the last connection checkpoints the write-ahead log into the file
    files = list(tmp_path.glob(f"{DATABASE_FILE}*"))
    assert files
    assert not any(phrase.encode() in path.read_bytes() for path in files)  # sealed, too
    # Its key is stored as it is (for now): overwritten once deleted.
    assert not any(b"console:ann/pathway" in path.read_bytes() for path in files)


def test_a_database_another_writer_holds_is_unavailable_and_nothing_is_kept(
    tmp_path: Path,
) -> None:
    url = sqlite_url_for(tmp_path)
    upgrade(url, keys_for(url))
    storage = open_storage(url, keys_for(url))
    other = sqlite3.connect(tmp_path / "concernbot.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another program writing, longer than we wait
        locked = pytest.raises(StorageUnavailable, match=r"locked by another program$")
        with locked, storage.unit_of_work() as work:
            work.inbound.first_time("telegram:update:1", datetime.now(UTC))
        other.rollback()
        with storage.unit_of_work() as work:  # and fine again once it lets go
            assert work.inbound.first_time("telegram:update:1", datetime.now(UTC))
    finally:
        other.close()
        storage.close()


def test_a_database_that_cannot_be_reached_is_unavailable_in_one_line() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/concernbot"
    # Opening it checks the key against the database, so opening is what fails.
    with pytest.raises(StorageUnavailable) as caught:
        open_storage(url, keys_for(url))
    assert "\n" not in str(caught.value) and str(port) in str(caught.value)


def test_many_threads_writing_at_once_all_get_their_turn(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path)
    upgrade(url, keys_for(url))
    storage = open_storage(url, keys_for(url))
    done: list[int] = []

    def write(n: int) -> None:
        for k in range(20):
            with storage.unit_of_work() as work:
                work.inbound.first_time(f"telegram:update:{n}-{k}", datetime.now(UTC))
        done.append(n)

    try:
        writers = [threading.Thread(target=write, args=(n,)) for n in range(6)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=60)
    finally:
        storage.close()
    assert sorted(done) == list(range(6))  # none gave up on a lock another thread held
