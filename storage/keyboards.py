"""The live keyboard of each chat, over SQL and in memory: one message id per chat at most.

A channel that shows buttons records the message carrying them and takes back the one it
replaces, so that it can take that one's buttons away, even after a restart.
"""

from __future__ import annotations

import threading

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.identity import CHAT, Hasher
from storage.tables import KeyboardRow


class SqlKeyboards:
    """Rows keyed by the keyed hash of the chat: only ever matched, never read back."""

    def __init__(self, session: Session, hasher: Hasher) -> None:
        self._session = session
        self._hasher = hasher

    def swap(self, chat: str, message_id: int | None) -> int | None:
        return self._swap(self._hasher.of(CHAT, chat), message_id)

    def _swap(self, chat: str, message_id: int | None) -> int | None:
        row = self._session.get(KeyboardRow, chat, with_for_update=True)
        before = None if row is None else row.message_id
        if row is not None and message_id is None:
            self._session.delete(row)
        elif row is not None and message_id is not None:
            row.message_id = message_id
            self._session.add(row)
        elif message_id is not None:
            try:
                with self._session.begin_nested():
                    self._session.add(KeyboardRow(chat=chat, message_id=message_id))
            except IntegrityError:  # another transaction recorded one first: take its place
                return self._swap(chat, message_id)
        self._session.flush()
        return before


class MemoryKeyboards:
    """The live keyboards as one unit of work sees them; `apply` when it commits."""

    def __init__(self, table: dict[str, int], lock: threading.Lock) -> None:
        self._table = table
        self._lock = lock
        self._pending: dict[str, int | None] = {}

    def swap(self, chat: str, message_id: int | None) -> int | None:
        if chat in self._pending:
            before = self._pending[chat]
        else:
            with self._lock:
                before = self._table.get(chat)
        self._pending[chat] = message_id
        return before

    def apply(self) -> None:
        """Commit (call with the lock held)."""
        for chat, message_id in self._pending.items():
            if message_id is None:
                self._table.pop(chat, None)
            else:
                self._table[chat] = message_id
