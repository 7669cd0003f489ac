"""`concernbot` as a newcomer runs it: a real process, piped input, a real database after."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path

import pytest
from livechat import ABOUT, CONCERNBOT, DESCRIPTION, FIRST_HALF, NAME, SECOND_HALF, LiveChat
from secret_keys import SECRET_ENV, keys_for
from sqlalchemy import make_url
from traces import traces

from bot.channels.console import CONSOLE_RESUME, ConsoleChat
from bot.cli import DATABASE_ADVICE, chat_command, diagrams
from bot.service import TurnService
from dialogues.bundle import load_content
from dialogues.catalogue import DEFAULT_CONTENT_DIR
from dialogues.contacts import quality_team_email
from dialogues.engine import Dialogue
from dialogues.records import Conversation
from storage.database import PROBLEMS, StorageUnavailable, open_storage, sqlite_url_for, where
from storage.memory import MemoryStorage
from storage.repositories import UnitOfWork

WANTS_TEAM = 10  # where SECOND_HALF answers "send it to the Quality team?"


def resume_hint(user: str) -> str:
    """The resume command the chat prints for `user` when run as these tests run it."""
    return f"`{chat_command(user, argv0=CONCERNBOT, path=os.environ.get('PATH'))} --resume`"


def run(
    args: list[str], lines: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CONCERNBOT, *args],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.fixture
def data_env(tmp_path: Path) -> dict[str, str]:
    return {
        "CONCERNBOT_DATA_DIR": str(tmp_path / "data"),
        "CONCERNBOT_LOG_LEVEL": "INFO",
        "CONCERNBOT_DATABASE_URL": "",
    }


def test_a_whole_concern_piped_into_chat_is_stored_with_score_and_band(
    tmp_path: Path, data_env: dict[str, str]
) -> None:
    done = run(["chat", "--user", "sam"], FIRST_HALF + SECOND_HALF, data_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Your reference is QC-" in done.stdout
    reference = done.stdout.split("Your reference is ")[1][:12]
    url = sqlite_url_for(tmp_path / "data")
    storage = open_storage(url, keys_for(url))
    try:
        with storage.unit_of_work() as uow:
            concern = uow.concerns.get(reference)
            conversation = uow.conversations.get("console:sam/concern")
            audit = uow.audit.entries(reference)
    finally:
        storage.close()
    assert concern is not None
    assert (concern.likelihood, concern.impact, concern.score, concern.band) == (4, 3, 12, "high")
    assert concern.identity == "confidential" and concern.reporter_name == NAME
    assert concern.description == DESCRIPTION
    assert concern.advice.level == 2 and concern.status == "recorded"
    assert conversation is not None and conversation.state == "submitted"
    assert [entry.action for entry in audit] == ["concern.submitted"]
    # Logs (INFO and up, on stderr) carry steps and references, never the text or a name.
    assert "concern filed reference=" + reference in done.stderr
    assert "state=" in done.stderr
    for secret in (DESCRIPTION[:30], NAME, "sam.example", "console:sam"):
        assert secret not in done.stderr


def test_a_pasted_description_keeps_its_lines_and_commands_act_at_once(
    tmp_path: Path, data_env: dict[str, str]
) -> None:
    # At the story (free text): "back" is the command, "/pause" acts at once.
    first = run(["chat", "--user", "lee"], ["3", "back", "3", "/pause"], data_env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Your answer was: No, nobody is at risk now" in first.stdout
    assert "Saved." in first.stdout
    pasted = [
        "Nobody supervises us at night, we are left alone.",
        "The registrar is in theatre.",
        "",
    ]
    rest = [*pasted, "yes", *ABOUT, *SECOND_HALF]
    done = run(["chat", "--user", "lee", "--resume"], rest, data_env, tmp_path)
    assert done.returncode == 0, done.stderr
    reference = done.stdout.split("Your reference is ")[1][:12]
    url = sqlite_url_for(tmp_path / "data")
    storage = open_storage(url, keys_for(url))
    try:
        with storage.unit_of_work() as uow:
            concern = uow.concerns.get(reference)
    finally:
        storage.close()
    assert concern is not None
    assert concern.description == "\n".join(pasted).strip()  # one answer, both lines
    assert concern.site == "Addenbrookes, ward C9" and concern.started == "this_month"


def test_input_running_out_saves_and_resume_finishes(
    tmp_path: Path, data_env: dict[str, str]
) -> None:
    first = run(["chat", "--user", "kim"], FIRST_HALF, data_env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert resume_hint("kim") in first.stdout
    second = run(["chat", "--user", "kim", "--resume"], SECOND_HALF, data_env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Welcome back. Answers so far: 9." in second.stdout
    assert "Your reference is QC-" in second.stdout


def test_resume_with_nothing_paused_says_so(tmp_path: Path, data_env: dict[str, str]) -> None:
    done = run(["chat", "--user", "new", "--resume"], [], data_env, tmp_path)
    assert done.returncode == 1
    assert "nothing paused" in done.stdout


def test_the_pathway_question_files_nothing_and_keeps_nothing(
    tmp_path: Path, data_env: dict[str, str]
) -> None:
    done = run(
        ["chat", "--journey", "pathway", "--user", "ali"],
        ["3", "1", "2", "2", "1", "done", "4", "4", "done"],  # 4 of 25; afraid locally
        data_env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "My advice: Pathway 2" in done.stdout  # raised at level 1, no answer: move up
    assert "Your answers to these questions are now deleted" in done.stdout
    url = sqlite_url_for(tmp_path / "data")
    storage = open_storage(url, keys_for(url))
    try:
        with storage.unit_of_work() as uow:
            assert uow.concerns.count() == 0
        assert traces(storage, "console:ali") == []  # as the closing words say
    finally:
        storage.close()


def test_broken_content_stops_start_up_with_one_clear_line(
    tmp_path: Path, data_env: dict[str, str]
) -> None:
    content = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, content)
    risk = content / "risk.toml"
    risk.write_text(
        risk.read_text(encoding="utf-8").replace('label = "Rare"', 'lable = "Rare"'),
        encoding="utf-8",
    )
    done = run(["chat"], ["3"], {**data_env, "CONCERNBOT_CONTENT_DIR": str(content)}, tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "concernbot: content error: risk.toml: likelihood[0].label: missing"
    ]
    checked = run(["content", "check", "--dir", str(DEFAULT_CONTENT_DIR)], [], data_env, tmp_path)
    assert checked.returncode == 0 and "content ok" in checked.stdout


def test_diagram_prints_what_docs_holds(tmp_path: Path, data_env: dict[str, str]) -> None:
    done = run(["diagram"], [], data_env, tmp_path)
    assert done.returncode == 0
    assert done.stdout == diagrams()


@pytest.mark.postgres
def test_postgres_needs_an_upgrade_then_takes_a_concern(
    tmp_path: Path, data_env: dict[str, str], postgres_url: str
) -> None:
    env = {**data_env, **SECRET_ENV, "CONCERNBOT_DATABASE_URL": postgres_url}
    refused = run(["chat"], ["3"], env, tmp_path)
    assert refused.returncode == 2
    assert "concernbot db upgrade" in refused.stderr and "Traceback" not in refused.stderr
    upgraded = run(["db", "upgrade"], [], env, tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    done = run(["chat", "--user", "pg"], FIRST_HALF + SECOND_HALF, env, tmp_path)
    assert done.returncode == 0, done.stderr
    reference = done.stdout.split("Your reference is ")[1][:12]
    storage = open_storage(postgres_url, keys_for(postgres_url))
    try:
        with storage.unit_of_work() as uow:
            concern = uow.concerns.get(reference)
    finally:
        storage.close()
    assert concern is not None and (concern.score, concern.band) == (12, "high")
    assert not (tmp_path / "data").exists()  # nothing went to the embedded default


def test_exports_open_in_the_tools_people_use(tmp_path: Path, data_env: dict[str, str]) -> None:
    import csv

    from openpyxl import load_workbook

    from bot.reports.qca import qca_text

    sent = [*SECOND_HALF[:WANTS_TEAM], "1", *SECOND_HALF[WANTS_TEAM + 1 :]]  # "Yes, send it"
    assert SECOND_HALF[WANTS_TEAM] == "2"
    done = run(["chat", "--user", "exp"], FIRST_HALF + sent, data_env, tmp_path)
    reference = done.stdout.split("Your reference is ")[1][:12]
    other = run(["chat", "--user", "exp2"], FIRST_HALF + sent, data_env, tmp_path)
    assert other.returncode == 0
    kept = run(["chat", "--user", "exp3"], FIRST_HALF + SECOND_HALF, data_env, tmp_path)
    kept_reference = kept.stdout.split("Your reference is ")[1][:12]

    as_csv = run(["export", "--format", "csv", "--out", "register.csv"], [], data_env, tmp_path)
    assert as_csv.returncode == 0 and "wrote 2 concerns" in as_csv.stdout
    with (tmp_path / "register.csv").open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert {row["Reference"] for row in table} >= {reference}
    assert all(row["Description"] == DESCRIPTION for row in table)
    assert all(row["Risk score"].startswith("12 of 25") for row in table)

    none = run(["export", "--out", "none.csv", "--since", "2099-01-01"], [], data_env, tmp_path)
    assert "wrote 0 concerns" in none.stdout

    assert kept_reference not in (tmp_path / "register.csv").read_text(encoding="utf-8-sig")

    as_xlsx = run(["export", "--format", "xlsx", "--out", "register.xlsx", "--status", "queued"],
                  [], data_env, tmp_path)  # fmt: skip
    assert as_xlsx.returncode == 0, as_xlsx.stderr
    sheet = load_workbook(tmp_path / "register.xlsx").active
    assert sheet is not None
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Reference" and len(values) == 3

    qca = run(["export", "--qca", reference.lower(), "--out", "qca.docx"], [], data_env, tmp_path)
    assert qca.returncode == 0, qca.stderr
    text = qca_text((tmp_path / "qca.docx").read_bytes())
    assert reference in text and DESCRIPTION in text and NAME in text  # confidential: named

    for absent in ("QC-2222-2222", kept_reference):  # unknown, or kept by the learner
        missing = run(["export", "--qca", absent, "--out", "x.docx"], [], data_env, tmp_path)
        assert missing.returncode == 2 and "no concern" in missing.stderr


# -- the database unavailable: one line, a non-zero exit, nothing saved lost ---------------

# The first answers, each with words of the question that shows the chat took it.
TAKEN = [
    ("3", "Tell me what is happening"),
    (FIRST_HALF[1], "From your story"),
    ("yes", "Which of these are you?"),
    ("FY1", "Where is your placement?"),
]
NEXT_QUESTION = "Where is your placement?"  # the question the fifth line answers
# What the database holds once TAKEN's four lines were taken (the story's reading included).
TAKEN_ANSWERS = {"danger", "description", "story_check", "topics", "group"}
FIRST_QUESTION = "Is a patient or a learner at risk of harm right now"
NOT_SAVED = "Your last answer could not be saved: the database is"


def stopped(user: str) -> str:
    return f"Your earlier answers are safe; run {resume_hint(user)} when the database is back."


# Every command that opens the database, with what it needs besides.
COMMANDS = {
    "chat": ["chat", "--user", "down"],
    "export": ["export", "--out", "register.csv"],
    "db upgrade": ["db", "upgrade"],
    "telegram": ["telegram"],
}
TELEGRAM_ENV = {"CONCERNBOT_TELEGRAM_TOKEN": "123:abc", "CONCERNBOT_TELEGRAM_API_URL":
                "http://127.0.0.1:9"}  # fmt: skip


def one_line(done: subprocess.CompletedProcess[str] | LiveChat, code: int = 3) -> str:
    """The single line on stderr, after checking there is no traceback and the exit code."""
    stderr = done.stderr
    returncode = (
        done.returncode
        if isinstance(done, subprocess.CompletedProcess)
        else (done.process.returncode)
    )
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("concernbot: "), stderr
    assert returncode == code, stderr
    for private in (DESCRIPTION, NAME, "ward C9"):
        assert private not in stderr
    return lines[0]


@pytest.fixture
def quiet_env(tmp_path: Path) -> dict[str, str]:
    """The embedded database, logging at the default level (warnings only)."""
    return {
        "CONCERNBOT_DATA_DIR": str(tmp_path / "data"),
        "CONCERNBOT_LOG_LEVEL": "WARNING",
        "CONCERNBOT_DATABASE_URL": "",
    }


def url_of(env: dict[str, str]) -> str:
    return env["CONCERNBOT_DATABASE_URL"] or sqlite_url_for(Path(env["CONCERNBOT_DATA_DIR"]))


def holds_the_first_four(url: str, user: str) -> bool:
    """The answers of TAKEN's four lines are saved, and nothing of the fifth."""
    held = answers(url, user)
    return set(held) >= TAKEN_ANSWERS and "organisation" not in held


