"""The pathway question over Telegram, through the real channel and inbox drain (in process,
against the Bot API test server): once answered, nothing in storage holds the chat's id, not
its conversation or its kept updates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botapi import BotApiServer
from botapi.user import BotMessage, ChatUser
from traces import traces

from bot.channels.telegram import AnyApp, TelegramChannel, build_application, kept
from bot.inbox import InboxDrain, keep_all
from bot.service import TurnService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from storage.memory import MemoryStorage
from storage.repositories import InboxItem

DIALOGUE = Dialogue(load_content())
USER_ID = 739184266


class Kept:
    """The drain's handler, as the runner wires it: kept updates through the channel."""

    def __init__(self, app: AnyApp, channel: TelegramChannel) -> None:
        self.app, self.channel = app, channel

    async def handle(self, item: InboxItem, quiet: bool) -> None:
        await self.channel.handle_kept(self.app, item, quiet)

    async def slow_down(self, item: InboxItem) -> None:
        await self.channel.slow_down(self.app, item)


class Bot:
    """The bot in process: updates are kept in the inbox and the drain handles them."""

    def __init__(self, server: BotApiServer, storage: MemoryStorage) -> None:
        self.server, self.storage = server, storage
        self.service = TurnService(DIALOGUE, storage)

    async def __aenter__(self) -> Bot:
        self.app, channel = build_application(self.server.token, self.server.url, self.service)
        await self.app.initialize()
        self.drain = InboxDrain(self.storage, Kept(self.app, channel), sweep_every=0.05)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.drain.run(self.stop))
        return self

    async def __aexit__(self, *_: object) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)
        await self.app.shutdown()

    def deliver(self, update: dict[str, Any]) -> None:
        self.drain.wake(keep_all(self.storage, [kept(update, datetime.now(UTC))]))

    async def answer(self, user: ChatUser, act: str, expect: str) -> None:
        """Type `act`, or press it ("press:Label"), and wait for the reply with `expect`."""
        if act.startswith("press:"):
            user.press(act.removeprefix("press:"))
            with user.state.cond:
                update = user.state.pending[-1].update
        else:
            update = user.send(act)
        self.deliver(update)

        def shown(message: BotMessage) -> bool:
            return expect in message.text or any(expect in label for label in message.labels)

        await asyncio.to_thread(user.wait_for, shown, 10)


@pytest.fixture
async def bot() -> AsyncIterator[Bot]:
    with BotApiServer() as server:
        async with Bot(server, MemoryStorage()) as running:
            yield running


async def settled(storage: MemoryStorage, needle: str) -> list[str]:
    """What holds `needle` once the drain has marked the last update done."""
    for _ in range(200):
        with storage.unit_of_work() as uow:
            waiting = uow.inbox.waiting(10)
        if not waiting:
            break
        await asyncio.sleep(0.05)
    return traces(storage, needle)


STEPS = [
    ("/pathway", "safety check"),
    ("press:No, nobody is at risk now", "Which of these are you"),
    ("press:Resident doctor", "how likely"),
    ("press:Likely", "how serious"),
    ("press:Major", "16 of 25"),
    ("press:⬜ My supervisor (ES or CS)", "☑️ My supervisor"),
    ("press:Done", "What came of raising it"),
    ("press:No answer in reasonable time", "reason not to raise it"),
]


async def test_the_answered_pathway_question_leaves_nothing_with_the_chats_id(bot: Bot) -> None:
    user = bot.server.private_chat(user_id=USER_ID, first_name="Pat")
    for act, expect in STEPS:
        await bot.answer(user, act, expect)
    during = {trace.partition(":")[0] for trace in await settled(bot.storage, str(USER_ID))}
    assert during == {"conversations", "inbox"}  # no keyboard is recorded

    asked = user.last()
    await bot.answer(user, "1 done", "I keep nothing from them")  # typed
    advice = next(m for m in user.messages() if "My advice" in m.text)
    assert "alert the Quality team now" in advice.text
    assert await settled(bot.storage, str(USER_ID)) == []
    # The question answered by typing keeps its buttons: taking them away would cost a call
    # per answer (a press on them is answered as stale, see tests/e2e/test_telegram.py).
    assert user.messages()[-2].message_id == asked.message_id and user.messages()[-2].labels
    # One send an update (the tick edits its question instead), and no other call but the
    # presses' answers and the edits that show each choice.
    assert len(bot.server.requests("sendMessage")) == len(STEPS) + 1 - 1
    presses = sum(act.startswith("press:") for act, _ in STEPS)
    assert len(bot.server.requests("answerCallbackQuery")) == presses
    assert len(bot.server.requests("editMessageText")) == presses
    assert not bot.server.requests("editMessageReplyMarkup")
    # The rating rode in the message of the question after it: ticks and Done keep it.
    rated = next(m for m in user.messages() if "16 of 25" in m.text)
    assert rated.text.endswith("\n\n✓ My supervisor (ES or CS)") and not rated.labels
    choice = next(m for m in user.messages() if m.text.startswith("Which of these are you"))
    assert choice.text.endswith("\n\n✓ Resident doctor") and not choice.labels
