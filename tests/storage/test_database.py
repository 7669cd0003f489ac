"""Opening the embedded SQLite database: where it lives and how its connections are set up."""

from __future__ import annotations

from pathlib import Path

from storage.database import open_storage, sqlite_url_for, upgrade


def test_the_sqlite_url_names_a_file_in_the_data_folder(tmp_path: Path) -> None:
    assert sqlite_url_for(tmp_path) == f"sqlite:///{tmp_path.as_posix()}/concernbot.db"


def test_first_run_creates_the_folder_and_a_ready_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "there" / "yet"
    url = sqlite_url_for(data_dir)

    upgrade(url)
    storage = open_storage(url)
    try:
        with storage.unit_of_work() as work:
            assert work.concerns.count() == 0
    finally:
        storage.close()

    assert (data_dir / "concernbot.db").is_file()


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    storage = open_storage(sqlite_url_for(tmp_path))
    try:
        with storage.engine.connect() as connection:
            journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
            busy_timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    finally:
        storage.close()

    assert journal == "wal"
    assert foreign_keys == 1
    assert busy_timeout == 5000
