"""How fast is a turn? Whole concern journeys through the turn service, on each backend.

Prints start-up cost (loading and checking content) and, per backend, the time per turn
(median and 95th percentile) and per whole journey (25 turns, the filed concern included).
Run: python benchmarks/turns.py [--journeys N]; PostgreSQL is included when
CONCERNBOT_BENCH_POSTGRES_URL is set (it uses and then drops a schema of its own). What text
is stored is encrypted, as always; `benchmarks/crypto.py` measures what that costs a turn.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from bot.service import TurnService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.turns import Command, Event, Text
from storage.crypto import KeyRing, new_key
from storage.database import open_storage, sqlite_url_for, upgrade
from storage.memory import MemoryStorage
from storage.repositories import Storage

# The journey of tests/livechat.py (FIRST_HALF, SECOND_HALF): the story told and checked,
# then the questions it left, a confidential concern with a name and contact.
JOURNEY: list[Event] = [Command("new")] + [
    Text(t)
    for t in ["3",
              "On most night shifts the FY1s cover the wards alone with nobody to escalate to.",
              "yes", "FY1", "Addenbrookes, ward C9", "2", "often", "2 to 5", "2", "2", "done",
              "4", "3", "1", "done", "3", "1", "done", "2", "confidential",
              "Dr Sam Example, sam.example@nhs.net", "submit"]
]  # fmt: skip


@contextmanager
def sqlite() -> Iterator[Storage]:
    with tempfile.TemporaryDirectory() as folder:
        url = sqlite_url_for(Path(folder))
        keys = KeyRing([new_key()])
        upgrade(url, keys)
        storage = open_storage(url, keys)
        yield storage
        storage.close()


@contextmanager
def postgres(server: str) -> Iterator[Storage]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    try:
        keys = KeyRing([new_key()])
        upgrade(rendered, keys)
        storage = open_storage(rendered, keys)
        yield storage
        storage.close()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def memory() -> Iterator[Storage]:
    yield MemoryStorage()


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
    run("memory", memory, dialogue, args.journeys)
    run("sqlite", sqlite, dialogue, args.journeys)
    server = os.environ.get("CONCERNBOT_BENCH_POSTGRES_URL")
    if server:
        run("postgresql", lambda: postgres(server), dialogue, args.journeys)


if __name__ == "__main__":
    main()
