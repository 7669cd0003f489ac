"""The team's views at size: /queue's first and middle pages and /stats's counts, with
100,000 concerns filed (`--quick`: 2,000), on SQLite and on PostgreSQL when
CONCERNBOT_BENCH_POSTGRES_URL is set.

A page is timed as the desk builds it (the page read and its message rendered), with the
statements it sends counted by SQLAlchemy's `before_cursor_execute` event; /stats is timed as
its counts (the SQL); drawing the picture from them is printed too, once, with no target (it
does not depend on the number of concerns). The other figures are medians of 7 runs. On a busy
machine the times are upper bounds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from backends import backends
from seeding import seed
from sqlalchemy import event, text

from bot.channels.team_queue import QueuePager
from bot.reports.picture import risk_picture
from bot.triage import Team, TriageService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from storage.database import SqlStorage
from storage.repositories import Storage
from storage.views import QueueKey

PAGE_TARGET_MS, QUERIES_TARGET, STATS_TARGET_MS = 100.0, 3, 500.0
RUNS = 7


def queries(statements: list[str]) -> int:
    """The statements that read: not BEGIN, nor the PRAGMA that makes a reading read-only."""
    return sum(s.lstrip().upper().startswith(("SELECT", "WITH")) for s in statements)


def timed(action: Callable[[], Any], storage: Storage) -> tuple[float, int, int]:
    """Median milliseconds of `action` over RUNS; the queries and statements one run sends."""
    times, counts, reads = [], [], []
    for _ in range(RUNS):
        seen: list[str] = []

        def count(*args: Any, seen: list[str] = seen) -> None:
            seen.append(args[2])

        if isinstance(storage, SqlStorage):
            event.listen(storage.engine, "before_cursor_execute", count)
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
        if isinstance(storage, SqlStorage):
            event.remove(storage.engine, "before_cursor_execute", count)
        counts.append(len(seen))
        reads.append(queries(seen))
    return statistics.median(times), max(reads), max(counts)


def result(name: str, value: float, unit: str, target: float | None) -> None:
    if target is None:
        print(f"result: {name} = {value:.1f} {unit} (no target)")
        return
    verdict = "ok" if value <= target else "MISSED"
    print(f"result: {name} = {value:.1f} {unit} (target <= {target:g} {unit}) {verdict}")


def run(name: str, storage: Storage, count: int, dialogue: Dialogue) -> None:
    seconds = seed(storage, count, dialogue)
    print(f"{name}: {count} concerns seeded in {seconds:.1f} s")
    if isinstance(storage, SqlStorage) and storage.engine.dialect.name == "postgresql":
        # As autovacuum soon would after a load: statistics, and the visibility map that
        # lets a count read the index alone.
        with storage.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
            db.execute(text("VACUUM ANALYZE concerns"))
    team = Team(chat_id=-1, members=frozenset({1}))
    triage = TriageService(storage, dialogue.content, team, lambda: datetime.now(UTC))
    pager = QueuePager(triage, -1)
    first = triage.queue_page()
    with storage.unit_of_work() as uow:  # setup, not timed: the key of the middle concern
        middle: QueueKey = uow.views.queue_page(size=max(1, first.total // 2)).entries[-1].key
    first_ms, first_queries, first_all = timed(lambda: pager.render(triage.queue_page()), storage)
    middle_ms, middle_queries, _ = timed(lambda: pager.render(triage.queue_page(middle)), storage)
    back_ms, back_queries, _ = timed(lambda: pager.render(triage.queue_page(None, middle)), storage)
    stats_ms, stats_queries, _ = timed(triage.open_counts, storage)
    counts = triage.open_counts()
    started = time.perf_counter()
    risk_picture(counts, dialogue.content)
    picture_ms = (time.perf_counter() - started) * 1000
    print(f"{name}: {first.total} open; /queue first {first_ms:.1f} ms ({first_queries} stmts),"
          f" middle next {middle_ms:.1f} ms ({middle_queries}), middle previous {back_ms:.1f} ms"
          f" ({back_queries}); /stats counts {stats_ms:.1f} ms ({stats_queries} stmts),"
          f" picture {picture_ms:.0f} ms")  # fmt: skip
    slowest = max(first_ms, middle_ms, back_ms)
    result(f"{name} /queue page at {count}", slowest, "ms", PAGE_TARGET_MS)
    most = max(first_queries, middle_queries, back_queries)
    result(f"{name} /queue queries per page", most, "queries", QUERIES_TARGET)
    result(
        f"{name} /queue statements per page, BEGIN and PRAGMA too", first_all, "statements", None
    )
    result(f"{name} /stats counts at {count}", stats_ms, "ms", STATS_TARGET_MS)
    result(f"{name} /stats queries", stats_queries, "queries", None)
    result(f"{name} /stats picture drawing", picture_ms, "ms", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 concerns, not 100,000")
    parser.add_argument("--concerns", type=int, default=None)
    args = parser.parse_args()
    count = args.concerns or (2_000 if args.quick else 100_000)
    dialogue = Dialogue(load_content())
    for name, backend in backends(with_memory=False):
        with backend() as storage:
            run(name, storage, count, dialogue)


if __name__ == "__main__":
    main()
