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

from sqlalchemy import String, and_, cast, func, literal, select, tuple_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from storage.repositories import as_utc, require_aware
from storage.sql_hints import not_indexed
from storage.tables import ConcernRow, queue_rank
from storage.views import OPEN_STATUSES, PAGE_SIZE, OpenCounts, QueueEntry, QueueKey, QueuePage

_concerns = ConcernRow.__table__  # type: ignore[attr-defined]
_RANK = queue_rank(_concerns.c.band)
_ORDER = (_RANK, _concerns.c.created_at, _concerns.c.reference)
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


def _key(key: QueueKey) -> Any:
    moment = literal(require_aware(key.created_at), _concerns.c.created_at.type)
    return tuple_(literal(key.rank), moment, literal(key.reference))


def _ahead_of(key: QueueKey, inclusive: bool = False) -> ColumnElement[bool]:
    order = tuple_(*_ORDER)
    ahead: ColumnElement[bool] = order <= _key(key) if inclusive else order < _key(key)
    return ahead


class SqlViews:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _counts(self, key: QueueKey | None) -> tuple[int, int, int]:
        """Open concerns in all, ahead of `key`, and ahead of or at it: one statement."""
        if key is None:
            total = self._session.execute(select(func.count()).where(_OPEN)).scalar_one()
            return int(total), 0, 0
        ahead = func.count().filter(_ahead_of(key))
        upto = func.count().filter(_ahead_of(key, inclusive=True))
        statement = select(func.count(), ahead, upto).where(_OPEN_IN_ORDER)
        row = self._session.execute(statement).one()
        return int(row[0]), int(row[1]), int(row[2])

    def _entries(self, key: QueueKey | None, backwards: bool, size: int) -> list[QueueEntry]:
        statement = select(*_ENTRY).where(_OPEN_IN_ORDER)
        if key is not None:
            beyond = tuple_(*_ORDER) > _key(key)
            statement = statement.where(_ahead_of(key) if backwards else beyond)
        order = [column.desc() for column in _ORDER] if backwards else list(_ORDER)
        rows = self._session.execute(statement.order_by(*order).limit(size)).all()
        entries = [QueueEntry(row[0], row[1], row[2], as_utc(row[3]), *row[4:]) for row in rows]
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
        c = _concerns.c
        cells: dict[tuple[int, int], int] = {}
        by_cell = select(c.likelihood, c.impact, func.count()).where(_OPEN)
        for likelihood, impact, count in self._session.execute(
            by_cell.group_by(c.likelihood, c.impact)
        ):
            cells[(likelihood, impact)] = count
        by_organisation = select(c.organisation, func.count()).where(_OPEN)
        organisations = {
            key: count
            for key, count in self._session.execute(by_organisation.group_by(c.organisation))
        }
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
        return OpenCounts(sum(cells.values()), cells, organisations, dict(standards))
