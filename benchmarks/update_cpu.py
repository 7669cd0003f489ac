"""The CPU one learner update costs in storage, in process, without Telegram: kept in the
inbox, taken (the one before marked done) with its backlog counted, and its turn run.

What the Telegram channel does for each update, minus the Bot API and the event loop
(benchmarks/telegram_load.py measures the whole process beside an echo bot); steadier on a
busy machine, so a change to the storage path can be weighed on its own.
Run: python benchmarks/update_cpu.py [--users N] [--quick] [--postgres].
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

from backends import POSTGRES_VARIABLE, postgres, sqlite
from seeding import JOURNEY

from bot.channels.telegram import kept
from bot.inbox import InboxDrain, keep_all
from bot.service import TurnService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.turns import Command, Text
from storage.repositories import InboxItem, Storage


class _Nothing:
    async def handle(self, item: InboxItem, quiet: bool) -> None:
        """Not called: the benchmark takes and handles items itself."""

    async def slow_down(self, item: InboxItem) -> None:
        """Not called."""


def update(update_id: int, chat: int, text: str) -> dict[str, object]:
    """A Telegram message update as the Bot API sends it."""
    person = {"id": chat, "is_bot": False, "first_name": "Learner", "language_code": "en"}
    message = {
        "message_id": update_id,
        "from": person,
        "chat": {"id": chat, "first_name": "Learner", "type": "private"},
        "date": 1_700_000_000,
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"offset": 0, "length": len(text), "type": "bot_command"}]
    return {"update_id": update_id, "message": message}


def run(storage: Storage, users: int, first: int) -> tuple[int, float]:
    """Updates handled and CPU seconds spent, each user going through the journey."""
    service = TurnService(Dialogue(load_content()), storage)
    drain = InboxDrain(storage, _Nothing())
    done: dict[str, int | None] = {}
    handled = 0
    next_id = first * 1000
    started = time.process_time()
    for event in JOURNEY:
        text = f"/{event.name}" if isinstance(event, Command) else event.text  # type: ignore[union-attr]
        for user in range(users):
            chat = 700_000_000 + first + user
            now = datetime.now(UTC)
            (key,) = keep_all(storage, [kept(update(next_id, chat, text), now)])
            next_id += 1
            item, _backlog = drain._take(key, done.get(key))
            assert item is not None
            turned = Command(text[1:]) if text.startswith("/") else Text(text)
            service.handle_now(item.chat, f"owner:{chat}", turned, item.key)
            done[key] = item.id
            handled += 1
    return handled, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="10 users")
    parser.add_argument("--postgres", action="store_true", help=f"on {POSTGRES_VARIABLE}")
    args = parser.parse_args()
    users = 10 if args.quick else args.users
    backend = sqlite()
    if args.postgres:
        backend = postgres(os.environ[POSTGRES_VARIABLE])
    with backend as storage:
        run(storage, 2, 1)  # warm: statements compiled, caches filled
        handled, cpu = run(storage, users, 1000)
    name = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{handled} updates, {users} users: {cpu / handled * 1000:.2f} ms CPU each")
    print(f"result: storage CPU per update, {name} = {cpu / handled * 1000:.3g} ms (no target)")


if __name__ == "__main__":
    main()
