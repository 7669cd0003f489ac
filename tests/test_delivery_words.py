"""What a learner who sends a concern to the Quality team is told, as the composition root
wires the bot: the closing words and /status agree with what the outbox really holds, with a
team channel set up and without one (policy 8: never a promise the bot cannot keep)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from unit.test_engine import TO_REVIEW

from bot.app import App, build
from bot.channels.telegram_runner import say_what_waits
from bot.outbox import OutboxWorker
from bot.settings import Settings
from bot.triage import WAITING, Team, TriageService, hand_on
from dialogues.turns import Command, Text
from storage.repositories import OutboxItem

CHAT = "console:ola"
SEND_TO_TEAM = (*TO_REVIEW[:-2], "1", "confidential", "Ola Learner, ola@nhs.net", "submit")


def app(tmp_path: Path, **settings: Any) -> App:
    chosen = {"team_chat_id": None, "team_email": None, "smtp_url": None, **settings}
    return build(Settings(data_dir=tmp_path / "data", database_url=None, **chosen))


def file(built: App) -> tuple[str, str]:
    """A concern sent to the team: its reference and the last words the learner read."""
    service = built.service
    service.handle_now(CHAT, CHAT, Command("new"))
    for text in SEND_TO_TEAM:
        turn = service.handle_now(CHAT, CHAT, Text(text))
    assert turn.reference is not None, [r.text for r in turn.replies]
    return turn.reference, turn.replies[-1].text


def kinds(built: App, reference: str) -> list[tuple[str, str]]:
    with built.storage.unit_of_work() as uow:
        return [(i.kind, i.status) for i in uow.outbox.for_reference(reference)]


def status_line(built: App) -> str:
    [line] = built.service.status(CHAT).text.splitlines()[1:]
    return line


def test_with_no_team_channel_it_is_saved_and_waiting_and_said_so_until_handed_on(
    tmp_path: Path,
) -> None:
    built = app(tmp_path)
    try:
        email = built.content.catalogue.pathways.quality_team_email
        reference, closing = file(built)
        assert closing.startswith("Saved and waiting: the Quality team has not set up delivery")
        assert email in closing and reference in closing and "on its way" not in closing
        assert kinds(built, reference) == [(WAITING, "pending")]
        assert status_line(built).endswith(
            ": saved and waiting: the Quality team has not set up delivery here yet"
        )

        # A bot with a team chat starts on the same database: the alert is handed on.
        sent: list[OutboxItem] = []

        async def card(item: OutboxItem) -> str:
            sent.append(item)
            return "1"

        team = Team(chat_id=-100, members=frozenset())
        worker = OutboxWorker(built.storage, {"team_alert": card},
                              forwards={WAITING: hand_on(team)})  # fmt: skip
        assert asyncio.run(worker.drain_once(built.service.clock())) == 1
        assert [i.reference for i in sent] == [reference]
        assert kinds(built, reference) == [
            (WAITING, "sent"),
            ("team_alert", "sent"),
            ("team_reminder", "pending"),
        ]
        assert status_line(built).endswith(": waiting for the Quality team")
    finally:
        built.close()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"team_chat_id": -100}, [("team_alert", "pending"), ("team_reminder", "pending")]),
        (
            {"smtp_url": "smtp://localhost:25", "team_email": "quality@example.nhs.uk"},
            [("team_email", "pending")],
        ),
    ],
    ids=["team chat", "email"],
)
def test_with_a_team_channel_it_is_on_its_way(
    tmp_path: Path, settings: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    built = app(tmp_path, **settings)
    try:
        reference, closing = file(built)
        assert closing == "It is on its way to the NHS England regional Quality team."
        assert kinds(built, reference) == expected
        assert status_line(built).endswith(": waiting for the Quality team")
    finally:
        built.close()


def test_email_settings_without_a_team_address_are_no_channel(tmp_path: Path) -> None:
    built = app(tmp_path, smtp_url="smtp://localhost:25")
    try:
        reference, closing = file(built)
        assert closing.startswith("Saved and waiting")
        assert kinds(built, reference) == [(WAITING, "pending")]
    finally:
        built.close()


def test_the_start_up_log_says_how_many_alerts_wait_and_warns_while_no_channel_is_set_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    built = app(tmp_path)
    try:
        file(built)
        with caplog.at_level(logging.INFO, logger="bot.channels.telegram_runner"):
            say_what_waits(built.triage)
            with_chat = Team(chat_id=-100, members=frozenset())
            triage = built.triage
            say_what_waits(TriageService(triage.storage, triage.content, with_chat, triage.clock))
    finally:
        built.close()
    runner = [r for r in caplog.records if r.name == "bot.channels.telegram_runner"]
    assert [(r.levelname, r.getMessage()) for r in runner] == [
        ("WARNING", "1 alert(s) for the Quality team are saved and waiting: no team channel "
         "is set up (CONCERNBOT_TEAM_CHAT_ID, or CONCERNBOT_SMTP_URL with CONCERNBOT_TEAM_EMAIL;"
         " see the README). They go to the team once one is."),
        ("INFO", "1 alert(s) saved while no team channel was set up go to the team now"),
    ]  # fmt: skip
