"""What the Telegram channel keeps in the process per chat is bounded: once many chats have
been answered and a moment has passed, nothing is left of them in memory (their state is in
the database), so a bot that has spoken to a million learners is as light as a new one."""

from __future__ import annotations

import asyncio

from botapi import BotApiServer
from test_telegram_pathway import Bot

from bot.channels.telegram import CHAT_SPACING, KNOWN_CHATS
from storage.memory import MemoryStorage

CHATS = 60


async def test_nothing_per_chat_is_left_in_the_process_once_chats_are_answered() -> None:
    with BotApiServer() as server:
        async with Bot(server, MemoryStorage()) as bot:
            users = [server.private_chat(user_id=5_000_000 + n) for n in range(CHATS)]
            for user in users:
                bot.deliver(user.send("/privacy"))
            for user in users:
                await asyncio.to_thread(user.wait_for, "What concernbot keeps", 20)
            channel = bot.drain.handler.channel  # type: ignore[attr-defined]
            assert 0 < len(channel._last_sent) <= KNOWN_CHATS  # a send's time, for spacing
            await asyncio.sleep(CHAT_SPACING + 0.2)
            for _ in range(100):  # the drain marks the last ones done
                if not bot.drain._running and not bot.drain._queued:
                    break
                await asyncio.sleep(0.05)
            # The spacing after a send is over: its time is forgotten.
            assert len(channel._last_sent) == 0
            assert not channel._quiet and not channel._unavailable
            assert not bot.app.chat_data and not bot.app.user_data  # PTB's own: never used
            assert len(bot.service._locks) == 0  # a chat's lock goes with its last turn
            drain = bot.drain
            assert not (drain._queued or drain._running or drain._again or drain._flooding)
            assert len(drain._warned) == 0  # only chats asked to slow down, for a while
