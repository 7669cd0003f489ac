"""What the bot may ask of storage: small Protocols and the frozen records they hand out.

A unit of work is one transaction: its repositories read and write through one session and
never commit; the storage that opened it commits when the block ends normally and rolls
back when it raises. `sql` implements these interfaces over SQLModel and
`memory.MemoryStorage` implements them for tests; the checks below are shared by both.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from dialogues.records import Concern, Conversation
from storage.views import TeamViews

if TYPE_CHECKING:  # streaming builds on this module's helpers
    from storage.streaming import ConcernFilter


class StaleConversation(Exception):
    """Someone else saved this conversation since it was loaded (optimistic concurrency)."""


class DuplicateReference(Exception):
    """A concern with this reference is already stored."""


class UnknownConcern(LookupError):
    """No concern has this reference."""


class DuplicateRelay(Exception):
    """This (chat, message id) is already mapped to a concern."""


class StorageUnavailable(Exception):
    """The database cannot be used now. What the attempt wrote was rolled back (unless the
    connection was lost during the commit itself); nothing saved before was lost.

    `problem` is one word a caller can act on (see PROBLEMS), `reason` a few plain words that
    never quote a statement or a value, `where` the database file, or its URL without the
    password.
    """

    def __init__(self, problem: str, reason: str, where: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.problem = problem
        self.reason = reason
        self.where = where


class WriteInReading(Exception):
    """A write in a read-only unit of work (`Storage.reading`): a mistake in the caller,
    refused by the database and rolled back."""

    def __init__(self) -> None:
        super().__init__("a write in a read-only unit of work (use unit_of_work to write)")


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log; `actor` is a role or an id, never a name."""

    at: datetime
    actor: str
    action: str
    reference: str | None
    detail: Mapping[str, Any]


TRIAGE_FIELDS = ("acknowledged_at", "acknowledged_by", "assigned_to", "outcome", "closed_at")
_TRIAGE_TIMES = frozenset({"acknowledged_at", "closed_at"})
CLOSED = "closed"


@dataclass(frozen=True)
class Triage:
    """Where the Quality team has got with one concern; all None until they act."""

    reference: str
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    assigned_to: str | None = None
    outcome: str | None = None
    closed_at: datetime | None = None


PENDING, SENT, DEAD = "pending", "sent", "dead"
# An item that must no longer go: its concern was withdrawn, or its reporter forgotten.
CANCELLED = "cancelled"
OUTBOX_STATUSES = (PENDING, SENT, DEAD, CANCELLED)
# A concern whose reporter asked to be forgotten, or that was anonymised, has this owner.
NO_OWNER = ""


@dataclass(frozen=True)
class OutboxItem:
    """One message waiting to go out, as stored in the outbox.

    `id` is 0 until stored (`OutboxRepository.add` returns the real one). `last_error` is
    an error class name such as "TimedOut", never an error's message text. An item that is
    handed on rather than sent (an alert that waited for a team channel) is marked sent when
    it is, with the items it became as its `external_id` ("team_alert:12,team_email:13").
    """

    kind: str
    payload: Mapping[str, Any]
    created_at: datetime
    next_attempt_at: datetime
    reference: str | None = None
    status: str = PENDING
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    external_id: str | None = None
    id: int = 0

    @classmethod
    def new(
        cls, kind: str, payload: Mapping[str, Any], at: datetime, reference: str | None = None
    ) -> OutboxItem:
        """A pending item, due at once."""
        return cls(
            kind=kind, payload=payload, created_at=at, next_attempt_at=at, reference=reference
        )


@dataclass(frozen=True)
class Note:
    """An internal note on a concern, for the Quality team only; `author` is an id."""

    id: int
    reference: str
    at: datetime
    author: str
    text: str


# to_reporter: a reply goes to the reporter; to_team: a reply goes to the team chat;
# note: a reply is the team's internal note.
TO_TEAM = "to_team"  # a relay in the reporter's own chat
RELAY_DIRECTIONS = ("to_reporter", TO_TEAM, "note")


@dataclass(frozen=True)
class Relay:
    """A message the bot sent in `chat`, and the concern a reply to it belongs to."""

    reference: str
    direction: str  # to_reporter | to_team
    chat: str
    message_id: str
    at: datetime


