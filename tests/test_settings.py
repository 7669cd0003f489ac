"""Settings that change how the bot runs: read, checked, and applied where the bot is wired."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.app import build
from bot.cli import setting_problem
from bot.settings import Settings


@pytest.mark.parametrize(("given", "taken"), [("full", "FULL"), (" Normal ", "NORMAL")])
def test_sqlite_synchronous_is_read_whatever_its_case(
    monkeypatch: pytest.MonkeyPatch, given: str, taken: str
) -> None:
    monkeypatch.setenv("CONCERNBOT_SQLITE_SYNCHRONOUS", given)
    assert Settings().sqlite_synchronous == taken


def test_sqlite_synchronous_is_normal_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONCERNBOT_SQLITE_SYNCHRONOUS", raising=False)
    assert Settings(_env_file=None).sqlite_synchronous == "NORMAL"  # type: ignore[call-arg]


@pytest.mark.parametrize("given", ["off", "extra", "1"])
def test_any_other_sqlite_synchronous_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("CONCERNBOT_SQLITE_SYNCHRONOUS", given)
    with pytest.raises(ValidationError) as raised:
        Settings()
    said = setting_problem(raised.value)
    assert said.startswith("setting CONCERNBOT_SQLITE_SYNCHRONOUS: ")
    assert "'NORMAL'" in said and "'FULL'" in said and len(said.splitlines()) == 1


def test_the_bot_opens_its_embedded_database_with_the_synchronous_set(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=None, sqlite_synchronous="FULL")
    app = build(settings)
    try:
        with app.storage.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        app.storage.close()
