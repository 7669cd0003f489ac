"""The SQL implementation of the storage interfaces, over one SQLModel session.

Repositories never commit: `database.SqlStorage` opens one session and transaction per
unit of work and commits or rolls it back. Rows never leave this module; everything handed
out is a record from `dialogues.records` or `storage.repositories`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, func, select, update

from dialogues.records import Conversation
from storage.identity import CHAT, CONVERSATION, OWNER, Hasher
from storage.repositories import (
    CANCELLED,
    DEAD,
    PENDING,
    SENT,
    AuditEntry,
    AuditLog,
    ConcernRepository,
    ConversationRepository,
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
    as_utc,
    check_direction,
    check_error_name,
    check_outbox_item,
    plain_json,
    require_aware,
)
from storage.sql_concerns import SqlConcerns
from storage.sql_inbox import SqlInbox
from storage.sql_views import SqlViews
from storage.tables import (
    AuditRow,
    ConversationRow,
    InboundRow,
    NoteRow,
    OutboxRow,
    RelayRow,
)
from storage.views import TeamViews

# Rows <-> records ------------------------------------------------------------------------


def _conversation_values(conversation: Conversation, hasher: Hasher) -> dict[str, Any]:
    return {
        "key": hasher.of(CONVERSATION, conversation.key),
        "owner": hasher.of(OWNER, conversation.owner),
        "reach": {"key": conversation.key, "owner": conversation.owner},
        "journey": conversation.journey,
        "state": conversation.state,
        "answers": {
            name: list(value) if isinstance(value, list) else value
            for name, value in conversation.answers.items()
        },
        "trail": list(conversation.trail),
        "editing": conversation.editing,
        "paused": conversation.paused,
        "interrupt": conversation.interrupt,
        "version": conversation.version,
        "created_at": require_aware(conversation.created_at),
        "updated_at": require_aware(conversation.updated_at),
        "warned_at": None,  # touched again: a warning given before no longer holds
    }


def _to_conversation(row: ConversationRow | Row[Any]) -> Conversation:
    return Conversation(
        key=str(row.reach["key"]),
        owner=str(row.reach["owner"]),
        journey=row.journey,
        state=row.state,
        answers=dict(row.answers),
        trail=tuple(row.trail),
        editing=row.editing,
        paused=row.paused,
        interrupt=row.interrupt,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def _to_audit_row(entry: AuditEntry) -> AuditRow:
    return AuditRow(
        at=require_aware(entry.at),
        actor=entry.actor,
        action=entry.action,
        reference=entry.reference,
        detail=dict(entry.detail),
    )


def _to_audit_entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        at=as_utc(row.at),
        actor=row.actor,
        action=row.action,
        reference=row.reference,
        detail=dict(row.detail),
    )


def _to_outbox_item(row: OutboxRow) -> OutboxItem:
    assert row.id is not None  # read back from the table, so it has one
    return OutboxItem(
        id=row.id,
        kind=row.kind,
        reference=row.reference,
        payload=dict(row.payload),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=as_utc(row.next_attempt_at),
        last_error=row.last_error,
        created_at=as_utc(row.created_at),
        sent_at=None if row.sent_at is None else as_utc(row.sent_at),
        external_id=row.external_id,
    )


@contextlib.contextmanager
def _savepoint(session: Session) -> Iterator[None]:
    """A nested transaction, so a failed insert leaves the unit of work usable."""
    with session.begin_nested():
        yield


# SQL implementations ---------------------------------------------------------------------

# A turn reads a chat's two conversations and writes one: through the table itself, in
# statements made once, as the ORM's loading and statement building cost more than the
# database's own work. The encrypted columns seal and open the same either way.
_CONVERSATIONS: Table = ConversationRow.__table__  # type: ignore[attr-defined]  # SQLModel's
_GET_CONVERSATION = _CONVERSATIONS.select().where(_CONVERSATIONS.c.key == bindparam("of_key"))
_GET_CONVERSATIONS = _CONVERSATIONS.select().where(
    _CONVERSATIONS.c.key.in_(bindparam("of_keys", expanding=True))
)
_PUT_CONVERSATION = update(_CONVERSATIONS).where(
    _CONVERSATIONS.c.key == bindparam("of_key"),
    _CONVERSATIONS.c.version == bindparam("of_version"),
)  # the columns set are the parameters given


class SqlConversations:
    """Rows keyed by the keyed hashes of the conversation's key and owner."""

    def __init__(self, session: Session, hasher: Hasher) -> None:
        self._session = session
        self._hasher = hasher

    def _key(self, key: str) -> str:
        return self._hasher.of(CONVERSATION, key)

    def get(self, key: str) -> Conversation | None:
        # Read through the table, not the ORM: no identity map to hand back an old copy of
        # a row another transaction has moved on since.
        found = self._session.connection().execute(_GET_CONVERSATION, {"of_key": self._key(key)})
        row = found.first()
        return None if row is None else _to_conversation(row)

    def get_each(self, keys: Sequence[str]) -> list[Conversation | None]:
        hashed = {self._key(key): key for key in keys}
        found = self._session.connection().execute(_GET_CONVERSATIONS, {"of_keys": list(hashed)})
        rows = {hashed[row.key]: _to_conversation(row) for row in found}
        return [rows.get(key) for key in keys]

    def put(self, conversation: Conversation) -> Conversation:
        saved = replace(conversation, version=conversation.version + 1)
        values = _conversation_values(saved, self._hasher)
        if conversation.version == 0:
            try:
                with _savepoint(self._session):
                    # Asked for inside the savepoint: that is when the session sets it.
                    self._session.connection().execute(insert(_CONVERSATIONS), values)
            except IntegrityError as error:
                raise StaleConversation(conversation.key) from error
            return saved
        matched = {"of_key": values["key"], "of_version": conversation.version}
        updated = self._session.connection().execute(_PUT_CONVERSATION, values | matched)
        if updated.rowcount != 1:
            raise StaleConversation(conversation.key)
        return saved

    def delete(self, key: str, version: int | None = None) -> None:
        statement = delete(ConversationRow).where(col(ConversationRow.key) == self._key(key))
        if version is not None:
            statement = statement.where(col(ConversationRow.version) == version)
        result = self._session.exec(statement.execution_options(synchronize_session=False))
        if version is not None and result.rowcount != 1:
            raise StaleConversation(key)

    def for_owner(self, owner: str) -> list[Conversation]:
        statement = (
            select(ConversationRow)
            .where(col(ConversationRow.owner) == self._hasher.of(OWNER, owner))
            .order_by(col(ConversationRow.updated_at).desc(), col(ConversationRow.key))
            .execution_options(populate_existing=True)
        )
        return [_to_conversation(row) for row in self._session.exec(statement)]

    def untouched_since(self, cutoff: datetime, unwarned: bool = False) -> list[Conversation]:
        statement = select(ConversationRow).where(
            col(ConversationRow.updated_at) < require_aware(cutoff)
        )
        if unwarned:
            statement = statement.where(col(ConversationRow.warned_at).is_(None))
        statement = statement.order_by(
            col(ConversationRow.updated_at), col(ConversationRow.key)
        ).execution_options(populate_existing=True)
        return [_to_conversation(row) for row in self._session.exec(statement)]

    def mark_warned(self, key: str, at: datetime) -> bool:
        # Conditional, so that of two sweeps racing the second waits for the first's row
        # lock, then finds it warned (PostgreSQL reads the row again after the wait).
        statement = (
            update(ConversationRow)
            .where(col(ConversationRow.key) == self._key(key))
            .where(col(ConversationRow.warned_at).is_(None))
            .values(warned_at=require_aware(at))
            .execution_options(synchronize_session=False)
        )
        return bool(self._session.exec(statement).rowcount == 1)


class SqlAuditLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, entry: AuditEntry) -> None:
        self._session.add(_to_audit_row(entry))

    def entries(self, reference: str | None = None) -> list[AuditEntry]:
        statement = select(AuditRow).order_by(col(AuditRow.id))
        if reference is not None:
            statement = statement.where(col(AuditRow.reference) == reference)
        return [_to_audit_entry(row) for row in self._session.exec(statement)]


# Every turn asks whether its update is new: one statement that inserts unless it is there.
_INBOUND: Table = InboundRow.__table__  # type: ignore[attr-defined]  # SQLModel's
_SEE_ONCE = {
    name: insert_for(_INBOUND).on_conflict_do_nothing().execution_options(preserve_rowcount=True)
    for name, insert_for in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}


class SqlInboundLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def first_time(self, key: str, at: datetime) -> bool:
        connection = self._session.connection()
        once = _SEE_ONCE.get(connection.dialect.name)
        if once is not None:  # a row there already, or being written, inserts nothing
            values = {"key": key, "seen_at": require_aware(at)}
            return bool(connection.execute(once, values).rowcount == 1)
        if self._session.get(InboundRow, key) is not None:
            return False
        try:
            with _savepoint(self._session):
                self._session.add(InboundRow(key=key, seen_at=require_aware(at)))
        except IntegrityError:
            return False  # another transaction saw it first
        return True

    def forget_before(self, at: datetime) -> int:
        result = self._session.exec(
            delete(InboundRow).where(col(InboundRow.seen_at) < require_aware(at))
        )
        return int(result.rowcount or 0)