class ConversationRepository(Protocol):
    def get(self, key: str) -> Conversation | None: ...

    def get_each(self, keys: Sequence[str]) -> list[Conversation | None]:
        """`get` of each key, in order, at once (a turn reads its chat's two slots)."""
        ...

    def put(self, conversation: Conversation) -> Conversation:
        """Write it if the stored version equals `conversation.version` (0: not stored yet).

        Returns it with the version moved on by one; raises StaleConversation otherwise.
        """
        ...

    def delete(self, key: str, version: int | None = None) -> None:
        """Delete it (nothing stored: nothing to do). With `version`, only if that is the
        stored version: StaleConversation otherwise, as for `put`."""
        ...

    def for_owner(self, owner: str) -> list[Conversation]:
        """The owner's conversations, most recently updated first."""
        ...

    def untouched_since(self, cutoff: datetime, unwarned: bool = False) -> list[Conversation]:
        """Conversations last updated before `cutoff`, oldest first; `unwarned`: only those
        not yet warned of their deletion since they were last updated."""
        ...

    def mark_warned(self, key: str, at: datetime) -> bool:
        """Remember that the owner was warned; saving the conversation again forgets it.
        False if it was warned already since it was last saved (another sweep, on another
        replica, got there first): then it must not be warned again."""
        ...


class ConcernRepository(Protocol):
    def add(self, concern: Concern) -> None:
        """Store a new concern; DuplicateReference if its reference is taken."""
        ...

    def get(self, reference: str) -> Concern | None: ...

    def for_owner(self, owner: str) -> list[Concern]:
        """The owner's concerns still linked to them, newest first."""
        ...

    def unlink(self, reference: str) -> bool:
        """Delete the concern's identity record (how to reach its reporter, their name and
        contact) and the relays in the reporter's chat: it reads with owner "" and no name
        or contact from now on, and nothing joins it to a person (a question still waiting
        for them is then sent to nobody). False if already unlinked; UnknownConcern if no
        such concern."""
        ...

    def forget_owner(self, owner: str) -> list[str]:
        """Unlink every concern of `owner` (as `unlink`); the references unlinked."""
        ...

    def count(self) -> int: ...

    def set_status(self, reference: str, status: str) -> None:
        """Move the concern to `status`; UnknownConcern if there is none."""
        ...

    def set_triage(self, reference: str, **fields: datetime | str | None) -> None:
        """Set some of the TRIAGE_FIELDS (others keep their values); UnknownConcern if none.

        An unknown field name or a value of the wrong type is a ValueError.
        """
        ...

    def triage(self, reference: str) -> Triage | None:
        """The concern's triage state, or None if there is no such concern."""
        ...

    def search(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        status: str | None = None,
        organisation: str | None = None,
        open_only: bool = False,
    ) -> list[Concern]:
        """Concerns created in [since, until), newest first, optionally of one status or
        organisation; `open_only` leaves out closed ones (a closed_at, or status "closed")."""
        ...

    def stream(self, chosen: ConcernFilter, batch: int = 200) -> Iterator[Concern]:
        """The concerns `chosen` admits, newest first (as `search`), read `batch` rows at a
        time: memory holds one batch whatever the count. Iterate it inside the unit of work
        (the rows are read as the iterator is)."""
        ...

    def tally(self, chosen: ConcernFilter) -> int:
        """How many concerns `chosen` admits (what `stream` would hand out), in one query."""
        ...

    def forget_identity(self, reference: str) -> None:
        """Unlink the concern from its reporter: no owner, no name, no contact, anonymous.
        UnknownConcern if there is none."""
        ...

    def keep_text(self, reference: str, keep: bool) -> None:
        """Mark the concern's free text as needed by the team (kept when it is anonymised)."""
        ...

    def due_for_anonymising(self, closed_before: datetime) -> list[str]:
        """References of concerns closed before the cutoff and not anonymised yet."""
        ...

    def anonymise(self, reference: str, at: datetime) -> bool:
        """Forget the identity and, unless the team kept it, the free text; whether the
        text was kept. Done once: `due_for_anonymising` no longer lists it."""
        ...


