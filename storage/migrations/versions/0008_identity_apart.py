"""Identity kept apart: concerns point to sealed identity records; chats are keyed hashes.

Each concern's reporter (their channel key, name and contact) moves to a record of its own
in `identities`, sealed, found by a keyed hash of the channel key; the concern keeps only
the record's random id. Conversations, relays, live keyboards and the inbox are keyed by
keyed hashes of their chat or owner; what must be read back (a conversation's key and
owner, an unhandled inbox item's chat) is kept sealed beside the hash.
Questions waiting for the reporter in the outbox lose the reporter's channel key: the
sender looks it up in the identity record when it sends. The hashes' secret is made here
(`hash_key`), sealed.

Downgrading puts everything back as 0007 kept it, except what only a hash remembers: the
live keyboards (dropped: their buttons stay live), the relays in the team chat (prompts
awaiting a member's question or note: dropped, the member asks again), and the chat of
handled inbox items (they keep their update's key instead, all they were kept for).

Like 0007, this needs the key ring (`config.attributes["keys"]`).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from storage.crypto import KeyRing, MissingKey
from storage.identity import (
    CHAT,
    CONVERSATION,
    HASH_KEY_TABLE,
    OWNER,
    Hasher,
    new_identity_id,
    new_secret_token,
)

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 500
# As bot.channels.telegram keys them, frozen here: an owner is a user, a chat its private chat.
TELEGRAM_OWNER, TELEGRAM_CHAT = "telegram:user:", "telegram:"


def _keys() -> KeyRing:
    keys = context.config.attributes.get("keys")
    if not isinstance(keys, KeyRing):
        raise MissingKey()
    return keys


def _table(name: str, *columns: str) -> sa.TableClause:
    return sa.table(name, *(sa.column(c) for c in columns))


def _rows(rows: sa.TableClause, key: str) -> Iterator[Sequence[sa.Row[Any]]]:
    """All rows, a batch at a time, in key order; each batch read before it is changed."""
    connection = op.get_bind()
    last: Any = None
    while True:
        statement = sa.select(rows).order_by(rows.c[key]).limit(BATCH)
        if last is not None:
            statement = statement.where(rows.c[key] > last)
        batch = connection.execute(statement).all()
        if not batch:
            return
        yield batch
        last = batch[-1]._mapping[key]


def _all_rows(rows: sa.TableClause) -> list[Sequence[sa.Row[Any]]]:
    """All rows read at once, as one batch: for a table whose key is being rewritten, where
    reading in key order would meet rewritten rows again."""
    return [op.get_bind().execute(sa.select(rows)).all()]


def _seal(keys: KeyRing, text: str) -> str:
    return keys.encrypt(text.encode("utf-8"))


def _open(keys: KeyRing, token: Any) -> str:
    return keys.decrypt(str(token)).decode("utf-8")


def upgrade() -> None:
    keys = _keys()
    connection = op.get_bind()
    hash_key = op.create_table(
        HASH_KEY_TABLE,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("secret", sa.String(), nullable=False),
    )
    token = new_secret_token(keys)
    op.bulk_insert(hash_key, [{"id": 1, "secret": token}])
    hasher = Hasher(bytes.fromhex(keys.decrypt(token).decode("ascii")))
    changed = _concerns_apart(keys, hasher)
    changed += _conversations_hashed(keys, hasher)
    relays = _table("relays", "id", "chat")
    for batch in _rows(relays, "id"):
        for row in batch:
            hashed = hasher.of(CHAT, row.chat)
            connection.execute(relays.update().where(relays.c.id == row.id).values(chat=hashed))
            changed += 1
    keyboards = _table("live_keyboards", "chat")
    for batch in _all_rows(keyboards):
        for row in batch:
            hashed = hasher.of(CHAT, row.chat)
            where = keyboards.c.chat == row.chat
            connection.execute(keyboards.update().where(where).values(chat=hashed))
            changed += 1
    changed += _inbox_hashed(keys, hasher)
    changed += _outbox_without_owner(keys)
    # storage.database.upgrade compacts an SQLite file after this, so that the channel keys
    # the rows held are not left behind in its free pages or its write-ahead log.
    context.config.attributes["sealed_rows"] = changed


def _concerns_apart(keys: KeyRing, hasher: Hasher) -> int:
    connection = op.get_bind()
    identities = op.create_table(
        "identities",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("owner_hash", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("contact", sa.String(), nullable=True),
    )
    op.create_index("ix_identities_owner_hash", "identities", ["owner_hash"])
    op.add_column("concerns", sa.Column("reporter", sa.String(), nullable=True))
    concerns = _table("concerns", "id", "owner", "reporter_name", "reporter_contact", "reporter")
    changed = 0
    for batch in _rows(concerns, "id"):
        for row in batch:
            record = new_identity_id()
            connection.execute(
                identities.insert().values(
                    id=record,
                    owner_hash=hasher.of(OWNER, row.owner),
                    owner=_seal(keys, row.owner),
                    name=row.reporter_name,  # sealed by 0007 already: moved as it is
                    contact=row.reporter_contact,
                )
            )
            where = concerns.c.id == row.id
            connection.execute(concerns.update().where(where).values(reporter=record))
            changed += 1
    op.drop_index("ix_concerns_owner", table_name="concerns")
    with op.batch_alter_table("concerns") as table:
        table.drop_column("owner")
        table.drop_column("reporter_name")
        table.drop_column("reporter_contact")
    op.create_index("ix_concerns_reporter", "concerns", ["reporter"])
    return changed


def _conversations_hashed(keys: KeyRing, hasher: Hasher) -> int:
    connection = op.get_bind()
    op.add_column("conversations", sa.Column("reach", sa.String(), nullable=True))
    conversations = _table("conversations", "key", "owner", "reach")
    changed = 0
    for batch in _all_rows(conversations):
        for row in batch:
            reach = json.dumps({"key": row.key, "owner": row.owner}, ensure_ascii=False)
            values = {
                "key": hasher.of(CONVERSATION, row.key),
                "owner": hasher.of(OWNER, row.owner),
                "reach": _seal(keys, reach),
            }
            where = conversations.c.key == row.key
            connection.execute(conversations.update().where(where).values(**values))
            changed += 1
    with op.batch_alter_table("conversations") as table:
        table.alter_column("reach", existing_type=sa.String(), nullable=False)
    return changed


def _inbox_hashed(keys: KeyRing, hasher: Hasher) -> int:
    connection = op.get_bind()
    op.add_column("inbox", sa.Column("reach", sa.String(), nullable=True))
    inbox = _table("inbox", "id", "chat", "handled_at", "reach")
    changed = 0
    for batch in _rows(inbox, "id"):
        for row in batch:
            reach = None if row.handled_at is not None else _seal(keys, row.chat)
            values = {"chat": hasher.of(CHAT, row.chat), "reach": reach}
            connection.execute(inbox.update().where(inbox.c.id == row.id).values(**values))
            changed += 1
    return changed


def _outbox_without_owner(keys: KeyRing) -> int:
    connection = op.get_bind()
    outbox = _table("outbox", "id", "kind", "payload")
    changed = 0
    for batch in _rows(outbox, "id"):
        for row in batch:
            if row.kind != "reporter_message":
                continue
            payload = json.loads(_open(keys, row.payload))
            payload.pop("owner", None)
            sealed = _seal(keys, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
            connection.execute(outbox.update().where(outbox.c.id == row.id).values(payload=sealed))
            changed += 1
    return changed


def downgrade() -> None:
    keys = _keys()
    connection = op.get_bind()
    owners = _concerns_together(keys)
    outbox = _table("outbox", "id", "kind", "reference", "payload")
    for batch in _rows(outbox, "id"):
        for row in batch:
            if row.kind != "reporter_message":
                continue
            payload = json.loads(_open(keys, row.payload))
            payload["owner"] = owners.get(row.reference, "")
            sealed = _seal(keys, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
            connection.execute(outbox.update().where(outbox.c.id == row.id).values(payload=sealed))
    inbox = _table("inbox", "id", "key", "chat", "reach")
    for batch in _rows(inbox, "id"):
        for row in batch:
            chat = row.key if row.reach is None else _open(keys, row.reach)
            connection.execute(inbox.update().where(inbox.c.id == row.id).values(chat=chat))
    with op.batch_alter_table("inbox") as table:
        table.drop_column("reach")
    conversations = _table("conversations", "key", "owner", "reach")
    for batch in _all_rows(conversations):
        for row in batch:
            reach = json.loads(_open(keys, row.reach))
            where = conversations.c.key == row.key
            values = {"key": reach["key"], "owner": reach["owner"]}
            connection.execute(conversations.update().where(where).values(**values))
    with op.batch_alter_table("conversations") as table:
        table.drop_column("reach")
    # A reply in the reporter's chat is known again by their chat, from their identity;
    # one in the team chat (a prompt awaiting a member's question or note) cannot be.
    relays = _table("relays", "id", "reference", "direction", "chat")
    for batch in _rows(relays, "id"):
        for row in batch:
            where = relays.c.id == row.id
            owner = owners.get(row.reference, "")
            if row.direction == "to_team" and owner.startswith(TELEGRAM_OWNER):
                chat = TELEGRAM_CHAT + owner.removeprefix(TELEGRAM_OWNER)
                connection.execute(relays.update().where(where).values(chat=chat))
            else:
                connection.execute(relays.delete().where(where))
    connection.execute(sa.delete(_table("live_keyboards", "chat")))
    op.drop_table(HASH_KEY_TABLE)


def _concerns_together(keys: KeyRing) -> dict[str, str]:
    """Each concern's identity back on its row; its owner by reference."""
    connection = op.get_bind()
    op.add_column("concerns", sa.Column("owner", sa.String(), nullable=True))
    op.add_column("concerns", sa.Column("reporter_name", sa.String(), nullable=True))
    op.add_column("concerns", sa.Column("reporter_contact", sa.String(), nullable=True))
    concerns = _table("concerns", "id", "reference", "reporter", "owner", "reporter_name",
                      "reporter_contact")  # fmt: skip
    identities = _table("identities", "id", "owner", "name", "contact")
    owners: dict[str, str] = {}
    for batch in _rows(concerns, "id"):
        for row in batch:
            found = None
            if row.reporter is not None:
                where = identities.c.id == row.reporter
                found = connection.execute(sa.select(identities).where(where)).first()
            owner = "" if found is None else _open(keys, found.owner)  # "" once forgotten
            values = {
                "owner": owner,
                "reporter_name": None if found is None else found.name,
                "reporter_contact": None if found is None else found.contact,
            }
            connection.execute(concerns.update().where(concerns.c.id == row.id).values(**values))
            owners[row.reference] = owner
    op.drop_index("ix_concerns_reporter", table_name="concerns")
    with op.batch_alter_table("concerns") as table:
        table.drop_column("reporter")
        table.alter_column("owner", existing_type=sa.String(), nullable=False)
    op.create_index("ix_concerns_owner", "concerns", ["owner"])
    op.drop_index("ix_identities_owner_hash", table_name="identities")
    op.drop_table("identities")
    return owners
