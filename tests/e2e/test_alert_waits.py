"""End to end: a concern sent to the Quality team before any team channel is set up.

The real bot runs first with no team chat and no email (as a fresh install does): the learner
is told their concern is saved and waiting, with the team's address, and the alert waits in
the outbox. Restarted without a channel, the bot warns that it waits. Restarted with a team
chat against the Bot API test server, it hands the alert on: exactly one card arrives, and
no second one, however long we wait, nor after another restart.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from botapi import BotApiServer

from dialogues.bundle import load_content

from .conftest import CONCERNBOT, BotProcess, after
from .test_team import file_concern

pytestmark = pytest.mark.e2e
TEAM_CHAT = -1009300
MEMBER, LEARNER = 9301, 4242301
TITLE = "Quality Concerns Alert "
EMAIL = load_content().catalogue.pathways.quality_team_email
NO_CHANNEL = {"CONCERNBOT_TEAM_EMAIL": "", "CONCERNBOT_SMTP_URL": ""}
TEAM_CHAT_SET_UP = {
    **NO_CHANNEL,
    "CONCERNBOT_TEAM_CHAT_ID": str(TEAM_CHAT),
    "CONCERNBOT_TEAM_MEMBERS": str(MEMBER),
    "CONCERNBOT_OUTBOX_RETRY_SECONDS": "1",
}
QUIET_FOR = 8.0  # seconds to watch for a second card (the worker passes every second)


def cards(server: BotApiServer, reference: str) -> list[float]:
    """When the Bot API accepted each card for this concern into the team chat."""
    return [
        r.time
        for r in server.requests("sendMessage")
        if r.chat_id == TEAM_CHAT and r.status == 200
        and f"{TITLE}{reference}" in str(r.params.get("text", ""))
    ]  # fmt: skip


def start(server: BotApiServer, data: Path, env: dict[str, str]) -> BotProcess:
    """The bot started and polling (its start-up log written)."""
    bot = BotProcess(server, data, extra_env=env).start()
    deadline = time.monotonic() + 60
    assert bot.log is not None
    while "telegram bot @" not in bot.log.read_text(encoding="utf-8"):
        assert bot.process is not None and bot.process.poll() is None, bot.logs()
        assert time.monotonic() < deadline, bot.logs()
        time.sleep(0.1)
    return bot


def doctor(bot: BotProcess) -> list[str]:
    done = subprocess.run(
        [CONCERNBOT, "doctor"], env=bot.env(), capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_concern_filed_before_a_team_channel_reaches_the_team_once_it_is_set_up(
    server: BotApiServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    team = server.group_chat(TEAM_CHAT, "EoE Quality team")
    member = team.member(MEMBER, "Priya")
    learner = server.private_chat(user_id=LEARNER, first_name="Ada")

    # No team channel: the learner is told exactly that, and the alert waits.
    bot = start(server, data, NO_CHANNEL)
    try:
        reference = file_concern(learner)
        closing = learner.wait_for("Saved and waiting", timeout=20)
        assert "the Quality team has not set up delivery here yet" in closing.text
        assert EMAIL in closing.text and reference in closing.text
        assert not any("on its way to the NHS England" in m.text for m in learner.messages())
        after(learner, lambda: learner.send("/status"),
              "saved and waiting: the Quality team has not set up delivery here yet")  # fmt: skip
    finally:
        assert bot.stop() == 0
    assert doctor(bot)[:2] == [
        "outbox: 0 pending, 1 waiting for a channel, 0 failed permanently",
        "  waiting: 1 alert(s) for the Quality team, saved while no team channel is set up:"
        " they go to the team once one is (see the README)",
    ]

    # Started again without one: it says so at start-up, and still sends nothing.
    bot = start(server, data, NO_CHANNEL)
    try:
        assert bot.log is not None
        assert "1 alert(s) for the Quality team are saved and waiting" in bot.log.read_text()
        time.sleep(2)
        assert cards(server, reference) == []
    finally:
        assert bot.stop() == 0

    # Started with a team chat: one card, and no second however long we watch.
    bot = start(server, data, TEAM_CHAT_SET_UP)
    try:
        card = member.wait_for(f"{TITLE}{reference}", timeout=30)
        assert "✅ Acknowledge" in card.labels
        time.sleep(QUIET_FOR)
        assert len(cards(server, reference)) == 1
        after(learner, lambda: learner.send("/status"), "waiting for the Quality team")
        assert "saved and waiting" not in learner.messages()[-1].text
    finally:
        assert bot.stop() == 0
    assert bot.log is not None and "go to the team now" in bot.log.read_text()

    # Another restart with the team chat hands on nothing and sends nothing again.
    bot = start(server, data, TEAM_CHAT_SET_UP)
    try:
        time.sleep(QUIET_FOR)
        assert len(cards(server, reference)) == 1
    finally:
        assert bot.stop() == 0
    assert bot.logs().count("outbox handed on id=") == 1
    assert bot.log is not None and "alert(s)" not in bot.log.read_text()
    assert doctor(bot)[0] == "outbox: 1 pending, 0 waiting for a channel, 0 failed permanently"
