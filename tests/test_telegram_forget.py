"""/forgetme, /withdraw and /privacy in a Telegram chat, in-process, over a fake Bot API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from botapi import BotApiServer
from test_telegram_kept import kept, wait_for
from test_triage import concern

from bot.channels.telegram import build_application
from bot.keeping import Keeping, Periods
from bot.service import TurnService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from storage.memory import MemoryStorage

CONTENT = load_content()
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[BotApiServer]:
    with BotApiServer() as running:
        yield running


async def test_forget_me_asks_first_then_says_what_went_and_what_the_team_keeps(
    server: BotApiServer,
) -> None:
    storage = MemoryStorage()
    owner = "telegram:user:6001"
    with storage.unit_of_work() as uow:
        uow.concerns.add(concern("QC-ABCD-2345", owner=owner, status="queued"))
        uow.concerns.add(concern("QC-BCDE-3456", owner=owner, status="received"))
    service = TurnService(Dialogue(CONTENT), storage, clock=lambda: NOW)
    keeping = Keeping(storage, CONTENT.prompts, Periods(), service.clock)
    app, channel = build_application(
        server.token, server.url, service, keeping=keeping, privacy="Privacy, truly."
    )
    user = server.private_chat(user_id=6001, first_name="Ann")
    await app.initialize()
    try:
        await channel.handle_kept(app, kept(user.send("/start")), quiet=False)
        await wait_for(user, "safety check")  # a draft begun
        await channel.handle_kept(app, kept(user.send("/privacy")), quiet=False)
        assert await wait_for(user, "Privacy, truly.") == "Privacy, truly."

        await channel.handle_kept(app, kept(user.send("/withdraw")), quiet=False)
        await wait_for(user, "give its reference")
        await channel.handle_kept(app, kept(user.send("/withdraw QC-NOPE")), quiet=False)
        said = await wait_for(user, "is not a reference")
        assert said.startswith("QC-NOPE is not a reference (they look like QC-7KMX-3RTA)")
        await channel.handle_kept(app, kept(user.send("/withdraw qc-bcde-3456")), quiet=False)
        await wait_for(user, "can no longer be withdrawn")
        await channel.handle_kept(app, kept(user.send("/withdraw QC-ABCD-2345")), quiet=False)
        await wait_for(user, "is withdrawn")

        await channel.handle_kept(app, kept(user.send("/forgetme")), quiet=False)
        asked = await wait_for(user, "Forget me deletes")
        assert "1 draft(s)" in asked and "from 2 concern(s)" in asked
        assert "Send /forgetme yes" in asked
        with storage.unit_of_work() as uow:
            assert len(uow.concerns.for_owner(owner)) == 2  # nothing yet

        await channel.handle_kept(app, kept(user.send("/forgetme yes")), quiet=False)
        done = await wait_for(user, "Done. Deleted")
        assert "QC-ABCD-2345" in done and "QC-BCDE-3456" in done
        await channel.handle_kept(app, kept(user.send("/forgetme")), quiet=False)
        await wait_for(user, "nothing to forget")
    finally:
        await app.shutdown()
    with storage.unit_of_work() as uow:
        left = uow.concerns.get("QC-ABCD-2345")
        assert uow.concerns.for_owner(owner) == []
        assert uow.conversations.get("telegram:6001/concern") is None
    assert left is not None and left.status == "withdrawn" and left.reporter_name is None
