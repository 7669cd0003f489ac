"""`concernbot` as a newcomer runs it: a real process, piped input, a real database after."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import diagrams
from dialogues.catalogue import DEFAULT_CONTENT_DIR
from storage.database import open_storage, sqlite_url_for

CONCERNBOT = str(Path(sys.executable).parent / "concernbot")
DESCRIPTION = "On most night shifts the FY1s cover the wards alone with nobody to escalate to."
NAME = "Dr Sam Example"
# A text answer ends with an empty line (or a lone "."), so a pasted one can span lines.
ABOUT = [
    "FY1", "Addenbrookes, ward C9",  # the group, then the hospital typed with the ward
    "2", "often", "2 to 5",  # when it started, how often, learners affected
]  # fmt: skip
FIRST_HALF = ["3", DESCRIPTION, "", "yes", *ABOUT]  # the story read, and what it said checked
SECOND_HALF = [
    "2",  # patients could be harmed
    "2", "done",  # what is being done: a senior I can call on
    "4", "3",  # likely, moderate
    "1", "done", "3",  # told the supervisor; still unresolved
    "1", "2", "confidential", f"{NAME}, sam.example@nhs.net", "", "submit",
]  # fmt: skip
WANTS_TEAM = 9  # where SECOND_HALF answers "send it to the Quality team?"


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
    storage = open_storage(sqlite_url_for(tmp_path / "data"))
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
    storage = open_storage(sqlite_url_for(tmp_path / "data"))
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
    assert "concernbot chat --resume" in first.stdout
    second = run(["chat", "--user", "kim", "--resume"], SECOND_HALF, data_env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Welcome back. Answers so far: 9." in second.stdout
    assert "Your reference is QC-" in second.stdout


def test_resume_with_nothing_paused_says_so(tmp_path: Path, data_env: dict[str, str]) -> None:
    done = run(["chat", "--user", "new", "--resume"], [], data_env, tmp_path)
    assert done.returncode == 1
    assert "nothing paused" in done.stdout


def test_the_pathway_question_files_nothing(tmp_path: Path, data_env: dict[str, str]) -> None:
    done = run(
        ["chat", "--journey", "pathway", "--user", "ali"],
        ["3", "1", "1", "done", "4", "4"],
        data_env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "My advice: Pathway 2" in done.stdout  # raised at level 1, no answer: move up
    storage = open_storage(sqlite_url_for(tmp_path / "data"))
    try:
        with storage.unit_of_work() as uow:
            assert uow.concerns.count() == 0
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
    env = {**data_env, "CONCERNBOT_DATABASE_URL": postgres_url}
    refused = run(["chat"], ["3"], env, tmp_path)
    assert refused.returncode == 2
    assert "concernbot db upgrade" in refused.stderr and "Traceback" not in refused.stderr
    upgraded = run(["db", "upgrade"], [], env, tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    done = run(["chat", "--user", "pg"], FIRST_HALF + SECOND_HALF, env, tmp_path)
    assert done.returncode == 0, done.stderr
    reference = done.stdout.split("Your reference is ")[1][:12]
    storage = open_storage(postgres_url)
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
