"""Chaos for alerts: the Telegram process killed with SIGKILL while alerts drain, restarted,
again and again; then the cards are counted per concern.

None may be lost. A card may show twice only as the README says: when the bot was killed
between sending it and recording that it was sent, and then only once its lease (3 times
CONCERNBOT_OUTBOX_SEND_TIMEOUT) has run out. So duplicates are at most one per kill, and each
comes at least the lease less one send timeout after the first copy.

Small in CI (a few kills). The long run is the same test with more kills, e.g.
`CONCERNBOT_CHAOS_KILLS=40 .venv/bin/pytest tests/e2e/test_team_chaos.py -q -s`; it prints
its figures (recorded in benchmarks/RESULTS.md). CONCERNBOT_CHAOS_SEED repeats a run.
"""

from __future__ import annotations

import itertools
import os
import random
import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botapi import BotApiServer
from reports.worst_case import worst_concern
from secret_keys import keys_for

from bot.triage import Team, enqueue_alerts
from dialogues.bundle import load_content
from storage.database import open_storage, sqlite_url_for, upgrade

from .conftest import BotProcess

pytestmark = pytest.mark.e2e
CONTENT = load_content()
TEAM_CHAT = -1009000
KILLS = int(os.environ.get("CONCERNBOT_CHAOS_KILLS", "3"))
SEED = int(os.environ.get("CONCERNBOT_CHAOS_SEED", str(random.randrange(1_000_000))))
BATCH = 3  # concerns filed before each start, so every kill finds alerts draining
# Long enough for python-telegram-bot's rate limiter, which keeps to Telegram's 20 messages a
# minute in a group (after a burst of 20 on start): a send waits up to 3 s for its turn.
SEND_TIMEOUT = 5.0
LEASE = 3 * SEND_TIMEOUT
SLOW_SEND = 0.15  # the Bot API holds each send this long: a kill often lands mid-send
PER_CARD = 3.5  # seconds each card may take once the burst is spent
TITLE = "Quality Concerns Alert "


def file_concerns(data: Path, first: int, count: int) -> list[str]:
    """Concerns sent to the team, each with its alert queued, as filing does it."""
    url = sqlite_url_for(data)
    upgrade(url, keys_for(url))
    storage = open_storage(url, keys_for(url))
    team = Team(chat_id=TEAM_CHAT, members=frozenset({9001}), reminder_hours=200)
    now = datetime.now(UTC)
    references = [f"QC-{n:04d}-KILL" for n in range(first, first + count)]
    try:
        for reference in references:
            concern = worst_concern(CONTENT, reference=reference, created_at=now)
            with storage.unit_of_work() as uow:
                uow.concerns.add(concern)
                enqueue_alerts(uow, concern, now, team)
    finally:
        storage.close()
    return references


def card_sends(server: BotApiServer) -> list[tuple[str, float]]:
    """(reference, time) of every card the Bot API accepted into the team chat."""
    return [
        (str(r.params.get("text", "")).split(TITLE, 1)[1][:12], r.time)
        for r in server.requests("sendMessage")
        if r.chat_id == TEAM_CHAT and r.status == 200 and TITLE in str(r.params.get("text", ""))
    ]


def alerts(bot: BotProcess, references: list[str]) -> dict[str, int]:
    """How many of these concerns' alerts are in each outbox status."""
    storage = bot.storage()
    try:
        with storage.unit_of_work() as uow:
            return dict(Counter(
                i.status for r in references for i in uow.outbox.for_reference(r)
                if i.kind == "team_alert"
            ))  # fmt: skip
    finally:
        storage.close()


def wait(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.1)
    return False


def test_alerts_survive_kill_9_while_draining(server: BotApiServer, tmp_path: Path) -> None:
    chance = random.Random(SEED)
    data = tmp_path / "data"
    team = server.group_chat(TEAM_CHAT, "EoE Quality team")
    server.faults.delay_next("sendMessage", SLOW_SEND, count=1_000_000)
    env = {
        "CONCERNBOT_TEAM_CHAT_ID": str(TEAM_CHAT),
        "CONCERNBOT_TEAM_MEMBERS": "9001",
        "CONCERNBOT_OUTBOX_SEND_TIMEOUT": str(SEND_TIMEOUT),
        "CONCERNBOT_OUTBOX_RETRY_SECONDS": "1",
        "CONCERNBOT_TELEGRAM_REQUEST_TIMEOUT": "5",
    }
    bot = BotProcess(server, data, extra_env=env)
    references: list[str] = []
    started = time.monotonic()
    kills = in_flight = 0
    for _ in range(KILLS):
        references += file_concerns(data, len(references) + 1, BATCH)
        before = len(card_sends(server))
        bot.start()
        # Kill at a random moment once the drain is under way.
        if not wait(lambda before=before: len(card_sends(server)) > before, 60):  # type: ignore[misc]
            pytest.fail(f"no card went out within 60 s of a start (seed {SEED})")
        time.sleep(chance.uniform(0, 4 * SLOW_SEND))
        sent = len(server.requests("sendMessage"))
        bot.kill()
        kills += 1
        time.sleep(SLOW_SEND + 0.1)  # a send the kill cut short still lands in the chat
        in_flight += len(server.requests("sendMessage")) > sent
    polls = len(server.requests("getUpdates"))
    bot.start()
    try:
        # Up and running (so that the stop below finds its signal handlers in place)...
        assert wait(lambda: len(server.requests("getUpdates")) > polls, 60)
        # ...until every alert is recorded sent: then none can go again (a duplicate is a pending
        # item whose lease ran out), and every card that will ever show has shown.
        left = len(set(references) - {r for r, _ in card_sends(server)})
        delivered = wait(lambda: alerts(bot, references) == {"sent": len(references)},
                         60 + LEASE + PER_CARD * left)  # fmt: skip
    finally:
        assert bot.stop() == 0
    statuses = alerts(bot, references)
    assert delivered, f"not every alert was sent (seed {SEED}): {statuses}"

    sends = card_sends(server)
    per_concern = Counter(reference for reference, _ in sends)
    duplicates = {r: n for r, n in per_concern.items() if n > 1}
    gaps = []
    for reference in duplicates:
        times = sorted(t for r, t in sends if r == reference)
        gaps += [later - earlier for earlier, later in itertools.pairwise(times)]
    elapsed = time.monotonic() - started
    print(
        f"\nchaos: seed {SEED}, {kills} kills ({in_flight} with a send in flight), "
        f"{len(references)} concerns, {len(sends)} cards, "
        f"{sum(n - 1 for n in duplicates.values())} duplicate(s) on {len(duplicates)} concern(s), "
        f"shortest gap {min(gaps, default=0):.1f} s (lease {LEASE:.0f} s), {elapsed:.0f} s"
    )
    assert set(per_concern) == set(references), f"lost: {set(references) - set(per_concern)}"
    assert len(team.messages()) == len(sends)  # every accepted send is a card in the chat
    assert sum(n - 1 for n in duplicates.values()) <= kills, f"seed {SEED}"
    assert all(gap >= LEASE - SEND_TIMEOUT for gap in gaps), (gaps, SEED)
    assert statuses == {"sent": len(references)}, statuses
    with sqlite3.connect(data / "concernbot.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
