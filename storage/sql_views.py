"""The team's views (`storage.views`) over SQL: a page of the queue in two statements, the
counts in three, whatever the number of concerns.

A page is a keyset query: the concerns after (or before) a key, in the order of the index
`ix_concerns_queue` (migration 0009), which holds every column the filter and the order
need, so the database walks the index from the key and stops after one page. The first
statement counts the open concerns, and those ahead of the key, from the same index.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy import String, and_, cast, func, literal, select, tuple_, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from storage.repositories import as_utc, require_aware
from storage.sql_hints import not_indexed
from storage.tables import ConcernRow, queue_rank
from storage.views import OPEN_STATUSES, PAGE_SIZE, OpenCounts, QueueEntry, QueueKey, QueuePage

_concerns = ConcernRow.__table__  # type: ignore[attr-defined]
_rank = queue_rank(_concerns.c.band)
_ORDER = (_rank, _concerns.c.created_at, _concerns.c.reference)
_OPEN = and_(_concerns.c.status.in_(OPEN_STATUSES), _concerns.c.closed_at.is_(None))
# The same filter for the queue, where SQLite, never analysed, would rather search the index
# on status and sort every open concern than walk the queue's index and stop after a page.
_OPEN_IN_ORDER = and_(
    not_indexed(_concerns.c.status).in_(OPEN_STATUSES), _concerns.c.closed_at.is_(None)
)
_ENTRY = (
    _concerns.c.reference, _concerns.c.band, _concerns.c.score, _concerns.c.created_at,
    _concerns.c.organisation, _concerns.c.organisation_other, _concerns.c.status,
    _concerns.c.assigned_to,
)  # fmt: skip


def _moment(key: QueueKey) -> Any:
    return literal(require_aware(key.created_at), _concerns.c.created_at.type)


def _same_band(key: QueueKey, later: bool) -> ColumnElement[bool]:
    """In the key's band, after (or before) the key: written so that the database seeks to
    the key in the index (band equal, created_at a range) rather than walking up to it."""
    c = _concerns.c
    moment, pair = _moment(key), tuple_(c.created_at, c.reference)
    there = tuple_(moment, literal(key.reference))
    if later:
        return and_(_rank == key.rank, c.created_at >= moment, pair > there)
    return and_(_rank == key.rank, c.created_at <= moment, pair < there)


def _count(*where: ColumnElement[bool]) -> Any:
    return select(func.count()).where(_OPEN_IN_ORDER, *where).scalar_subquery()


class SqlViews:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _counts(self, key: QueueKey | None) -> tuple[int, int, int]:
        """Open concerns in all, ahead of `key`, and ahead of or at it: one statement. The
        total reads the counting index; the others count only up to the key, band by band,
        and whether the key's own concern is still open is one row sought."""
        total = select(func.count()).where(_OPEN).scalar_subquery()
        if key is None:
            return int(self._session.execute(select(total)).scalar_one()), 0, 0
        c = _concerns.c
        earlier_bands = _count(_rank < key.rank)
        ahead = _count(_same_band(key, later=False))
        at = _count(_rank == key.rank, c.created_at == _moment(key), c.reference == key.reference)
        row = self._session.execute(select(total, earlier_bands, ahead, at)).one()
        return int(row[0]), int(row[1] + row[2]), int(row[1] + row[2] + row[3])

    def _entries(self, key: QueueKey | None, backwards: bool, size: int) -> list[QueueEntry]:
        """`size` entries from the start (or end), or just after (before) `key`: then the
        rest of the key's band and the bands after it, each read from where it starts."""
        c = _concerns.c
        columns = (_rank.label("rank"), *_ENTRY)

        def ordered(*by: Any) -> list[Any]:
            return [column.desc() for column in by] if backwards else list(by)

        if key is None:
            statement = select(*columns).where(_OPEN_IN_ORDER).order_by(*ordered(*_ORDER))
        else:
            band = select(*columns).where(_OPEN_IN_ORDER, _same_band(key, not backwards))
            others = _rank < key.rank if backwards else _rank > key.rank
            rest = select(*columns).where(_OPEN_IN_ORDER, others)
            both = union_all(
                select(band.order_by(*ordered(c.created_at, c.reference)).limit(size).subquery()),
                select(rest.order_by(*ordered(*_ORDER)).limit(size).subquery()),
            ).subquery()
            statement = select(*both.c).order_by(
                *ordered(both.c.rank, both.c.created_at, both.c.reference)
            )
        rows = self._session.execute(statement.limit(size)).all()
        entries = [QueueEntry(row[1], row[2], row[3], as_utc(row[4]), *row[5:]) for row in rows]
        return entries[::-1] if backwards else entries

    def queue_page(
        self,
        after: QueueKey | None = None,
        before: QueueKey | None = None,
        size: int = PAGE_SIZE,
    ) -> QueuePage:
        key = after if after is not None else before
        total, ahead, upto = self._counts(key)
        if after is not None and upto < total:
            return QueuePage(tuple(self._entries(after, False, size)), upto, total)
        if after is not None:  # nothing after it any more: the last page
            return QueuePage(tuple(self._entries(None, True, size)), max(0, total - size), total)
        if before is not None and ahead >= size:
            return QueuePage(tuple(self._entries(before, True, size)), ahead - size, total)
        return QueuePage(tuple(self._entries(None, False, size)), 0, total)

    def open_counts(self) -> OpenCounts:
        """Two GROUP BY statements: the matrix and the organisations together (a few hundred
        groups at most, from the counting index), and the lists of standards."""
        c = _concerns.c
        cells: Counter[tuple[int, int]] = Counter()
        organisations: Counter[str] = Counter()
        grouped = (c.likelihood, c.impact, c.organisation)
        by_cell = select(*grouped, func.count()).where(_OPEN).group_by(*grouped)
        for likelihood, impact, organisation, count in self._session.execute(by_cell):
            cells[(likelihood, impact)] += count
            organisations[organisation] += count
        # JSON cannot be grouped as such on PostgreSQL: as its text, one row per distinct
        # list, each read here (a list stored in another order is the same list). SQLite
        # has the lists in the queue's index (migration 0009): the filter must not send it
        # to the index on status, which has not.
        text = cast(c.standards, String)
        standards: Counter[tuple[str, ...]] = Counter()
        for listed, count in self._session.execute(
            select(text, func.count()).where(_OPEN_IN_ORDER).group_by(text)
        ):
            standards[tuple(sorted(json.loads(listed)))] += count
        return OpenCounts(sum(cells.values()), dict(cells), dict(organisations), dict(standards))
