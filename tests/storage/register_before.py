"""The register as it was written before it was streamed (main at e34add0), kept as the
reference the streamed export must match: the whole register read as one list, filtered in
Python, the workbook built in memory."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bot.reports.colours import band_hex
from dialogues.alert import FIELDS, alert_fields
from dialogues.bundle import Content
from dialogues.records import Concern
from storage.repositories import UnitOfWork

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def chosen_before(
    uow: UnitOfWork,
    since: date | None = None,
    until: date | None = None,
    status: str | None = None,
    organisation: str | None = None,
) -> list[Concern]:
    """What `concernbot export` chose: everything searched, then filtered in Python."""
    everything = [c for c in uow.concerns.search(None, None, None, None) if c.queued_for_team]

    def passes(concern: Concern) -> bool:
        day = concern.created_at.astimezone(UTC).date()
        return (
            (since is None or day >= since)
            and (until is None or day <= until)
            and (status is None or concern.status == status)
            and (organisation is None or concern.organisation == organisation)
        )

    return [concern for concern in everything if passes(concern)]


def _rows(concerns: Sequence[Concern], content: Content) -> list[list[str]]:
    return [[field.value for field in alert_fields(concern, content)] for concern in concerns]


def write_csv_before(concerns: Sequence[Concern], content: Content, out: Path) -> None:
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL)
        writer.writerow([content.prompts.alert[key] for key in FIELDS])
        for row in _rows(concerns, content):
            writer.writerow([f"'{v}" if v.startswith(FORMULA_STARTS) else v for v in row])


def write_xlsx_before(concerns: Sequence[Concern], content: Content, out: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Register"
    titles = [content.prompts.alert[key] for key in FIELDS]
    sheet.append(titles)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    values = _rows(concerns, content)
    score_column = FIELDS.index("score") + 1
    wrap = Alignment(wrap_text=True, vertical="top")
    for row_number, (concern, row) in enumerate(zip(concerns, values, strict=True), start=2):
        for column, value in enumerate(row, start=1):
            cell = sheet.cell(row=row_number, column=column, value=value)
            cell.data_type = "s"
            cell.alignment = wrap
        colour = band_hex(content.catalogue.risk.band_for(concern.score).colour)
        sheet.cell(row=row_number, column=score_column).fill = PatternFill(
            fill_type="solid", start_color=colour, end_color=colour
        )
    for column, texts in enumerate(zip(titles, *values, strict=True), start=1):
        longest = max(max((len(line) for line in t.splitlines()), default=0) for t in texts)
        width = min(max(longest + 2, 10), 60)
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{max(sheet.max_row, 1)}"
    workbook.save(out)
