"""End to end: two and three `concernbot telegram` replicas in webhook mode behind one address
on PostgreSQL. One chat's updates land on different replicas, interleaved and duplicated, and
nothing is lost, reordered or done twice; several outbox workers send each card once; a
replica killed mid-turn loses nothing. And long polling: a second poller is told plainly."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botapi import BotApiServer
from botapi.user import ChatUser
from reports.worst_case import worst_concern

from bot.triage import Team, enqueue_alerts
from dialogues.bundle import load_content
from storage.repositories import Storage

from .conftest import BotProcess, after
from .replicas import HOOK, Cluster, cluster
from .test_telegram import (
    DESCRIPTION,
    GROUP,
    PLACE,
    PLAIN,
    STORY,
    reference_from,
    start_concern,
    to_place,
    to_review,
)

pytestmark = pytest.mark.e2e
TEAM_CHAT = -1009100
TITLE = "Quality Concerns Alert "


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory, module_postgres_url: str) -> Iterator[Cluster]:
    """Three replicas, with a team chat, shared by the tests below (started once: starting
    processes is what costs)."""
    env = {"CONCERNBOT_TEAM_CHAT_ID": str(TEAM_CHAT), "CONCERNBOT_TEAM_MEMBERS": "9001"}
    with BotApiServer() as server:
        server.group_chat(TEAM_CHAT, "EoE Quality team")
        tmp_path = tmp_path_factory.mktemp("three")
        with cluster(server, tmp_path, module_postgres_url, 3, **env) as running:
            yield running


def journey(user: ChatUser) -> str:
    """A learner's whole concern, typing and pressing; the reference it was filed under."""
    start_concern(user)
    to_place(user)
    to_review(user)
    return reference_from(user)


def update_ids(running: Cluster, user: ChatUser) -> set[int]:
    return {int(i.key.rsplit(":", 1)[1]) for i in running.inbox(user)}


def check_each_once_in_order(running: Cluster, user: ChatUser) -> None:
    running.wait_until_handled(user, 1, timeout=20)  # the last reply goes before it is marked
    items = running.inbox(user)
    assert all(i.takes == 1 for i in items)  # taken once each: nobody handled one twice
    assert [i.seq for i in items] == sorted(i.seq for i in items)
    handled = [i.handled_at for i in items]
    assert handled == sorted(handled)  # handled in update_id order  # type: ignore[type-var]


def check_quiet_logs(running: Cluster) -> None:
    logs = running.logs()
    assert "Traceback" not in logs and "kept update could not be handled" not in logs
    assert "duplicate inbound dropped" not in logs  # duplicates stopped at the inbox


def check_journeys(running: Cluster, users: list[ChatUser], base: int) -> list[str]:
    """The learners' whole journeys at once: each chat's updates spread over every replica,
    each handled once in order, each reply where it belongs, each concern filed once."""
    with ThreadPoolExecutor(len(users)) as pool:
        references = list(pool.map(journey, users))
    wait_until_sent(running, references)

    server = running.server
    assert server.pending_updates() == [] and server.state.dropped_webhook_updates == []
    for user in users:
        assert len(running.proxy.replicas_of(update_ids(running, user))) == len(running.ports)
        check_each_once_in_order(running, user)
    with running.storage.unit_of_work() as uow:
        assert uow.concerns.count() == base + len(users)  # each filed once
        filed = {uow.concerns.get(r).owner for r in references}  # type: ignore[union-attr]
    assert filed == {f"telegram:user:{u.user_id}" for u in users}
    for user in users:
        texts = [m.text for m in user.messages()]
        assert sum("Your reference is" in t for t in texts) == 1
        assert not any("went wrong" in t for t in texts)
    check_quiet_logs(running)
    return references


@pytest.mark.postgres
def test_learners_whole_journeys_through_two_replicas(
    server: BotApiServer, tmp_path: Path, postgres_url: str
) -> None:
    users = [server.private_chat(user_id=5120 + n, first_name="Li") for n in range(3)]
    with cluster(server, tmp_path, postgres_url, 2) as running:
        check_journeys(running, users, base=0)
        # Each replica set the same webhook, and that was harmless.
        hooks = server.requests("setWebhook")
        assert len(hooks) == 2 and all(r.status == 200 for r in hooks)
        assert server.webhook()["url"] == f"{running.proxy.url}{HOOK}"


