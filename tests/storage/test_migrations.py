"""The migrations build exactly the schema the table models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from secret_keys import keys_for
from sqlalchemy import inspect, text
from sqlmodel import SQLModel
from test_contract import T0, a_concern, a_conversation

from dialogues.records import CONCERN_FIELDS
from storage.database import (
    SCHEMA_HEAD,
    alembic_config,
    downgrade,
    open_storage,
    schema_is_current,
    upgrade,
)
from storage.repositories import TRIAGE_FIELDS
from storage.tables import ConcernRow

FIRST_TABLES = {"conversations", "concerns", "audit_log", "inbound_seen"}
TEAM_TABLES = {"outbox", "notes", "relays"}
INBOX_TABLES = {"inbox"}
KEY_TABLES = {"key_check"}
IDENTITY_TABLES = {"identities", "hash_key"}
IDENTITY_FIELDS = {"owner", "reporter_name", "reporter_contact"}


# An index on an expression cannot be compared: PostgreSQL gives the expression back in its
# own layout, SQLite not at all. `test_the_queue_index_is_there` checks it instead.
EXPRESSION_INDEXES = {"ix_concerns_queue"}


def _comparable(item: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    return not (kind == "index" and name in EXPRESSION_INDEXES)


def schema_differences(url: str) -> list[Any]:
    storage = open_storage(url, keys_for(url))
    try:
        with storage.engine.connect() as connection:
            opts = {"compare_type": True, "include_object": _comparable}
            context = MigrationContext.configure(connection, opts=opts)
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        storage.close()


def current_revision(url: str) -> str | None:
    storage = open_storage(url, keys_for(url))
    try:
        with storage.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        storage.close()


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_an_empty_database_is_empty_until_upgraded(database_url: str) -> None:
    differences = schema_differences(database_url)

    missing = {diff[1].name for diff in differences if diff[0] == "add_table"}
    assert missing == (FIRST_TABLES | TEAM_TABLES | INBOX_TABLES | KEY_TABLES | IDENTITY_TABLES)
    assert current_revision(database_url) is None


def test_upgrade_builds_the_schema_of_the_table_models(database_url: str) -> None:
    upgrade(database_url, keys_for(database_url))

    assert schema_differences(database_url) == []
    assert current_revision(database_url) == head_revision(database_url) == "0010"


def test_the_queue_index_is_there_and_goes_with_a_downgrade(database_url: str) -> None:
    def indexes() -> set[str]:
        storage = open_storage(database_url, keys_for(database_url))
        try:
            with storage.engine.connect() as connection:
                found = connection.execute(text(
                    "SELECT name FROM sqlite_master WHERE type = 'index'"
                    if connection.dialect.name == "sqlite"
                    else "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                ))  # fmt: skip
                return {row[0] for row in found}
        finally:
            storage.close()

    upgrade(database_url, keys_for(database_url))
    assert {"ix_concerns_queue", "ix_concerns_open"} <= indexes()
    downgrade(database_url, "0008b", keys_for(database_url))
    assert not {"ix_concerns_queue", "ix_concerns_open"} & indexes()


def test_upgrading_twice_is_harmless_and_keeps_the_data(database_url: str) -> None:
    upgrade(database_url, keys_for(database_url))
    storage = open_storage(database_url, keys_for(database_url))
    try:
        with storage.unit_of_work() as work:
            assert work.inbound.first_time("telegram:update:1", datetime.now(UTC))

        upgrade(database_url, keys_for(database_url))

        with storage.unit_of_work() as work:
            assert not work.inbound.first_time("telegram:update:1", datetime.now(UTC))
    finally:
        storage.close()
    assert schema_differences(database_url) == []


def test_upgrades_started_together_take_turns(database_url: str) -> None:
    start = threading.Barrier(3)
    failures: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            upgrade(database_url, keys_for(database_url))
        except Exception as error:  # collected and asserted on below
            failures.append(error)

    runners = [threading.Thread(target=run) for _ in range(3)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(timeout=60)

    assert failures == []
    assert schema_differences(database_url) == []


def test_the_concerns_table_has_a_column_for_every_concern_field(database_url: str) -> None:
    upgrade(database_url, keys_for(database_url))
    storage = open_storage(database_url, keys_for(database_url))
    try:
        columns = {c["name"] for c in inspect(storage.engine).get_columns("concerns")}
    finally:
        storage.close()

    # Who reported it lives in their identity record; the concern keeps the record's id.
    retention = {"keep_text", "anonymised_at"}  # storage's own bookkeeping (0008b)
    kept = {"id", "reporter", *CONCERN_FIELDS, *TRIAGE_FIELDS, *retention} - IDENTITY_FIELDS
    assert set(ConcernRow.model_fields) == kept
    assert columns == kept


def table_names(url: str) -> set[str]:
    storage = open_storage(url, keys_for(url))
    try:
        return set(inspect(storage.engine).get_table_names()) - {"alembic_version"}
    finally:
        storage.close()


def test_downgrade_to_0001_and_up_again_keeps_the_concerns(database_url: str) -> None:
    upgrade(database_url, keys_for(database_url))
    storage = open_storage(database_url, keys_for(database_url))
    try:
        with storage.unit_of_work() as work:
            work.concerns.add(a_concern())
            work.concerns.set_triage("QC-0001", acknowledged_at=T0, acknowledged_by="team:1")

        downgrade(database_url, "0001", keys_for(database_url))

        assert current_revision(database_url) == "0001"
        assert table_names(database_url) == FIRST_TABLES
        columns = {c["name"] for c in inspect(storage.engine).get_columns("concerns")}
        assert columns == {"id", *CONCERN_FIELDS} - {"university"}  # added by 0004

        upgrade(database_url, keys_for(database_url))

        assert schema_differences(database_url) == []
        with storage.unit_of_work() as work:
            assert work.concerns.get("QC-0001") == a_concern()
            triage = work.concerns.triage("QC-0001")
        assert triage is not None and triage.acknowledged_at is None  # gone with its column
    finally:
        storage.close()


def test_downgrade_to_base_leaves_nothing(database_url: str) -> None:
    upgrade(database_url, keys_for(database_url))

    downgrade(database_url, "base", keys_for(database_url))

    assert table_names(database_url) == set()
    assert current_revision(database_url) is None


def test_the_schema_is_current_only_after_upgrade(database_url: str) -> None:
    assert schema_is_current(database_url) is False

    upgrade(database_url, keys_for(database_url))

    assert schema_is_current(database_url) is True


def test_the_schema_head_constant_is_the_newest_migration() -> None:
    """A start compares the version table with SCHEMA_HEAD rather than import Alembic to
    read the scripts: a new migration must move the constant too."""
    assert head_revision("sqlite://") == SCHEMA_HEAD


def test_a_database_one_migration_behind_is_not_current_and_is_upgraded(
    database_url: str,
) -> None:
    upgrade(database_url, keys_for(database_url))
    downgrade(database_url, "0008b", keys_for(database_url))
    assert schema_is_current(database_url) is False

    upgrade(database_url, keys_for(database_url))

    assert schema_is_current(database_url) is True
    assert current_revision(database_url) == SCHEMA_HEAD


def test_downgrade_to_0002_drops_only_the_inbox(database_url: str) -> None:
    upgrade(database_url, keys_for(database_url))

    downgrade(database_url, "0002", keys_for(database_url))

    assert current_revision(database_url) == "0002"
    assert table_names(database_url) == FIRST_TABLES | TEAM_TABLES
    upgrade(database_url, keys_for(database_url))
    assert schema_differences(database_url) == []


def test_upgrading_to_0006_forgets_answered_pathway_questions_and_nothing_else(
    database_url: str,
) -> None:
    upgrade(database_url, keys_for(database_url))
    downgrade(database_url, "0005", keys_for(database_url))
    storage = open_storage(database_url, keys_for(database_url))
    try:
        # Written as that schema kept them: answers in plain JSON (0007 seals them).
        with storage.engine.begin() as connection:
            for key, journey, state in [
                ("telegram:1/pathway", "pathway", "answered"),  # left by an earlier run
                ("telegram:1/concern", "concern", "description"),  # paused by it: kept
                ("telegram:2/pathway", "pathway", "told"),  # being asked: kept
                ("telegram:3/concern", "concern", "submitted"),
            ]:
                connection.execute(
                    text(
                        "INSERT INTO conversations (key, owner, journey, state, answers, trail,"
                        " editing, paused, version, created_at, updated_at) VALUES (:key, 'o',"
                        " :journey, :state, '{}', '[]', false, false, 1, :at, :at)"
                    ),
                    {"key": key, "journey": journey, "state": state, "at": T0},
                )

        upgrade(database_url, keys_for(database_url))

        with storage.unit_of_work() as work:
            assert work.conversations.get("telegram:1/pathway") is None
            for key in ("telegram:1/concern", "telegram:2/pathway", "telegram:3/concern"):
                assert work.conversations.get(key) is not None, key
    finally:
        storage.close()


def test_the_live_keyboards_go_at_0010_and_come_back_empty_below_it(database_url: str) -> None:
    upgrade(database_url, keys_for(database_url))
    assert "live_keyboards" not in table_names(database_url)

    downgrade(database_url, "0009", keys_for(database_url))

    assert current_revision(database_url) == "0009"
    assert "live_keyboards" in table_names(database_url)
    upgrade(database_url, keys_for(database_url))
    assert "live_keyboards" not in table_names(database_url)
    assert schema_differences(database_url) == []


def test_downgrade_to_0004_drops_only_the_live_keyboards(database_url: str) -> None:
    upgrade(database_url, keys_for(database_url))

    downgrade(database_url, "0004", keys_for(database_url))

    assert current_revision(database_url) == "0004"
    assert table_names(database_url) == FIRST_TABLES | TEAM_TABLES | INBOX_TABLES
    upgrade(database_url, keys_for(database_url))
    assert schema_differences(database_url) == []


def test_rows_kept_before_several_barriers_read_as_this_version_asks(database_url: str) -> None:
    """Issue 9 keeps several barriers in the text column that held one, without a migration:
    an old row's single key reads as a one-item tuple, and "fear" as fear of the placement."""
    upgrade(database_url, keys_for(database_url))
    storage = open_storage(database_url, keys_for(database_url))
    old = {"QC-0001": "fear", "QC-0002": "involves_school", "QC-0003": "none"}
    old_answers = storage.keys.encrypt(b'{"barrier": "fear"}')  # sealed, as stored
    try:
        with storage.unit_of_work() as work:
            for reference in old:
                work.concerns.add(a_concern(reference))
            work.conversations.put(a_conversation(answers={"barrier": ["none"]}))
        with storage.engine.begin() as connection:
            for reference, barrier in old.items():
                connection.execute(
                    text("UPDATE concerns SET barrier = :b WHERE reference = :r"),
                    {"b": barrier, "r": reference},
                )
            connection.execute(text("UPDATE conversations SET answers = :a"), {"a": old_answers})
        with storage.unit_of_work() as work:
            read = {r: work.concerns.get(r) for r in old}
            conversation = work.conversations.get("telegram:42")
        assert {r: c.barrier for r, c in read.items() if c} == {
            "QC-0001": ("fear_local",),
            "QC-0002": ("involves_school",),
            "QC-0003": ("none",),
        }
        assert conversation is not None and conversation.answers["barrier"] == ["fear_local"]
        with storage.unit_of_work() as work:
            work.concerns.add(a_concern("QC-0004"))
        with storage.engine.connect() as connection:
            kept = connection.execute(
                text("SELECT barrier FROM concerns WHERE reference = 'QC-0004'")
            ).scalar()
        assert kept == "fear_local,involves_school"  # several, comma-joined
    finally:
        storage.close()
