"""What encryption at rest costs a turn, on SQLite.

Whole concern journeys go through the turn service as a Telegram turn does: the update is
kept in the inbox (its payload sealed), taken, handled (the conversation loaded and saved,
sealed; the concern and its outbox items at the end) and marked done. Printed, per turn:
the time spent sealing and opening values (p50, p99 and the most, in µs, and how many values),
and the whole turn with encryption and with a pass-through ring that seals nothing (same
schema, same JSON), p50 and p99. The budget is 1 ms at p99 for the encryption itself.
Run: python benchmarks/crypto.py [--journeys N]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from seeding import JOURNEY

from bot.service import TurnService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.turns import Command, Event, Text
from storage.crypto import KeyRing, new_key
from storage.database import SqlStorage, open_storage, sqlite_url_for, upgrade
from storage.repositories import InboxItem

BUDGET_US = 1000.0


class TimedRing(KeyRing):
    """A real key ring that adds up the time spent in it."""

    def __init__(self) -> None:
        super().__init__([new_key()])
        self.spent = 0.0
        self.values = 0

    def encrypt(self, plain: bytes) -> str:
        started = time.perf_counter()
        try:
            return super().encrypt(plain)
        finally:
            self.spent += time.perf_counter() - started
            self.values += 1

    def decrypt(self, token: str) -> bytes:
        started = time.perf_counter()
        try:
            return super().decrypt(token)
        finally:
            self.spent += time.perf_counter() - started
            self.values += 1


class PlainRing(KeyRing):
    """Seals nothing: the values go to the database as they are (for comparison only)."""

    def __init__(self) -> None:
        super().__init__([new_key()])

    def encrypt(self, plain: bytes) -> str:
        return plain.decode("utf-8")

    def decrypt(self, token: str) -> bytes:
        return token.encode("utf-8")


@contextmanager
def sqlite(keys: KeyRing) -> Iterator[SqlStorage]:
    with tempfile.TemporaryDirectory() as folder:
        url = sqlite_url_for(Path(folder))
        upgrade(url, keys)
        storage = open_storage(url, keys)
        try:
            yield storage
        finally:
            storage.close()


def _update(n: int, event: Event) -> dict[str, object]:
    text = event.text if isinstance(event, Text) else f"/{getattr(event, 'name', '')}"
    return {"update_id": n, "message": {"message_id": n, "chat": {"id": 42}, "text": text}}


def run(keys: KeyRing, dialogue: Dialogue, journeys: int) -> tuple[list[float], list[float]]:
    """Per turn: the whole turn's seconds, and (for a TimedRing) the seconds in the ring."""
    turns: list[float] = []
    inside: list[float] = []
    now = datetime.now(UTC)
    with sqlite(keys) as storage:
        service = TurnService(dialogue, storage)
        n = 0
        for journey in range(journeys):
            chat = f"telegram:{journey}"
            for event in JOURNEY:
                n += 1
                if isinstance(keys, TimedRing):
                    keys.spent = 0.0
                started = time.perf_counter()
                with storage.unit_of_work() as uow:
                    item = InboxItem(f"telegram:update:{n}", chat, n, _update(n, event), now)
                    uow.inbox.add([item])
                with storage.unit_of_work() as uow:
                    taken = uow.inbox.take(chat, now, now + timedelta(seconds=30))
                assert taken is not None
                turn = service.handle_now(chat, chat, event)
                with storage.unit_of_work() as uow:
                    uow.inbox.done(taken.id, now)
                turns.append(time.perf_counter() - started)
                if isinstance(keys, TimedRing):
                    inside.append(keys.spent)
            assert turn.reference is not None, "the journey did not file a concern"
    return turns, inside


def _us(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journeys", type=int, default=50)
    args = parser.parse_args()
    dialogue = Dialogue(load_content())
    assert isinstance(JOURNEY[0], Command)
    print(f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"journey: {len(JOURNEY)} turns, {args.journeys} journeys, SQLite, as Telegram turns")
    timed = TimedRing()
    run(timed, dialogue, 2)  # warm up: imports, caches, the first file
    timed.values = 0
    sealed, inside = run(timed, dialogue, args.journeys)
    per_turn = timed.values / len(inside)
    plain, _ = run(PlainRing(), dialogue, args.journeys)
    p99 = _us(inside, 99)
    print(
        f"encryption per turn   p50 {_us(inside, 50):7.1f} µs  p99 {p99:7.1f} µs"
        f"  max {max(inside) * 1e6:7.1f} µs  ({per_turn:.1f} values sealed or opened a turn)"
    )
    for name, times in (("with encryption", sealed), ("without", plain)):
        print(
            f"turn {name:<16} p50 {_us(times, 50):7.1f} µs  p99 {_us(times, 99):7.1f} µs"
            f"  ({len(times)} turns)"
        )
    verdict = "within" if p99 < BUDGET_US else "OVER"
    print(f"encryption p99 {p99:.1f} µs: {verdict} the {BUDGET_US:.0f} µs budget")


if __name__ == "__main__":
    main()
