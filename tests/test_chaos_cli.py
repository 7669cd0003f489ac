"""Chaos: `concernbot chat` killed with SIGKILL at random moments and resumed, to the end.

A pipe types a whole concern one line at a time. At random moments (in start-up and
migration, waiting for input, in the middle of a turn or its commit) the process is killed
with SIGKILL and started again with `--resume`. After every kill the SQLite file passes
`PRAGMA integrity_check`, and the stored conversation is where the chat had got to: at least
every line whose answer (the next question) was printed before the kill, at most the line
that was in flight. What the chat prints is checked against a run of the same lines through
the turn service in memory, so a resumed chat also says exactly what it would have said.

Small in CI (CONCERNBOT_CHAOS_KILLS, default 12); a long run is the same test with more:
`CONCERNBOT_CHAOS_KILLS=400 .venv/bin/pytest tests/test_chaos_cli.py -s`. The seed is printed;
CONCERNBOT_CHAOS_SEED=<seed> replays the same plan (the moments themselves depend on timing).
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from livechat import FIRST_HALF, SECOND_HALF, LiveChat
from secret_keys import keys_for

from bot.channels.console import CONSOLE_RESUME, chat_key, render
from bot.service import Turn, TurnService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.records import Conversation
from dialogues.turns import Command, Text
from storage.database import open_storage, schema_is_current, sqlite_url_for
from storage.memory import MemoryStorage

LINES = FIRST_HALF + SECOND_HALF
REFERENCE = re.compile(rb"QC-[0-9A-Z]{4}-[0-9A-Z]{4}")
Snapshot = tuple[object, ...]


def snapshot(conversation: Conversation | None) -> Snapshot | None:
    """What a conversation's progress is, leaving out its version, times and the (random)
    reference given when it is filed."""
    if conversation is None:
        return None
    c = conversation
    answers = {k: "QC-XXXX-XXXX" if k == "reference" else v for k, v in c.answers.items()}
    return (c.state, answers, c.trail, c.editing, c.paused, c.interrupt)


@dataclass(frozen=True)
class Golden:
    """The same concern through the turn service in memory: what the chat prints at start,
    on `--resume` with i lines taken, after line i; and the conversation with i lines taken."""

    start: bytes
    resumed: list[bytes]
    after: list[bytes]
    snapshots: list[Snapshot | None]


def golden(lines: list[str]) -> Golden:
    content = load_content()
    service = TurnService(Dialogue(content, resume_hint=CONSOLE_RESUME), MemoryStorage())
    chat = chat_key("golden")

    def shown(turn: Turn) -> bytes:
        text = "".join(render(reply, content.prompts) + "\n\n" for reply in turn.replies)
        return REFERENCE.sub(b"QC-XXXX-XXXX", text.encode())

    start = shown(service.handle_now(chat, chat, Command("new")))
    resumed, after = [], []
    snapshots = [snapshot(service.conversation(chat))]
    for line in lines:
        # Resuming changes nothing but the row's version and time, as in the chat under test.
        resumed.append(shown(service.handle_now(chat, chat, Command("resume"))))
        after.append(shown(service.handle_now(chat, chat, Text(line))))
        snapshots.append(snapshot(service.conversation(chat)))
    assert snapshots[-1] is not None and snapshots[-1][0] == "submitted"
    return Golden(start, resumed, after, snapshots)


@dataclass
class Tally:
    kills: int = 0
    lives: int = 0
    start_up_kills: int = 0
    in_flight_saved: int = 0
    in_flight_not_saved: int = 0
    lines_acknowledged: int = 0
    concerns: list[str] = field(default_factory=list)


class Chaos:
    """One run: concerns typed by a pipe into processes killed at random moments."""

    def __init__(self, tmp_path: Path, seed: int) -> None:
        self.cwd = tmp_path
        self.data = tmp_path / "data"
        self.database = self.data / "concernbot.db"
        self.env = {
            "CONCERNBOT_DATA_DIR": str(self.data),
            "CONCERNBOT_DATABASE_URL": "",
            "CONCERNBOT_LOG_LEVEL": "WARNING",
        }
        self.seed = seed
        self.rng = random.Random(seed)
        # The key, as a first run makes it: its words would come before the golden start.
        keys_for(sqlite_url_for(self.data))
        self.golden = golden(LINES)
        self.tally = Tally()

    def why(self, message: str) -> str:
        return f"{message} (replay: CONCERNBOT_CHAOS_SEED={self.seed}, kill {self.tally.kills})"

    def wait_for_exactly(self, chat: LiveChat, after: int, expected: bytes) -> None:
        """Until the chat has printed `expected` after byte `after`, and nothing else."""
        deadline = time.monotonic() + 60
        while len(chat.out) - after < len(expected) and chat.process.poll() is None:
            assert time.monotonic() < deadline, self.why("the chat stopped answering")
            time.sleep(0.005)
        got = REFERENCE.sub(b"QC-XXXX-XXXX", chat.out[after:])
        assert got[: len(expected)] == expected, self.why(
            f"the chat printed\n{got.decode(errors='replace')}\ninstead of\n"
            f"{expected.decode(errors='replace')}"
        )

    def stored(self, user: str) -> Snapshot | None:
        """The conversation in the database, after checking the file's integrity."""
        if not self.database.exists():
            return None
        check = sqlite3.connect(self.database)
        try:
            assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)], self.why(
                "integrity_check failed"
            )
        finally:
            check.close()
        url = sqlite_url_for(self.data)
        if not schema_is_current(url):  # killed before the first migration committed
            return None
        storage = open_storage(url, keys_for(url))
        try:
            with storage.unit_of_work() as uow:
                return snapshot(uow.conversations.get(f"{chat_key(user)}/concern"))
        finally:
            storage.close()

    def concern(self, user: str, kills: int) -> None:
        """One concern, from nothing to filed, through killed processes; once `kills` have
        been reached, the next process is left to finish it."""
        taken = -1  # lines the database holds; -1: not even the conversation
        while taken < len(LINES):
            taken = self.life(user, taken, kill=self.tally.kills < kills)
        self.tally.concerns.append(user)

    def life(self, user: str, taken: int, kill: bool) -> int:
        """Start the chat, type some lines, and kill it at a random moment (or, without
        `kill`, type the rest and let it end); how many lines the database holds then,
        checked against what the chat acknowledged."""
        self.tally.lives += 1
        resume = taken >= 0
        chat = LiveChat(["chat", "--user", user, *(["--resume"] if resume else [])],
                        self.env, self.cwd)  # fmt: skip
        acknowledged, sent, in_flight = taken, max(taken, 0), False
        if kill and self.rng.random() < 0.2:  # in start-up: imports, content, migration...
            time.sleep(self.rng.uniform(0, 1.5))
            self.tally.start_up_kills += 1
        else:
            self.wait_for_exactly(chat, 0, self.golden.resumed[taken] if resume else
                                  self.golden.start)  # fmt: skip
            acknowledged = max(taken, 0)
            typed = self.rng.randint(0, 3) if kill else len(LINES)
            while typed and acknowledged < len(LINES) - 1:
                self.wait_for_exactly(chat, chat.send(LINES[acknowledged]),
                                      self.golden.after[acknowledged])  # fmt: skip
                acknowledged, typed = acknowledged + 1, typed - 1
            self.tally.lines_acknowledged += acknowledged - max(taken, 0)
            before = chat.send(LINES[acknowledged])
            sent, in_flight = acknowledged + 1, True
            if sent == len(LINES) and (not kill or self.rng.random() < 0.5):
                assert chat.finish() == 0, self.why(chat.stderr)  # filed, and the chat ends
                self.wait_for_exactly(chat, before, self.golden.after[acknowledged])
                assert self.stored(user) == self.golden.snapshots[sent], self.why("not filed")
                self.tally.lines_acknowledged += 1
                return sent
            time.sleep(self.rng.uniform(0, 0.05))
        chat.kill()
        self.tally.kills += 1
        now = self.stored(user)
        candidates = [i for i in range(acknowledged, sent + 1)
                      if (None if i < 0 else self.golden.snapshots[i]) == now]  # fmt: skip
        assert candidates, self.why(
            f"the database holds {now!r}; acknowledged {acknowledged} lines, sent {sent}"
        )
        held = candidates[-1]
        if in_flight and held == sent:
            self.tally.in_flight_saved += 1
        elif in_flight:
            self.tally.in_flight_not_saved += 1
        return held

    def run(self, kills: int) -> Tally:
        while self.tally.kills < kills:
            self.concern(f"chaos{len(self.tally.concerns) + 1}", kills)
        return self.tally