# Set in a session's info when its transaction queued an outbox item (see SqlStorage).
QUEUED = "outbox_queued"


class SqlOutbox:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, item: OutboxItem) -> int:
        checked = check_outbox_item(item)
        row = OutboxRow(
            kind=checked.kind,
            reference=checked.reference,
            payload=plain_json(checked.payload),
            status=checked.status,
            attempts=checked.attempts,
            next_attempt_at=checked.next_attempt_at,
            last_error=checked.last_error,
            created_at=checked.created_at,
            sent_at=checked.sent_at,
            external_id=checked.external_id,
        )
        self._session.add(row)
        self._session.flush()  # to learn the id
        assert row.id is not None
        self._session.info[QUEUED] = True
        return row.id

    def get(self, id: int) -> OutboxItem | None:
        row = self._session.get(OutboxRow, id, populate_existing=True)
        return None if row is None else _to_outbox_item(row)

    def due(
        self, now: datetime, limit: int, kinds: Collection[str] | None = None
    ) -> list[OutboxItem]:
        statement = select(OutboxRow).where(
            col(OutboxRow.status) == PENDING,
            col(OutboxRow.next_attempt_at) <= require_aware(now),
        )
        if kinds is not None:
            statement = statement.where(col(OutboxRow.kind).in_(list(kinds)))
        statement = (
            statement.order_by(col(OutboxRow.next_attempt_at), col(OutboxRow.id))
            .limit(limit)
            # PostgreSQL: FOR UPDATE SKIP LOCKED. SQLite has no row locks and ignores this;
            # there BEGIN IMMEDIATE makes whole transactions take turns instead.
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return [_to_outbox_item(row) for row in self._session.exec(statement)]

    def _update_pending(self, id: int, **values: Any) -> bool:
        statement = (
            update(OutboxRow)
            .where(col(OutboxRow.id) == id, col(OutboxRow.status) == PENDING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(self._session.exec(statement).rowcount == 1)

    def reschedule(self, id: int, next_attempt_at: datetime) -> bool:
        return self._update_pending(id, next_attempt_at=require_aware(next_attempt_at))

    def mark_sent(self, id: int, at: datetime, external_id: str | None) -> bool:
        return self._update_pending(
            id, status=SENT, sent_at=require_aware(at), external_id=external_id
        )

    def mark_retry(self, id: int, next_attempt_at: datetime, error: str) -> bool:
        return self._update_pending(
            id,
            attempts=col(OutboxRow.attempts) + 1,
            next_attempt_at=require_aware(next_attempt_at),
            last_error=check_error_name(error),
        )

    def mark_dead(self, id: int, error: str) -> bool:
        return self._update_pending(
            id,
            status=DEAD,
            attempts=col(OutboxRow.attempts) + 1,
            last_error=check_error_name(error),
        )

    def for_reference(self, reference: str) -> list[OutboxItem]:
        statement = (
            select(OutboxRow)
            .where(col(OutboxRow.reference) == reference)
            .order_by(col(OutboxRow.id))
            .execution_options(populate_existing=True)
        )
        return [_to_outbox_item(row) for row in self._session.exec(statement)]

    def counts(self) -> dict[tuple[str, str], int]:
        statement = select(OutboxRow.kind, OutboxRow.status, func.count()).group_by(
            col(OutboxRow.kind), col(OutboxRow.status)
        )
        return {(kind, status): n for kind, status, n in self._session.exec(statement)}

    def dead(self, limit: int) -> list[OutboxItem]:
        statement = (
            select(OutboxRow)
            .where(col(OutboxRow.status) == DEAD)
            .order_by(col(OutboxRow.id).desc())
            .limit(limit)
            .execution_options(populate_existing=True)
        )
        return [_to_outbox_item(row) for row in self._session.exec(statement)]

    def cancel(self, id: int) -> bool:
        return self._update_pending(id, status=CANCELLED)

    def forget_payloads(self, reference: str, kinds: Collection[str] | None = None) -> int:
        statement = (
            update(OutboxRow)
            .where(col(OutboxRow.reference) == reference, col(OutboxRow.status) != PENDING)
            .values(payload={})
            .execution_options(synchronize_session=False)
        )
        if kinds is not None:
            statement = statement.where(col(OutboxRow.kind).in_(list(kinds)))
        return int(self._session.exec(statement).rowcount or 0)


class SqlNotes:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, reference: str, at: datetime, author: str, text: str) -> int:
        row = NoteRow(reference=reference, at=require_aware(at), author=author, text=text)
        self._session.add(row)
        self._session.flush()  # to learn the id
        assert row.id is not None
        return row.id

    def for_reference(self, reference: str) -> list[Note]:
        statement = (
            select(NoteRow).where(col(NoteRow.reference) == reference).order_by(col(NoteRow.id))
        )
        return [
            Note(
                id=row.id,
                reference=row.reference,
                at=as_utc(row.at),
                author=row.author,
                text=row.text,
            )
            for row in self._session.exec(statement)
            if row.id is not None
        ]

    def forget(self, reference: str) -> int:
        result = self._session.exec(delete(NoteRow).where(col(NoteRow.reference) == reference))
        return int(result.rowcount or 0)


class SqlRelays:
    """Relays by the keyed hash of their chat: given the chat, they are found again."""

    def __init__(self, session: Session, hasher: Hasher) -> None:
        self._session = session
        self._hasher = hasher

    def add(self, reference: str, direction: str, chat: str, message_id: str, at: datetime) -> None:
        row = RelayRow(
            reference=reference,
            direction=check_direction(direction),
            chat=self._hasher.of(CHAT, chat),
            message_id=message_id,
            at=require_aware(at),
        )
        if self.find(chat, message_id) is not None:
            raise DuplicateRelay(chat, message_id)
        try:
            with _savepoint(self._session):
                self._session.add(row)
        except IntegrityError as error:
            if self.find(chat, message_id) is not None:
                raise DuplicateRelay(chat, message_id) from error
            raise

    def find(self, chat: str, message_id: str) -> Relay | None:
        statement = select(RelayRow).where(
            col(RelayRow.chat) == self._hasher.of(CHAT, chat),
            col(RelayRow.message_id) == message_id,
        )
        row = self._session.exec(statement).first()
        if row is None:
            return None
        return Relay(
            reference=row.reference,
            direction=row.direction,
            chat=chat,
            message_id=row.message_id,
            at=as_utc(row.at),
        )

    def forget(self, reference: str, direction: str) -> int:
        result = self._session.exec(
            delete(RelayRow).where(
                col(RelayRow.reference) == reference,
                col(RelayRow.direction) == check_direction(direction),
            )
        )
        return int(result.rowcount or 0)


class SqlUnitOfWork:
    """The repositories of one transaction, sharing one session."""

    def __init__(self, session: Session, hasher: Hasher) -> None:
        self.conversations: ConversationRepository = SqlConversations(session, hasher)
        self.concerns: ConcernRepository = SqlConcerns(session, hasher)
        self.audit: AuditLog = SqlAuditLog(session)
        self.inbound: InboundLog = SqlInboundLog(session)
        self.outbox: OutboxRepository = SqlOutbox(session)
        self.notes: NoteRepository = SqlNotes(session)
        self.relays: RelayRepository = SqlRelays(session, hasher)
        self.inbox: InboxRepository = SqlInbox(session, hasher)
        self.views: TeamViews = SqlViews(session)
