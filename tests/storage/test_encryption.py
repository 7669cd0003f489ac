"""Encryption at rest, on SQLite and PostgreSQL: what a raw read of the database finds (no
text anyone wrote), a wrong key, a value no key opens, the migration that seals old rows,
and key rotation across a restart, stopped half-way and finished."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, make_url, select, text
from sqlmodel import col
from test_contract import T0, a_concern, a_conversation

from storage.crypto import KeyRing, Undecryptable, WrongKey, new_key
from storage.database import SqlStorage, downgrade, open_storage, upgrade
from storage.repositories import InboxItem, OutboxItem, StorageUnavailable
from storage.rotation import rotate, sealed_tables
from storage.tables import NoteRow

REFERENCE = "QC-7777-SEAL"
# What people wrote, each somewhere else; none may be found in the database as written.
WRITTEN = {
    "description": "Nobody senior answers bleeps at night on Ward Nine — ça arrive souvent",
    "reporter_name": "Priyanka Whitfield-Osei",
    "reporter_contact": "priyanka.w-o@example.nhs.uk",
    "organisation_other": "Saint Aelfric Hospice",
    "site": "Lavender Ward, bay four",
    "programme": "Physiotherapy BSc year two",
    "controls_detail": "The rota coordinator promised cover",
    "further_actions": "Tell the guardian of safe working hours",
}
ASSIGNED = "Morwenna Quality-Lead"
NOTE = "Called the DME, follow up on Tuesday"
QUESTION = "Which nights were uncovered last month?"
ANSWER = "Every Thursday since the new rota began"
DRAFT = "Draft: the registrar was in theatre again"
UPDATE_TEXT = "the registrar was in theatre all night long"
EVERYTHING = [*WRITTEN.values(), ASSIGNED, NOTE, QUESTION, ANSWER, DRAFT, UPDATE_TEXT]
# Rows holding sealed values after `write_everything`: the conversation, the concern, the
# note, two outbox items, the inbox item, and the key check.
SEALED_ROWS = 7


def keys(*ring: str) -> KeyRing:
    return KeyRing.parse(",".join(ring), "test")


A, B, C = new_key(), new_key(), new_key()


@pytest.fixture
def url(database_url: str) -> str:
    upgrade(database_url, keys(A))
    return database_url


@pytest.fixture
def storage_a(url: str) -> Iterator[SqlStorage]:
    opened = open_storage(url, keys(A))
    try:
        yield opened
    finally:
        opened.close()


def write_everything(storage: SqlStorage) -> None:
    """A concern, a triage, a note, a relayed question and answer, a draft, an inbox item."""
    concern = replace(a_concern(REFERENCE), **WRITTEN)
    with storage.unit_of_work() as uow:
        uow.concerns.add(concern)
        uow.concerns.set_triage(REFERENCE, assigned_to=ASSIGNED)
        uow.notes.add(REFERENCE, T0, "telegram:9001", NOTE)
        asked = {"owner": "telegram:user:42", "text": QUESTION, "relay": True}
        uow.outbox.add(OutboxItem.new("reporter_message", asked, T0, REFERENCE))
        uow.outbox.add(OutboxItem.new("team_message", {"text": ANSWER}, T0, REFERENCE))
        uow.relays.add(REFERENCE, "to_reporter", "telegram:42", "501", T0)
        uow.conversations.put(a_conversation("telegram:42", answers={"description": DRAFT}))
        update = {"update_id": 7, "message": {"chat": {"id": 42}, "text": UPDATE_TEXT}}
        uow.inbox.add([InboxItem("telegram:update:7", "telegram:42", 7, update, T0)])


def read_everything(storage: SqlStorage) -> list[object]:
    with storage.unit_of_work() as uow:
        return [
            uow.concerns.get(REFERENCE),
            uow.concerns.triage(REFERENCE),
            uow.notes.for_reference(REFERENCE),
            [(i.kind, dict(i.payload)) for i in uow.outbox.for_reference(REFERENCE)],
            uow.relays.find("telegram:42", "501"),
            uow.conversations.get("telegram:42"),
            [dict(i.payload) for i in uow.inbox.for_chat("telegram:42")],
        ]


def raw(url: str, storage: SqlStorage) -> bytes:
    """The database as someone who has the file or the server, and not the key, reads it:
    SQLite's file and its write-ahead log, byte for byte; every PostgreSQL row as text."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = Path(str(parsed.database))
        files = [database, database.with_name(database.name + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    with storage.engine.connect() as connection:
        names = inspect(connection).get_table_names()
        return "\n".join(
            str(row)
            for name in names
            for row in connection.execute(text(f'SELECT t::text FROM "{name}" t')).scalars()
        ).encode("utf-8")


def found(url: str, storage: SqlStorage) -> list[str]:
    """What people wrote that a raw read finds. The reference (never sealed) must be found,
    or the read would be reading nothing."""
    seen = raw(url, storage)
    assert REFERENCE.encode() in seen
    return [words for words in EVERYTHING if words.encode("utf-8") in seen]


def test_a_raw_read_finds_nothing_anyone_wrote_and_the_bot_reads_it_all(
    url: str, storage_a: SqlStorage
) -> None:
    write_everything(storage_a)

    assert found(url, storage_a) == []  # SQLite: with the write-ahead log still there
    everything = read_everything(storage_a)
    storage_a.close()
    again = open_storage(url, keys(A))
    try:
        assert found(url, again) == []  # SQLite: after the log was folded into the file
        assert read_everything(again) == everything
    finally:
        again.close()
    concern = everything[0]
    assert concern == replace(a_concern(REFERENCE), **WRITTEN)
    assert everything[3] == [
        ("reporter_message", {"owner": "telegram:user:42", "text": QUESTION, "relay": True}),
        ("team_message", {"text": ANSWER}),
    ]


def test_a_database_opened_with_another_key_is_refused_at_once(
    url: str, storage_a: SqlStorage
) -> None:
    write_everything(storage_a)

    with pytest.raises(WrongKey) as caught:
        open_storage(url, keys(B))
    assert "encrypted with another key" in str(caught.value) and A not in str(caught.value)
    with_both = open_storage(url, keys(B, A))  # a new key first, the old one after: fine
    try:
        assert read_everything(with_both)[0] == replace(a_concern(REFERENCE), **WRITTEN)
    finally:
        with_both.close()


def test_a_value_no_key_opens_is_reported_plainly_never_garbage(
    url: str, storage_a: SqlStorage
) -> None:
    write_everything(storage_a)
    other_writer = open_storage(url, keys(C, A))  # a process given a key this one lacks
    try:
        with other_writer.unit_of_work() as uow:
            uow.notes.add(REFERENCE, T0 + timedelta(minutes=1), "telegram:9001", "a new note")
    finally:
        other_writer.close()

    with pytest.raises(StorageUnavailable) as caught, storage_a.unit_of_work() as uow:
        uow.notes.for_reference(REFERENCE)
    assert caught.value.problem == "undecryptable"
    assert isinstance(caught.value.__cause__, Undecryptable)
    assert "note" not in str(caught.value)
    with storage_a.unit_of_work() as uow:  # the rest still reads
        assert uow.concerns.get(REFERENCE) is not None


def test_an_encrypted_column_cannot_be_searched(storage_a: SqlStorage) -> None:
    with pytest.raises(TypeError, match="cannot be compared or searched"):
        select(NoteRow).where(col(NoteRow.text) == NOTE)
    with pytest.raises(TypeError, match="cannot be compared or searched"):
        select(NoteRow).where(col(NoteRow.text).contains("DME"))
    select(NoteRow).where(col(NoteRow.text).is_not(None))  # NULL or not is fine


def test_the_migration_seals_what_was_stored_before_and_leaves_no_trace_of_it(
    url: str, storage_a: SqlStorage
) -> None:
    write_everything(storage_a)
    everything = read_everything(storage_a)
    storage_a.close()
    downgrade(url, "0006", keys(A))  # as a database was before encryption: plain text
    plain = open_storage(url, keys(A))
    try:
        assert sorted(found(url, plain)) == sorted(EVERYTHING)  # so the check below can fail
    finally:
        plain.close()

    upgrade(url, keys(B))  # the key of the one who upgrades

    sealed = open_storage(url, keys(B))
    try:
        assert found(url, sealed) == []
        assert read_everything(sealed) == everything
    finally:
        sealed.close()


def test_downgrading_with_another_key_changes_nothing(url: str, storage_a: SqlStorage) -> None:
    write_everything(storage_a)
    storage_a.close()

    with pytest.raises(Undecryptable):
        downgrade(url, "0006", keys(B))

    again = open_storage(url, keys(A))
    try:
        assert found(url, again) == []
        assert read_everything(again)[0] == replace(a_concern(REFERENCE), **WRITTEN)
    finally:
        again.close()


def tokens(storage: SqlStorage) -> list[str]:
    """Every sealed value as stored."""
    with storage.engine.connect() as connection:
        return [
            str(value)
            for sealed in sealed_tables()
            for row in connection.execute(select(sealed.raw()))
            for value in row[1:]
            if value is not None
        ]


def test_rotation_seals_everything_with_the_new_key_across_a_restart(
    url: str, storage_a: SqlStorage
) -> None:
    write_everything(storage_a)
    everything = read_everything(storage_a)
    storage_a.close()

    both = open_storage(url, keys(B, A))
    try:
        done = rotate(both.engine, both.keys)
        again = rotate(both.engine, both.keys)
    finally:
        both.close()

    assert (done.rotated, done.unreadable) == (SEALED_ROWS, ())
    assert done.rows >= SEALED_ROWS and again.rotated == 0  # nothing sealed twice
    restarted = open_storage(url, keys(B))  # the old key dropped
    try:
        assert read_everything(restarted) == everything
        assert all(keys(B).is_current(token) for token in tokens(restarted))
        assert found(url, restarted) == []
    finally:
        restarted.close()
    with pytest.raises(WrongKey):
        open_storage(url, keys(A))


class Stopped(Exception):
    """The rotation's process stopped (a kill, a lost connection) between two batches."""


def test_a_rotation_stopped_half_way_is_finished_by_running_it_again(
    url: str, storage_a: SqlStorage
) -> None:
    write_everything(storage_a)
    everything = read_everything(storage_a)
    storage_a.close()
    both = open_storage(url, keys(B, A))
    batches: list[int] = []

    def stop_after_three(rows: int) -> None:
        batches.append(rows)
        if len(batches) == 3:
            raise Stopped()

    try:
        with pytest.raises(Stopped):
            rotate(both.engine, both.keys, batch=1, progress=stop_after_three)
        half = [keys(B).is_current(token) for token in tokens(both)]
        assert any(half) and not all(half)
        with pytest.raises(WrongKey):  # the key check goes last: B alone is not enough yet
            open_storage(url, keys(B))
        finished = rotate(both.engine, both.keys, batch=1)
    finally:
        both.close()

    assert 0 < finished.rotated < SEALED_ROWS and finished.unreadable == ()
    restarted = open_storage(url, keys(B))
    try:
        assert read_everything(restarted) == everything
        assert all(keys(B).is_current(token) for token in tokens(restarted))
    finally:
        restarted.close()


def test_rotation_names_the_rows_no_key_opens_and_leaves_them(
    url: str, storage_a: SqlStorage
) -> None:
    write_everything(storage_a)
    stranger = open_storage(url, keys(C, A))
    try:
        with stranger.unit_of_work() as uow:
            note = uow.notes.add(REFERENCE, T0, "telegram:9001", "sealed with C")
    finally:
        stranger.close()

    checked = rotate(storage_a.engine, keys(B, A), write=False)
    done = rotate(storage_a.engine, keys(B, A))

    assert checked.unreadable == done.unreadable == (("notes", str(note)),)
    assert checked.rotated == done.rotated == SEALED_ROWS
    assert rotate(storage_a.engine, keys(B, A), write=False).rotated == 0
    still = open_storage(url, keys(C, B))
    try:
        with still.unit_of_work() as uow:
            assert [n.text for n in uow.notes.for_reference(REFERENCE)] == [NOTE, "sealed with C"]
    finally:
        still.close()
