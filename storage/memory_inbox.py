"""The inbox in memory, for `memory.MemoryStorage`: the same behaviour as the SQL one.

Writes wait in the unit of work and are applied when it commits; a change to an item
applies only while the item is still unhandled (as "UPDATE ... WHERE handled_at IS NULL").
A taken item is held by its unit of work until that ends, and another unit of work finds
the chat busy meanwhile (as the row lock does on PostgreSQL).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from storage.repositories import InboxItem, check_inbox_item, plain_json, require_aware

_Change = tuple[int, Callable[[InboxItem], InboxItem]]


def _copy(item: InboxItem) -> InboxItem:
    return replace(item, payload=plain_json(item.payload))


def _order(item: InboxItem) -> tuple[int, int]:
    return (item.seq, item.id)


@dataclass
class InboxTable:
    """What is committed, shared by every unit of work of one storage."""

    items: dict[int, InboxItem] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    claimed: set[int] = field(default_factory=set)  # taken by a unit of work still open


class MemoryInbox:
    """The inbox as one unit of work sees it."""

    def __init__(self, table: InboxTable, lock: threading.Lock) -> None:
        self._table = table
        self._lock = lock
        self._added: dict[int, InboxItem] = {}
        self._changes: list[_Change] = []
        self._claims: set[int] = set()
        self._forget_before: datetime | None = None
        self._forget_chats: list[tuple[str, str | None]] = []

    # -- the unit of work's ends (call with the lock held) ---------------------------------

    def apply(self) -> None:
        """Commit: add the new items whose keys are still free, then apply the changes."""
        items = self._table.items
        known = {item.key for item in items.values()}
        for id, item in self._added.items():
            if item.key not in known:
                items[id] = item
                known.add(item.key)
        _apply(items, self._changes)
        for id, item in list(items.items()):
            if self._forgotten(item):
                del items[id]
        if self._forget_before is not None:
            cutoff = self._forget_before
            self._table.items = {
                id: item
                for id, item in items.items()
                if item.handled_at is None or item.handled_at >= cutoff
            }

    def release_claims(self) -> None:
        self._table.claimed -= self._claims
        self._claims.clear()

    # -- the repository ---------------------------------------------------------------------

    def _view(self) -> dict[int, InboxItem]:
        """Committed and pending items with this unit of work's changes (lock held)."""
        view = {**self._table.items, **self._added}
        _apply(view, self._changes)
        return {id: item for id, item in view.items() if not self._forgotten(item)}

    def _forgotten(self, item: InboxItem) -> bool:
        return any(
            item.chat == chat and (item.handled_at is not None or item.key == key)
            for chat, key in self._forget_chats
        )

    def _unhandled(self, chat: str) -> list[InboxItem]:
        with self._lock:
            view = self._view()
        mine = [i for i in view.values() if i.chat == chat and i.handled_at is None]
        return sorted(mine, key=_order)

    def add(self, items: Sequence[InboxItem]) -> set[str]:
        checked = [check_inbox_item(item) for item in items]
        kept: set[str] = set()
        with self._lock:
            known = {i.key for i in self._view().values()}
            for item in checked:
                if item.key not in known:
                    id = next(self._table.ids)
                    self._added[id] = replace(item, id=id)
                    known.add(item.key)
                    kept.add(item.key)
        return kept

    def take(self, chat: str, now: datetime, until: datetime) -> InboxItem | None:
        now, until = require_aware(now), require_aware(until)
        with self._lock:
            view = self._view()
            waiting = sorted(
                (i for i in view.values() if i.chat == chat and i.handled_at is None), key=_order
            )
            if not waiting:
                return None
            head = waiting[0]
            busy = head.id in self._table.claimed - self._claims
            if busy or (head.taken_until is not None and head.taken_until > now):
                return None
            self._claims.add(head.id)
            self._table.claimed.add(head.id)
        self._changes.append(
            (head.id, lambda item: replace(item, taken_until=until, takes=item.takes + 1))
        )
        return _copy(replace(head, taken_until=until, takes=head.takes + 1))

    def count(self, chat: str) -> int:
        return len(self._unhandled(chat))

    def _change(self, id: int, change: Callable[[InboxItem], InboxItem]) -> bool:
        with self._lock:
            item = self._view().get(id)
        if item is None or item.handled_at is not None:
            return False
        self._changes.append((id, change))
        return True

    def done(self, id: int, at: datetime) -> bool:
        moment = require_aware(at)
        return self._change(
            id, lambda item: replace(item, handled_at=moment, taken_until=None, payload={})
        )

    def release(self, id: int) -> bool:
        return self._change(id, lambda item: replace(item, taken_until=None))

    def extend(self, id: int, until: datetime) -> bool:
        moment = require_aware(until)
        return self._change(id, lambda item: replace(item, taken_until=moment))

    def release_all(self) -> int:
        with self._lock:
            taken = [
                i.id
                for i in self._view().values()
                if i.handled_at is None and i.taken_until is not None
            ]
        for id in taken:
            self._changes.append((id, lambda item: replace(item, taken_until=None)))
        return len(taken)

    def waiting(self, limit: int) -> list[str]:
        with self._lock:
            view = self._view()
        first: dict[str, tuple[int, int]] = {}
        for item in view.values():
            if item.handled_at is None:
                first[item.chat] = min(first.get(item.chat, _order(item)), _order(item))
        return sorted(first, key=lambda chat: first[chat])[: max(limit, 0)]

    def for_chat(self, chat: str) -> list[InboxItem]:
        with self._lock:
            view = self._view()
        return [_copy(i) for i in sorted(view.values(), key=_order) if i.chat == chat]

    def forget_before(self, at: datetime) -> int:
        cutoff = require_aware(at)
        self._forget_before = cutoff
        with self._lock:
            view = self._view()
        return sum(1 for i in view.values() if i.handled_at is not None and i.handled_at < cutoff)

    def forget_chat(self, chat: str, key: str | None = None) -> int:
        with self._lock:
            view = self._view()
        self._forget_chats.append((chat, key))
        return sum(1 for item in view.values() if self._forgotten(item))


def _apply(items: dict[int, InboxItem], changes: list[_Change]) -> None:
    for id, change in changes:
        item = items.get(id)
        if item is not None and item.handled_at is None:
            items[id] = change(item)
