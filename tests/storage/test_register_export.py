"""The register streamed from storage: the same bytes (CSV) and cells (XLSX) as reading the
whole list gave (`register_before`), on every backend; memory that does not grow with the
register; and the command's progress bar, which counts rows and never shows their words."""

from __future__ import annotations

import io
import tracemalloc
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from register_before import chosen_before, write_csv_before, write_xlsx_before
from sqlalchemy import insert, select
from test_contract import T0, a_concern

from bot import cli
from bot.reports.register import register_filter, write_csv, write_xlsx
from dialogues.bundle import Content, load_content
from dialogues.records import Concern
from storage.crypto import KeyRing, new_key
from storage.database import SqlStorage, open_storage, upgrade
from storage.repositories import Storage
from storage.streaming import ConcernFilter
from storage.tables import ConcernRow

TRICKY = 'Rota gaps, "unsafe" nights;\nno senior, no cover\r\nsince March — ça suffit.'
FORMULAS = ("=SUM(A1:A9)", "+44 1223 000000", "-no cover", "@registrar", "\tindented")
ORGANISATIONS = ("cambridge_university_hospitals", "royal_papworth", "other")
STATUSES = ("queued", "received", "under_review", "closed")
# (since, until, status, organisation) as `concernbot export` takes them.
FILTERS: list[dict[str, Any]] = [
    {},
    {"since": date(2025, 3, 2), "until": date(2025, 3, 3)},
    {"since": date(2025, 3, 4)},
    {"until": date(2025, 3, 1)},
    {"status": "closed"},
    {"organisation": "royal_papworth"},
    {"since": date(2025, 3, 2), "status": "queued", "organisation": "other"},
    {"organisation": "nowhere"},
]


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content()


def varied(count: int = 36) -> list[Concern]:
    """Concerns over five days (some either side of midnight UTC, two at the same instant),
    of every status and several organisations and scores; some kept by the learner as a
    record, some anonymous, some with text a spreadsheet would run as a formula."""
    made = []
    for n in range(count):
        score = (n % 5 + 1) * (n % 4 + 1)
        made.append(
            a_concern(
                f"QC-{n:04d}",
                created_at=T0 + timedelta(hours=11 * n + (n % 3) * 7) if n != 5 else T0,
                status=STATUSES[n % 4],
                organisation=ORGANISATIONS[n % 3],
                organisation_other="St Ælfric's Hospital" if n % 3 == 2 else None,
                likelihood=n % 5 + 1,
                impact=n % 4 + 1,
                score=score,
                queued_for_team=n % 7 != 3,
                identity="anonymous" if n % 6 == 1 else "confidential",
                description=FORMULAS[n % 5] if n % 4 == 0 else (TRICKY if n % 4 == 1 else "x"),
                # "#N/A" is an error's code to a spreadsheet: it must stay text.
                site=None if n % 2 else ("#N/A" if n % 8 == 0 else "Ward 7"),
            )
        )
    return made


def seeded(storage: Storage) -> None:
    with storage.unit_of_work() as uow:
        for concern in varied():
            uow.concerns.add(concern)
        uow.concerns.unlink("QC-0010")  # forgotten: no name or contact any more


def test_stream_hands_out_what_search_finds_newest_first_in_batches(storage: Storage) -> None:
    seeded(storage)
    with storage.unit_of_work() as uow:
        every = uow.concerns.search()
        for chosen in (ConcernFilter(), ConcernFilter(team_only=True, status="closed")):
            streamed = list(uow.concerns.stream(chosen, batch=4))
            assert streamed == [c for c in every if chosen.admits(c)]
            assert uow.concerns.tally(chosen) == len(streamed)
        assert not any(c.queued_for_team for c in every if c.reference == "QC-0003")
        assert "QC-0003" not in {c.reference for c in uow.concerns.stream(register_filter())}


def test_the_streamed_csv_is_byte_for_byte_what_the_whole_list_gave(
    storage: Storage, content: Content, tmp_path: Path
) -> None:
    seeded(storage)
    for number, filters in enumerate(FILTERS):
        before, after = tmp_path / f"before{number}.csv", tmp_path / f"after{number}.csv"
        with storage.unit_of_work() as uow:
            chosen = chosen_before(uow, **filters)
            write_csv_before(chosen, content, before)
            streamed = uow.concerns.stream(register_filter(**filters), batch=5)
            written = write_csv(streamed, content, after)
        assert after.read_bytes() == before.read_bytes(), filters
        assert written == len(chosen)
    assert 0 < len(chosen_rows(tmp_path / "after1.csv")) < len(chosen_rows(tmp_path / "after0.csv"))


def chosen_rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8-sig").splitlines()


def _sheet(path: Path) -> Worksheet:
    sheet = load_workbook(path).active
    assert isinstance(sheet, Worksheet)
    return sheet


