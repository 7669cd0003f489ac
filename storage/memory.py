"""An in-memory storage with the same behaviour as the SQL one, for tests and quick runs.

A unit of work keeps its writes to itself until it ends; then, under the lock, it checks
that nobody committed a conflicting write meanwhile and applies them all or none. Nothing
is held while the block runs, so units of work never wait on each other. Records handed
out are copies: changing one never changes what is stored.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from dialogues.records import Concern, Conversation
from storage.memory_inbox import InboxTable, MemoryInbox
from storage.memory_views import MemoryViews
from storage.repositories import (
    CANCELLED,
    CLOSED,
    DEAD,
    NO_OWNER,
    PENDING,
    SENT,
    TO_TEAM,
    AuditEntry,
    AuditLog,
    ConcernRepository,
    ConversationRepository,
    DuplicateReference,
    DuplicateRelay,
    InboundLog,
    InboxRepository,
    Note,
    NoteRepository,
    OutboxItem,
    OutboxRepository,
    Relay,
    RelayRepository,
    StaleConversation,
    Triage,
    UnitOfWork,
    UnknownConcern,
    check_direction,
    check_error_name,
    check_outbox_item,
    plain_json,
    require_aware,
    triage_changes,
)
from storage.streaming import STREAM_BATCH, ConcernFilter
from storage.views import TeamViews

# A change to an outbox item, applied only while the item is still pending.
_OutboxChange = tuple[int, Callable[[OutboxItem], OutboxItem]]


def _copy(conversation: Conversation) -> Conversation:
    # replace() runs __post_init__ again, which copies the answers and their lists.
    return replace(conversation)


def _copy_entry(entry: AuditEntry) -> AuditEntry:
    return replace(entry, detail=plain_json(entry.detail))


def _copy_item(item: OutboxItem) -> OutboxItem:
    return replace(item, payload=plain_json(item.payload))


@dataclass
class _Tables:
    conversations: dict[str, Conversation] = field(default_factory=dict)
    concerns: dict[str, Concern] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    inbound: dict[str, datetime] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)  # pending only: reference -> status
    triage: dict[str, dict[str, Any]] = field(default_factory=dict)  # reference -> fields set
    outbox: dict[int, OutboxItem] = field(default_factory=dict)
    notes: dict[int, Note] = field(default_factory=dict)
    relays: dict[tuple[str, str], Relay] = field(default_factory=dict)
    warned: dict[str, datetime] = field(default_factory=dict)  # conversation key -> when
    kept_text: set[str] = field(default_factory=set)
    anonymised: dict[str, datetime] = field(default_factory=dict)
    unlinked: set[str] = field(default_factory=set)  # concerns whose identity is deleted


class MemoryStorage:
    """Storage that lives as long as the object does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables = _Tables()
        # Ids are handed out at once, like a sequence: a rolled-back unit of work leaves a gap.
        self._outbox_ids = itertools.count(1)
        self._note_ids = itertools.count(1)
        # Outbox items some open unit of work has taken with `due` (the SKIP LOCKED rows).
        self._claimed: set[int] = set()
        self._inbox = InboxTable()

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        work = _MemoryUnitOfWork(self)
        try:
            yield work  # an exception from the block propagates here and `work` is dropped
            work.commit()
        finally:
            work.release()

    def reading(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work as any other: memory's take turns on one lock, held briefly."""
        return self.unit_of_work()

    def close(self) -> None:
        """Nothing to release."""


class _MemoryUnitOfWork:
    def __init__(self, storage: MemoryStorage) -> None:
        self.storage = storage
        self.lock = storage._lock
        self.committed = storage._tables
        self.pending = _Tables()
        self.outbox_changes: list[_OutboxChange] = []
        self.claims: set[int] = set()
        self.deleted: set[str] = set()
        self.forget_inbound_before: datetime | None = None
        # Retention's rewrites of stored rows, applied at commit in order (this unit of work
        # does not see them before: the service reads, then rewrites, never the other way).
        self.later: list[Callable[[_Tables], None]] = []
        self.warning: set[str] = set()  # conversations marked warned in this unit of work
        # For each conversation this unit of work wrote: the version it found stored.
        self.seen_versions: dict[str, int] = {}
        self.conversations: ConversationRepository = _Conversations(self)
        self.concerns: ConcernRepository = _Concerns(self)
        self.audit: AuditLog = _AuditLog(self)
        self.inbound: InboundLog = _InboundLog(self)
        self.outbox: OutboxRepository = _Outbox(self)
        self.notes: NoteRepository = _Notes(self)
        self.relays: RelayRepository = _Relays(self)
        self._inbox = MemoryInbox(storage._inbox, storage._lock)
        self.inbox: InboxRepository = self._inbox
        self.views: TeamViews = MemoryViews(self.concerns)

    def release(self) -> None:
        with self.lock:
            self.storage._claimed -= self.claims
            self._inbox.release_claims()
        self.claims.clear()

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
            for chat, message_id in self.pending.relays:
                if (chat, message_id) in tables.relays:
                    raise DuplicateRelay(chat, message_id)
            for key in self.deleted:
                tables.conversations.pop(key, None)
                tables.warned.pop(key, None)
            for key in self.pending.conversations:
                tables.warned.pop(key, None)  # saved again: the warning no longer holds
            tables.conversations.update(self.pending.conversations)
            tables.concerns.update(self.pending.concerns)
            tables.unlinked |= self.pending.unlinked
            for reference, status in self.pending.statuses.items():
                tables.concerns[reference] = replace(tables.concerns[reference], status=status)
            for reference, changes in self.pending.triage.items():
                tables.triage.setdefault(reference, {}).update(changes)
            tables.audit.extend(self.pending.audit)
            for key, at in self.pending.inbound.items():
                tables.inbound.setdefault(key, at)
            if self.forget_inbound_before is not None:
                cutoff = self.forget_inbound_before
                tables.inbound = {k: at for k, at in tables.inbound.items() if at >= cutoff}
            tables.outbox.update(self.pending.outbox)
            _apply_outbox_changes(tables.outbox, self.outbox_changes)
            tables.notes.update(self.pending.notes)
            tables.relays.update(self.pending.relays)
            tables.relays = {
                at: relay
                for at, relay in tables.relays.items()
                if not (relay.reference in self.pending.unlinked and relay.direction == TO_TEAM)
            }
            for rewrite in self.later:
                rewrite(tables)
            self._inbox.apply()

    def outbox_view(self) -> dict[int, OutboxItem]:
        """The outbox as this unit of work sees it (call with the lock held)."""
        view = {**self.committed.outbox, **self.pending.outbox}
        _apply_outbox_changes(view, self.outbox_changes)
        return view


def _apply_outbox_changes(items: dict[int, OutboxItem], changes: list[_OutboxChange]) -> None:
    # As the SQL backend's "UPDATE ... WHERE status = 'pending'": a change that finds the
    # item already sent or dead by the time it commits does nothing.
    for id, change in changes:
        item = items.get(id)
        if item is not None and item.status == PENDING:
            items[id] = change(item)


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

    def get_each(self, keys: Sequence[str]) -> list[Conversation | None]:
        return [self.get(key) for key in keys]

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

    def delete(self, key: str, version: int | None = None) -> None:
        work = self._work
        if version is not None:
            current = self.get(key)
            if (0 if current is None else current.version) != version:
                raise StaleConversation(key)
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

    def untouched_since(self, cutoff: datetime, unwarned: bool = False) -> list[Conversation]:
        work = self._work
        cutoff = require_aware(cutoff)
        with work.lock:
            stored = dict(work.committed.conversations)
            warned = set(work.committed.warned)
        stored.update(work.pending.conversations)
        fresh = work.pending.conversations  # saved in this unit of work: no warning holds
        old = [c for k, c in stored.items() if k not in work.deleted and c.updated_at < cutoff
               and not (unwarned and k in warned and k not in fresh)]  # fmt: skip
        old.sort(key=lambda c: (c.updated_at, c.key))
        return [_copy(c) for c in old]

    def mark_warned(self, key: str, at: datetime) -> bool:
        moment = require_aware(at)
        work = self._work
        with work.lock:
            warned = key in work.committed.warned and key not in work.pending.conversations
        if warned or key in work.warning or self.get(key) is None:
            return False
        work.warning.add(key)

        def warn(tables: _Tables) -> None:
            if key in tables.conversations:
                tables.warned[key] = moment

        self._work.later.append(warn)
        return True


def _unlinked(concern: Concern) -> Concern:
    """As a concern reads once its identity record is deleted (see `storage.sql`)."""
    return replace(concern, owner="", reporter_name=None, reporter_contact=None)


class _Concerns:
    def __init__(self, work: _MemoryUnitOfWork) -> None:
        self._work = work

    def _visible(self) -> list[Concern]:
        work = self._work
        with work.lock:
            stored = list(work.committed.concerns.values())
            unlinked = work.committed.unlinked | work.pending.unlinked
        every = stored + list(work.pending.concerns.values())
        statuses = work.pending.statuses
        return [
            _unlinked(replace(c, status=statuses.get(c.reference, c.status)))
            if c.reference in unlinked
            else replace(c, status=statuses.get(c.reference, c.status))
            for c in every
        ]

    def add(self, concern: Concern) -> None:
        if self.get(concern.reference) is not None:
            raise DuplicateReference(concern.reference)
        saved = replace(concern, created_at=require_aware(concern.created_at))
        self._work.pending.concerns[concern.reference] = saved

    def get(self, reference: str) -> Concern | None:
        # Concerns are immutable all the way down, so they need no copying.
        return next((c for c in self._visible() if c.reference == reference), None)

    def for_owner(self, owner: str) -> list[Concern]:
        mine = [c for c in self._visible() if c.owner == owner]  # an unlinked one has ""
        mine.reverse()  # later additions first among equal times, as the SQL id order
        mine.sort(key=lambda c: c.created_at, reverse=True)
        return mine

    def unlink(self, reference: str) -> bool:
        concern = self.get(reference)
        if concern is None:
            raise UnknownConcern(reference)
        if self._is_unlinked(reference):
            return False
        self._work.pending.unlinked.add(reference)
        return True

    def forget_owner(self, owner: str) -> list[str]:
        references = [c.reference for c in self.for_owner(owner)]
        self._work.pending.unlinked.update(references)
        return references

    def _is_unlinked(self, reference: str) -> bool:
        work = self._work
        with work.lock:
            return reference in work.committed.unlinked or reference in work.pending.unlinked

    def count(self) -> int:
        return len(self._visible())

    def _require(self, reference: str) -> None:
        if self.get(reference) is None:
            raise UnknownConcern(reference)

    def set_status(self, reference: str, status: str) -> None:
        self._require(reference)
        self._work.pending.statuses[reference] = status

    def set_triage(self, reference: str, **fields: datetime | str | None) -> None:
        changes = triage_changes(fields)
        self._require(reference)
        self._work.pending.triage.setdefault(reference, {}).update(changes)

    def forget_identity(self, reference: str) -> None:
        self.unlink(reference)  # raises UnknownConcern; its relays in the reporter's chat go
        self._work.later.append(lambda tables: _unlink(tables, reference))

    def keep_text(self, reference: str, keep: bool) -> None:
        self._require(reference)

        def mark(tables: _Tables) -> None:
            (tables.kept_text.add if keep else tables.kept_text.discard)(reference)

        self._work.later.append(mark)

    def due_for_anonymising(self, closed_before: datetime) -> list[str]:
        cutoff = require_aware(closed_before)
        with self._work.lock:
            done = set(self._work.committed.anonymised)
        due = []
        for concern in self._visible():
            closed = (self.triage(concern.reference) or Triage(concern.reference)).closed_at
            if closed is not None and closed < cutoff and concern.reference not in done:
                due.append((closed, concern.reference))
        return [reference for _, reference in sorted(due)]

    def anonymise(self, reference: str, at: datetime) -> bool:
        self.unlink(reference)
        moment = require_aware(at)
        with self._work.lock:
            kept = reference in self._work.committed.kept_text

        def rewrite(tables: _Tables) -> None:
            _unlink(tables, reference)
            if reference not in tables.kept_text:
                tables.concerns[reference] = replace(
                    tables.concerns[reference], description="", organisation_other=None,
                    site=None, programme=None, controls_detail=None, further_actions=None,
                )  # fmt: skip
            tables.anonymised[reference] = moment

        self._work.later.append(rewrite)
        return kept

    def triage(self, reference: str) -> Triage | None:
        if self.get(reference) is None:
            return None
        work = self._work
        with work.lock:
            fields = dict(work.committed.triage.get(reference, {}))
        fields.update(work.pending.triage.get(reference, {}))
        return Triage(reference=reference, **fields)

    def search(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        status: str | None = None,
        organisation: str | None = None,
        open_only: bool = False,
    ) -> list[Concern]:
        since = None if since is None else require_aware(since)
        until = None if until is None else require_aware(until)
        found = []
        for concern in self._visible():
            if since is not None and concern.created_at < since:
                continue
            if until is not None and concern.created_at >= until:
                continue
            if status is not None and concern.status != status:
                continue
            if organisation is not None and concern.organisation != organisation:
                continue
            if open_only:
                triage = self.triage(concern.reference)
                if concern.status == CLOSED or (triage is not None and triage.closed_at):
                    continue
            found.append(concern)
        found.reverse()  # later additions first among equal times, as the SQL id order
        found.sort(key=lambda c: c.created_at, reverse=True)
        return found

    def stream(self, chosen: ConcernFilter, batch: int = STREAM_BATCH) -> Iterator[Concern]:
        # Everything is in memory already: no batches to read, only the filter to apply.
        return (chosen.seen(concern) for concern in self.search() if chosen.admits(concern))

    def tally(self, chosen: ConcernFilter) -> int:
        return sum(1 for _ in self.stream(chosen))


def _unlink(tables: _Tables, reference: str) -> None:
    tables.concerns[reference] = replace(
        tables.concerns[reference], owner=NO_OWNER, identity="anonymous",
        reporter_name=None, reporter_contact=None,
    )  # fmt: skip


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

    def forget_before(self, at: datetime) -> int:
        work = self._work
        cutoff = require_aware(at)
        work.forget_inbound_before = cutoff
        with work.lock:
            return sum(1 for seen in work.committed.inbound.values() if seen < cutoff)


class _Outbox:
    def __init__(self, work: _MemoryUnitOfWork) -> None:
        self._work = work

    def add(self, item: OutboxItem) -> int:
        work = self._work
        with work.lock:
            id = next(work.storage._outbox_ids)
        work.pending.outbox[id] = _copy_item(replace(check_outbox_item(item), id=id))
        return id

    def get(self, id: int) -> OutboxItem | None:
        with self._work.lock:
            item = self._work.outbox_view().get(id)
        return None if item is None else _copy_item(item)

    def due(
        self, now: datetime, limit: int, kinds: Collection[str] | None = None
    ) -> list[OutboxItem]:
        work = self._work
        now = require_aware(now)
        with work.lock:
            taken_by_others = work.storage._claimed - work.claims
            ready = [
                item
                for item in work.outbox_view().values()
                if item.status == PENDING
                and item.next_attempt_at <= now
                and (kinds is None or item.kind in kinds)
                and item.id not in taken_by_others
            ]
            ready.sort(key=lambda item: (item.next_attempt_at, item.id))
            chosen = ready[: max(limit, 0)]
            ids = {item.id for item in chosen}
            work.claims |= ids
            work.storage._claimed |= ids
        return [_copy_item(item) for item in chosen]

    def _change(self, id: int, change: Callable[[OutboxItem], OutboxItem]) -> bool:
        work = self._work
        with work.lock:
            item = work.outbox_view().get(id)
        if item is None or item.status != PENDING:
            return False
        work.outbox_changes.append((id, change))
        return True

    def reschedule(self, id: int, next_attempt_at: datetime) -> bool:
        at = require_aware(next_attempt_at)
        return self._change(id, lambda item: replace(item, next_attempt_at=at))

    def mark_sent(self, id: int, at: datetime, external_id: str | None) -> bool:
        sent_at = require_aware(at)
        return self._change(
            id, lambda item: replace(item, status=SENT, sent_at=sent_at, external_id=external_id)
        )

    def mark_retry(self, id: int, next_attempt_at: datetime, error: str) -> bool:
        at, name = require_aware(next_attempt_at), check_error_name(error)
        return self._change(
            id,
            lambda item: replace(
                item, attempts=item.attempts + 1, next_attempt_at=at, last_error=name
            ),
        )

    def mark_dead(self, id: int, error: str) -> bool:
        name = check_error_name(error)
        return self._change(
            id,
            lambda item: replace(item, status=DEAD, attempts=item.attempts + 1, last_error=name),
        )

    def for_reference(self, reference: str) -> list[OutboxItem]:
        with self._work.lock:
            view = self._work.outbox_view()
        mine = sorted((i for i in view.values() if i.reference == reference), key=lambda i: i.id)
        return [_copy_item(item) for item in mine]

    def counts(self) -> dict[tuple[str, str], int]:
        with self._work.lock:
            view = self._work.outbox_view()
        return dict(Counter((item.kind, item.status) for item in view.values()))

    def dead(self, limit: int) -> list[OutboxItem]:
        with self._work.lock:
            view = self._work.outbox_view()
        given_up = sorted((i for i in view.values() if i.status == DEAD), key=lambda i: -i.id)
        return [_copy_item(item) for item in given_up[: max(limit, 0)]]

    def cancel(self, id: int) -> bool:
        return self._change(id, lambda item: replace(item, status=CANCELLED))

    def forget_payloads(self, reference: str, kinds: Collection[str] | None = None) -> int:
        chosen = [item.id for item in self.for_reference(reference)
                  if item.status != PENDING and (kinds is None or item.kind in kinds)]  # fmt: skip

        def empty(tables: _Tables) -> None:
            for id in chosen:
                tables.outbox[id] = replace(tables.outbox[id], payload={})

        self._work.later.append(empty)
        return len(chosen)


class _Notes:
    def __init__(self, work: _MemoryUnitOfWork) -> None:
        self._work = work

    def add(self, reference: str, at: datetime, author: str, text: str) -> int:
        work = self._work
        moment = require_aware(at)
        with work.lock:
            id = next(work.storage._note_ids)
        note = Note(id=id, reference=reference, at=moment, author=author, text=text)
        work.pending.notes[id] = note
        return id

    def for_reference(self, reference: str) -> list[Note]:
        work = self._work
        with work.lock:
            every = {**work.committed.notes, **work.pending.notes}
        return [every[id] for id in sorted(every) if every[id].reference == reference]

    def forget(self, reference: str) -> int:
        work = self._work
        gone = [note.id for note in self.for_reference(reference)]
        for id in gone:
            work.pending.notes.pop(id, None)

        def drop(tables: _Tables) -> None:
            for id in gone:
                tables.notes.pop(id, None)

        work.later.append(drop)
        return len(gone)


class _Relays:
    def __init__(self, work: _MemoryUnitOfWork) -> None:
        self._work = work

    def add(self, reference: str, direction: str, chat: str, message_id: str, at: datetime) -> None:
        relay = Relay(
            reference=reference,
            direction=check_direction(direction),
            chat=chat,
            message_id=message_id,
            at=require_aware(at),
        )
        if self.find(chat, message_id) is not None:
            raise DuplicateRelay(chat, message_id)
        self._work.pending.relays[(chat, message_id)] = relay

    def find(self, chat: str, message_id: str) -> Relay | None:
        work = self._work
        if (chat, message_id) in work.pending.relays:
            return work.pending.relays[(chat, message_id)]
        with work.lock:
            return work.committed.relays.get((chat, message_id))

    def forget(self, reference: str, direction: str) -> int:
        work = self._work
        check_direction(direction)
        with work.lock:
            every = {**work.committed.relays, **work.pending.relays}
        gone = [
            k for k, r in every.items() if r.reference == reference and r.direction == direction
        ]
        for key in gone:
            work.pending.relays.pop(key, None)

        def drop(tables: _Tables) -> None:
            for key in gone:
                tables.relays.pop(key, None)

        work.later.append(drop)
        return len(gone)