@pytest.mark.postgres
def test_learners_whole_journeys_through_three_replicas(three: Cluster) -> None:
    users = [three.server.private_chat(user_id=5130 + n, first_name="Li") for n in range(3)]
    with three.storage.unit_of_work() as uow:
        base = uow.concerns.count()
    check_journeys(three, users, base)


def a_message(update_id: int, user: ChatUser, text: str) -> dict[str, object]:
    """An update as Telegram would POST it for a text message."""
    body: dict[str, object] = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": user.chat_id, "type": "private", "first_name": "Dee"},
        "from": {"id": user.user_id, "is_bot": False, "first_name": "Dee"},
        "text": text,
    }
    if text.startswith("/"):
        body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"update_id": update_id, "message": body}


@pytest.mark.postgres
def test_one_chat_delivered_interleaved_and_twice_to_different_replicas(three: Cluster) -> None:
    user = three.server.private_chat(user_id=5201, first_name="Dee")
    answers = ["/start", "3", PLAIN, "Resident doctor", "Addenbrookes, ward C9"]
    updates = [a_message(900_000 + n, user, text) for n, text in enumerate(answers)]
    expected = ["safety check", STORY, GROUP, PLACE, "What is it about"]
    running = three
    with ThreadPoolExecutor(6) as pool:
        for n, update in enumerate(updates):
            # The next update to one replica while the one before comes again to another.
            sends = [pool.submit(running.post, n % 3, update)]
            if n:
                sends.append(pool.submit(running.post, (n + 1) % 3, updates[n - 1]))
            assert [s.result() for s in sends] == [200] * len(sends)
        late = [pool.submit(running.post, n % 3, u) for n, u in enumerate(updates * 2)]
        assert [s.result() for s in late] == [200] * len(late)  # all again, all at once
        running.wait_until_handled(user, len(updates))
        user.wait_for(expected[-1], timeout=30)

        items = running.inbox(user)
        assert [i.seq for i in items] == [u["update_id"] for u in updates]  # kept once each
        check_each_once_in_order(running, user)
        texts = [m.text for m in user.messages()]
        for prompt in expected:  # each reply once, in the order of the answers
            assert sum(prompt in t for t in texts) == 1, (prompt, texts)
        firsts = [next(n for n, t in enumerate(texts) if prompt in t) for prompt in expected]
        assert firsts == sorted(firsts)
        with running.storage.unit_of_work() as uow:
            conversation = uow.conversations.get(f"telegram:{user.chat_id}/concern")
        assert conversation is not None and conversation.answers["description"] == PLAIN
        assert conversation.state == "topics"  # the question after the hospital's
        check_quiet_logs(running)


def file_concerns(storage: Storage, count: int) -> list[str]:
    """Concerns sent to the team, each with its alert queued, as filing does it."""
    team = Team(chat_id=TEAM_CHAT, members=frozenset({9001}), reminder_hours=200)
    now = datetime.now(UTC)
    references = [f"QC-{n:04d}-REPL" for n in range(1, count + 1)]
    content = load_content()
    for reference in references:
        concern = worst_concern(content, reference=reference, created_at=now)
        with storage.unit_of_work() as uow:
            uow.concerns.add(concern)
            enqueue_alerts(uow, concern, now, team)
    return references


def check_cards_once(running: Cluster, references: list[str]) -> None:
    """Every alert card in the team chat, these and any others, sent once and only once."""
    cards = [
        str(r.params.get("text", "")).split(TITLE, 1)[1][:12]
        for r in running.server.requests("sendMessage")
        if r.chat_id == TEAM_CHAT and TITLE in str(r.params.get("text", ""))
    ]
    assert set(references) <= set(cards)
    assert [r for r, n in Counter(cards).items() if n > 1] == []


def wait_until_sent(running: Cluster, references: list[str], timeout: float = 90) -> None:
    """Until every team alert queued for these concerns is recorded sent."""
    deadline = time.monotonic() + timeout
    while True:
        with running.storage.unit_of_work() as uow:
            statuses = Counter(
                i.status for r in references for i in uow.outbox.for_reference(r)
                if i.kind == "team_alert"
            )  # fmt: skip
        if set(statuses) <= {"sent"}:
            return
        assert time.monotonic() < deadline, statuses
        time.sleep(0.2)


