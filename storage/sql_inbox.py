"""The inbox over SQL: updates kept from arrival until handled, one taker per chat at a time.

Taking a chat's oldest unhandled item locks its row (FOR UPDATE) before looking at the
lease, so on PostgreSQL a second taker waits for the first to commit and then sees the
lease; on SQLite, BEGIN IMMEDIATE makes whole transactions take turns instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, func, or_, select, update

from storage.identity import CHAT, Hasher
from storage.repositories import InboxItem, as_utc, check_inbox_item, require_aware
from storage.tables import InboxRow


def _to_item(row: InboxRow, chat: str) -> InboxItem:
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


def _to_row(item: InboxItem, hasher: Hasher) -> InboxRow:
    return InboxRow(
        key=item.key,
        chat=hasher.of(CHAT, item.chat),
        reach=item.chat,
        seq=item.seq,
        payload=dict(item.payload),
        received_at=item.received_at,
        takes=0,
    )


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
        statement = select(InboxRow.key).where(col(InboxRow.key).in_(list(fresh)))
        known = set(self._session.exec(statement))
        new = [item for key, item in fresh.items() if key not in known]
        try:
            with self._session.begin_nested():
                self._session.add_all([_to_row(item, self._hasher) for item in new])
        except IntegrityError:
            # Another transaction kept some of them meanwhile: one at a time, then.
            return {item.key for item in new if self._add_one(item)}
        return {item.key for item in new}

    def _add_one(self, item: InboxItem) -> bool:
        try:
            with self._session.begin_nested():
                self._session.add(_to_row(item, self._hasher))
        except IntegrityError:
            return False
        return True

    def take(self, chat: str, now: datetime, until: datetime) -> InboxItem | None:
        statement = (
            select(InboxRow)
            .where(col(InboxRow.chat) == self._chat(chat), col(InboxRow.handled_at).is_(None))
            .order_by(col(InboxRow.seq), col(InboxRow.id))
            .limit(1)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        row = self._session.exec(statement).first()
        if row is None:
            return None
        if row.taken_until is not None and as_utc(row.taken_until) > require_aware(now):
            return None
        row.taken_until = require_aware(until)
        row.takes += 1
        self._session.add(row)
        self._session.flush()
        return _to_item(row, chat)

    def count(self, chat: str) -> int:
        statement = (
            select(func.count())
            .select_from(InboxRow)
            .where(col(InboxRow.chat) == self._chat(chat), col(InboxRow.handled_at).is_(None))
        )
        return int(self._session.exec(statement).one())

    def _update_unhandled(self, *conditions: object, **values: object) -> int:
        statement = (
            update(InboxRow)
            .where(col(InboxRow.handled_at).is_(None), *conditions)  # type: ignore[arg-type]
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return int(self._session.exec(statement).rowcount or 0)

    def done(self, id: int, at: datetime) -> bool:
        moment = require_aware(at)
        changed = self._update_unhandled(
            col(InboxRow.id) == id, handled_at=moment, taken_until=None, payload={}, reach=None
        )
        return changed == 1

    def release(self, id: int) -> bool:
        return self._update_unhandled(col(InboxRow.id) == id, taken_until=None) == 1

    def extend(self, id: int, until: datetime) -> bool:
        return self._update_unhandled(col(InboxRow.id) == id, taken_until=require_aware(until)) == 1

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
