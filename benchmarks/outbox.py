"""How fast does the outbox drain? Alerts through the worker with an instant sender.

Prints items per second for one worker on each backend: the cost of claiming, leasing and
marking each item (three short transactions), which bounds how fast alerts can go out.
Run: python benchmarks/outbox.py [--items N]; PostgreSQL is included when
CONCERNBOT_BENCH_POSTGRES_URL is set (it uses and then drops a schema of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from backends import memory, postgres, sqlite  # beside this script: the same backends

from bot.outbox import OutboxWorker
from storage.repositories import OutboxItem, Storage


async def _instant(item: OutboxItem) -> str | None:
    return str(item.id)


def run(name: str, backend: Callable[[], AbstractContextManager[Storage]], items: int) -> None:
    with backend() as storage:
        now = datetime.now(UTC)
        with storage.unit_of_work() as uow:
            for n in range(items):
                uow.outbox.add(OutboxItem.new("team_alert", {"n": n}, now, f"QC-BENC-{n:04d}"))
        worker = OutboxWorker(storage, {"team_alert": _instant}, batch=items)
        started = time.perf_counter()
        sent = 0
        while sent < items:
            sent += asyncio.run(worker.drain_once(datetime.now(UTC)))
        elapsed = time.perf_counter() - started
    rate, each = items / elapsed, elapsed * 1000 / items
    print(f"{name:<10} {items:>5} items  {rate:8.0f} items/s  {each:6.2f} ms each")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=500)
    args = parser.parse_args()
    run("memory", memory, args.items)
    run("sqlite", sqlite, args.items)
    server = os.environ.get("CONCERNBOT_BENCH_POSTGRES_URL")
    if server:
        run("postgresql", lambda: postgres(server), args.items)


if __name__ == "__main__":
    main()
