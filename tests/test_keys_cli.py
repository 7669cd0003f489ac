"""`concernbot` and its keys, as an operator meets them: the key made on first run and said
once, a missing, bad or wrong key in one line, `keys rotate` across a restart; and a whole
concern typed in, of which a raw read of the database finds no word."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from livechat import DESCRIPTION, FIRST_HALF, NAME, SECOND_HALF
from secret_keys import SECRET_ENV
from sqlalchemy import create_engine, inspect, text
from test_cli import one_line, run

from storage.crypto import KEY_FILE, KeyRing, new_key

WRONG_KEY = (
    "concernbot: this database ({database}) was encrypted with another key: set"
    " CONCERNBOT_SECRET_KEY to the key it was made with."
)
# The embedded database's own key file is there: the fix is to stop overriding it.
WRONG_KEY_EMBEDDED = (
    "concernbot: this database ({database}) was encrypted with another key: it opens with"
    " the key file beside it, so unset CONCERNBOT_SECRET_KEY, or set it to that file's key."
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "CONCERNBOT_DATA_DIR": str(tmp_path / "data"),
        "CONCERNBOT_DATABASE_URL": "",
        "CONCERNBOT_SECRET_KEY": "",
        "CONCERNBOT_LOG_LEVEL": "WARNING",
    }


def file_a_concern(
    env: dict[str, str], cwd: Path, resume: bool = False
) -> tuple[str, subprocess.CompletedProcess[str]]:
    if resume:
        done = run(["chat", "--user", "sam", "--resume"], SECOND_HALF, env, cwd)
    else:
        done = run(["chat", "--user", "sam"], FIRST_HALF + SECOND_HALF, env, cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("Your reference is ")[1][:12], done


def test_keys_new_prints_a_fresh_key_on_a_line_of_its_own(
    tmp_path: Path, env: dict[str, str]
) -> None:
    first, second = (run(["keys", "new"], [], env, tmp_path) for _ in range(2))

    assert first.returncode == second.returncode == 0
    key = first.stdout.strip()
    assert first.stdout == key + "\n" and second.stdout.strip() != key
    KeyRing.parse(key, "printed")  # a real key
    assert not (tmp_path / "data").exists()  # making a key touches no database


def test_the_first_run_makes_a_private_key_and_says_once_to_keep_a_copy(
    tmp_path: Path, env: dict[str, str]
) -> None:
    key_file = tmp_path / "data" / KEY_FILE
    reference, first = file_a_concern(env, tmp_path)

    said = f"with a key that was just made and saved in {key_file}. Keep a copy"
    assert first.stdout.count(said) == 1
    assert "without it, the concerns stored here cannot be read" in first.stdout
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text(encoding="ascii")
    again = run(["status", "--user", "sam"], [], env, tmp_path)
    assert again.returncode == 0 and reference in again.stdout
    assert "Keep a copy" not in again.stdout + again.stderr
    assert key_file.read_text(encoding="ascii") == key  # never made again


def test_a_database_server_without_a_key_is_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    server = {**env, "CONCERNBOT_DATABASE_URL": "postgresql+psycopg://bot@127.0.0.1:9/none"}
    for command in (["chat"], ["db", "upgrade"], ["keys", "rotate"]):
        done = run(command, ["3"], server, tmp_path)
        assert one_line(done, code=2) == (
            "concernbot: no encryption key is set for the database server: set"
            " CONCERNBOT_SECRET_KEY (`concernbot keys new` makes one; keep a copy somewhere"
            " safe)."
        )
    assert not (tmp_path / "data").exists()  # no key is ever made up for a server


@pytest.mark.parametrize("given", ["not-a-key", "{key},short"])
def test_a_key_that_is_not_one_is_one_line_that_does_not_show_it(
    tmp_path: Path, env: dict[str, str], given: str
) -> None:
    secret = given.format(key=new_key())
    done = run(["chat"], ["3"], {**env, "CONCERNBOT_SECRET_KEY": secret}, tmp_path)
    position = 1 if given == "not-a-key" else 2
    assert one_line(done, code=2) == (
        f"concernbot: CONCERNBOT_SECRET_KEY: key {position} is not a Fernet key: a key is 44"
        " characters as `concernbot keys new` makes them, several separated by commas."
    )
    assert all(part not in done.stderr + done.stdout for part in secret.split(","))


def test_a_database_opened_with_another_key_is_one_line_and_left_as_it_is(
    tmp_path: Path, env: dict[str, str]
) -> None:
    file_a_concern(env, tmp_path)
    database = tmp_path / "data" / "concernbot.db"
    before = database.read_bytes()
    wrong = {**env, "CONCERNBOT_SECRET_KEY": new_key()}

    for command in (["chat", "--user", "sam", "--resume"], ["status"], ["keys", "rotate"]):
        done = run(command, ["1"], wrong, tmp_path)
        assert one_line(done, code=2) == WRONG_KEY_EMBEDDED.format(database=database)
    assert database.read_bytes() == before


def test_keys_rotate_then_the_new_key_alone_reads_everything_after_a_restart(
    tmp_path: Path, env: dict[str, str]
) -> None:
    reference, _ = file_a_concern(env, tmp_path)
    old = (tmp_path / "data" / KEY_FILE).read_text(encoding="ascii").strip()
    new = new_key()

    rotated = run(
        ["keys", "rotate"], [], {**env, "CONCERNBOT_SECRET_KEY": f"{new},{old}"}, tmp_path
    )
    assert rotated.returncode == 0, rotated.stderr
    lines = rotated.stdout.splitlines()
    assert lines[0].startswith("re-encrypted ") and lines[0].endswith(" (2 keys given)")
    count, rows = (int(n) for n in lines[0].split()[1:4:2])
    assert 0 < count <= rows
    assert lines[1] == "every value now opens with the first key: the others may be dropped"

    only_new = {**env, "CONCERNBOT_SECRET_KEY": new}
    status = run(["status", "--user", "sam"], [], only_new, tmp_path)
    assert status.returncode == 0, status.stderr
    assert reference in status.stdout
    checked = run(["keys", "check"], [], only_new, tmp_path)
    assert (checked.returncode, checked.stdout) == (0, f"{rows} rows: 0 sealed with an older key\n")
    again = run(["keys", "rotate"], [], only_new, tmp_path)
    assert again.stdout.startswith(f"re-encrypted 0 of {rows} rows")
    stale = run(["status", "--user", "sam"], [], env, tmp_path)  # the key file's old key
    assert one_line(stale, code=2) == WRONG_KEY.format(database=tmp_path / "data" / "concernbot.db")


def raw_rows(url: str) -> bytes:
    """Every row of every table as PostgreSQL writes it out as text, with no key."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return "\n".join(
                str(row)
                for name in inspect(connection).get_table_names()
                for row in connection.execute(text(f'SELECT t::text FROM "{name}" t')).scalars()
            ).encode("utf-8")
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_whole_concern_typed_in_leaves_no_word_of_it_in_the_database(
    tmp_path: Path, env: dict[str, str], backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        env = {**env, **SECRET_ENV, "CONCERNBOT_DATABASE_URL": url}
        assert run(["db", "upgrade"], [], env, tmp_path).returncode == 0
    paused = run(["chat", "--user", "sam"], FIRST_HALF, env, tmp_path)  # a draft, kept
    assert paused.returncode == 0, paused.stderr
    reference, _ = file_a_concern(env, tmp_path, resume=True)

    if backend == "postgres":
        seen = raw_rows(url)
    else:
        data = tmp_path / "data"
        seen = b"".join(
            f.read_bytes() for f in data.iterdir() if f.name.startswith("concernbot.db")
        )
    assert reference.encode() in seen  # the read reads the rows
    for written in (DESCRIPTION, NAME, "sam.example@nhs.net", "ward C9", "Addenbrookes, ward"):
        assert written.encode() not in seen, written


def test_a_lost_key_file_is_said_and_no_useless_key_is_made(
    tmp_path: Path, env: dict[str, str]
) -> None:
    file_a_concern(env, tmp_path)
    key_file = tmp_path / "data" / KEY_FILE
    key_file.rename(tmp_path / "backup.key")

    done = run(["status", "--user", "sam"], [], env, tmp_path)
    line = one_line(done, code=2)
    assert line == (
        f"concernbot: the key file {key_file} is missing, but the database"
        f" {tmp_path / 'data' / 'concernbot.db'} was encrypted with it: put the file back from"
        " your backup (or set CONCERNBOT_SECRET_KEY to its key). No new key was made: it could"
        " not open what is stored."
    )
    assert not key_file.exists() and "Keep a copy" not in done.stdout
    (tmp_path / "backup.key").rename(key_file)
    assert run(["status", "--user", "sam"], [], env, tmp_path).returncode == 0


def test_a_key_set_beside_the_embedded_key_file_says_to_unset_it(
    tmp_path: Path, env: dict[str, str]
) -> None:
    file_a_concern(env, tmp_path)
    other = {**env, "CONCERNBOT_SECRET_KEY": new_key()}
    line = one_line(run(["status", "--user", "sam"], [], other, tmp_path), code=2)
    assert "it opens with the key file beside it, so unset CONCERNBOT_SECRET_KEY" in line
