"""What the bot may ask of storage (small Protocols), and the SQL implementation of it.

A unit of work is one transaction: its repositories read and write through one session and
never commit; the storage that opened it commits when the block ends normally and rolls
back when it raises. `memory.MemoryStorage` implements the same interfaces for tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, func, select, update

from dialogues.records import CONCERN_FIELDS, Advice, Concern, Conversation
from storage.tables import AuditRow, ConcernRow, ConversationRow, InboundRow


class StaleConversation(Exception):
    """Someone else saved this conversation since it was loaded (optimistic concurrency)."""


class DuplicateReference(Exception):
    """A concern with this reference is already stored."""


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log; `actor` is a role or an id, never a name."""

    at: datetime
    actor: str
    action: str
    reference: str | None
    detail: Mapping[str, Any]


class ConversationRepository(Protocol):
    def get(self, key: str) -> Conversation | None: ...

    def put(self, conversation: Conversation) -> Conversation:
        """Write it if the stored version equals `conversation.version` (0: not stored yet).

        Returns it with the version moved on by one; raises StaleConversation otherwise.
        """
        ...

    def delete(self, key: str) -> None: ...

    def for_owner(self, owner: str) -> list[Conversation]:
        """The owner's conversations, most recently updated first."""
        ...


class ConcernRepository(Protocol):
    def add(self, concern: Concern) -> None:
        """Store a new concern; DuplicateReference if its reference is taken."""
        ...

    def get(self, reference: str) -> Concern | None: ...

    def for_owner(self, owner: str) -> list[Concern]:
        """The owner's concerns, newest first."""
        ...

    def count(self) -> int: ...


class AuditLog(Protocol):
    def record(self, entry: AuditEntry) -> None: ...

    def entries(self, reference: str | None = None) -> list[AuditEntry]:
        """Entries in the order they were recorded, optionally for one reference only."""
        ...


class InboundLog(Protocol):
    def first_time(self, key: str, at: datetime) -> bool:
        """True, and remembers the key, the first time it is seen; False after that."""
        ...


class UnitOfWork(Protocol):
    conversations: ConversationRepository
    concerns: ConcernRepository
    audit: AuditLog
    inbound: InboundLog


class Storage(Protocol):
    def unit_of_work(self) -> contextlib.AbstractContextManager[UnitOfWork]:
        """One transaction: committed when the block exits normally, rolled back on error."""
        ...

    def close(self) -> None: ...


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a zone-less value (as SQLite returns) is taken to be UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def require_aware(moment: datetime) -> datetime:
    """UTC for storing; a zone-less value is refused because its meaning is unknown."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("storage keeps timezone-aware datetimes only")
    return moment.astimezone(UTC)


# Rows <-> records ------------------------------------------------------------------------

_TUPLE_FIELDS = ("topics", "standards", "controls", "told")


def _conversation_values(conversation: Conversation) -> dict[str, Any]:
    return {
        "key": conversation.key,
        "owner": conversation.owner,
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
    }


def _to_conversation(row: ConversationRow) -> Conversation:
    return Conversation(
        key=row.key,
        owner=row.owner,
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


def _to_concern_row(concern: Concern) -> ConcernRow:
    values: dict[str, Any] = {name: getattr(concern, name) for name in CONCERN_FIELDS}
    for name in _TUPLE_FIELDS:
        values[name] = list(values[name])
    values["advice"] = concern.advice.to_dict()
    values["created_at"] = require_aware(concern.created_at)
    return ConcernRow(**values)


def _to_concern(row: ConcernRow) -> Concern:
    values = row.model_dump(exclude={"id"})
    for name in _TUPLE_FIELDS:
        values[name] = tuple(values[name])
    values["advice"] = Advice.from_dict(row.advice)
    values["created_at"] = as_utc(row.created_at)
    return Concern(**values)


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


@contextlib.contextmanager
def _savepoint(session: Session) -> Iterator[None]:
    """A nested transaction, so a failed insert leaves the unit of work usable."""
    with session.begin_nested():
        yield


# SQL implementations ---------------------------------------------------------------------


class SqlConversations:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, key: str) -> Conversation | None:
        statement = select(ConversationRow).where(col(ConversationRow.key) == key)
        # populate_existing: another transaction may have moved the row on since we last
        # read it, and the identity map would otherwise hand back the old copy.
        row = self._session.exec(statement.execution_options(populate_existing=True)).first()
        return None if row is None else _to_conversation(row)

    def put(self, conversation: Conversation) -> Conversation:
        saved = replace(conversation, version=conversation.version + 1)
        values = _conversation_values(saved)
        if conversation.version == 0:
            try:
                with _savepoint(self._session):
                    self._session.add(ConversationRow(**values))
            except IntegrityError as error:
                raise StaleConversation(conversation.key) from error
            return saved
        statement = (
            update(ConversationRow)
            .where(col(ConversationRow.key) == conversation.key)
            .where(col(ConversationRow.version) == conversation.version)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if self._session.exec(statement).rowcount != 1:
            raise StaleConversation(conversation.key)
        return saved

    def delete(self, key: str) -> None:
        statement = delete(ConversationRow).where(col(ConversationRow.key) == key)
        self._session.exec(statement.execution_options(synchronize_session=False))

    def for_owner(self, owner: str) -> list[Conversation]:
        statement = (
            select(ConversationRow)
            .where(col(ConversationRow.owner) == owner)
            .order_by(col(ConversationRow.updated_at).desc(), col(ConversationRow.key))
            .execution_options(populate_existing=True)
        )
        return [_to_conversation(row) for row in self._session.exec(statement)]


class SqlConcerns:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, concern: Concern) -> None:
        if self.get(concern.reference) is not None:
            raise DuplicateReference(concern.reference)
        try:
            with _savepoint(self._session):
                self._session.add(_to_concern_row(concern))
        except IntegrityError as error:
            # Lost a race with another transaction, or something else is wrong: only the
            # first is a duplicate.
            if self.get(concern.reference) is not None:
                raise DuplicateReference(concern.reference) from error
            raise

    def get(self, reference: str) -> Concern | None:
        statement = select(ConcernRow).where(col(ConcernRow.reference) == reference)
        row = self._session.exec(statement).first()
        return None if row is None else _to_concern(row)

    def for_owner(self, owner: str) -> list[Concern]:
        statement = (
            select(ConcernRow)
            .where(col(ConcernRow.owner) == owner)
            .order_by(col(ConcernRow.created_at).desc(), col(ConcernRow.id).desc())
        )
        return [_to_concern(row) for row in self._session.exec(statement)]

    def count(self) -> int:
        return self._session.exec(select(func.count()).select_from(ConcernRow)).one()


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


class SqlInboundLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def first_time(self, key: str, at: datetime) -> bool:
        if self._session.get(InboundRow, key) is not None:
            return False
        try:
            with _savepoint(self._session):
                self._session.add(InboundRow(key=key, seen_at=require_aware(at)))
        except IntegrityError:
            return False  # another transaction saw it first
        return True


class SqlUnitOfWork:
    """The repositories of one transaction, sharing one session."""

    def __init__(self, session: Session) -> None:
        self.conversations: ConversationRepository = SqlConversations(session)
        self.concerns: ConcernRepository = SqlConcerns(session)
        self.audit: AuditLog = SqlAuditLog(session)
        self.inbound: InboundLog = SqlInboundLog(session)
