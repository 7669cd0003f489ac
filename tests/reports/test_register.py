"""The register: CSV and XLSX read back, and the filters that choose its rows."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.reports.register import select, write_csv, write_xlsx
from dialogues.alert import alert_fields
from dialogues.bundle import Content
from dialogues.records import Concern

from .conftest import MakeConcern

TRICKY = 'Rota gaps, "unsafe" nights;\nno senior, no cover\r\nsince March — ça suffit.'


def _labels(concern: Concern, content: Content) -> list[str]:
    return [f.label for f in alert_fields(concern, content)]


def _values(concern: Concern, content: Content) -> list[str]:
    return [f.value for f in alert_fields(concern, content)]


def _read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _sheet(path: Path) -> Worksheet:
    sheet = load_workbook(path).active
    assert isinstance(sheet, Worksheet)
    return sheet


def test_csv_has_a_bom_the_labels_and_one_row_per_concern(
    tmp_path: Path, content: Content, make_concern: MakeConcern
) -> None:
    concerns = [make_concern(), make_concern(reference="QC-2025-0002", likelihood=5, score=15)]
    out = tmp_path / "register.csv"
    write_csv(concerns, content, out)

    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = _read_csv(out)
    assert rows[0] == _labels(concerns[0], content)
    assert rows[0][:2] == ["Reference", "Received"]
    assert rows[1:] == [_values(c, content) for c in concerns]


def test_csv_round_trips_commas_quotes_and_newlines_exactly(
    tmp_path: Path, content: Content, make_concern: MakeConcern
) -> None:
    out = tmp_path / "register.csv"
    write_csv([make_concern(description=TRICKY)], content, out)
    header, row = _read_csv(out)
    assert row[header.index("Description")] == TRICKY


def test_csv_keeps_a_formula_from_running_in_a_spreadsheet(
    tmp_path: Path, content: Content, make_concern: MakeConcern
) -> None:
    out = tmp_path / "register.csv"
    write_csv([make_concern(description='=HYPERLINK("http://x","y")')], content, out)
    header, row = _read_csv(out)
    assert row[header.index("Description")] == '\'=HYPERLINK("http://x","y")'


def test_an_empty_register_still_has_its_header(
    tmp_path: Path, content: Content, make_concern: MakeConcern
) -> None:
    write_csv([], content, tmp_path / "empty.csv")
    write_xlsx([], content, tmp_path / "empty.xlsx")
    labels = _labels(make_concern(), content)
    assert _read_csv(tmp_path / "empty.csv") == [labels]
    assert [c.value for c in _sheet(tmp_path / "empty.xlsx")[1]] == labels


def test_xlsx_values_header_fill_freeze_and_filter(
    tmp_path: Path, content: Content, make_concern: MakeConcern
) -> None:
    concerns = [
        make_concern(description=TRICKY),  # 12: amber
        make_concern(reference="QC-2025-0002", likelihood=5, impact=4, score=20),  # red
        make_concern(reference="QC-2025-0003", likelihood=1, impact=2, score=2),  # green
    ]
    out = tmp_path / "register.xlsx"
    write_xlsx(concerns, content, out)
    sheet = _sheet(out)

    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == _labels(concerns[0], content)
    assert rows[1:] == [_values(c, content) for c in concerns]
    assert all(cell.font.bold for cell in sheet[1])
    assert not sheet.cell(row=2, column=1).font.bold
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:AA4"  # one column a field, the university included

    score = rows[0].index("Risk score") + 1
    fills = [sheet.cell(row=r, column=score).fill.fgColor.rgb for r in (2, 3, 4)]
    assert fills == ["00FFC000", "00FF0000", "0000B050"]
    assert sheet.cell(row=2, column=1).fill.fill_type is None


def test_xlsx_columns_are_sized_to_their_text_within_bounds(
    tmp_path: Path, content: Content, make_concern: MakeConcern
) -> None:
    out = tmp_path / "register.xlsx"
    write_xlsx([make_concern(description="x" * 500)], content, out)
    sheet = _sheet(out)
    header = [cell.value for cell in sheet[1]]
    width = {
        name: sheet.column_dimensions[get_column_letter(column)].width
        for column, name in enumerate(header, start=1)
    }
    assert width["Description"] == 60
    assert width["Reference"] == 14  # "QC-2025-0001" plus a margin
    assert width["Site or department"] == len("Ward 7, general medicine") + 2


def test_xlsx_keeps_formula_like_text_as_text(
    tmp_path: Path, content: Content, make_concern: MakeConcern
) -> None:
    out = tmp_path / "register.xlsx"
    write_xlsx([make_concern(description="=1+1")], content, out)
    sheet = _sheet(out)
    column = [cell.value for cell in sheet[1]].index("Description") + 1
    cell = sheet.cell(row=2, column=column)
    assert cell.value == "=1+1"
    assert cell.data_type == "s"


def test_select_filters_by_inclusive_utc_dates(make_concern: MakeConcern) -> None:
    day = datetime(2025, 3, 14, tzinfo=UTC)
    early = make_concern(reference="A", created_at=day - timedelta(seconds=1))
    first = make_concern(reference="B", created_at=day)
    # 00:30 on the 15th in UTC+1 is 23:30 on the 14th in UTC.
    late = make_concern(
        reference="C", created_at=datetime(2025, 3, 15, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    )
    next_day = make_concern(reference="D", created_at=day + timedelta(days=1))
    concerns = [early, first, late, next_day]

    def refs(chosen: list[Concern]) -> list[str]:
        return [c.reference for c in chosen]

    march_14 = date(2025, 3, 14)
    assert refs(select(concerns, since=march_14, until=march_14)) == ["B", "C"]
    assert refs(select(concerns, since=march_14)) == ["B", "C", "D"]
    assert refs(select(concerns, until=march_14)) == ["A", "B", "C"]
    assert refs(select(concerns)) == ["A", "B", "C", "D"]


def test_select_filters_by_status_and_organisation_together(make_concern: MakeConcern) -> None:
    concerns = [
        make_concern(reference="A"),
        make_concern(reference="B", status="recorded"),
        make_concern(reference="C", organisation="royal_papworth"),
        make_concern(reference="D", organisation="royal_papworth", status="recorded"),
    ]
    assert [c.reference for c in select(concerns, status="recorded")] == ["B", "D"]
    assert [c.reference for c in select(concerns, organisation="royal_papworth")] == ["C", "D"]
    chosen = select(concerns, status="queued", organisation="royal_papworth")
    assert [c.reference for c in chosen] == ["C"]
    assert select(concerns, organisation="nowhere") == []
