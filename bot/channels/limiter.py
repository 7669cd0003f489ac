"""Outgoing Bot API requests kept within Telegram's limits, a learner's reply first.

Telegram allows a bot about 30 messages a second in all and 20 a minute in any one group
(https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
python-telegram-bot's `AIORateLimiter` keeps to them first come, first served: a team
broadcast of 300 messages then stands ten seconds in front of a learner's next question.
This limiter keeps the same limits, but when requests wait, a reply to a learner goes first:

- LEARNER: a message to a private chat (chat id > 0), sent while handling that learner's
  update;
- BACKGROUND: anything in a group (the team chat: alert cards, /queue, reminders), and
  anything sent from inside `in_background` (the outbox: relays to reporters, status
  updates, draft warnings; broadcasts and check-ins), whoever it goes to.

A request's priority can also be given with PTB's `rate_limit_args` (a `Priority`). Requests
without a chat (answerCallbackQuery, getMe, setWebhook) are not held. A `RetryAfter` from
Telegram is waited out and the request tried again, at most `max_retries` times; meanwhile
the rest of that group (for a group) or every chat (otherwise) waits too, as Telegram asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from enum import IntEnum
from typing import Any, ParamSpec, TypeVar

from aiolimiter import AsyncLimiter
from cachetools import LRUCache
from telegram.constants import FloodLimit
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

KNOWN_GROUPS = 512  # groups whose limiter (and any pause) is remembered
ALL_CHATS = "all chats"  # the scope of a pause after a RetryAfter outside a group
P = ParamSpec("P")
T = TypeVar("T")
Result = bool | dict[str, Any] | list[dict[str, Any]]


class Priority(IntEnum):
    """Lower goes first. Not 0: PTB drops a falsy `rate_limit_args`."""

    LEARNER = 1
    BACKGROUND = 2


_background: ContextVar[bool] = ContextVar("background", default=False)


def in_background(send: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """`send`, whose Bot API requests wait behind learners' replies: for the outbox's senders,
    so that every kind of item, present and future, is background without marking each call."""

    @functools.wraps(send)
    async def sent(*args: P.args, **kwargs: P.kwargs) -> T:
        token = _background.set(True)
        try:
            return await send(*args, **kwargs)
        finally:
            _background.reset(token)

    return sent


def _chat_of(data: dict[str, Any]) -> int | str | None:
    """The request's chat id (an int when it is one, as PTB's limiter reads it), or None."""
    chat = data.get("chat_id")
    with contextlib.suppress(ValueError, TypeError):
        chat = int(chat)  # type: ignore[arg-type]
    return chat if isinstance(chat, int | str) else None


def _in_group(chat: int | str) -> bool:
    """Groups, supergroups and channels: a negative id or an @username."""
    return isinstance(chat, str) or chat < 0


def priority_of(chat: int | str) -> Priority:
    """A learner's reply unless it goes to a group or is sent from inside `in_background`."""
    if _background.get() or _in_group(chat):
        return Priority.BACKGROUND
    return Priority.LEARNER


class PriorityRateLimiter(BaseRateLimiter[Priority]):
    """Telegram's limits, with waiting requests let through the most urgent first.

    One task hands out the overall rate: each waiting request holds a ticket in a priority
    queue, and whenever the overall limiter has room, the most urgent ticket waiting goes.
    A group's own limit is waited for first, so the team chat's backlog holds no place in
    the overall line. Zero for a rate turns that limit off.
    """

    def __init__(
        self,
        per_second: float = FloodLimit.MESSAGES_PER_SECOND,
        group_per_minute: float = FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP,
        max_retries: int = 5,
        group_period: float = 60.0,  # tests shorten the group's minute
    ) -> None:
        self.max_retries = max_retries
        self._overall = AsyncLimiter(per_second, 1) if per_second else None
        self._group_rate = (group_per_minute, group_period) if group_per_minute else None
        self._groups: LRUCache[int | str, AsyncLimiter] = LRUCache(KNOWN_GROUPS)
        self._resume_at: LRUCache[int | str, float] = LRUCache(KNOWN_GROUPS + 1)
        self._waiting: asyncio.PriorityQueue[tuple[int, int, asyncio.Future[None]]] = (
            asyncio.PriorityQueue()
        )
        self._order = itertools.count()  # first come, first served within a priority
        self._releasing: asyncio.Task[None] | None = None

    async def initialize(self) -> None:
        """Nothing to do: the releasing task starts with the first request that waits."""

    async def shutdown(self) -> None:
        """Stop releasing; a request still waiting is told the bot is stopping."""
        if self._releasing is not None:
            self._releasing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._releasing
            self._releasing = None
        while not self._waiting.empty():
            *_, ticket = self._waiting.get_nowait()
            if not ticket.done():
                ticket.set_exception(RuntimeError("the rate limiter was shut down"))

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Priority | None,
    ) -> Result:
        chat = _chat_of(data)
        retries = 0
        while True:
            if chat is not None:
                await self._turn(chat, rate_limit_args or priority_of(chat))
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                if retries >= self.max_retries:
                    log.warning("%s still refused after %d retries (429)", endpoint, retries)
                    raise
                retries += 1
                # The public `retry_after` warns that its type will change; PTB's own limiter
                # reads the timedelta underneath too.
                wait = error._retry_after.total_seconds() + 0.1
                log.info("%s: Telegram asks to wait %.1f s (429)", endpoint, wait)
                if chat is None:
                    await asyncio.sleep(wait)
                else:
                    scope = chat if _in_group(chat) else ALL_CHATS
                    resume = asyncio.get_running_loop().time() + wait
                    self._resume_at[scope] = max(self._resume_at.get(scope, 0.0), resume)

    async def _turn(self, chat: int | str, priority: Priority) -> None:
        """Wait for the group's limit (in a group), then for room in the overall one."""
        if _in_group(chat):
            await self._wait_out(chat)
            if self._group_rate is not None:
                limiter = self._groups.get(chat)
                if limiter is None:
                    limiter = self._groups[chat] = AsyncLimiter(*self._group_rate)
                await limiter.acquire()
        if self._overall is None:
            await self._wait_out(ALL_CHATS)
            return
        if self._releasing is None or self._releasing.done():
            self._releasing = asyncio.create_task(self._release())
        ticket = asyncio.get_running_loop().create_future()
        self._waiting.put_nowait((priority, next(self._order), ticket))
        await ticket

    async def _release(self) -> None:
        """Hand out the overall rate, one ticket per unit of room, the most urgent first."""
        assert self._overall is not None
        while True:
            first = await self._waiting.get()
            await self._wait_out(ALL_CHATS)
            await self._overall.acquire()
            # Whoever is most urgent now goes: a learner who came while we waited for room.
            self._waiting.put_nowait(first)
            while not self._waiting.empty():
                *_, ticket = self._waiting.get_nowait()
                if not ticket.done():  # done: its request was cancelled meanwhile
                    ticket.set_result(None)
                    break

    async def _wait_out(self, scope: int | str) -> None:
        """Wait while Telegram has asked this scope (a group, or all chats) to hold off."""
        loop = asyncio.get_running_loop()
        while (wait := self._resume_at.get(scope, 0.0) - loop.time()) > 0:
            await asyncio.sleep(wait)
