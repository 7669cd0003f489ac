"""Every table the bot keeps, as SQLModel table models, in one place.

Rows are plain storage shapes: the repositories turn them into `dialogues.records` values
and back, so nothing outside `storage/` ever sees one. Lists and mappings live in JSON
columns (the same type on SQLite and PostgreSQL); datetimes are written in UTC.

What a learner or the team wrote, and anything that carries it, is in encrypted columns
(`_encrypted`, `_encrypted_json`, see `storage.encrypted`): plain here, sealed on disk.
Such a column cannot be searched; `storage.rotation` finds them all by their type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, case, literal_column
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel

from storage.encrypted import EncryptedJSON, EncryptedText
from storage.views import BAND_ORDER


def _utc_column() -> Any:
    # SQLite keeps no zone; the repositories put UTC back on read.
    return Field(sa_column=Column(DateTime(timezone=True), nullable=False))


def _optional_utc_column() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


def _json_column() -> Any:
    return Field(sa_column=Column(JSON, nullable=False))


def _encrypted(*, nullable: bool = True) -> Any:
    """Text someone wrote, sealed at rest."""
    if nullable:
        return Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    return Field(sa_column=Column(EncryptedText, nullable=False))


def _encrypted_json() -> Any:
    """A mapping that holds what someone wrote, sealed at rest as a whole."""
    return Field(sa_column=Column(EncryptedJSON, nullable=False))


class ConversationRow(SQLModel, table=True):
    """One chat in one journey: the state name and the answers, never a pickled machine.

    `key` and `owner` are keyed hashes (`storage.identity`) of the conversation's key and
    its owner's channel key, which are kept only sealed, in `reach`."""

    __tablename__ = "conversations"

    key: str = Field(primary_key=True)
    owner: str = Field(index=True)
    reach: dict[str, Any] = _encrypted_json()  # {"key": ..., "owner": ...} in clear
    journey: str
    state: str
    answers: dict[str, Any] = _encrypted_json()  # the draft description among them
    trail: list[str] = _json_column()
    editing: bool
    paused: bool
    interrupt: str | None = None
    version: int
    created_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()
    # When the owner was told this draft will be deleted (migration 0008b); a save clears it.
    warned_at: datetime | None = _optional_utc_column()


class ConcernRow(SQLModel, table=True):
    """A submitted concern: one column per field of `dialogues.records.Concern`."""

    __tablename__ = "concerns"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(unique=True, index=True)
    # The identity record's random id (migration 0008); None once unlinked (forgotten).
    reporter: str | None = Field(default=None, index=True)
    identity: str
    learner_group: str
    organisation: str
    organisation_other: str | None = _encrypted()
    site: str | None = _encrypted()
    programme: str | None = _encrypted()
    description: str = _encrypted(nullable=False)
    started: str
    frequency: str
    topics: list[str] = _json_column()
    standards: list[str] = _json_column()
    likelihood: int
    impact: int
    score: int
    band: str
    controls: list[str] = _json_column()
    controls_detail: str | None = _encrypted()
    further_actions: str | None = _encrypted()
    told: list[str] = _json_column()
    told_outcome: str | None = None
    barrier: str
    affected: str
    danger_now: str
    patient_risk: str
    wants_team: str
    advice: dict[str, Any] = _json_column()
    queued_for_team: bool
    status: str = Field(index=True)
    content_version: str
    created_at: datetime = _utc_column()
    # Triage by the Quality team (migration 0002); not part of `Concern`, see `Triage`.
    acknowledged_at: datetime | None = _optional_utc_column()
    acknowledged_by: str | None = None
    assigned_to: str | None = _encrypted()  # a name the team typed
    outcome: str | None = None
    closed_at: datetime | None = _optional_utc_column()
    # A student's university (migration 0003).
    university: str | None = None
    # Retention (migration 0008b): the team needs the free text kept past anonymising; when
    # the concern was anonymised (identity and, unless kept, free text gone).
    keep_text: bool = False
    anonymised_at: datetime | None = _optional_utc_column()


def queue_rank(band: Any) -> ColumnElement[int]:
    """The band's place in the queue (storage.views.band_rank) as SQL. Written with literals,
    not bound values, so that a query's expression is the indexed one, which the planners
    of SQLite and PostgreSQL match only when it is the same text."""
    whens: list[tuple[Any, Any]] = [(band == literal_column(f"'{key}'"), literal_column(str(rank)))
             for rank, key in enumerate(BAND_ORDER)]  # fmt: skip
    # Grouped: PostgreSQL takes an expression in an index only in parentheses.
    return case(*whens, else_=literal_column(str(len(BAND_ORDER)))).self_group()


