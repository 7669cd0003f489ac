"""Which concerns a long read wants, and reading them a batch at a time.

The register may hold 100,000 concerns: read as one list they took about 900 MiB. A
`ConcernFilter` says which ones are wanted; `ConcernRepository.stream` hands them out one
batch of rows at a time (a server-side cursor on PostgreSQL, SQLite's own lazy cursor), so
memory holds one batch whatever the count. Every filter here is on a plain column, so the
database applies it: encrypted columns cannot be searched (`storage.encrypted`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlmodel import col

from dialogues.records import Concern
from storage.repositories import require_aware
from storage.tables import ConcernRow

ANONYMOUS = "anonymous"  # the identity whose reporter the team never sees

# Rows read per round trip: big enough that the two queries a batch costs are cheap, small
# enough that a batch of decrypted concerns is a MiB or two (500 held 3.5 MiB more at peak).
STREAM_BATCH = 200


@dataclass(frozen=True)
class ConcernFilter:
    """Concerns created in [since, until), optionally of one status or organisation;
    `team_only` leaves out those the learner kept as a record (not queued for the team).

    `team_view` reads each as the Quality team sees it (`as_the_team_sees`): without its
    reporter's channel key, nor an anonymous reporter's name and contact. Fewer sealed
    values to open a row (five were a third of an export's time), and none it may not show.
    """

    since: datetime | None = None
    until: datetime | None = None
    status: str | None = None
    organisation: str | None = None
    team_only: bool = False
    team_view: bool = False

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None:
                object.__setattr__(self, name, require_aware(moment))

    def seen(self, concern: Concern) -> Concern:
        """The concern as this filter reads it (see `team_view`)."""
        return as_the_team_sees(concern) if self.team_view else concern

    def admits(self, concern: Concern) -> bool:
        """Whether the concern passes every filter (as the SQL `where` below does)."""
        return (
            (self.since is None or concern.created_at >= self.since)
            and (self.until is None or concern.created_at < self.until)
            and (self.status is None or concern.status == self.status)
            and (self.organisation is None or concern.organisation == self.organisation)
            and (not self.team_only or concern.queued_for_team)
        )

    def where(self, statement: Any) -> Any:
        """`statement` (a select over concerns) narrowed to what this filter admits."""
        if self.since is not None:
            statement = statement.where(col(ConcernRow.created_at) >= self.since)
        if self.until is not None:
            statement = statement.where(col(ConcernRow.created_at) < self.until)
        if self.status is not None:
            statement = statement.where(col(ConcernRow.status) == self.status)
        if self.organisation is not None:
            statement = statement.where(col(ConcernRow.organisation) == self.organisation)
        if self.team_only:
            statement = statement.where(col(ConcernRow.queued_for_team).is_(True))
        return statement


def as_the_team_sees(concern: Concern) -> Concern:
    """The concern without its reporter's channel key (never shown to the team) and, if it
    is anonymous, without their name and contact (`dialogues.alert` shows neither)."""
    if concern.identity == ANONYMOUS:
        return replace(concern, owner="", reporter_name=None, reporter_contact=None)
    return replace(concern, owner="")