@pytest.mark.postgres
def test_three_outbox_workers_send_every_alert_card_once(three: Cluster) -> None:
    server = three.server
    server.faults.delay_next("sendMessage", 0.1, count=1_000_000)  # sends overlap
    try:
        references = file_concerns(three.storage, 15)
        wait_until_sent(three, references)
        with three.storage.unit_of_work() as uow:
            sent = [i for r in references for i in uow.outbox.for_reference(r)]
        assert len([i for i in sent if i.kind == "team_alert"]) == len(references)
        time.sleep(0.5)  # a second copy, were there one, would be in flight by now
    finally:
        server.faults.clear()
    check_cards_once(three, references)
    check_quiet_logs(three)


@pytest.mark.postgres
def test_a_replica_killed_mid_turn_loses_nothing(three: Cluster) -> None:
    running, server = three, three.server
    user = server.private_chat(user_id=5301, first_name="Kim")
    chat = f"telegram:{user.chat_id}"
    with running.storage.unit_of_work() as uow:
        base = uow.concerns.count()
    victim: BotProcess | None = None
    try:
        start_concern(user)
        after(user, lambda: user.press("No, nobody is at risk now"), STORY)
        running.wait_until_handled(user, 2)
        logged = [len(r.logs()) for r in running.replicas]
        server.faults.delay_next("sendMessage", 3.0)  # the reply hangs: the turn is in hand
        user.send(DESCRIPTION)
        deadline = time.monotonic() + 30
        while True:  # the turn is saved, its reply not yet sent
            with running.storage.unit_of_work() as uow:
                conversation = uow.conversations.get(f"{chat}/concern")
            if conversation is not None and conversation.state != "description":
                break
            assert time.monotonic() < deadline, "the answer was never taken"
            time.sleep(0.05)
        turn = f"journey=concern state={conversation.state}"  # logged by the replica taking it
        pairs = zip(running.replicas, logged, strict=True)
        (victim,) = [r for r, n in pairs if turn in r.logs()[n:]]
        victim.kill()
        # The learner answers on, while the chat is still held by the replica that died.
        after(user, lambda: user.send("Yes, that's right"), GROUP, timeout=60)
        after(user, lambda: user.send("Resident doctor"), PLACE)
        to_review(user)
        reference = reference_from(user)

        running.wait_until_handled(user, 1, timeout=20)
        items = running.inbox(user)
        assert [i.takes for i in items].count(2) == 1  # the one in hand, taken again
        assert all(i.takes <= 2 for i in items)
        assert running.logs().count("duplicate inbound dropped") == 1  # its turn not redone
        with running.storage.unit_of_work() as uow:
            assert uow.concerns.count() == base + 1  # filed once
            concern = uow.concerns.get(reference)
            conversation = uow.conversations.get(f"{chat}/concern")
        assert concern is not None and concern.description == DESCRIPTION
        assert concern.learner_group and concern.organisation  # the answers after the kill
        assert conversation is not None and conversation.state == "submitted"
        texts = [m.text for m in user.messages()]
        assert sum("Your reference is" in t for t in texts) == 1
        assert not any("went wrong" in t for t in texts)
        alive = [r for r in running.replicas if r is not victim]
        assert all(r.process is not None and r.process.poll() is None for r in alive)
    finally:
        if victim is not None:  # back to three, for any test after this one
            hooks = len(server.requests("setWebhook"))
            victim.start()
            server.wait_for_request("setWebhook", count=hooks + 1, timeout=60)


def test_a_second_poller_is_told_plainly_and_the_first_goes_on(
    server: BotApiServer, tmp_path: Path
) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
    first = BotProcess(server, tmp_path / "one" / "data").start()
    second = BotProcess(server, tmp_path / "two" / "data")
    said = "another process polls for this bot's token"
    try:
        server.wait_for_request("getUpdates", timeout=30)
        second.start()
        deadline = time.monotonic() + 30
        while said not in first.logs() + second.logs():
            assert time.monotonic() < deadline, "nobody said that two processes poll"
            time.sleep(0.2)
        refused = len([r for r in server.requests("getUpdates") if r.status == 409])
        while len([r for r in server.requests("getUpdates") if r.status == 409]) < refused + 2:
            assert time.monotonic() < deadline + 30, "refused no more"
            time.sleep(0.2)  # refused again and again meanwhile: said once all the same
        for process in (first, second):
            assert process.process is not None and process.process.poll() is None
            assert process.logs().count(said) <= 1
        assert second.stop() == 0
        user = server.private_chat(user_id=5401, first_name="Ray")
        after(user, lambda: user.send("/start"), "safety check", timeout=45)
    finally:
        first.stop()
        if second.process is not None:
            second.stop()
    assert "Traceback" not in first.logs() + second.logs()