def answers(url: str, user: str) -> dict[str, object]:
    storage = open_storage(url, keys_for(url))
    try:
        with storage.unit_of_work() as uow:
            conversation = uow.conversations.get(f"console:{user}/concern")
    finally:
        storage.close()
    assert conversation is not None
    return dict(conversation.answers)


def four_answers(env: dict[str, str], cwd: Path, user: str) -> None:
    """A chat that gives the first four answers, then pauses (its input runs out)."""
    done = run(["chat", "--user", user], [line for line, _ in TAKEN], env, cwd)
    assert done.returncode == 0 and resume_hint(user) in done.stdout, done.stderr


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("command", COMMANDS)
def test_postgres_down_at_start_is_one_line_without_the_password(
    tmp_path: Path, quiet_env: dict[str, str], command: str
) -> None:
    port = free_port()
    url = f"postgresql+psycopg://concernbot:s3cret-pw@127.0.0.1:{port}/concernbot"
    env = {**quiet_env, **TELEGRAM_ENV, **SECRET_ENV, "CONCERNBOT_DATABASE_URL": url}
    done = run(COMMANDS[command], ["3"], env, tmp_path)
    assert one_line(done) == (
        f"concernbot: cannot reach the database at postgresql+psycopg://concernbot:***@127.0.0.1:"
        f"{port}/concernbot (connection refused). Start PostgreSQL or set CONCERNBOT_DATABASE_URL."
    )
    assert "s3cret" not in done.stderr + done.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_a_data_folder_that_is_a_file_is_one_line_and_left_alone(
    tmp_path: Path, quiet_env: dict[str, str], command: str
) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder", encoding="utf-8")
    env = {**quiet_env, **TELEGRAM_ENV, "CONCERNBOT_DATA_DIR": str(a_file)}
    done = run(COMMANDS[command], ["3"], env, tmp_path)
    assert one_line(done) == (
        f"concernbot: cannot use {a_file} as the data folder (it is a file, not a folder)."
        " Set CONCERNBOT_DATA_DIR to a folder."
    )
    assert a_file.read_text(encoding="utf-8") == "not a folder"


