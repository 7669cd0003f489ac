"""`concernbot withdraw | forget | tidy | keep | privacy` as a terminal learner and an
operator run them: real processes, a real database after."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from livechat import DESCRIPTION, FIRST_HALF, NAME, SECOND_HALF
from secret_keys import keys_for
from test_cli import run

from storage.database import open_storage, sqlite_url_for


@pytest.fixture
def data_env(tmp_path: Path) -> dict[str, str]:
    return {"CONCERNBOT_DATA_DIR": str(tmp_path / "data"), "CONCERNBOT_DATABASE_URL": ""}


def test_withdraw_then_forget_me_then_the_concern_stays_anonymous(
    tmp_path: Path, data_env: dict[str, str]
) -> None:
    filed = run(["chat", "--user", "ola"], FIRST_HALF + SECOND_HALF, data_env, tmp_path)
    reference = filed.stdout.split("Your reference is ")[1][:12]
    run(["chat", "--user", "ola"], FIRST_HALF[:3], data_env, tmp_path)  # a draft, paused

    other = run(["withdraw", reference, "--user", "someone"], [], data_env, tmp_path)
    assert other.returncode == 2 and f"You have no concern {reference}" in other.stdout
    withdrawn = run(["withdraw", reference.lower(), "--user", "ola"], [], data_env, tmp_path)
    assert withdrawn.returncode == 0, withdrawn.stderr
    assert f"Your concern {reference} is withdrawn" in withdrawn.stdout
    twice = run(["withdraw", reference, "--user", "ola"], [], data_env, tmp_path)
    assert f"Your concern {reference} is already withdrawn" in twice.stdout
    assert "started on it" not in twice.stdout  # the team had not: it was withdrawn

    kept = run(["forget", "--user", "ola"], ["no"], data_env, tmp_path)
    assert kept.returncode == 1 and "Nothing was deleted." in kept.stdout
    assert "1 draft(s)" in kept.stdout and "from 1 concern(s)" in kept.stdout
    forgot = run(["forget", "--user", "ola"], ["yes"], data_env, tmp_path)
    assert forgot.returncode == 0, forgot.stderr
    assert "Done. Deleted: 1 draft(s)" in forgot.stdout and reference in forgot.stdout
    again = run(["forget", "--user", "ola"], [], data_env, tmp_path)
    assert "There is nothing to forget" in again.stdout
    status = run(["status", "--user", "ola"], [], data_env, tmp_path)
    assert "No concerns are linked to you here" in status.stdout

    url = sqlite_url_for(tmp_path / "data")
    storage = open_storage(url, keys_for(url))
    try:
        with storage.unit_of_work() as uow:
            concern = uow.concerns.get(reference)
            drafts = uow.conversations.for_owner("console:ola")
            audit = uow.audit.entries()
    finally:
        storage.close()
    assert concern is not None and concern.description == DESCRIPTION
    assert (concern.owner, concern.reporter_name, concern.status) == ("", None, "withdrawn")
    assert drafts == []
    actions = [e.action for e in audit]
    assert actions[-3:] == ["concern withdrawn", "identity forgotten", "forgotten"]
    for secret in (NAME, DESCRIPTION[:30], "console:ola"):
        assert secret not in repr(audit)


def test_tidy_deletes_an_old_draft_after_the_terminal_said_so_at_start(
    tmp_path: Path, data_env: dict[str, str]
) -> None:
    run(["chat", "--user", "kim"], FIRST_HALF[:3], data_env, tmp_path)
    url = sqlite_url_for(tmp_path / "data")
    storage = open_storage(url, keys_for(url))
    idle = datetime.now(UTC) - timedelta(days=28)
    try:
        with storage.unit_of_work() as uow:
            draft = uow.conversations.get("console:kim/concern")
            assert draft is not None
            uow.conversations.put(replace(draft, updated_at=idle))
    finally:
        storage.close()
    nothing = run(["tidy"], [], data_env, tmp_path)
    assert (
        nothing.stdout.strip()
        == "tidy: 0 concern(s) anonymised, 0 draft(s) deleted, 0 owner(s) warned"
    )
    started = run(["chat", "--user", "kim", "--resume"], ["/pause"], data_env, tmp_path)
    deleted_on = (idle + timedelta(days=30)).strftime("%d %b %Y")
    assert started.stdout.startswith("Your unfinished concern has not been touched for 27 days.")
    assert f"It will be deleted on {deleted_on} unless you continue it" in started.stdout

    storage = open_storage(url, keys_for(url))
    try:
        with storage.unit_of_work() as uow:
            draft = uow.conversations.get("console:kim/concern")
            assert draft is not None  # the resume touched it
            uow.conversations.put(replace(draft, updated_at=idle - timedelta(days=3)))
    finally:
        storage.close()
    swept = run(["tidy"], [], data_env, tmp_path)
    assert "1 draft(s) deleted" in swept.stdout, swept.stderr


def test_keep_and_privacy_for_the_operator(tmp_path: Path, data_env: dict[str, str]) -> None:
    filed = run(["chat", "--user", "ola"], FIRST_HALF + SECOND_HALF, data_env, tmp_path)
    reference = filed.stdout.split("Your reference is ")[1][:12]
    assert run(["keep", "QC-NONE-0000"], [], data_env, tmp_path).returncode == 2
    for command in (["keep", "QC-NOPE"], ["withdraw", "QC-NOPE", "--user", "ola"]):
        odd = run(command, [], data_env, tmp_path)  # not a reference's shape: said, not garbled
        assert odd.returncode == 2
        assert odd.stdout == "QC-NOPE is not a reference (they look like QC-7KMX-3RTA).\n"
    kept = run(["keep", reference], [], data_env, tmp_path)
    assert kept.returncode == 0 and f"free text of {reference} will be kept" in kept.stdout
    env = {**data_env, "CONCERNBOT_RETENTION_MONTHS": "18", "CONCERNBOT_DRAFT_DAYS": "10"}
    privacy = run(["privacy"], [], env, tmp_path)
    assert privacy.returncode == 0, privacy.stderr
    assert "18 months after a concern is closed" in privacy.stdout
    assert "untouched for 10 days is deleted" in privacy.stdout
    assert "`concernbot forget`" in privacy.stdout and "/forgetme" not in privacy.stdout


def test_forget_me_counts_no_draft_for_a_concern_already_filed(
    tmp_path: Path, data_env: dict[str, str]
) -> None:
    run(["chat", "--user", "ali"], FIRST_HALF + SECOND_HALF, data_env, tmp_path)
    preview = run(["forget", "--user", "ali"], ["no"], data_env, tmp_path)
    assert "0 draft(s)" in preview.stdout and "from 1 concern(s)" in preview.stdout
