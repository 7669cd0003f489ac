"""The register as a workbook: bold frozen header, filters, band-coloured scores.

Written in openpyxl's write-only mode, a row at a time as the concerns come, so memory
holds one batch whatever the count. Every text cell wraps, top-aligned: that is made the
workbook's base style, so most cells go in as plain values, which cost openpyxl a third
of a styled cell (see `_plain`). Write-only mode fixes the column widths before the
first row: they are sized to the header and the first `SIZING_ROWS` concerns (all of a
register that short, so a small one looks as it always did).
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import copy
from itertools import chain, islice
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.utils.indexed_list import IndexedList
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bot.reports.colours import band_hex
from bot.reports.register import header, row
from dialogues.alert import FIELDS, Alert
from dialogues.bundle import Content
from dialogues.records import Concern

SHEET_TITLE = "Register"
MIN_WIDTH = 10
MAX_WIDTH = 60
SIZING_ROWS = 1000
SCORE_COLUMN = FIELDS.index("score")
WRAP = Alignment(wrap_text=True, vertical="top")
BOLD = Font(bold=True)


def write_workbook(concerns: Iterable[Concern], content: Content, out: Path) -> int:
    """Write the register as a workbook: bold frozen header, filters, band-coloured scores;
    how many rows."""
    workbook = Workbook(write_only=True)
    _wrap_by_default(workbook)
    sheet = workbook.create_sheet(SHEET_TITLE)
    titles = header(content)
    alert = Alert(content)
    stream = ((concern, row(concern, alert)) for concern in concerns)
    first = list(islice(stream, SIZING_ROWS))
    for column, texts in enumerate(
        zip(titles, *(values for _, values in first), strict=True), start=1
    ):
        longest = max(_longest_line(text) for text in texts)
        width = min(max(longest + 2, MIN_WIDTH), MAX_WIDTH)
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A2"

    styles = _Styles(sheet, content)
    sheet.append([styles.cell(title, "header") for title in titles])
    written = 0
    for concern, values in chain(first, stream):
        sheet.append(_cells(concern, values, styles))
        written += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{written + 1}"
    workbook.save(out)
    return written


def _wrap_by_default(workbook: Workbook) -> None:
    """Make wrapped, top-aligned text the base style (index 0), which a cell without a style
    of its own shows. openpyxl's style tables are private: they are read from the workbook
    as it saves, so setting the first entry before any cell is written is enough."""
    base = StyleArray()
    base.alignmentId = workbook._alignments.add(WRAP)  # type: ignore[attr-defined]
    workbook._cell_styles = IndexedList([base])  # type: ignore[attr-defined]


def _plain(value: str) -> bool:
    """Whether openpyxl keeps `value` as text when given plainly: it takes a leading "=" for
    a formula, and an error's code ("#N/A") for that error; those go in as text cells."""
    return not value.startswith("=") and value not in ERROR_CODES


def _cells(concern: Concern, values: list[str], styles: _Styles) -> list[Cell | str]:
    cells: list[Cell | str] = [
        value if _plain(value) else styles.cell(value, "text") for value in values
    ]
    colour = band_hex(styles.risk.band_for(concern.score).colour)
    cells[SCORE_COLUMN] = styles.cell(values[SCORE_COLUMN], colour)
    return cells


class _Styles:
    """Text cells in the sheet's few styles. Setting a style on a cell hashes it to find
    the workbook's index of it, about 10 microseconds: 2.7 million cells could not afford
    that. Each style is set once, on a model cell, and its indexes copied from there."""

    def __init__(self, sheet: WriteOnlyWorksheet, content: Content) -> None:
        self.sheet = sheet
        self.risk = content.catalogue.risk
        self._models: dict[str, Cell] = {}

    def cell(self, value: str, style: str) -> Cell:
        """A text cell; `style` is "header", "text", or a band's hex colour (a score)."""
        model = self._models.get(style)
        if model is None:
            model = self._models[style] = self._model(style)
        cell = WriteOnlyCell(self.sheet, value=value)
        # openpyxl takes a string starting with "=" for a formula; keep it text.
        cell.data_type = "s"
        # The model's style indexes, copied (private to openpyxl: see the class docstring).
        cell._style = copy(model._style)  # type: ignore[attr-defined]  # untyped in stubs
        return cell

    def _model(self, style: str) -> Cell:
        model = WriteOnlyCell(self.sheet)
        if style == "header":
            model.font = BOLD
            return model
        model.alignment = WRAP
        if style != "text":
            model.fill = PatternFill(fill_type="solid", start_color=style, end_color=style)
        return model


def _longest_line(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)