class OutboxRepository(Protocol):
    def add(self, item: OutboxItem) -> int:
        """Store the item (its `id` is ignored) and return the id it was given."""
        ...

    def get(self, id: int) -> OutboxItem | None: ...

    def due(
        self, now: datetime, limit: int, kinds: Collection[str] | None = None
    ) -> list[OutboxItem]:
        """Pending items with next_attempt_at <= now, longest waiting first.

        The rows are locked until the unit of work ends, and a concurrent unit of work
        skips them, so two workers never take the same item (on SQLite, transactions
        simply take turns). `kinds`, when given, limits the item kinds taken.
        """
        ...

    def reschedule(self, id: int, next_attempt_at: datetime) -> bool:
        """Move a pending item's next attempt (a lease while it is being sent)."""
        ...

    def mark_sent(self, id: int, at: datetime, external_id: str | None) -> bool:
        """Pending -> sent, recording when and the id the far side gave it.

        False, and nothing changes, if the item is not pending (never sent twice).
        """
        ...

    def mark_retry(self, id: int, next_attempt_at: datetime, error: str) -> bool:
        """Count a failed attempt and try again later; False if the item is not pending."""
        ...

    def mark_dead(self, id: int, error: str) -> bool:
        """Count a failed attempt and give up; False if the item is not pending."""
        ...

    def for_reference(self, reference: str) -> list[OutboxItem]:
        """Every item about one concern, in the order they were added."""
        ...

    def counts(self) -> dict[tuple[str, str], int]:
        """How many items there are of each (kind, status)."""
        ...

    def dead(self, limit: int) -> list[OutboxItem]:
        """Items given up on, the latest first, at most `limit` of them."""
        ...

    def cancel(self, id: int) -> bool:
        """Pending -> cancelled: it will never go; False if the item is not pending."""
        ...

    def forget_payloads(self, reference: str, kinds: Collection[str] | None = None) -> int:
        """Empty the payloads of the concern's items that are no longer pending (of `kinds`,
        when given); how many."""
        ...


class NoteRepository(Protocol):
    def add(self, reference: str, at: datetime, author: str, text: str) -> int:
        """Store a note and return its id."""
        ...

    def for_reference(self, reference: str) -> list[Note]:
        """The concern's notes in the order they were added."""
        ...

    def forget(self, reference: str) -> int:
        """Delete the concern's notes; how many."""
        ...


class RelayRepository(Protocol):
    def add(self, reference: str, direction: str, chat: str, message_id: str, at: datetime) -> None:
        """Remember a sent message; DuplicateRelay if (chat, message_id) is already known."""
        ...

    def find(self, chat: str, message_id: str) -> Relay | None: ...

    def forget(self, reference: str, direction: str) -> int:
        """Forget the concern's relays in one direction (to_reporter: the reporter's chat);
        how many."""
        ...


class AuditLog(Protocol):
    def record(self, entry: AuditEntry) -> None: ...

    def entries(self, reference: str | None = None) -> list[AuditEntry]:
        """Entries in the order they were recorded, optionally for one reference only."""
        ...


class InboundLog(Protocol):
    def first_time(self, key: str, at: datetime) -> bool:
        """True, and remembers the key, the first time it is seen; False after that."""
        ...

    def forget_before(self, at: datetime) -> int:
        """Forget keys first seen before `at` (long past any redelivery); how many."""
        ...


@dataclass(frozen=True)
class InboxItem:
    """One update received from a channel and kept until it is handled.

    `key` names the update once and for all (e.g. "telegram:update:123"); `chat` is the
    conversation it belongs to, whose items are handled one at a time in `seq` order.
    `payload` is the update as received, and is emptied once it is handled: the row then
    only remembers the key, so a redelivery is recognised. `id` is 0 until stored.
    """

    key: str
    chat: str
    seq: int
    payload: Mapping[str, Any]
    received_at: datetime
    takes: int = 0
    taken_until: datetime | None = None
    handled_at: datetime | None = None
    id: int = 0


