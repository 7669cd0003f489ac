"""Concerns over SQL, with their reporters' identity records kept apart.

A concern row carries no identity: `add` writes the reporter's channel key, name and contact
to an identity record of their own (sealed; found by the keyed hash of the channel key, see
`storage.identity`) and the concern keeps its random id. Reading joins them again; a concern
whose record was deleted (`unlink`, `forget_owner`) reads with owner "" and no name or
contact, and the relays in its reporter's chat are deleted with it. Repositories never
commit (see `storage.sql`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, func, select, update

from dialogues.records import CONCERN_FIELDS, Advice, Concern, barrier_keys
from storage.identity import OWNER, Hasher, new_identity_id
from storage.repositories import (
    CLOSED,
    TO_TEAM,
    DuplicateReference,
    Triage,
    UnknownConcern,
    as_utc,
    require_aware,
    triage_changes,
)
from storage.streaming import ANONYMOUS, STREAM_BATCH, ConcernFilter
from storage.tables import FREE_TEXT, ConcernRow, IdentityRow, RelayRow

_TUPLE_FIELDS = ("topics", "standards", "controls", "told")
_CONCERNS: Table = ConcernRow.__table__  # type: ignore[attr-defined]  # SQLModel's
_IDENTITIES: Table = IdentityRow.__table__  # type: ignore[attr-defined]
# Fields of `Concern` kept in its identity record, not on its row.
_IDENTITY_FIELDS = frozenset({"owner", "reporter_name", "reporter_contact"})


def concern_values(concern: Concern, reporter: str | None) -> dict[str, Any]:
    """The concern's row as column values (no id), its identity record's id as `reporter`."""
    values: dict[str, Any] = {
        name: getattr(concern, name) for name in CONCERN_FIELDS if name not in _IDENTITY_FIELDS
    }
    values["reporter"] = reporter
    for name in _TUPLE_FIELDS:
        values[name] = list(values[name])
    # Several barriers now, in the text column that held one: no migration, old rows read.
    values["barrier"] = ",".join(concern.barrier)
    values["advice"] = concern.advice.to_dict()
    values["created_at"] = require_aware(concern.created_at)
    return values


def _to_concern(row: ConcernRow, identity: IdentityRow | None) -> Concern:
    """The concern with its reporter's identity; an unlinked one (forgotten) has none."""
    values = row.model_dump(include=set(_ROW_FIELDS))
    return _concern_of(values, None if identity is None else _whom(identity))


# Fields of `Concern` kept on its row, and what its identity record gives: (owner, name,
# contact), None once unlinked.
_ROW_FIELDS = tuple(name for name in CONCERN_FIELDS if name not in _IDENTITY_FIELDS)
Whom = tuple[str, str | None, str | None]


def _whom(identity: Any) -> Whom:
    return identity.owner, identity.name, identity.contact


def _concern_of(values: dict[str, Any], whom: Whom | None) -> Concern:
    """The concern from its row's values (as stored) and its reporter's identity."""
    values["owner"], values["reporter_name"], values["reporter_contact"] = whom or ("", None, None)
    for name in _TUPLE_FIELDS:
        values[name] = tuple(values[name])
    values["barrier"] = barrier_keys(values["barrier"])
    values["advice"] = Advice.from_dict(values["advice"])
    values["created_at"] = as_utc(values["created_at"])
    return Concern(**values)


def _to_triage(row: ConcernRow) -> Triage:
    return Triage(
        reference=row.reference,
        acknowledged_at=None if row.acknowledged_at is None else as_utc(row.acknowledged_at),
        acknowledged_by=row.acknowledged_by,
        assigned_to=row.assigned_to,
        outcome=row.outcome,
        closed_at=None if row.closed_at is None else as_utc(row.closed_at),
    )


