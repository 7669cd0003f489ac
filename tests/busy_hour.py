"""The team's long output while learners answer: the bot in process (real channel, inbox
drain and rate limiter) against the Bot API test server. Used by
tests/test_telegram_priority.py and benchmarks/priority.py.

The team's output is a stand-in for the worst case: a burst of cards in the team chat and a
broadcast to reporters, all sent at once from the background (the outbox itself sends one
item at a time, so it never puts more than one request in the limiter's line). Every Bot API
request with a chat is watched: when it came to the limiter and when it was let through.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botapi import BotApiServer
from botapi.user import ChatUser
from telegram.ext import BaseRateLimiter

from bot.channels.limiter import Priority, in_background, priority_of
from bot.channels.telegram import AnyApp, TelegramChannel, build_application, kept
from bot.inbox import InboxDrain, keep_all
from bot.service import TurnService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from storage.memory import MemoryStorage
from storage.repositories import InboxItem

TEAM_CHAT = -100424242
LEARNERS_FROM, REPORTERS_FROM = 610_000, 710_000
# A learner's answers, each with words its reply shows (text or button).
STEPS = [
    ("/pathway", "safety check"),
    ("press:No, nobody is at risk now", "Which of these are you"),
    ("press:Resident doctor", "how likely"),
    ("press:Likely", "how serious"),
]
Result = bool | dict[str, Any] | list[dict[str, Any]]


@dataclass
class Request:
    """One Bot API request with a chat, as the limiter saw it (order numbers are shared)."""

    learner: bool
    entered: int
    started: int = -1
    started_at: float = 0.0


class Watched(BaseRateLimiter[Any]):
    """A rate limiter, watched: every request with a chat is recorded in order."""

    def __init__(self, inner: BaseRateLimiter[Any]) -> None:
        self.inner = inner
        self.requests: list[Request] = []
        self._order = itertools.count()

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Any,
    ) -> Result:
        chat = data.get("chat_id")
        if chat is None:
            return await self.inner.process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )
        request = Request(priority_of(chat) is Priority.LEARNER, next(self._order))
        self.requests.append(request)

        async def call(*args: Any, **kwargs: Any) -> Result:
            request.started = next(self._order)
            request.started_at = asyncio.get_running_loop().time()
            return await callback(*args, **kwargs)

        return await self.inner.process_request(call, args, kwargs, endpoint, data, rate_limit_args)

    def overtaken(self) -> list[int]:
        """For each learner's request: how many background requests went while it waited."""
        background = [r.started for r in self.requests if not r.learner]
        return [
            sum(1 for started in background if r.entered < started < r.started)
            for r in self.requests
            if r.learner
        ]

    def waiting_behind(self) -> list[int]:
        """For each learner's request: how many background requests were waiting as it came
        (one never let through, cancelled at the end, was waiting all along)."""
        background = [r for r in self.requests if not r.learner]
        return [
            sum(1 for b in background if b.entered < r.entered and not 0 <= b.started < r.entered)
            for r in self.requests
            if r.learner
        ]


class _Kept:
    """The drain's handler, as the runner wires it, telling when each update is handled."""

    def __init__(self, app: AnyApp, channel: TelegramChannel) -> None:
        self.app, self.channel = app, channel
        self.handled: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)

    async def handle(self, item: InboxItem, quiet: bool) -> None:
        await self.channel.handle_kept(self.app, item, quiet)
        self.handled[item.seq].set()

    async def slow_down(self, item: InboxItem) -> None:
        await self.channel.slow_down(self.app, item)


@dataclass
class Figures:
    waits: list[float] = field(default_factory=list)  # seconds from kept to answered
    background_sent: int = 0
    background_seconds: float = 0.0
    unanswered: list[str] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        return statistics.quantiles(self.waits, n=100, method="inclusive")[round(q * 100) - 1]

    @property
    def background_rate(self) -> float:
        return self.background_sent / self.background_seconds if self.background_seconds else 0


async def busy_hour(
    server: BotApiServer,
    limiter: Watched,
    learners: int = 50,
    cards: int = 20,
    broadcast: int = 200,
    steps: int = 2,
    think: tuple[float, float] = (0.0, 0.0),
    finish: bool = False,
) -> Figures:
    """`learners` answer the first `steps` of STEPS, each thinking a while (seconds, at random
    between the two of `think`) before each answer, while the team's `cards` and `broadcast`
    go out; with `finish`, the background is waited for (to time it), otherwise what is left
    of it is cancelled."""
    storage = MemoryStorage()
    service = TurnService(Dialogue(load_content()), storage)
    app, channel = build_application(server.token, server.url, service, limiter=limiter)
    await app.initialize()
    handler = _Kept(app, channel)
    drain = InboxDrain(storage, handler, sweep_every=0.05)
    stop = asyncio.Event()
    draining = asyncio.create_task(drain.run(stop))
    figures = Figures()
    loop = asyncio.get_running_loop()
    pace = random.Random(11)  # the same thinking times each run
    server.group_chat(TEAM_CHAT, "Quality team")
    reporters = [server.private_chat(REPORTERS_FROM + n, f"R{n}") for n in range(broadcast)]
    people = [server.private_chat(LEARNERS_FROM + n, f"L{n}") for n in range(learners)]

    @in_background
    async def team_output() -> None:
        sends = [app.bot.send_message(TEAM_CHAT, f"Alert card {n}") for n in range(cards)]
        sends += [app.bot.send_message(r.chat_id, "An update on your concern") for r in reporters]
        await asyncio.gather(*sends)

    async def answer(user: ChatUser) -> None:
        for act, expect in STEPS[:steps]:
            await asyncio.sleep(pace.uniform(*think))
            if act.startswith("press:"):
                user.press(act.removeprefix("press:"))
                with user.state.cond:
                    update = user.state.pending[-1].update
            else:
                update = user.send(act)
            started = loop.time()
            drain.wake(keep_all(storage, [kept(update, datetime.now(UTC))]))
            await asyncio.wait_for(handler.handled[update["update_id"]].wait(), 300)
            figures.waits.append(loop.time() - started)
            if not any(expect in m.text or expect in " ".join(m.labels) for m in user.messages()):
                figures.unanswered.append(f"{user.chat_id}: {expect}")
                return

    try:
        background = asyncio.create_task(team_output())
        await asyncio.sleep(0)  # the team's output is in the line first
        await asyncio.gather(*(answer(user) for user in people))
        if finish:
            await background
        else:
            background.cancel()
            await asyncio.gather(background, return_exceptions=True)
        sent = sorted(r.started_at for r in limiter.requests if not r.learner and r.started >= 0)
        figures.background_sent = len(sent)
        figures.background_seconds = sent[-1] - sent[0] if sent else 0.0
    finally:
        stop.set()
        await asyncio.wait_for(draining, 60)
        await app.shutdown()
    return figures
