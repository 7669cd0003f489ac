"""The Quality team's views of the open concerns: the queue a page at a time, and the counts
the risk picture draws. What storage hands out for them, and the order they follow.

A view reads only what it shows, and does its work in the database: a page is a keyset
query over an index (migration 0009), counts are GROUP BY queries, so neither grows with
the number of concerns in Python or in statements. `sql_views` implements `TeamViews` over
SQL, `memory_views` over any concern repository (the reference the SQL must agree with).

Only plain columns are counted or ordered: an encrypted one (a typed organisation, an
assignee's name) cannot be grouped in SQL, so a typed organisation counts under its key,
"other", as the picture has always shown it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

# Open: still the team's to work on (a concern kept as a record is "recorded", not open).
OPEN_STATUSES = ("queued", "received", "under_review", "with_provider")
# The queue's order: the most serious band first; a band the content no longer has, last.
BAND_ORDER = ("extreme", "high", "moderate", "low")
PAGE_SIZE = 20
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def band_rank(band: str) -> int:
    return BAND_ORDER.index(band) if band in BAND_ORDER else len(BAND_ORDER)


@dataclass(frozen=True, order=True)
class QueueKey:
    """Where a concern sits in the queue: band, then the longest waiting, then reference.

    Unique, so a page can start just after (or end just before) a concern whether or not
    others were filed or closed since."""

    rank: int
    created_at: datetime
    reference: str

    def to_text(self) -> str:
        """A short form for a button's data: rank, microseconds since 1970, reference."""
        micros = (self.created_at - EPOCH) // timedelta(microseconds=1)
        return f"{self.rank}:{micros}:{self.reference}"

    @classmethod
    def from_text(cls, text: str) -> QueueKey:
        """The key `to_text` wrote; ValueError for anything else (stale or forged data)."""
        rank, micros, reference = text.split(":", 2)
        return cls(int(rank), EPOCH + timedelta(microseconds=int(micros)), reference)


@dataclass(frozen=True)
class QueueEntry:
    """One line of the queue: what the team needs to pick a concern, and nothing more."""

    reference: str
    band: str
    score: int
    created_at: datetime
    organisation: str
    organisation_other: str | None
    status: str
    assigned_to: str | None

    @property
    def key(self) -> QueueKey:
        return QueueKey(band_rank(self.band), self.created_at, self.reference)


@dataclass(frozen=True)
class QueuePage:
    """Some consecutive entries of the queue as it is now.

    `before` open concerns come ahead of the first entry, and `total` are open in all; the
    entries are the ones numbered before + 1 to before + len(entries)."""

    entries: tuple[QueueEntry, ...]
    before: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.before > 0

    @property
    def has_next(self) -> bool:
        return self.before + len(self.entries) < self.total


@dataclass(frozen=True)
class OpenCounts:
    """How many concerns are open, by the plain columns the risk picture draws.

    `standards` is keyed by a concern's whole list of standards, sorted: the picture counts
    a concern once for each domain it touches, which only the whole list tells."""

    total: int
    cells: Mapping[tuple[int, int], int]  # (likelihood, impact)
    organisations: Mapping[str, int]  # organisation key ("other" for a typed one)
    standards: Mapping[tuple[str, ...], int]


class TeamViews(Protocol):
    def queue_page(
        self,
        after: QueueKey | None = None,
        before: QueueKey | None = None,
        size: int = PAGE_SIZE,
    ) -> QueuePage:
        """`size` open concerns in queue order: the first ones; or those just after `after`
        (the last ones if none come after it any more); or those just before `before` (the
        first ones if fewer than `size` come before it)."""
        ...

    def open_counts(self) -> OpenCounts:
        """The open concerns counted (the same concerns the queue lists)."""
        ...
