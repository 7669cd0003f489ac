"""How fast is a turn? Whole concern journeys through the turn service, on each backend.

Prints start-up cost (loading and checking content) and, per backend, the time per turn
(median and 95th percentile) and per whole journey (25 turns, the filed concern included).
Run: python benchmarks/turns.py [--journeys N]; PostgreSQL is included when
CONCERNBOT_BENCH_POSTGRES_URL is set (it uses and then drops a schema of its own). What text
is stored is encrypted, as always; `benchmarks/crypto.py` measures what that costs a turn.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from backends import backends
from seeding import JOURNEY

from bot.service import TurnService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from storage.repositories import Storage


def run(
    name: str,
    backend: Callable[[], AbstractContextManager[Storage]],
    dialogue: Dialogue,
    journeys: int,
) -> None:
    turns: list[float] = []
    whole: list[float] = []
    with backend() as storage:
        service = TurnService(dialogue, storage)
        for n in range(journeys):
            chat = f"bench:{n}"
            started = time.perf_counter()
            for event in JOURNEY:
                t0 = time.perf_counter()
                turn = service.handle_now(chat, chat, event)
                turns.append(time.perf_counter() - t0)
            whole.append(time.perf_counter() - started)
            assert turn.reference is not None, "the journey did not file a concern"
    q = statistics.quantiles(turns, n=20)
    print(
        f"{name:<10} {len(turns):>6} turns  median {statistics.median(turns) * 1000:6.2f} ms"
        f"  p95 {q[18] * 1000:6.2f} ms  journey median {statistics.median(whole) * 1000:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journeys", type=int, default=50)
    args = parser.parse_args()
    t0 = time.perf_counter()
    content = load_content()
    dialogue = Dialogue(content)
    elapsed = (time.perf_counter() - t0) * 1000
    print(f"start-up: content loaded and checked, machines built in {elapsed:.1f} ms")
    print(f"journey: {len(JOURNEY)} turns, {args.journeys} journeys per backend")
    for name, backend in backends():
        run(name, backend, dialogue, args.journeys)


if __name__ == "__main__":
    main()