def _unprivileged() -> list[str]:
    """`concernbot`, run without root's right to write anywhere when the tests run as root."""
    if os.geteuid() != 0:
        return [CONCERNBOT]
    setpriv = shutil.which("setpriv")
    assert setpriv, "as root, this test needs setpriv (util-linux) to drop CAP_DAC_OVERRIDE"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", CONCERNBOT]


@pytest.mark.parametrize("saved_before", [False, True], ids=["fresh", "with-answers"])
def test_an_unwritable_data_folder_is_one_line_and_keeps_the_answers(
    tmp_path: Path, quiet_env: dict[str, str], saved_before: bool
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    if saved_before:
        four_answers(quiet_env, tmp_path, "ro")
    data.chmod(0o555)
    try:
        done = subprocess.run(
            [*_unprivileged(), "chat", "--user", "ro", "--resume"],
            input="1\n", capture_output=True, text=True, env={**os.environ, **quiet_env},
            cwd=tmp_path, timeout=120, check=False,
        )  # fmt: skip
    finally:
        data.chmod(0o755)
    line = one_line(done)
    # Fresh, the key file is the first thing the chat would write; then, the database.
    written = "concernbot.db" if saved_before else "concernbot.key"
    assert line.startswith(f"concernbot: cannot write {data}/{written} (")
    assert "CONCERNBOT_DATA_DIR" in line
    if saved_before:
        assert holds_the_first_four(url_of(quiet_env), "ro")


@pytest.mark.parametrize("kind", ["random-bytes", "text", "damaged"])
def test_a_file_that_is_not_a_database_is_one_line_and_left_as_it_is(
    tmp_path: Path, quiet_env: dict[str, str], kind: str
) -> None:
    database = tmp_path / "data" / "concernbot.db"
    if kind == "damaged":  # a real database with its second page overwritten
        four_answers(quiet_env, tmp_path, "bad")
        with database.open("r+b") as handle:
            handle.seek(4096)
            handle.write(b"\xff" * 3000)
    else:
        database.parent.mkdir()
        database.write_bytes(os.urandom(8192) if kind == "random-bytes" else b"my notes\n" * 99)
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    for command in (["chat", "--user", "bad", "--resume"], COMMANDS["export"]):
        line = one_line(run(command, ["3"], quiet_env, tmp_path))
        if kind == "damaged":
            assert line.startswith(f"concernbot: the database {database} cannot be read")
        else:
            assert line.startswith(f"concernbot: {database} is not a concernbot database")
        assert "it was left as it is" in line
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before


@contextmanager
def sqlite_write_lock(database: Path) -> Iterator[sqlite3.Connection]:
    """Another program holding the database's write lock until the block ends."""
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield holder
        holder.execute("ROLLBACK")
    finally:
        holder.close()


@pytest.fixture
def short_wait_env(quiet_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The embedded database with a half-second busy timeout, so waiting out a lock is quick."""
    database = (tmp_path / "data" / "concernbot.db").as_posix()
    return {**quiet_env, "CONCERNBOT_DATABASE_URL": f"sqlite:///{database}?timeout=0.5"}


def test_sqlite_locked_at_start_is_one_line_and_keeps_the_answers(
    tmp_path: Path, short_wait_env: dict[str, str]
) -> None:
    four_answers(short_wait_env, tmp_path, "locked")
    database = tmp_path / "data" / "concernbot.db"
    with sqlite_write_lock(database):
        done = run(["chat", "--user", "locked", "--resume"], ["1"], short_wait_env, tmp_path)
    assert one_line(done).startswith(
        f"concernbot: the database {database} is busy (locked by another program)"
    )
    assert holds_the_first_four(url_of(short_wait_env), "locked")


def _chat_of_four(env: dict[str, str], cwd: Path, user: str) -> LiveChat:
    chat = LiveChat(["chat", "--user", user], env, cwd)
    chat.wait_for(FIRST_QUESTION)
    for line, taken in TAKEN:
        chat.answer(line, then=taken)
    return chat


def test_sqlite_locked_mid_conversation_says_so_retries_then_stops_keeping_the_answers(
    tmp_path: Path, short_wait_env: dict[str, str]
) -> None:
    chat = _chat_of_four(short_wait_env, tmp_path, "mid")
    with sqlite_write_lock(tmp_path / "data" / "concernbot.db"):
        chat.send(FIRST_HALF[4])
        chat.finish()
    said = chat.stdout.split(NEXT_QUESTION)[-1]
    assert said.count(NOT_SAVED) == 4 and said.count("Trying again in") == 3
    assert "(locked by another program)" in said and stopped("mid") in said
    assert one_line(chat).startswith("concernbot: the database ")
    url = url_of(short_wait_env)
    assert holds_the_first_four(url, "mid")
    # When the database is back, the chat goes on from the answer that was not saved.
    resumed = run(["chat", "--user", "mid", "--resume"], FIRST_HALF[4:] + SECOND_HALF,
                  short_wait_env, tmp_path)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "Welcome back. Answers so far: 5." in resumed.stdout
    assert "Your reference is QC-" in resumed.stdout


def test_a_lock_released_while_retrying_saves_the_answer_once(
    tmp_path: Path, short_wait_env: dict[str, str]
) -> None:
    chat = _chat_of_four(short_wait_env, tmp_path, "brief")
    with sqlite_write_lock(tmp_path / "data" / "concernbot.db"):
        sent = chat.send(FIRST_HALF[4])
        chat.wait_for(NOT_SAVED, after=sent)
    chat.wait_for("When did it start?", after=sent)
    for line in FIRST_HALF[5:] + SECOND_HALF:
        chat.send(line)
    assert chat.finish() == 0, chat.stderr
    assert "Your reference is QC-" in chat.stdout and chat.stderr == ""


class TcpProxy:
    """A TCP forwarder to a server that a test can cut: it stops listening and drops every
    connection, as a server that goes away does."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        for connection in (self.listener, *self.connections):
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


@pytest.mark.postgres
def test_postgres_cut_mid_conversation_says_so_retries_then_stops_keeping_the_answers(
    tmp_path: Path, quiet_env: dict[str, str], postgres_url: str
) -> None:
    direct = {**quiet_env, **SECRET_ENV, "CONCERNBOT_DATABASE_URL": postgres_url}
    assert run(["db", "upgrade"], [], direct, tmp_path).returncode == 0
    server = make_url(postgres_url)
    proxy = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
    through = server.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    chat = _chat_of_four({**direct, "CONCERNBOT_DATABASE_URL": through}, tmp_path, "pgcut")
    proxy.cut()
    chat.send(FIRST_HALF[4])
    chat.finish()
    said = chat.stdout.split(NEXT_QUESTION)[-1]
    assert said.count(NOT_SAVED) == 4 and stopped("pgcut") in said
    assert "(connection refused)" in said or "(connection lost)" in said
    assert one_line(chat).startswith(
        f"concernbot: cannot reach the database at {where(through)} (connection refused)"
    )
    assert holds_the_first_four(postgres_url, "pgcut")
    resumed = run(["chat", "--user", "pgcut", "--resume"], FIRST_HALF[4:] + SECOND_HALF, direct,
                  tmp_path)  # fmt: skip
    assert resumed.returncode == 0 and "Your reference is QC-" in resumed.stdout, resumed.stderr


class LostAfterCommit:
    """Storage whose connection drops just after one commit: the answer is saved, but the
    caller hears that it was not (the one case where trying again could apply it twice)."""

    def __init__(self, inner: MemoryStorage, drop_at: int) -> None:
        self.inner = inner
        self.drop_at = drop_at
        self.calls = 0

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        self.calls += 1
        with self.inner.unit_of_work() as uow:
            yield uow
        if self.calls == self.drop_at:
            raise StorageUnavailable("lost", "connection lost", "test")

    def reading(self) -> AbstractContextManager[UnitOfWork]:
        return self.inner.reading()

    def close(self) -> None:
        self.inner.close()


def _console_answers(storage: MemoryStorage | LostAfterCommit, lines: list[str]) -> Conversation:
    content = load_content()
    service = TurnService(Dialogue(content, resume_hint=CONSOLE_RESUME), storage)
    out = io.StringIO()
    chat = ConsoleChat(service, io.StringIO("\n".join(lines) + "\n"), out, "lost",
                       retry_waits=(0, 0, 0))  # fmt: skip
    assert asyncio.run(chat.run()) == 0
    conversation = service.conversation("console:lost")
    assert conversation is not None
    return conversation


def test_an_answer_saved_before_the_connection_dropped_is_not_applied_twice() -> None:
    lines = [*FIRST_HALF, *SECOND_HALF[:2]]
    expected = _console_answers(MemoryStorage(), lines)
    # Unit of work 1 starts the chat, then one a line: the one taking SECOND_HALF[0] ("2":
    # patients could be harmed) has its connection drop just after the commit. Taken again,
    # "2" would tick an option of the next question too (what is already being done).
    dropped = LostAfterCommit(MemoryStorage(), drop_at=len(FIRST_HALF) + 2)
    got = _console_answers(dropped, lines)
    assert dropped.calls > len(lines) + 1  # it did try again
    assert got.answers == expected.answers and got.state == expected.state


def test_every_database_problem_has_words_for_the_operator() -> None:
    assert set(DATABASE_ADVICE) == PROBLEMS


def test_a_database_shown_never_carries_its_password() -> None:
    url = "postgresql+psycopg://bot:pa%40ss@db.example:5432/concerns?password=other&sslmode=require"
    assert where(url) == "postgresql+psycopg://bot:***@db.example:5432/concerns"
    assert where("sqlite:////var/lib/concernbot/concernbot.db?timeout=2") == (
        "/var/lib/concernbot/concernbot.db"
    )


@pytest.mark.parametrize(
    "url", ["nonsense:s3cret", "nosuchdb://u:s3cret@host/x", "postgresql://u:s3cret@h:port/x"]
)
def test_a_database_url_that_cannot_be_read_is_one_line_without_it(
    tmp_path: Path, quiet_env: dict[str, str], url: str
) -> None:
    done = run(["chat"], ["3"], {**quiet_env, "CONCERNBOT_DATABASE_URL": url}, tmp_path)
    assert one_line(done).startswith("concernbot: CONCERNBOT_DATABASE_URL is not a database URL")
    assert "s3cret" not in done.stderr


# -- the terminal for a newcomer: commands as printed, the user's data folder, status ------

TELEGRAM_ONLY = re.compile(r"/(new|start|pathway|resume|status|privacy)\b")
VENV_BIN = Path(CONCERNBOT).parent


def without_venv_on_path() -> str:
    return os.pathsep.join(
        part for part in os.environ.get("PATH", "").split(os.pathsep)
        if part and Path(part).resolve() != VENV_BIN.resolve()
    )  # fmt: skip


def own_data_folder(tmp_path: Path) -> dict[str, str]:
    """The environment of someone who set nothing: the default data folder, kept under
    tmp_path (platformdirs reads XDG_DATA_HOME on Linux, HOME elsewhere)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONCERNBOT_")}
    return {**env, "XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}


def run_as(
    command: list[str], lines: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """A command line exactly as given, in exactly this environment."""
    return subprocess.run(
        command, input="\n".join(lines) + "\n", capture_output=True, text=True, env=env,
        cwd=cwd, timeout=120, check=False,
    )  # fmt: skip


def printed_command(stdout: str, before: str) -> list[str]:
    """The command the chat printed between backticks just before `before`."""
    quoted = stdout.split(before)[0].rsplit("`", 2)[1]
    return shlex.split(quoted)


@pytest.mark.parametrize("on_path", [False, True], ids=["venv-not-on-path", "venv-on-path"])
def test_the_resume_hint_printed_is_a_command_that_runs_there(
    tmp_path: Path, data_env: dict[str, str], on_path: bool
) -> None:
    # As the README's first command leaves a newcomer: the venv in the folder they are in.
    (tmp_path / ".venv").symlink_to(VENV_BIN.parent, target_is_directory=True)
    path = os.pathsep.join([str(VENV_BIN), without_venv_on_path()]) if on_path else (
        without_venv_on_path()
    )  # fmt: skip
    env = {**os.environ, **data_env, "PATH": path}
    first = run_as([".venv/bin/concernbot", "chat", "--user", "new comer"], FIRST_HALF, env,
                   tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    command = printed_command(first.stdout, " when you are ready")
    expected = "concernbot" if on_path else ".venv/bin/concernbot"
    assert command == [expected, "chat", "--user", "new comer", "--resume"]
    resumed = run_as(command, SECOND_HALF, env, tmp_path)  # typed as printed
    assert resumed.returncode == 0, resumed.stderr
    assert "Welcome back" in resumed.stdout and "Your reference is QC-" in resumed.stdout


def test_a_concern_paused_in_one_folder_is_resumed_from_another(tmp_path: Path) -> None:
    env = own_data_folder(tmp_path)
    here, there, elsewhere = (tmp_path / name for name in ("here", "there", "elsewhere"))
    for folder in (here, there, elsewhere):
        folder.mkdir()
    first = run_as([CONCERNBOT, "chat", "--user", "sam"], FIRST_HALF, env, here)
    assert first.returncode == 0, first.stderr
    folder = tmp_path / "xdg" / "concernbot"
    lines = first.stdout.splitlines()
    assert lines[0] == f"Your answers are kept on this computer, in {folder}"  # said once
    assert (folder / "concernbot.db").is_file()
    resumed = run_as([CONCERNBOT, "chat", "--user", "sam", "--resume"], SECOND_HALF, env, there)
    assert resumed.returncode == 0, resumed.stderr
    assert "Your answers are kept" not in resumed.stdout
    assert "Welcome back" in resumed.stdout
    reference = resumed.stdout.split("Your reference is ")[1][:12]
    status = run_as([CONCERNBOT, "status", "--user", "sam"], [], env, elsewhere)
    assert status.returncode == 0, status.stderr
    assert reference in status.stdout
    assert not any(p.name == "data" for f in (here, there, elsewhere) for p in f.iterdir())
    assert not (tmp_path / "data").exists()


def test_status_lists_the_concerns_and_the_one_in_progress(
    tmp_path: Path, data_env: dict[str, str]
) -> None:
    none = run(["status", "--user", "ola"], [], data_env, tmp_path)
    assert none.returncode == 0, none.stderr
    assert "No concerns are linked to you here" in none.stdout
    assert f"`{chat_command('ola', argv0=CONCERNBOT, path=os.environ.get('PATH'))}`" in (
        none.stdout
    )
    assert not TELEGRAM_ONLY.search(none.stdout)
    filed = run(["chat", "--user", "ola"], FIRST_HALF + SECOND_HALF, data_env, tmp_path)
    reference = filed.stdout.split("Your reference is ")[1][:12]
    run(["chat", "--user", "ola"], FIRST_HALF[:3], data_env, tmp_path)  # another, paused
    status = run(["status", "--user", "ola"], [], data_env, tmp_path)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.strip().splitlines()
    assert lines[0] == "Your concerns:"
    assert lines[1].startswith(f"• {reference} (") and "kept as your record" in lines[1]
    held = Conversation(key="k", owner="o", journey="concern", state="danger",
                        answers=answers(url_of(data_env), "ola"))  # fmt: skip
    given = Dialogue(load_content()).answers_given(held)
    assert 2 <= given < len(held.answers)  # the questions answered, not the bookkeeping
    assert lines[2].startswith(f"You also have a concern in progress ({given} answers given)")
    assert lines[2].endswith(f"continue it with {resume_hint('ola')}.")
    assert not TELEGRAM_ONLY.search(status.stdout)
    other = run(["status", "--user", "someone"], [], data_env, tmp_path)
    assert reference not in other.stdout  # only the learner's own


def test_the_terminal_with_no_team_channel_says_saved_and_waiting_and_keeps_it_for_one(
    tmp_path: Path, data_env: dict[str, str]
) -> None:
    """The terminal chat runs with the embedded default and, normally, no team channel: a
    concern sent to the team is kept in the outbox, and the learner is told it waits."""
    sent = [*SECOND_HALF[:WANTS_TEAM], "1", *SECOND_HALF[WANTS_TEAM + 1 :]]  # "Yes, send it"
    env = {**data_env, "CONCERNBOT_TEAM_EMAIL": "", "CONCERNBOT_SMTP_URL": ""}
    done = run(["chat", "--user", "kim"], FIRST_HALF + sent, env, tmp_path)
    assert done.returncode == 0, done.stderr
    reference = done.stdout.split("Your reference is ")[1][:12]
    closing = " ".join(done.stdout.split("Saved and waiting: ")[1].split())
    catalogue = load_content().catalogue
    email = catalogue.support.mark(quality_team_email(catalogue))  # as the advice gives it
    assert closing.startswith(
        f"the Quality team has not set up delivery here yet, so it has not reached them. To"
        f" reach them now, email them at {email}: say what happened and give your reference"
        f" {reference}."
    )
    assert "on its way" not in done.stdout and "It will go to" not in done.stdout
    assert "alert(s)" not in done.stderr  # the operator's warning is not the learner's
    status = run(["status", "--user", "kim"], [], env, tmp_path)
    assert status.returncode == 0, status.stderr
    assert f"• {reference} (" in status.stdout
    assert "saved and waiting: the Quality team has not set up delivery here yet" in status.stdout
    storage = open_storage(url_of(data_env), keys_for(url_of(data_env)))
    try:
        with storage.unit_of_work() as uow:
            kept = [(i.kind, i.status) for i in uow.outbox.for_reference(reference)]
    finally:
        storage.close()
    assert kept == [("team_waiting", "pending")]


def test_the_terminal_never_points_to_a_telegram_command() -> None:
    prompts = load_content().prompts.for_terminal("concernbot chat")
    shown = dict(prompts.messages)
    for key in ("group_private_only", "edited_ignored", "slow_down"):
        del shown[key]  # said only on Telegram
    shown.update(prompts.terminal)
    for step in prompts.steps.values():
        shown[f"steps.{step.name}"] = f"{step.prompt}\n{step.help}"
    pointing = {key: text for key, text in shown.items() if TELEGRAM_ONLY.search(text)}
    assert pointing == {}
    assert "`concernbot chat --journey pathway`" in prompts.say("start_hint")
    assert "/new" in load_content().prompts.say("start_hint")  # Telegram keeps its own


@pytest.mark.parametrize(
    ("folder", "ran", "path", "typed"),
    [
        ("bin", "concernbot", "same", "concernbot"),  # found on PATH as typed
        (".venv/bin", ".venv/bin/concernbot", "none", ".venv/bin/concernbot"),
        (".venv/bin", ".venv/bin/concernbot", "same", "concernbot"),  # this one is on PATH
        (".venv/bin", ".venv/bin/concernbot", "other", ".venv/bin/concernbot"),  # another is
        ("my tools", "{tmp}/my tools/concernbot", "none", "'{tmp}/my tools/concernbot'"),
    ],
)
def test_the_program_is_named_as_it_can_be_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str, ran: str, path: str, typed: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for place in (tmp_path / folder, tmp_path / "other"):
        place.mkdir(parents=True, exist_ok=True)
        (place / "concernbot").write_text("#!/bin/sh\n")
        (place / "concernbot").chmod(0o755)
    search = {"same": tmp_path / folder, "other": tmp_path / "other", "none": tmp_path / "no"}
    ran, typed = ran.format(tmp=tmp_path), typed.format(tmp=tmp_path)
    assert chat_command(None, argv0=ran, path=str(search[path])) == f"{typed} chat"
    assert chat_command("a b", argv0=ran, path=str(search[path])) == f"{typed} chat --user 'a b'"


def test_an_empty_setting_counts_as_unset(tmp_path: Path, data_env: dict[str, str]) -> None:
    """`CONCERNBOT_TEAM_CHAT_ID=` (left empty in a .env or a shell) is no team chat, not a crash."""
    done = run(["doctor"], [], {**data_env, "CONCERNBOT_TEAM_CHAT_ID": ""}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_setting_is_named_in_one_line_without_its_value(
    tmp_path: Path, data_env: dict[str, str]
) -> None:
    env = {**data_env, "CONCERNBOT_TEAM_CHAT_ID": "the-team", "CONCERNBOT_TELEGRAM_PORT": "s3cret"}
    done = run(["doctor"], [], env, tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    assert "setting CONCERNBOT_TEAM_CHAT_ID: " in done.stderr
    assert "setting CONCERNBOT_TELEGRAM_PORT: " in done.stderr
    assert "s3cret" not in done.stderr and "the-team" not in done.stderr


def test_export_draws_its_bar_on_a_terminal_and_never_the_concerns_words(
    tmp_path: Path, data_env: dict[str, str]
) -> None:
    """Under a pseudo-terminal (48 rows) the bar is drawn and stays as the final count; it
    counts rows and shows nothing a concern says."""
    import fcntl
    import pty
    import struct
    import termios

    sent = [*SECOND_HALF[:WANTS_TEAM], "1", *SECOND_HALF[WANTS_TEAM + 1 :]]  # "Yes, send it"
    for user in ("bar1", "bar2"):
        assert run(["chat", "--user", user], FIRST_HALF + sent, data_env, tmp_path).returncode == 0
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 120, 0, 0))
    export = subprocess.Popen(
        [CONCERNBOT, "export", "--format", "csv", "--out", "register.csv"],
        stdin=side, stdout=side, stderr=side, env={**os.environ, **data_env}, cwd=tmp_path,
    )  # fmt: skip
    os.close(side)
    shown = b""
    with suppress(OSError):  # the terminal's far side closes when the export ends
        while chunk := os.read(main, 65536):
            shown += chunk
    os.close(main)
    assert export.wait(timeout=120) == 0
    screen = shown.decode()
    assert "2/2" in screen and "100%" in screen and "concerns" in screen
    assert "wrote 2 concerns" in screen
    assert DESCRIPTION not in screen and DESCRIPTION[:20] not in screen
    assert DESCRIPTION in (tmp_path / "register.csv").read_text(encoding="utf-8-sig")
