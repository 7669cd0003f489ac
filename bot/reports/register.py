"""The register: every concern as one row, for the Quality team's spreadsheets.

Columns are the alert's labels in the form's order, values its words, both from
`alert_fields`, so the register reads like the alert card. CSV is UTF-8 with a byte-order
mark because Excel otherwise guesses the wrong encoding; XLSX comes styled and filterable.

Both writers take any iterable of concerns and write each row as it comes, so an export
streamed from storage (`ConcernRepository.stream`) holds one batch in memory at any size.
XLSX is written by `register_xlsx`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from dialogues.alert import FIELDS, Alert
from dialogues.bundle import Content
from dialogues.records import Concern
from storage.streaming import ConcernFilter

# A leading one of these makes a spreadsheet read a cell as a formula; a learner's text must
# never run as one (CSV injection), so in CSV such a value is prefixed with an apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def select(
    concerns: Sequence[Concern],
    since: date | None = None,
    until: date | None = None,
    status: str | None = None,
    organisation: str | None = None,
) -> list[Concern]:
    """The concerns that pass every filter given; dates are inclusive, on the UTC date."""

    def passes(concern: Concern) -> bool:
        day = concern.created_at.astimezone(UTC).date()
        return (
            (since is None or day >= since)
            and (until is None or day <= until)
            and (status is None or concern.status == status)
            and (organisation is None or concern.organisation == organisation)
        )

    return [concern for concern in concerns if passes(concern)]


def register_filter(
    since: date | None = None,
    until: date | None = None,
    status: str | None = None,
    organisation: str | None = None,
) -> ConcernFilter:
    """What `select` chooses, as a filter storage applies: the concerns queued for the team
    (one the learner kept as a record is not the team's) received from the start of `since`
    to the end of `until`, UTC days, inclusive."""
    return ConcernFilter(
        since=None if since is None else datetime.combine(since, time(), UTC),
        until=None if until is None else datetime.combine(until + timedelta(days=1), time(), UTC),
        status=status,
        organisation=organisation,
        team_only=True,
        team_view=True,
    )


def header(content: Content) -> list[str]:
    """The column titles: the alert's labels in the form's order, as `alert_fields` gives them.

    Read from the same keys `alert_fields` uses, so an empty register still has its header.
    """
    return [content.prompts.alert[key] for key in FIELDS]


def rows(concerns: Sequence[Concern], content: Content) -> list[list[str]]:
    """One row of alert values per concern, in the header's order."""
    alert = Alert(content)
    return [row(concern, alert) for concern in concerns]


def row(concern: Concern, alert: Alert) -> list[str]:
    """The concern's alert values, in the header's order."""
    return alert.values(concern)


def write_csv(concerns: Iterable[Concern], content: Content, out: Path) -> int:
    """Write the register as CSV that Excel opens with the right characters; how many rows."""
    written = 0
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header(content))
        alert = Alert(content)
        for concern in concerns:
            # Inline, not a function per value: that call was a tenth of a row's writing.
            writer.writerow(
                [
                    f"'{value}" if value.startswith(FORMULA_STARTS) else value
                    for value in alert.values(concern)
                ]
            )
            written += 1
    return written


def write_xlsx(concerns: Iterable[Concern], content: Content, out: Path) -> int:
    """Write the register as a styled workbook (`register_xlsx`); how many rows.

    openpyxl, and numpy which it loads, come in only here: a CSV export never pays for them.
    """
    from bot.reports.register_xlsx import write_workbook

    return write_workbook(concerns, content, out)
