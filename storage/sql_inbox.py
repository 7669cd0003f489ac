"""The inbox over SQL: updates kept from arrival until handled, one taker per chat at a time.

Taking a chat's oldest unhandled item locks its row (FOR UPDATE) before looking at the
lease, so on PostgreSQL a second taker waits for the first to commit and then sees the
lease; on SQLite, BEGIN IMMEDIATE makes whole transactions take turns instead.

Every update is kept, taken, counted and marked done: those statements go through the table
itself and are made once, as the ORM's loading, flushing and statement building cost more
than the database's own work (as for conversations in `storage.sql`). The encrypted columns
seal and open the same either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, func, or_, select, update

from storage.identity import CHAT, Hasher
from storage.repositories import InboxItem, as_utc, check_inbox_item, require_aware
from storage.tables import InboxRow

_INBOX: Table = InboxRow.__table__  # type: ignore[attr-defined]  # SQLModel's
_UNHANDLED = _INBOX.c.handled_at.is_(None)
_KNOWN = select(_INBOX.c.key).where(_INBOX.c.key.in_(bindparam("keys", expanding=True)))
_ADD = insert(_INBOX)
# Keeps each item unless its key is kept already (or being kept by another transaction,
# which it then waits for), and says which it kept: one statement for a batch.
_ADD_NEW = {
    name: insert_for(_INBOX).on_conflict_do_nothing(index_elements=["key"]).returning(_INBOX.c.key)
    for name, insert_for in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}
# The chat's oldest unhandled item, its row locked (PostgreSQL) until the transaction ends.
_OLDEST = (
    select(*(c for c in _INBOX.c if c.name != "reach"))  # the chat is known: not opened again
    .where(_INBOX.c.chat == bindparam("of_chat"), _UNHANDLED)
    .order_by(_INBOX.c.seq, _INBOX.c.id)
    .limit(1)
    .with_for_update()
)
_LEASE = (
    update(_INBOX)
    .where(_INBOX.c.id == bindparam("of_id"))
    .values(taken_until=bindparam("until"), takes=_INBOX.c.takes + 1)
)
_COUNT = (
    select(func.count())
    .select_from(_INBOX)
    .where(_INBOX.c.chat == bindparam("of_chat"), _UNHANDLED)
)
_DONE = (
    update(_INBOX)
    .where(_INBOX.c.id == bindparam("of_id"), _UNHANDLED)
    .values(handled_at=bindparam("at"), taken_until=None, payload={}, reach=None)
)
_EXTEND = (
    update(_INBOX)
    .where(_INBOX.c.id == bindparam("of_id"), _UNHANDLED)
    .values(taken_until=bindparam("until"))
)
_RELEASE = (
    update(_INBOX).where(_INBOX.c.id == bindparam("of_id"), _UNHANDLED).values(taken_until=None)
)


def _to_item(row: InboxRow | Row[Any], chat: str) -> InboxItem:
    assert row.id is not None  # read back from the table, so it has one
    return InboxItem(
        id=row.id,
        key=row.key,
        chat=chat,
        seq=row.seq,
        payload=dict(row.payload),
        received_at=as_utc(row.received_at),
        takes=row.takes,
        taken_until=None if row.taken_until is None else as_utc(row.taken_until),
        handled_at=None if row.handled_at is None else as_utc(row.handled_at),
    )


def _values(item: InboxItem, hasher: Hasher) -> dict[str, Any]:
    return {
        "key": item.key,
        "chat": hasher.of(CHAT, item.chat),
        "reach": item.chat,
        "seq": item.seq,
        "payload": dict(item.payload),
        "received_at": require_aware(item.received_at),
        "takes": 0,
        "taken_until": None,
        "handled_at": None,
    }


class SqlInbox:
    """Rows by the keyed hash of their chat; the chat itself is sealed, and kept only until
    the item is handled (`waiting` reads it back, to have the chat handled)."""

    def __init__(self, session: Session, hasher: Hasher) -> None:
        self._session = session
        self._hasher = hasher

    def _chat(self, chat: str) -> str:
        return self._hasher.of(CHAT, chat)

    def add(self, items: Sequence[InboxItem]) -> set[str]:
        fresh: dict[str, InboxItem] = {}
        for item in items:
            fresh.setdefault(item.key, check_inbox_item(item))
        if not fresh:
            return set()
        connection = self._session.connection()
        add_new = _ADD_NEW.get(connection.dialect.name)
        if add_new is not None:
            values = [_values(item, self._hasher) for item in fresh.values()]
            return set(connection.scalars(add_new, values))
        known = set(connection.scalars(_KNOWN, {"keys": list(fresh)}))
        new = [item for key, item in fresh.items() if key not in known]
        if not new:
            return set()
        try:
            with self._session.begin_nested():
                # Asked for inside the savepoint: that is when the session sets it.
                self._session.connection().execute(
                    _ADD, [_values(item, self._hasher) for item in new]
                )
        except IntegrityError:
            # Another transaction kept some of them meanwhile: one at a time, then.
            return {item.key for item in new if self._add_one(item)}
        return {item.key for item in new}

    def _add_one(self, item: InboxItem) -> bool:
        try:
            with self._session.begin_nested():
                self._session.connection().execute(_ADD, _values(item, self._hasher))
        except IntegrityError:
            return False
        return True

    def take(self, chat: str, now: datetime, until: datetime) -> InboxItem | None:
        connection = self._session.connection()
        row = connection.execute(_OLDEST, {"of_chat": self._chat(chat)}).first()
        if row is None:
            return None
        if row.taken_until is not None and as_utc(row.taken_until) > require_aware(now):
            return None
        taken_until = require_aware(until)
        connection.execute(_LEASE, {"of_id": row.id, "until": taken_until})
        return replace(_to_item(row, chat), takes=row.takes + 1, taken_until=taken_until)

    def count(self, chat: str) -> int:
        found = self._session.connection().execute(_COUNT, {"of_chat": self._chat(chat)})
        return int(found.scalar_one())

    def _changed(self, statement: Any, values: dict[str, Any]) -> bool:
        return int(self._session.connection().execute(statement, values).rowcount or 0) == 1

    def _update_unhandled(self, *conditions: object, **values: object) -> int:
        statement = (
            update(InboxRow)
            .where(col(InboxRow.handled_at).is_(None), *conditions)  # type: ignore[arg-type]
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return int(self._session.exec(statement).rowcount or 0)

    def done(self, id: int, at: datetime) -> bool:
        return self._changed(_DONE, {"of_id": id, "at": require_aware(at)})

    def release(self, id: int) -> bool:
        return self._changed(_RELEASE, {"of_id": id})

    def extend(self, id: int, until: datetime) -> bool:
        return self._changed(_EXTEND, {"of_id": id, "until": require_aware(until)})

    def release_all(self) -> int:
        return self._update_unhandled(col(InboxRow.taken_until).is_not(None), taken_until=None)

    def waiting(self, limit: int) -> list[str]:
        # Every unhandled row of a chat seals the same chat: any one of them names it.
        statement = (
            select(func.min(InboxRow.reach))
            .where(col(InboxRow.handled_at).is_(None))
            .group_by(col(InboxRow.chat))
            .order_by(func.min(InboxRow.seq))
            .limit(limit)
        )
        return [chat for chat in self._session.exec(statement) if chat is not None]

    def for_chat(self, chat: str) -> list[InboxItem]:
        statement = (
            select(InboxRow)
            .where(col(InboxRow.chat) == self._chat(chat))
            .order_by(col(InboxRow.seq), col(InboxRow.id))
            .execution_options(populate_existing=True)
        )
        return [_to_item(row, chat) for row in self._session.exec(statement)]

    def forget_before(self, at: datetime) -> int:
        statement = delete(InboxRow).where(
            col(InboxRow.handled_at).is_not(None), col(InboxRow.handled_at) < require_aware(at)
        )
        return int(self._session.exec(statement).rowcount or 0)

    def forget_chat(self, chat: str, key: str | None = None) -> int:
        statement = delete(InboxRow).where(
            col(InboxRow.chat) == self._chat(chat),
            or_(col(InboxRow.handled_at).is_not(None), col(InboxRow.key) == key),
        )
        return int(self._session.exec(statement).rowcount or 0)
