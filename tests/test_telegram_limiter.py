"""The rate limiter on its own: Telegram's limits held, learners' replies first, 429s retried.

The limits are checked on release times taken in the limiter's own callback (the event
loop's clock), with lower bounds only: a busy machine can make a release later, never
earlier, so none of these can fail for being slow. Retries go over real HTTP to the Bot
API test server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from botapi import BotApiServer
from telegram.error import RetryAfter
from telegram.ext import ExtBot

from bot.channels.limiter import Priority, PriorityRateLimiter, in_background

GROUP, OTHER_GROUP = -100, -200


class Released:
    """Requests through the limiter, each recording (name, loop time) as it is let through."""

    def __init__(self, limiter: PriorityRateLimiter) -> None:
        self.limiter = limiter
        self.order: list[tuple[str, float]] = []

    async def request(self, name: str, chat: int | None, priority: Priority | None = None) -> None:
        async def call() -> bool:
            self.order.append((name, asyncio.get_running_loop().time()))
            return True

        data = {} if chat is None else {"chat_id": chat}
        await self.limiter.process_request(call, (), {}, "sendMessage", data, priority)

    def start(
        self, name: str, chat: int | None, priority: Priority | None = None
    ) -> asyncio.Task[None]:
        return asyncio.create_task(self.request(name, chat, priority))

    def times(self, prefix: str) -> list[float]:
        return [at for name, at in self.order if name.startswith(prefix)]

    def names(self) -> list[str]:
        return [name for name, _ in self.order]


def within_bucket(times: list[float], burst: float, per_second: float) -> bool:
    """No more released in any stretch than a leaky bucket allows: its burst, plus what leaks
    out during the stretch (plus one, for the float arithmetic at the edges)."""
    return all(
        j - i + 1 <= burst + per_second * (times[j] - times[i]) + 1
        for i in range(len(times))
        for j in range(i, len(times))
    )


async def test_the_overall_rate_is_held() -> None:
    released = Released(PriorityRateLimiter(per_second=10))
    await asyncio.gather(*(released.request(f"m{n}", n) for n in range(1, 36)))
    times = released.times("m")
    assert len(times) == 35
    assert times[-1] - times[0] >= (35 - 10) / 10 * 0.95  # 10 at once, then 10 a second
    assert within_bucket(times, burst=10, per_second=10)


async def test_a_group_is_held_to_its_own_rate_and_private_chats_are_not() -> None:
    released = Released(PriorityRateLimiter(per_second=100, group_per_minute=4, group_period=1))
    tasks = [released.start(f"group{n}", GROUP) for n in range(12)]
    tasks += [released.start(f"other{n}", OTHER_GROUP) for n in range(4)]
    tasks += [released.start(f"private{n}", 1000 + n) for n in range(12)]
    await asyncio.gather(*tasks)
    group = released.times("group")
    assert group[-1] - group[0] >= (12 - 4) / 4 * 0.95
    assert within_bucket(group, burst=4, per_second=4)
    # Another group has its own four, and private chats wait for no group.
    assert max(released.times("other") + released.times("private")) < group[4]


async def test_a_request_without_a_chat_is_not_held() -> None:
    released = Released(PriorityRateLimiter(per_second=1))
    tasks = [released.start(f"private{n}", 1000 + n) for n in range(3)]
    await asyncio.sleep(0)
    await released.request("callback answer", None)
    assert "callback answer" in released.names()
    assert "private2" not in released.names()  # two seconds away
    await asyncio.gather(*tasks)


async def test_learners_go_first_when_both_wait() -> None:
    released = Released(PriorityRateLimiter(per_second=10, group_per_minute=0))
    await asyncio.gather(*(released.request(f"burst{n}", 1000 + n) for n in range(10)))
    # The limiter is full: what comes now waits, and is let through by priority.
    tasks = [released.start(f"team{n}", GROUP) for n in range(4)]
    tasks += [asyncio.create_task(in_background(released.request)(f"outbox{n}", 2000 + n))
              for n in range(4)]  # fmt: skip
    tasks += [released.start(f"marked{n}", 3000 + n, Priority.BACKGROUND) for n in range(2)]
    tasks += [released.start(f"learner{n}", 4000 + n) for n in range(5)]
    await asyncio.gather(*tasks)
    waited = released.names()[10:]
    assert waited == [
        *(f"learner{n}" for n in range(5)),
        *(f"team{n}" for n in range(4)),
        *(f"outbox{n}" for n in range(4)),
        *(f"marked{n}" for n in range(2)),
    ]


async def test_a_cancelled_wait_frees_its_place_and_shutdown_ends_the_rest() -> None:
    limiter = PriorityRateLimiter(per_second=2)
    released = Released(limiter)
    await asyncio.gather(released.request("a", 1), released.request("b", 2))
    gone = released.start("gone", 3)
    kept = released.start("kept", 4)
    await asyncio.sleep(0)
    gone.cancel()
    await kept
    assert released.names() == ["a", "b", "kept"]
    stranded = [released.start(f"late{n}", 10 + n) for n in range(3)]
    await asyncio.sleep(0)
    await limiter.shutdown()
    outcomes = await asyncio.gather(*stranded, return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes)


# -- 429s, over HTTP --------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[BotApiServer]:
    with BotApiServer() as running:
        yield running


@pytest.fixture
async def bot(server: BotApiServer) -> AsyncIterator[ExtBot[Priority]]:
    limiter = PriorityRateLimiter(max_retries=2)
    async with ExtBot(server.token, base_url=server.base_url, rate_limiter=limiter) as opened:
        yield opened


async def test_a_429_is_waited_out_and_retried_then_raised_after_the_last_retry(
    server: BotApiServer, bot: ExtBot[Priority]
) -> None:
    learner = server.private_chat(user_id=5101, first_name="Ann")
    server.faults.fail_next("sendMessage", status=429, retry_after=1, count=2)
    await bot.send_message(learner.chat_id, "after two refusals")
    statuses = [r.status for r in server.requests("sendMessage")]
    assert statuses == [429, 429, 200]
    assert [m.text for m in learner.messages()] == ["after two refusals"]

    server.faults.fail_next("sendMessage", status=429, retry_after=1, count=3)
    with pytest.raises(RetryAfter):
        await bot.send_message(learner.chat_id, "refused three times")
    assert [r.status for r in server.requests("sendMessage")][3:] == [429, 429, 429]
    assert len(learner.messages()) == 1


async def test_a_429_in_the_team_chat_holds_that_chat_only(
    server: BotApiServer, bot: ExtBot[Priority]
) -> None:
    team = server.group_chat(-100555, "Quality team")
    learner = server.private_chat(user_id=5102, first_name="Bo")
    server.faults.fail_next("sendMessage", status=429, retry_after=1, chat_id=team.chat_id)
    card = asyncio.create_task(bot.send_message(team.chat_id, "a card"))
    await asyncio.sleep(0.3)  # the card has been refused and is waiting
    await bot.send_message(learner.chat_id, "the next question")
    assert not card.done()
    await card
    sent = [(r.chat_id, r.status) for r in server.requests("sendMessage")]
    assert sent == [(team.chat_id, 429), (learner.chat_id, 200), (team.chat_id, 200)]