class InboxRepository(Protocol):
    def add(self, items: Sequence[InboxItem]) -> set[str]:
        """Keep the items whose keys are not kept yet, handled or not (an item's id, takes
        and times after received_at are ignored); the keys kept now."""
        ...

    def take(self, chat: str, now: datetime, until: datetime) -> InboxItem | None:
        """The chat's oldest unhandled item, taken until `until` (its `takes` counted).

        None if the chat has nothing waiting, or if its oldest item is taken by someone else
        until after `now`: only one taker at a time works on a chat, so its order holds.
        """
        ...

    def count(self, chat: str) -> int:
        """How many of the chat's items are not yet handled (taken ones included)."""
        ...

    def done(self, id: int, at: datetime) -> bool:
        """Mark the item handled and forget its payload; False if it was already handled."""
        ...

    def release(self, id: int) -> bool:
        """Give a taken, unhandled item back, so the next taker need not wait out the lease."""
        ...

    def extend(self, id: int, until: datetime) -> bool:
        """Hold a taken, unhandled item until `until` (a lease kept alive while the item is
        in hand); False if it was already handled."""
        ...

    def release_all(self) -> int:
        """Give back every taken, unhandled item (at start, when no other taker can be
        running); how many."""
        ...

    def waiting(self, limit: int) -> list[str]:
        """Chats with unhandled items, the one waiting longest (lowest seq) first."""
        ...

    def for_chat(self, chat: str) -> list[InboxItem]:
        """Every item kept for the chat, handled or not, in seq order."""
        ...

    def forget_before(self, at: datetime) -> int:
        """Drop items handled before `at` (long past any redelivery); how many.
        Unhandled items are never dropped."""
        ...

    def forget_chat(self, chat: str, key: str | None = None) -> int:
        """Drop the chat's handled items, and the item `key` handled or not (the one being
        handled now, when what it was for is deleted); how many. The chat's other unhandled
        items are kept: they are still to be handled."""
        ...


class UnitOfWork(Protocol):
    conversations: ConversationRepository
    concerns: ConcernRepository
    audit: AuditLog
    inbound: InboundLog
    outbox: OutboxRepository
    notes: NoteRepository
    relays: RelayRepository
    inbox: InboxRepository
    views: TeamViews


class Storage(Protocol):
    def unit_of_work(self) -> contextlib.AbstractContextManager[UnitOfWork]:
        """One transaction: committed when the block exits normally, rolled back on error."""
        ...

    def reading(self) -> contextlib.AbstractContextManager[UnitOfWork]:
        """One read-only transaction over a consistent snapshot, for long reads (an export,
        the team's views): it takes no write lock, so turns go on while it runs. A write in
        it fails (WriteInReading) where the backend can refuse it."""
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


def triage_changes(fields: Mapping[str, datetime | str | None]) -> dict[str, Any]:
    """`set_triage` keyword arguments checked and ready to store (datetimes in UTC)."""
    checked: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in TRIAGE_FIELDS:
            raise ValueError(f"not a triage field: {name}")
        if value is None:
            checked[name] = None
        elif name in _TRIAGE_TIMES:
            if not isinstance(value, datetime):
                raise ValueError(f"{name} takes a datetime")
            checked[name] = require_aware(value)
        elif isinstance(value, str):
            checked[name] = value
        else:
            raise ValueError(f"{name} takes a str")
    return checked


_ERROR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,99}")


def check_error_name(error: str) -> str:
    """The error as given if it looks like a class name; message text is refused, because
    it may quote what someone wrote."""
    if not _ERROR_NAME.fullmatch(error):
        raise ValueError("outbox errors are error class names, not messages")
    return error


def check_outbox_item(item: OutboxItem) -> OutboxItem:
    """The item with its datetimes in UTC, or ValueError if it could not be stored as is."""
    if item.status not in OUTBOX_STATUSES:
        raise ValueError(f"unknown outbox status: {item.status}")
    if item.last_error is not None:
        check_error_name(item.last_error)
    return replace(
        item,
        created_at=require_aware(item.created_at),
        next_attempt_at=require_aware(item.next_attempt_at),
        sent_at=None if item.sent_at is None else require_aware(item.sent_at),
    )


def plain_json(value: Any) -> Any:
    """A deep copy of JSON-like data, shaped as it comes back from a JSON column."""
    if isinstance(value, Mapping):
        return {key: plain_json(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(inner) for inner in value]
    return value


def check_inbox_item(item: InboxItem) -> InboxItem:
    """A new item as it is stored: untaken, unhandled, received_at in UTC, payload copied."""
    return InboxItem(
        key=item.key,
        chat=item.chat,
        seq=item.seq,
        payload=plain_json(item.payload),
        received_at=require_aware(item.received_at),
    )


def check_direction(direction: str) -> str:
    if direction not in RELAY_DIRECTIONS:
        raise ValueError(f"unknown relay direction: {direction}")
    return direction
