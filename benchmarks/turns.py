"""How fast is a turn? Whole concern journeys through the turn service, on each backend,
with many other concerns in the database.

Each backend is first given `--others` filed concerns (100,000; `--quick`: 1,000), then
runs whole journeys (`seeding.JOURNEY`, 23 turns ending in a filed concern; the first
few unmeasured).
Per backend it prints the time per turn (p50, p95, p99), and apart: the turn that enters
the review, the turn that submits, and every other step. SQLite runs with the default
`synchronous` (NORMAL) and again with FULL on the same file, to show what FULL costs.
PostgreSQL is included when CONCERNBOT_BENCH_POSTGRES_URL is set (it uses and then drops a
schema of its own). What text is stored is encrypted, as always.

Run: python benchmarks/turns.py [--quick] [--others N] [--journeys N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from backends import backends
from seeding import JOURNEY, seed

from bot.service import TurnService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.turns import Event, Text
from storage.database import SqlStorage, open_storage
from storage.repositories import Storage

WARM_UP = 3
STORY = 2  # where in the journey the story is told
# Targets: persisted turn p99 (ms) per backend; review and submit no slower than a step.
TARGETS = {"sqlite": 5.0, "postgresql": 8.0}


@dataclass
class Timings:
    """Seconds per turn, by kind of turn."""

    steps: list[float] = field(default_factory=list)
    review: list[float] = field(default_factory=list)
    submit: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # every turn's CPU time, this thread's

    @property
    def every(self) -> list[float]:
        return self.steps + self.review + self.submit


def pct(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 in milliseconds."""
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples) * 1000, q[94] * 1000, q[98] * 1000


def told(n: int) -> list[Event]:
    """The journey, its story made the nth learner's own: each story is read afresh, as
    every learner's would be (the last reading is kept, for the check screen)."""
    story = JOURNEY[STORY]
    assert isinstance(story, Text)
    return [*JOURNEY[:STORY], Text(f"{story.text} It was so again on rota week {n}."),
            *JOURNEY[STORY + 1 :]]  # fmt: skip


def journeys(service: TurnService, count: int, prefix: str) -> Timings:
    timings = Timings()
    for n in range(WARM_UP + count):
        chat = f"{prefix}:{n}"
        state = None
        for event in told(n):
            t0, c0 = time.perf_counter(), time.thread_time()
            turn = service.handle_now(chat, chat, event)
            elapsed = time.perf_counter() - t0
            if n >= WARM_UP:
                timings.cpu.append(time.thread_time() - c0)
                if turn.reference is not None:
                    timings.submit.append(elapsed)
                elif turn.state == "review" and state != "review":
                    timings.review.append(elapsed)
                else:
                    timings.steps.append(elapsed)
            state = turn.state
        assert turn.reference is not None, "the journey did not file a concern"
    return timings


def report(name: str, timings: Timings) -> float:
    """Print the figures; the worse of review's and submit's p99 over the steps' p99."""
    print(f"{name}: {len(timings.every)} turns")
    for label, samples in (
        ("every turn", timings.every),
        ("steps", timings.steps),
        ("entering the review", timings.review),
        ("submitting", timings.submit),
    ):
        p50, p95, p99 = pct(samples)
        print(f"  {label:<20} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  p99 {p99:6.2f} ms")
    # On a shared machine the wall clock waits for other programs too; the CPU time less so.
    p50, p95, p99 = pct(timings.cpu)
    print(f"  {'CPU, every turn':<20} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  p99 {p99:6.2f} ms")
    steps = pct(timings.steps)[2]
    return max(pct(timings.review)[2], pct(timings.submit)[2]) / steps


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "MISSED"


@contextmanager
def full_on(storage: Storage) -> Iterator[Storage]:
    """The same SQLite file opened with synchronous=FULL."""
    assert isinstance(storage, SqlStorage)
    url = storage.engine.url.render_as_string(hide_password=False)
    full = open_storage(url, storage.keys, "FULL")
    try:
        yield full
    finally:
        full.close()


def run(
    name: str,
    backend: Callable[[], AbstractContextManager[Storage]],
    dialogue: Dialogue,
    others: int,
    count: int,
) -> list[str]:
    """Seed, run the journeys, print figures; the result lines."""
    results = []
    with backend() as storage:
        took = seed(storage, others, dialogue)
        print(f"{name}: {others:,} other concerns added in {took:.1f} s")
        timings = journeys(TurnService(dialogue, storage), count, name)
        ratio = report(name, timings)
        p99 = pct(timings.every)[2]
        target = TARGETS[name]
        results.append(
            f"result: turn p99 {name} = {p99:.2f} ms (target <= {target:g} ms) "
            + verdict(p99, target)
        )
        results.append(
            f"result: review and submit p99 / step p99 {name} = {ratio:.2f} x (target <= 1 x) "
            + verdict(ratio, 1.0)
        )
        if name == "sqlite":
            with full_on(storage) as full:
                timings = journeys(TurnService(dialogue, full), count, "full")
            report("sqlite, synchronous=FULL", timings)
            p99 = pct(timings.every)[2]
            results.append(f"result: turn p99 sqlite synchronous=FULL = {p99:.2f} ms (no target)")
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1,000 others, 10 journeys")
    parser.add_argument("--others", type=int, default=None, help="other concerns (100,000)")
    parser.add_argument("--journeys", type=int, default=None, help="journeys per backend (200)")
    args = parser.parse_args()
    others = args.others if args.others is not None else (1000 if args.quick else 100_000)
    count = args.journeys or (10 if args.quick else 200)
    t0 = time.perf_counter()
    dialogue = Dialogue(load_content())
    elapsed = (time.perf_counter() - t0) * 1000
    print(f"start-up: content loaded and checked, machines built in {elapsed:.1f} ms")
    print(f"journey: {len(JOURNEY)} turns, {count} journeys per backend")
    results = []
    for name, backend in backends(with_memory=False):
        results += run(name, backend, dialogue, others, count)
    print("\n".join(results))


if __name__ == "__main__":
    main()