_concerns = ConcernRow.__table__  # type: ignore[attr-defined]
# The team's queue in order, open or not (migration 0009). Band, status and closed_at are
# in it too, so that paging and counting the open concerns read the index alone.
Index(
    "ix_concerns_queue", queue_rank(_concerns.c.band), _concerns.c.created_at,
    _concerns.c.reference, _concerns.c.band, _concerns.c.status, _concerns.c.closed_at,
)  # fmt: skip
# The open concerns counted by the plain columns the risk picture draws, their lists of
# standards included (on SQLite, which has no INCLUDE, they are in the queue's index: see
# migration 0009). The INCLUDE is added by `on_postgresql`, not written here: naming a
# `postgresql_` option loads SQLAlchemy's PostgreSQL dialect (some 50 ms), which a bot on
# the embedded SQLite database would load for nothing at every start.
_concerns_open = Index(
    "ix_concerns_open", _concerns.c.status, _concerns.c.closed_at, _concerns.c.likelihood,
    _concerns.c.impact, _concerns.c.organisation,
)  # fmt: skip


def on_postgresql() -> None:
    """The tables' PostgreSQL-only options, as migration 0009 made them (idempotent): called
    when a PostgreSQL engine is made, so the metadata matches the database it describes."""
    _concerns_open.dialect_options["postgresql"]["include"] = ["standards"]


# What anonymising empties unless the team kept the text: what the reporter wrote.
FREE_TEXT = ("organisation_other", "site", "programme", "controls_detail", "further_actions")


class IdentityRow(SQLModel, table=True):
    """How to reach a concern's reporter, and the name and contact they gave, kept apart
    from the concern and sealed; `owner_hash` finds a person's records (`storage.identity`)."""

    __tablename__ = "identities"

    id: str = Field(primary_key=True)  # random, see storage.identity.new_identity_id
    owner_hash: str = Field(index=True)
    owner: str = _encrypted(nullable=False)  # the channel key, e.g. telegram:<user id>
    name: str | None = _encrypted()
    contact: str | None = _encrypted()


class HashKeyRow(SQLModel, table=True):
    """One row: the secret of the keyed hashes (`storage.identity`), sealed with the key."""

    __tablename__ = "hash_key"

    id: int = Field(primary_key=True)
    secret: str = _encrypted(nullable=False)


class AuditRow(SQLModel, table=True):
    """Who did what to which concern. `actor` is a role or an id, never a person's name;
    `detail` carries ids and steps, never a concern's text."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc_column()
    actor: str
    action: str
    reference: str | None = Field(default=None, index=True)
    detail: dict[str, Any] = _json_column()


class InboundRow(SQLModel, table=True):
    """An inbound update already handled (e.g. "telegram:update:123"), kept to drop repeats."""

    __tablename__ = "inbound_seen"

    key: str = Field(primary_key=True)
    seen_at: datetime = _utc_column()


class OutboxRow(SQLModel, table=True):
    """A message waiting to go out (alert card, email, relayed text), drained by a worker.

    Written in the same transaction as whatever caused it, so it exists exactly when that
    did. `last_error` is an error class name only, never message text.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    reference: str | None = Field(default=None, index=True)
    payload: dict[str, Any] = _encrypted_json()  # relayed text, the reporter's channel
    status: str
    attempts: int
    next_attempt_at: datetime = _utc_column()
    last_error: str | None = None
    created_at: datetime = _utc_column()
    sent_at: datetime | None = _optional_utc_column()
    external_id: str | None = None


class NoteRow(SQLModel, table=True):
    """An internal note the Quality team keeps on a concern; never shown to the reporter."""

    __tablename__ = "notes"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(index=True)
    at: datetime = _utc_column()
    author: str
    text: str = _encrypted(nullable=False)


class RelayRow(SQLModel, table=True):
    """A message the bot sent, by chat and message id, so a reply to it finds its concern.
    `chat` is a keyed hash of the chat: it is only matched (a reply in that chat), never read
    back; the reporter's chat, to send to, is read from their identity record."""

    __tablename__ = "relays"
    __table_args__ = (Index("ix_relays_chat_message_id", "chat", "message_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(index=True)
    direction: str
    chat: str
    message_id: str
    at: datetime = _utc_column()


class InboxRow(SQLModel, table=True):
    """An update received and not yet handled, or handled lately (then its payload is empty).

    Written before the channel is told the update arrived (the getUpdates offset, the
    webhook's 200), so a crash between the two loses nothing. `taken_until` is the lease of
    whoever works on the chat's oldest unhandled item; `takes` counts the times it was taken.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_chat_seq", "chat", "seq"),
        Index("ix_inbox_handled_at", "handled_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True)
    chat: str  # a keyed hash of the chat (storage.identity), matched
    reach: str | None = _encrypted()  # the chat itself, to be handled; None once handled
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    payload: dict[str, Any] = _encrypted_json()  # the update as received: message text
    received_at: datetime = _utc_column()
    takes: int
    taken_until: datetime | None = _optional_utc_column()
    handled_at: datetime | None = _optional_utc_column()


class KeyCheckRow(SQLModel, table=True):
    """One row: a known text sealed with the key, so that a wrong key is told at start
    (`storage.encrypted.check_keys`) rather than met value by value. Rotated last."""

    __tablename__ = "key_check"

    id: int = Field(primary_key=True)
    token: str = _encrypted(nullable=False)