def test_the_streamed_workbook_has_the_cells_the_whole_list_gave(
    storage: Storage, content: Content, tmp_path: Path
) -> None:
    seeded(storage)
    for number, filters in enumerate(FILTERS[:3]):
        before, after = tmp_path / f"before{number}.xlsx", tmp_path / f"after{number}.xlsx"
        with storage.unit_of_work() as uow:
            write_xlsx_before(chosen_before(uow, **filters), content, before)
            write_xlsx(uow.concerns.stream(register_filter(**filters), batch=5), content, after)
        old, new = _sheet(before), _sheet(after)
        cells = [[(c.value, c.data_type) for c in row] for row in new.iter_rows()]
        assert cells == [[(c.value, c.data_type) for c in row] for row in old.iter_rows()]
        assert [c.font.bold for c in new[1]] == [c.font.bold for c in old[1]]
        fills = [[c.fill.fgColor.rgb for c in row] for row in new.iter_rows(min_row=2)]
        assert fills == [[c.fill.fgColor.rgb for c in row] for row in old.iter_rows(min_row=2)]
        wraps = [[c.alignment.wrap_text for c in row] for row in new.iter_rows(min_row=2)]
        assert wraps == [[c.alignment.wrap_text for c in row] for row in old.iter_rows(min_row=2)]
        assert new.freeze_panes == old.freeze_panes == "A2"
        assert new.auto_filter.ref == old.auto_filter.ref
        # A register shorter than SIZING_ROWS is sized to all its text, as before.
        widths = {k: d.width for k, d in new.column_dimensions.items()}
        assert widths == {k: d.width for k, d in old.column_dimensions.items()}
    everything = _sheet(tmp_path / "after0.xlsx")
    assert any(c.value == "=SUM(A1:A9)" for row in everything.iter_rows() for c in row)


def _filled(url: str, keys: KeyRing, count: int) -> SqlStorage:
    """A SQLite database of `count` register concerns: one added as the bot adds it, then
    copies of its row (new references, older by a minute each) inserted in one statement."""
    upgrade(url, keys)
    storage = open_storage(url, keys)
    with storage.unit_of_work() as uow:
        uow.concerns.add(replace(a_concern("QC-0"), description=TRICKY * 3))
    table = ConcernRow.__table__  # type: ignore[attr-defined]  # SQLModel's table
    assert isinstance(storage, SqlStorage)
    with storage.engine.begin() as connection:
        base = dict(connection.execute(select(table)).mappings().one())
        base.pop("id")
        copies = [
            {**base, "reference": f"QC-{n:06d}", "created_at": T0 - timedelta(minutes=n)}
            for n in range(1, count)
        ]
        connection.execute(insert(table), copies)
    return storage


def _peak_csv_bytes(tmp_path: Path, count: int) -> int:
    folder = tmp_path / str(count)
    storage = _filled(f"sqlite:///{folder.as_posix()}/register.db", KeyRing([new_key()]), count)
    folder.mkdir(exist_ok=True)
    content = load_content()
    try:
        tracemalloc.start()
        with storage.unit_of_work() as uow:
            written = write_csv(uow.concerns.stream(register_filter()), content, folder / "r.csv")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        storage.close()
    assert written == count
    return peak


def test_a_csv_export_holds_one_batch_not_the_register(tmp_path: Path) -> None:
    # Five times the concerns, about the same peak: what grows with the count is the file.
    small, large = _peak_csv_bytes(tmp_path, 1000), _peak_csv_bytes(tmp_path, 5000)
    assert large < small * 1.3, (small, large)


def test_the_bar_counts_rows_on_a_terminal_and_never_shows_their_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key()
    url = f"sqlite:///{tmp_path.as_posix()}/bar.db"
    upgrade(url, KeyRing([key]))
    storage = open_storage(url, KeyRing([key]))
    with storage.unit_of_work() as uow:
        for n in range(3):
            uow.concerns.add(a_concern(f"QC-{n}", description="Nights alone on ward C9"))
    storage.close()
    monkeypatch.setenv("CONCERNBOT_DATABASE_URL", url)
    monkeypatch.setenv("CONCERNBOT_SECRET_KEY", key)
    monkeypatch.setenv("CONCERNBOT_DATA_DIR", str(tmp_path / "data"))

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for form, terminal in (("csv", Terminal()), ("xlsx", Terminal()), ("csv", io.StringIO())):
        monkeypatch.setattr("sys.stderr", terminal)
        assert cli.main(["export", "--format", form, "--out", str(tmp_path / f"r.{form}")]) == 0
        shown = terminal.getvalue()
        if isinstance(terminal, Terminal):
            assert "/3" in shown and "concerns" in shown, shown
        else:
            assert shown == ""  # not a terminal: no bar
        assert "ward C9" not in shown and "QC-" not in shown
        assert "wrote 3 concerns" in capsys.readouterr().out