def test_kill_9_at_random_moments_loses_and_corrupts_nothing(tmp_path: Path) -> None:
    kills = int(os.environ.get("CONCERNBOT_CHAOS_KILLS", "12"))
    seed = int(os.environ.get("CONCERNBOT_CHAOS_SEED", str(random.SystemRandom().randrange(10**9))))
    print(f"chaos: seed={seed} kills={kills} (CONCERNBOT_CHAOS_SEED={seed} replays the plan)")
    began = time.monotonic()
    tally = Chaos(tmp_path, seed).run(kills)
    print(
        f"chaos: {tally.kills} kills over {tally.lives} processes, "
        f"{len(tally.concerns)} concerns filed, {time.monotonic() - began:.0f} s; "
        f"kills in start-up {tally.start_up_kills}, with a line in flight "
        f"{tally.in_flight_saved + tally.in_flight_not_saved} "
        f"(saved {tally.in_flight_saved}, not saved {tally.in_flight_not_saved}), "
        f"lines acknowledged {tally.lines_acknowledged}; integrity_check ok after every kill, "
        "no acknowledged line lost"
    )
    url = sqlite_url_for(tmp_path / "data")
    storage = open_storage(url, keys_for(url))
    try:
        with storage.unit_of_work() as uow:
            assert uow.concerns.count() == len(tally.concerns)
    finally:
        storage.close()
