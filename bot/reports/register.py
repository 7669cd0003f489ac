"""The register: every concern as one row, for the Quality team's spreadsheets.

Columns are the alert's labels in the form's order, values its words, both from
`alert_fields`, so the register reads like the alert card. CSV is UTF-8 with a byte-order
mark because Excel otherwise guesses the wrong encoding; XLSX comes styled and filterable.
"""

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

# A leading one of these makes a spreadsheet read a cell as a formula; a learner's text must
# never run as one (CSV injection), so in CSV such a value is prefixed with an apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

SHEET_TITLE = "Register"
MIN_WIDTH = 10
MAX_WIDTH = 60


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


def header(content: Content) -> list[str]:
    """The column titles: the alert's labels in the form's order, as `alert_fields` gives them.

    Read from the same keys `alert_fields` uses, so an empty register still has its header.
    """
    return [content.prompts.alert[key] for key in FIELDS]


def rows(concerns: Sequence[Concern], content: Content) -> list[list[str]]:
    """One row of alert values per concern, in the header's order."""
    return [[field.value for field in alert_fields(concern, content)] for concern in concerns]


def write_csv(concerns: Sequence[Concern], content: Content, out: Path) -> None:
    """Write the register as CSV that Excel opens with the right characters."""
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header(content))
        for row in rows(concerns, content):
            writer.writerow([_inert(value) for value in row])


def _inert(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def write_xlsx(concerns: Sequence[Concern], content: Content, out: Path) -> None:
    """Write the register as a workbook: bold frozen header, filters, band-coloured scores."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new Workbook always has one sheet
    sheet.title = SHEET_TITLE
    titles = header(content)
    sheet.append(titles)
    for cell in sheet[1]:
        cell.font = Font(bold=True)

    values = rows(concerns, content)
    score_column = FIELDS.index("score") + 1
    wrap = Alignment(wrap_text=True, vertical="top")
    for row_number, (concern, row) in enumerate(zip(concerns, values, strict=True), start=2):
        for column, value in enumerate(row, start=1):
            cell = sheet.cell(row=row_number, column=column, value=value)
            # openpyxl takes a string starting with "=" for a formula; keep it text.
            cell.data_type = "s"
            cell.alignment = wrap
        colour = band_hex(content.catalogue.risk.band_for(concern.score).colour)
        sheet.cell(row=row_number, column=score_column).fill = PatternFill(
            fill_type="solid", start_color=colour, end_color=colour
        )

    for column, texts in enumerate(zip(titles, *values, strict=True), start=1):
        longest = max(_longest_line(text) for text in texts)
        width = min(max(longest + 2, MIN_WIDTH), MAX_WIDTH)
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{max(sheet.max_row, 1)}"
    workbook.save(out)


def _longest_line(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)
