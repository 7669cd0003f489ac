"""The team's long output never delays a learner's next question (issue 11): 50 learners
answer while 20 alert cards go to the team chat and 400 messages to reporters, all queued
first, through the real channel, inbox drain and rate limiter at Telegram's limits, against
the Bot API test server.

Asserted as order, not time, so a busy machine cannot fail it: while a learner's request
waited for room, at most the requests already let through before it came went ahead (the
limiter lets up to its burst, 30, through at once), never the rest of the team's queue.
Under first come, first served (PTB's AIORateLimiter), the first learners wait behind the
whole queue (about 380 went ahead of one when this was written).
The times (learner reply p95 under 2 s) are benchmarks/priority.py's to print.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botapi import BotApiServer
from busy_hour import Watched, busy_hour
from telegram.constants import FloodLimit

from bot.channels.limiter import PriorityRateLimiter

BURST = FloodLimit.MESSAGES_PER_SECOND


@pytest.fixture
def server() -> Iterator[BotApiServer]:
    with BotApiServer() as running:
        yield running


async def test_learners_answers_go_before_the_teams_long_output(server: BotApiServer) -> None:
    limiter = Watched(PriorityRateLimiter())
    figures = await busy_hour(server, limiter, learners=50, cards=20, broadcast=400)
    assert figures.unanswered == []
    assert len(figures.waits) == 100
    # The test tested something: learners came while the team's queue was long.
    assert max(limiter.waiting_behind()) > 2 * BURST
    assert max(limiter.overtaken()) <= BURST
