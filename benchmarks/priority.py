"""Do learners wait behind the team's long output? 50 learners answer (thinking 3 to 8 seconds
before each answer) while 20 alert cards go to the team chat and a broadcast of 500 messages
to reporters, all queued at the start, through the real channel, inbox drain and rate limiter
at Telegram's limits (30 a second, 20 a minute in a group), against the Bot API test server.

Prints learner reply p50 and p95 (from a learner's update kept to the bot's replies sent) and
the team's messages a second, with the priority limiter (`bot.channels.limiter`) and, for
comparison, PTB's first come, first served AIORateLimiter that it replaced.
Run: python benchmarks/priority.py [--quick] [--no-before]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

# The Bot API test server and the scenario live with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from botapi import BotApiServer
from busy_hour import Figures, Watched, busy_hour
from telegram.ext import AIORateLimiter, BaseRateLimiter

from bot.channels.limiter import PriorityRateLimiter

TARGET_P95 = 2.0


async def scenario(limiter: BaseRateLimiter[Any], quick: bool) -> tuple[Figures, Watched]:
    watched = Watched(limiter)
    learners, cards, broadcast, steps, think = (
        (10, 5, 100, 2, (0.5, 1.5)) if quick else (50, 20, 500, 4, (3.0, 8.0))
    )
    with BotApiServer() as server:
        figures = await busy_hour(
            server, watched, learners, cards, broadcast, steps, think, finish=True
        )
    return figures, watched


def show(name: str, figures: Figures, watched: Watched) -> None:
    print(
        f"{name:<34} learner reply p50 {figures.quantile(0.5):6.2f} s  "
        f"p95 {figures.quantile(0.95):6.2f} s  max {max(figures.waits):6.2f} s  "
        f"({len(figures.waits)} replies; most team messages sent ahead of one: "
        f"{max(watched.overtaken())});  team {figures.background_rate:5.1f} messages/s "
        f"({figures.background_sent} in {figures.background_seconds:.1f} s)"
    )
    if figures.unanswered:
        print(f"  unanswered: {len(figures.unanswered)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10 learners, a short burst")
    parser.add_argument("--no-before", action="store_true", help="skip AIORateLimiter's run")
    args = parser.parse_args()
    after, watched = asyncio.run(scenario(PriorityRateLimiter(), args.quick))
    show("priority (learners first)", after, watched)
    before = None
    if not args.no_before:
        before, watched = asyncio.run(scenario(AIORateLimiter(max_retries=5), args.quick))
        show("first come, first served (before)", before, watched)
    p95 = after.quantile(0.95)
    verdict = "ok" if p95 <= TARGET_P95 and not after.unanswered else "MISSED"
    print(f"result: learner reply p95 = {p95:.2f} s (target <= {TARGET_P95:g} s) {verdict}")
    print(f"result: learner reply p50 = {after.quantile(0.5):.2f} s (no target)")
    print(f"result: team messages/s = {after.background_rate:.1f} messages/s (no target)")
    if before is not None:
        print(f"result: learner reply p95 before = {before.quantile(0.95):.2f} s (no target)")


if __name__ == "__main__":
    main()
