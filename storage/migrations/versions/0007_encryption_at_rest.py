"""Encryption at rest: what learners and the team wrote is sealed with the key (issue 10).

The JSON columns that carry such text (a conversation's answers, outbox and inbox payloads)
become text columns holding a Fernet token of their JSON; the free-text columns keep their
type and hold a token of their text. Every existing value is sealed here, and a key check
value is stored so that a wrong key is told at start.

This migration needs the key ring: `storage.database.upgrade(url, keys)` hands it over in
`config.attributes["keys"]` (the bot and `concernbot db upgrade` take it from
CONCERNBOT_SECRET_KEY, or from the data folder's key file for the embedded database); the
`alembic` command line reads CONCERNBOT_SECRET_KEY itself (see env.py). Downgrading opens
every value again, with the same ring.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from storage.crypto import KeyRing, MissingKey, Undecryptable

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# What this revision seals, frozen here as it was (later tables declare their own).
_CONCERN_TEXTS = (
    "reporter_name",
    "reporter_contact",
    "organisation_other",
    "site",
    "programme",
    "description",
    "controls_detail",
    "further_actions",
    "assigned_to",
)
SEALED: dict[str, tuple[str, tuple[str, ...]]] = {
    "conversations": ("key", ("answers",)),
    "concerns": ("id", _CONCERN_TEXTS),
    "notes": ("id", ("text",)),
    "outbox": ("id", ("payload",)),
    "inbox": ("id", ("payload",)),
}
WERE_JSON = (("conversations", "answers"), ("outbox", "payload"), ("inbox", "payload"))
KEY_CHECK_TEXT = b"concernbot key check"
BATCH = 500


def _keys() -> KeyRing:
    keys = context.config.attributes.get("keys")
    if not isinstance(keys, KeyRing):
        raise MissingKey()
    return keys


def _batches(connection: sa.Connection, name: str) -> Iterator[Sequence[sa.Row[Any]]]:
    """The table's rows (its key and sealed columns, as stored), a batch at a time."""
    key, columns = SEALED[name]
    rows = sa.table(name, sa.column(key), *(sa.column(c) for c in columns))
    last: Any = None
    while True:
        statement = sa.select(rows).order_by(rows.c[key]).limit(BATCH)
        if last is not None:
            statement = statement.where(rows.c[key] > last)
        batch = connection.execute(statement).all()
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def _rewrite(change: Callable[[str], str]) -> int:
    """Every non-NULL value of every sealed column replaced by `change(value)`; how many."""
    connection = op.get_bind()
    changed = 0
    for name, (key, columns) in SEALED.items():
        rows = sa.table(name, sa.column(key), *(sa.column(c) for c in columns))
        for batch in _batches(connection, name):
            for row in batch:
                stored: list[tuple[str, Any]] = list(zip(columns, row[1:], strict=True))
                values = {c: change(str(v)) for c, v in stored if v is not None}
                if values:
                    connection.execute(rows.update().where(rows.c[key] == row[0]).values(values))
                    changed += 1
    return changed


def upgrade() -> None:
    keys = _keys()
    for name, column in WERE_JSON:
        with op.batch_alter_table(name) as table:
            table.alter_column(
                column,
                type_=sa.String(),
                existing_type=sa.JSON(),
                existing_nullable=False,
                postgresql_using=f"{column}::text",
            )
    sealed = _rewrite(lambda plain: keys.encrypt(plain.encode("utf-8")))
    key_check = op.create_table(
        "key_check",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("token", sa.String(), nullable=False),
    )
    op.bulk_insert(key_check, [{"id": 1, "token": keys.encrypt(KEY_CHECK_TEXT)}])
    # storage.database.upgrade compacts an SQLite file after this, so that the plain text
    # the rows held is not left behind in its free pages or its write-ahead log.
    context.config.attributes["sealed_rows"] = sealed


def downgrade() -> None:
    keys = _keys()
    check = sa.table("key_check", sa.column("token"))
    for token in op.get_bind().execute(sa.select(check.c.token)).scalars():
        if keys.decrypt(str(token)) != KEY_CHECK_TEXT:  # Undecryptable with another key
            raise Undecryptable()
    op.drop_table("key_check")
    _rewrite(lambda token: keys.decrypt(token).decode("utf-8"))
    for name, column in WERE_JSON:
        with op.batch_alter_table(name) as table:
            table.alter_column(
                column,
                type_=sa.JSON(),
                existing_type=sa.String(),
                existing_nullable=False,
                postgresql_using=f"{column}::json",
            )