class SqlConcerns:
    """Concern rows, and the identity records they point to (`storage.identity`)."""

    def __init__(self, session: Session, hasher: Hasher) -> None:
        self._session = session
        self._hasher = hasher

    def add(self, concern: Concern) -> None:
        # Straight into the tables: building table models and flushing them took longer
        # than the inserts. A reference taken already is found by its unique index.
        identity = {
            "id": new_identity_id(),
            "owner_hash": self._hasher.of(OWNER, concern.owner),
            "owner": concern.owner,
            "name": concern.reporter_name,
            "contact": concern.reporter_contact,
        }
        try:
            with self._session.begin_nested():  # a failed insert leaves the unit usable
                # The connection asked for inside the savepoint: that is when it is set.
                connection = self._session.connection()
                connection.execute(insert(_IDENTITIES), identity)
                connection.execute(insert(_CONCERNS), concern_values(concern, identity["id"]))
        except IntegrityError as error:
            # The reference is taken (here, or by another transaction just now), or
            # something else is wrong: only the first is a duplicate.
            if self.get(concern.reference) is not None:
                raise DuplicateReference(concern.reference) from error
            raise

    def _concerns(self, rows: Sequence[ConcernRow]) -> list[Concern]:
        """The rows as concerns, their identity records read in one query."""
        ids = [row.reporter for row in rows if row.reporter is not None]
        identities: dict[str, IdentityRow] = {}
        if ids:
            found = select(IdentityRow).where(col(IdentityRow.id).in_(ids))
            identities = {identity.id: identity for identity in self._session.exec(found)}
        return [
            _to_concern(row, None if row.reporter is None else identities.get(row.reporter))
            for row in rows
        ]

    def get(self, reference: str) -> Concern | None:
        statement = select(ConcernRow).where(col(ConcernRow.reference) == reference)
        row = self._session.exec(statement).first()
        return None if row is None else self._concerns([row])[0]

    def for_owner(self, owner: str) -> list[Concern]:
        statement = (
            select(ConcernRow)
            .join(IdentityRow, col(IdentityRow.id) == col(ConcernRow.reporter))
            .where(col(IdentityRow.owner_hash) == self._hasher.of(OWNER, owner))
            .order_by(col(ConcernRow.created_at).desc(), col(ConcernRow.id).desc())
        )
        return self._concerns(list(self._session.exec(statement)))

    def unlink(self, reference: str) -> bool:
        """Delete the concern's identity record: it can no longer be joined to its reporter,
        nor reach them. False if it had none (already unlinked); UnknownConcern if no concern."""
        row = self._row(reference)
        if row.reporter is None:
            return False
        self._forget_identities([row.reporter])
        return True

    def forget_owner(self, owner: str) -> list[str]:
        """Delete every identity record of `owner` and unlink their concerns; the references
        of the concerns unlinked, newest first."""
        statement = select(IdentityRow.id).where(
            col(IdentityRow.owner_hash) == self._hasher.of(OWNER, owner)
        )
        ids = list(self._session.exec(statement))
        if not ids:
            return []
        linked = (
            select(ConcernRow.reference)
            .where(col(ConcernRow.reporter).in_(ids))
            .order_by(col(ConcernRow.created_at).desc(), col(ConcernRow.id).desc())
        )
        references = list(self._session.exec(linked))
        self._forget_identities(ids)
        return references

    def _forget_identities(self, ids: list[str]) -> None:
        # The relays in the reporter's own chat (a reply there is an answer) are keyed by the
        # hash of that chat: with the key, the chat would still lead to the reference.
        linked = select(ConcernRow.reference).where(col(ConcernRow.reporter).in_(ids))
        self._session.exec(
            delete(RelayRow)
            .where(col(RelayRow.reference).in_(linked.scalar_subquery()))
            .where(col(RelayRow.direction) == TO_TEAM)
            .execution_options(synchronize_session=False)
        )
        self._session.exec(
            update(ConcernRow)
            .where(col(ConcernRow.reporter).in_(ids))
            .values(reporter=None)
            .execution_options(synchronize_session=False)
        )
        self._session.exec(
            delete(IdentityRow)
            .where(col(IdentityRow.id).in_(ids))
            .execution_options(synchronize_session=False)
        )
        self._session.expire_all()  # rows read before must not keep their reporter

    def count(self) -> int:
        return self._session.exec(select(func.count()).select_from(ConcernRow)).one()

    def _row(self, reference: str) -> ConcernRow:
        statement = select(ConcernRow).where(col(ConcernRow.reference) == reference)
        row = self._session.exec(statement).first()
        if row is None:
            raise UnknownConcern(reference)
        return row

    def set_status(self, reference: str, status: str) -> None:
        row = self._row(reference)
        row.status = status
        self._session.add(row)

    def set_triage(self, reference: str, **fields: datetime | str | None) -> None:
        changes = triage_changes(fields)
        row = self._row(reference)
        for name, value in changes.items():
            setattr(row, name, value)
        self._session.add(row)

    def triage(self, reference: str) -> Triage | None:
        statement = select(ConcernRow).where(col(ConcernRow.reference) == reference)
        row = self._session.exec(statement).first()
        return None if row is None else _to_triage(row)

    def search(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        status: str | None = None,
        organisation: str | None = None,
        open_only: bool = False,
    ) -> list[Concern]:
        statement = select(ConcernRow)
        if since is not None:
            statement = statement.where(col(ConcernRow.created_at) >= require_aware(since))
        if until is not None:
            statement = statement.where(col(ConcernRow.created_at) < require_aware(until))
        if status is not None:
            statement = statement.where(col(ConcernRow.status) == status)
        if organisation is not None:
            statement = statement.where(col(ConcernRow.organisation) == organisation)
        if open_only:
            statement = statement.where(
                col(ConcernRow.closed_at).is_(None), col(ConcernRow.status) != CLOSED
            )
        statement = statement.order_by(col(ConcernRow.created_at).desc(), col(ConcernRow.id).desc())
        return self._concerns(list(self._session.exec(statement)))

    def stream(self, chosen: ConcernFilter, batch: int = STREAM_BATCH) -> Iterator[Concern]:
        """Only the ids are sorted, by one query whose rows are fetched `batch` at a time
        (`yield_per`: a server-side cursor on PostgreSQL; SQLite steps its cursor as rows
        are fetched); then each batch's rows, and their identity records, in one query each,
        as plain rows: ORM objects cost more than the rest of reading a concern bar its
        decryption. Sorting whole rows, sealed text and all, made SQLite hold 400 MiB at
        100,000."""
        order = (col(ConcernRow.created_at).desc(), col(ConcernRow.id).desc())
        ids = chosen.where(select(ConcernRow.id)).order_by(*order)
        # The tables' own columns: an ORM attribute's annotated copy, met in Core's result
        # metadata, is compared with ==, which an encrypted column refuses.
        columns = [_CONCERNS.c[name] for name in ("id", "reporter", *_ROW_FIELDS)]
        # As the team sees it (`ConcernFilter.team_view`): the owner, a sealed value on every
        # row, is not read, nor an anonymous reporter's identity record.
        people = [_IDENTITIES.c[name] for name in ("id", "name", "contact")]
        if not chosen.team_view:
            people.insert(1, _IDENTITIES.c.owner)
        identity = _ROW_FIELDS.index("identity")
        # Core, not the ORM: selecting columns through the session cost a third again.
        connection = self._session.connection()
        chunks = connection.execute(ids.execution_options(yield_per=batch)).scalars().partitions()
        for chunk in chunks:
            # Filtered again: on PostgreSQL each statement sees what was committed before it.
            rows = chosen.where(select(*columns).where(_CONCERNS.c.id.in_(chunk)))
            # By position: a row's attributes by name cost more than its other handling.
            found = {row[0]: (row[1], row[2:]) for row in connection.execute(rows)}
            linked = [
                reporter
                for reporter, values in found.values()
                if reporter is not None and not (chosen.team_view and values[identity] == ANONYMOUS)
            ]
            whom: dict[str, Whom] = {}
            if linked:
                statement = select(*people).where(_IDENTITIES.c.id.in_(linked))
                for person in connection.execute(statement):
                    seen = ("", person.name, person.contact) if chosen.team_view else None
                    whom[person.id] = seen or _whom(person)
            for row_id in chunk:
                if row_id in found:
                    reporter, stored = found[row_id]
                    values = dict(zip(_ROW_FIELDS, stored, strict=True))
                    yield _concern_of(values, whom.get(reporter))

    def tally(self, chosen: ConcernFilter) -> int:
        statement = chosen.where(select(func.count()).select_from(ConcernRow))
        return int(self._session.exec(statement).one())

    def forget_identity(self, reference: str) -> None:
        """Unlink the concern from its reporter (`unlink`) and file it as anonymous."""
        self.unlink(reference)
        row = self._row(reference)
        row.identity = "anonymous"
        self._session.add(row)

    def keep_text(self, reference: str, keep: bool) -> None:
        row = self._row(reference)
        row.keep_text = keep
        self._session.add(row)

    def due_for_anonymising(self, closed_before: datetime) -> list[str]:
        statement = (
            select(ConcernRow.reference)
            .where(
                col(ConcernRow.closed_at) < require_aware(closed_before),
                col(ConcernRow.anonymised_at).is_(None),
            )
            .order_by(col(ConcernRow.closed_at), col(ConcernRow.id))
            # Locked, so that of two sweeps at once (replicas) the second waits, then finds
            # what the first anonymised no longer due; SQLite's transactions take turns.
            .with_for_update()
        )
        return list(self._session.exec(statement))

    def anonymise(self, reference: str, at: datetime) -> bool:
        self.forget_identity(reference)
        row = self._row(reference)
        if not row.keep_text:
            row.description = ""
            for name in FREE_TEXT:
                setattr(row, name, None)
        row.anonymised_at = require_aware(at)
        self._session.add(row)
        return row.keep_text
