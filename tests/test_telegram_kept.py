"""The Telegram channel handling kept updates: with the database away it says nothing and
saves nothing, so the update can go through later; quiet turns are saved but not answered."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from botapi import BotApiServer
from botapi.user import ChatUser
from test_service import TO_REVIEW

from bot.channels.telegram import AnyApp, TelegramChannel, build_application
from bot.service import TurnService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from storage.memory import MemoryStorage
from storage.repositories import InboxItem, StorageUnavailable, UnitOfWork

DIALOGUE = Dialogue(load_content())


class Switchable:
    """Memory storage that can be made unreachable."""

    def __init__(self) -> None:
        self.inner = MemoryStorage()
        self.away = False

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        if self.away:
            raise StorageUnavailable("unreachable", "connection refused", "test")
        with self.inner.unit_of_work() as uow:
            yield uow

    @contextlib.contextmanager
    def reading(self) -> Iterator[UnitOfWork]:
        if self.away:
            raise StorageUnavailable("unreachable", "connection refused", "test")
        with self.inner.reading() as uow:
            yield uow

    def close(self) -> None:
        """Nothing to close."""


@pytest.fixture
def server() -> Iterator[BotApiServer]:
    with BotApiServer() as running:
        yield running


@contextlib.asynccontextmanager
async def telegram(
    server: BotApiServer, storage: Switchable
) -> AsyncIterator[tuple[AnyApp, TelegramChannel]]:
    service = TurnService(DIALOGUE, storage)
    app, channel = build_application(server.token, server.url, service)
    await app.initialize()
    try:
        yield app, channel
    finally:
        await app.shutdown()


def kept(update: dict[str, object]) -> InboxItem:
    n = int(str(update["update_id"]))
    return InboxItem(f"telegram:update:{n}", "telegram:chat", n, update, datetime.now(UTC))


async def wait_for(user: ChatUser, text: str) -> str:
    return (await asyncio.to_thread(user.wait_for, text, 10)).text


async def test_with_the_database_away_nothing_is_said_and_it_goes_through_later(
    server: BotApiServer,
) -> None:
    storage = Switchable()
    user = server.private_chat(user_id=5001, first_name="Ann")
    item = kept(user.send("/start"))
    async with telegram(server, storage) as (app, channel):
        storage.away = True
        with pytest.raises(StorageUnavailable, match="connection refused"):
            await channel.handle_kept(app, item, quiet=False)
        assert user.messages() == []  # no "something went wrong", nothing untrue

        storage.away = False
        await channel.handle_kept(app, item, quiet=False)
        await wait_for(user, "safety check")

        storage.away = True  # a press whose turn cannot be saved is answered, quietly
        press = kept_press(user, "No, nobody is at risk now")
        with pytest.raises(StorageUnavailable):
            await channel.handle_kept(app, press, quiet=False)
        assert await asyncio.to_thread(user.wait_for_callback_answers, 1) == [None]
        storage.away = False
        await channel.handle_kept(app, press, quiet=False)
        await wait_for(user, "Tell me what is happening")
    assert not any("went wrong" in m.text for m in user.messages())


def kept_press(user: ChatUser, label: str) -> InboxItem:
    user.press(label)
    with user.state.cond:
        update = user.state.pending[-1].update
    return kept(update)


async def test_quiet_turns_are_saved_but_not_answered(server: BotApiServer) -> None:
    storage = Switchable()
    user = server.private_chat(user_id=5002, first_name="Bo")
    async with telegram(server, storage) as (app, channel):
        await channel.handle_kept(app, kept(user.send("/start")), quiet=True)
        await channel.handle_kept(app, kept(user.send("/privacy")), quiet=True)
        with storage.unit_of_work() as uow:
            conversation = uow.conversations.get("telegram:5002/concern")
        assert conversation is not None and conversation.state == "danger"
        assert user.messages() == []

        await channel.handle_kept(app, kept(user.send("hello")), quiet=False)
        await wait_for(user, "safety check")


async def test_a_concern_filed_during_a_flood_still_gets_its_reference(
    server: BotApiServer,
) -> None:
    storage = Switchable()
    user = server.private_chat(user_id=5005, first_name="Ed")
    async with telegram(server, storage) as (app, channel):
        for text in ["/new", *TO_REVIEW]:
            await channel.handle_kept(app, kept(user.send(text)), quiet=True)
        assert user.messages() == []
        await channel.handle_kept(app, kept(kept_press_update(user, "Submit")), quiet=True)
        reference = await wait_for(user, "Your reference is")
    with storage.unit_of_work() as uow:
        assert uow.concerns.count() == 1
    assert "QC-" in reference


def kept_press_update(user: ChatUser, label: str) -> dict[str, object]:
    """A press on the review's button, though the review was never shown (a quiet turn)."""
    with user.state.cond:
        query = {
            "id": str(next(user.state.callback_ids)),
            "from": dict(user.user),
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": user.chat_id, "type": "private"},
            },
            "chat_instance": "1",
            "data": f"review|{label.casefold()}",
        }
    return user.state.push_update("callback_query", query)


async def test_only_a_private_chat_is_asked_to_slow_down(server: BotApiServer) -> None:
    storage = Switchable()
    user = server.private_chat(user_id=5003, first_name="Cy")
    group = server.group_chat(-100900, "Cohort")
    member = group.member(5004, "Di")
    async with telegram(server, storage) as (app, channel):
        await channel.slow_down(app, kept(member.send("/start")))
        await channel.slow_down(app, kept(user.send("hello")))
        await wait_for(user, "Slow down, please")
    assert group.messages() == []
