"""An in-memory storage with the same behaviour as the SQL one, for tests and quick runs.

A unit of work keeps its writes to itself until it ends; then, under the lock, it checks
that nobody committed a conflicting write meanwhile and applies them all or none. Nothing
is held while the block runs, so units of work never wait on each other. Records handed
out are copies: changing one never changes what is stored.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from dialogues.records import Concern, Conversation
from storage.repositories import (
    AuditEntry,
    AuditLog,
    ConcernRepository,
    ConversationRepository,
    DuplicateReference,
    InboundLog,
    StaleConversation,
    UnitOfWork,
    require_aware,
)


def _copy(conversation: Conversation) -> Conversation:
    # replace() runs __post_init__ again, which copies the answers and their lists.
    return replace(conversation)


def _copy_entry(entry: AuditEntry) -> AuditEntry:
    return replace(entry, detail=_plain(entry.detail))


def _plain(value: Any) -> Any:
    """A deep copy of JSON-like data, shaped as it comes back from a JSON column."""
    if isinstance(value, Mapping):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(inner) for inner in value]
    return value


@dataclass
class _Tables:
    conversations: dict[str, Conversation] = field(default_factory=dict)
    concerns: dict[str, Concern] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    inbound: dict[str, datetime] = field(default_factory=dict)


class MemoryStorage:
    """Storage that lives as long as the object does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables = _Tables()

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        work = _MemoryUnitOfWork(self)
        yield work  # an exception from the block propagates here and `work` is dropped
        work.commit()

    def close(self) -> None:
        """Nothing to release."""


class _MemoryUnitOfWork:
    def __init__(self, storage: MemoryStorage) -> None:
        self.lock = storage._lock
        self.committed = storage._tables
        self.pending = _Tables()
        self.deleted: set[str] = set()
        # For each conversation this unit of work wrote: the version it found stored.
        self.seen_versions: dict[str, int] = {}
        self.conversations: ConversationRepository = _Conversations(self)
        self.concerns: ConcernRepository = _Concerns(self)
        self.audit: AuditLog = _AuditLog(self)
        self.inbound: InboundLog = _InboundLog(self)

    def stored_version(self, key: str) -> int:
        with self.lock:
            stored = self.committed.conversations.get(key)
        return 0 if stored is None else stored.version

    def commit(self) -> None:
        with self.lock:
            tables = self.committed
            for key, seen in self.seen_versions.items():
                stored = tables.conversations.get(key)
                if (0 if stored is None else stored.version) != seen:
                    raise StaleConversation(key)
            for reference in self.pending.concerns:
                if reference in tables.concerns:
                    raise DuplicateReference(reference)
            for key in self.deleted:
                tables.conversations.pop(key, None)
            tables.conversations.update(self.pending.conversations)
            tables.concerns.update(self.pending.concerns)
            tables.audit.extend(self.pending.audit)
            for key, at in self.pending.inbound.items():
                tables.inbound.setdefault(key, at)


class _Conversations:
    def __init__(self, work: _MemoryUnitOfWork) -> None:
        self._work = work

    def get(self, key: str) -> Conversation | None:
        work = self._work
        if key in work.deleted:
            return None
        if key in work.pending.conversations:
            return _copy(work.pending.conversations[key])
        with work.lock:
            stored = work.committed.conversations.get(key)
        return None if stored is None else _copy(stored)

    def put(self, conversation: Conversation) -> Conversation:
        work = self._work
        current = self.get(conversation.key)
        if (0 if current is None else current.version) != conversation.version:
            raise StaleConversation(conversation.key)
        work.seen_versions.setdefault(conversation.key, work.stored_version(conversation.key))
        saved = replace(
            conversation,
            version=conversation.version + 1,
            created_at=require_aware(conversation.created_at),
            updated_at=require_aware(conversation.updated_at),
        )
        work.deleted.discard(conversation.key)
        work.pending.conversations[conversation.key] = saved
        return _copy(saved)

    def delete(self, key: str) -> None:
        work = self._work
        work.seen_versions.setdefault(key, work.stored_version(key))
        work.pending.conversations.pop(key, None)
        work.deleted.add(key)

    def for_owner(self, owner: str) -> list[Conversation]:
        work = self._work
        with work.lock:
            visible = dict(work.committed.conversations)
        visible.update(work.pending.conversations)
        mine = [c for k, c in visible.items() if c.owner == owner and k not in work.deleted]
        mine.sort(key=lambda c: c.key)
        mine.sort(key=lambda c: c.updated_at, reverse=True)
        return [_copy(c) for c in mine]


class _Concerns:
    def __init__(self, work: _MemoryUnitOfWork) -> None:
        self._work = work

    def _visible(self) -> list[Concern]:
        with self._work.lock:
            stored = list(self._work.committed.concerns.values())
        return stored + list(self._work.pending.concerns.values())

    def add(self, concern: Concern) -> None:
        if self.get(concern.reference) is not None:
            raise DuplicateReference(concern.reference)
        saved = replace(concern, created_at=require_aware(concern.created_at))
        self._work.pending.concerns[concern.reference] = saved

    def get(self, reference: str) -> Concern | None:
        # Concerns are immutable all the way down, so they need no copying.
        return next((c for c in self._visible() if c.reference == reference), None)

    def for_owner(self, owner: str) -> list[Concern]:
        mine = [c for c in self._visible() if c.owner == owner]
        mine.reverse()  # later additions first among equal times, as the SQL id order
        mine.sort(key=lambda c: c.created_at, reverse=True)
        return mine

    def count(self) -> int:
        return len(self._visible())


class _AuditLog:
    def __init__(self, work: _MemoryUnitOfWork) -> None:
        self._work = work

    def record(self, entry: AuditEntry) -> None:
        saved = replace(entry, at=require_aware(entry.at))
        self._work.pending.audit.append(_copy_entry(saved))

    def entries(self, reference: str | None = None) -> list[AuditEntry]:
        with self._work.lock:
            stored = list(self._work.committed.audit)
        every = stored + self._work.pending.audit
        return [_copy_entry(e) for e in every if reference is None or e.reference == reference]


class _InboundLog:
    def __init__(self, work: _MemoryUnitOfWork) -> None:
        self._work = work

    def first_time(self, key: str, at: datetime) -> bool:
        work = self._work
        with work.lock:
            known = key in work.committed.inbound
        if known or key in work.pending.inbound:
            return False
        work.pending.inbound[key] = require_aware(at)
        return True
