"""Throughput with 1, 2 and 3 `concernbot telegram` replicas in webhook mode behind one
round-robin proxy on PostgreSQL, against the Bot API test server (the replica tests' set-up,
tests/e2e/replicas.py).

Learners, all at once, each go from /start to the hospital question (five updates: a
command, presses and typed answers, each waiting for its reply, as a person would). The
figure is learner updates handled a second, from the first /start to the last reply, with
the rate limiter off (this measures the bot, not Telegram's ceiling). Every replica runs on
the same machine, so on 2 cores more replicas share the same CPU: the figure shows what the
shared inbox and database cost, not what more machines would add.

Needs CONCERNBOT_BENCH_POSTGRES_URL (a scratch schema is made in it and dropped after).
Run: python benchmarks/replicas.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The Bot API test server and the replicas' set-up live with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from backends import scratch_schema
from botapi import BotApiServer
from botapi.user import ChatUser
from e2e.replicas import cluster
from e2e.test_telegram import start_concern, to_place

UPDATES_PER_LEARNER = 5  # /start, a press, the story, a press, the group
UNLIMITED = {
    "CONCERNBOT_TELEGRAM_MESSAGES_PER_SECOND": "0",
    "CONCERNBOT_TELEGRAM_GROUP_MESSAGES_PER_MINUTE": "0",
    "CONCERNBOT_LOG_LEVEL": "WARNING",
}


def learner(user: ChatUser) -> None:
    start_concern(user)
    to_place(user)


def run(count: int, learners: int, server_url: str) -> float:
    """Learner updates handled a second with `count` replicas."""
    with (
        scratch_schema(server_url) as url,
        BotApiServer() as server,
        tempfile.TemporaryDirectory() as folder,
        cluster(server, Path(folder), url, count, **UNLIMITED),
    ):
        users = [server.private_chat(user_id=7000 + n, first_name="Bea") for n in range(learners)]
        started = time.monotonic()
        with ThreadPoolExecutor(learners) as pool:
            list(pool.map(learner, users))
        elapsed = time.monotonic() - started
    rate = learners * UPDATES_PER_LEARNER / elapsed
    print(f"{count} replica(s): {learners} learners, {rate:.1f} updates/s ({elapsed:.1f} s)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10 learners")
    args = parser.parse_args()
    server_url = os.environ.get("CONCERNBOT_BENCH_POSTGRES_URL")
    if not server_url:
        sys.exit("set CONCERNBOT_BENCH_POSTGRES_URL to a PostgreSQL server to run this")
    learners = 10 if args.quick else 40
    rates = {count: run(count, learners, server_url) for count in (1, 2, 3)}
    print(f"machine: {os.cpu_count()} cores, shared by every replica")
    for count, rate in rates.items():
        print(f"result: learner updates/s, {count} replica(s) = {rate:.1f} updates/s (no target)")
    print(f"result: 3 replicas / 1 replica = {rates[3] / rates[1]:.2f} x (no target)")


if __name__ == "__main__":
    main()
