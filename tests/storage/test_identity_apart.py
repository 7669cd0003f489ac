"""Identity kept apart, in the database itself (SQLite file and WAL, PostgreSQL rows as text):
after whole journeys, team actions, relays both ways and a note, a raw read finds no channel
key, no user id, no login, no name and no contact; the tables the team's side reads, opened
with the key, hold nothing of an anonymous reporter; and the bot still reaches them, lists
their concerns and tells them their reference."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from secret_keys import keys_for
from sqlmodel import SQLModel
from test_encryption import raw
from unit.test_engine import TO_REVIEW

from bot.notifiers.senders import remember_relays
from bot.service import TurnService
from bot.triage import Team, TriageService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.turns import Command, Text
from storage.database import SqlStorage, downgrade, open_storage, upgrade
from storage.repositories import InboxItem

CONTENT = load_content()
DIALOGUE = Dialogue(CONTENT)
USER_ID = 7315402968  # the anonymous reporter, on Telegram
OWNER, CHAT = f"telegram:user:{USER_ID}", f"telegram:{USER_ID}"
LOGIN = "console:wren.okonkwo-baptiste"  # the named reporter, at a terminal
NAME, CONTACT = "Priyanka Whitfield-Osei", "priyanka.w-o@example.nhs.uk"
MEMBER, TEAM_CHAT = 11, -1009988776655
TEAM = Team(chat_id=TEAM_CHAT, members=frozenset({MEMBER}), email=True)
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
IDENTIFYING = [str(USER_ID), LOGIN, "wren.okonkwo", NAME, CONTACT]
# What the Quality team's side reads: the concern, what happened to it, what goes out.
TEAM_VISIBLE = ("concerns", "audit_log", "notes", "outbox", "relays")


def inputs(identity: str, *named: str) -> list[str]:
    """The whole journey to Submit, sending to the team, as `identity`."""
    walk = list(TO_REVIEW)
    walk[-2:] = ["1", identity]  # send it to the team now, and who they are
    return [*walk, *named, "submit"]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=5)
        return self.now


@pytest.fixture
def storage(database_url: str) -> Iterator[SqlStorage]:
    upgrade(database_url, keys_for(database_url))
    opened = open_storage(database_url, keys_for(database_url))
    try:
        yield opened
    finally:
        opened.close()


def file(service: TurnService, chat: str, owner: str, walk: list[str]) -> str:
    turn = service.handle_now(chat, owner, Command("new"))
    for text in walk:
        turn = service.handle_now(chat, owner, Text(text))
    assert turn.reference is not None
    return turn.reference


def everything(storage: SqlStorage) -> tuple[str, str, TurnService, TriageService]:
    """An anonymous concern by Telegram, a named one at a terminal; the team acknowledges,
    asks, hears the answer and notes; the question is sent and remembered as a relay; an
    update waits in the inbox."""
    clock = Clock()
    service = TurnService(DIALOGUE, storage, clock=clock)
    anonymous = file(service, CHAT, OWNER, inputs("anonymous"))
    named = file(service, LOGIN, LOGIN, inputs("named", f"{NAME}, {CONTACT}"))
    desk = TriageService(storage, CONTENT, TEAM, clock)
    for reference in (anonymous, named):
        desk.acknowledge(MEMBER, reference)
        desk.ask(MEMBER, reference, "Which nights were uncovered?")
        desk.add_note(MEMBER, reference, "Spoke to the DME")
    with storage.unit_of_work() as uow:
        for item in uow.outbox.for_reference(anonymous):
            remember_relays(uow, item, f"sent-{item.id}")  # as the sender does once it went
        uow.relays.add(anonymous, "to_reporter", f"telegram:{TEAM_CHAT}", "901", clock())
        update = {"update_id": 77, "message": {"chat": {"id": USER_ID}, "text": "hello"}}
        uow.inbox.add([InboxItem("telegram:update:77", CHAT, 77, update, clock())])
    desk.answer(OWNER, anonymous, "Every weekend night.")
    return anonymous, named, service, desk


def test_a_raw_read_finds_no_identity_and_the_bot_still_reaches_everyone(
    database_url: str, storage: SqlStorage
) -> None:
    anonymous, named, service, desk = everything(storage)
    seen = raw(database_url, storage)
    assert anonymous.encode() in seen and named.encode() in seen  # the read reads something
    assert [words for words in IDENTIFYING if words.encode() in seen] == []

    # Looked up through the identity record when sending: the anonymous reporter is reached.
    assert desk.reporter_chat(anonymous) == USER_ID
    assert desk.reporter_chat(named) is None  # a terminal cannot be reached later
    with storage.unit_of_work() as uow:
        items = uow.outbox.for_reference(anonymous)
        asked = next(i for i in items if i.kind == "reporter_message" and i.payload["relay"])
        relay = uow.relays.find(CHAT, f"sent-{asked.id}")
        kept = uow.concerns.get(named)
        assert uow.inbox.waiting(10) == [CHAT]
    assert relay is not None and relay.direction == "to_team" and relay.reference == anonymous
    assert kept is not None and (kept.reporter_name, kept.reporter_contact) == (NAME, CONTACT)

    # /status lists each learner's own concerns, and only theirs.
    assert anonymous in service.status(OWNER).text and named not in service.status(OWNER).text
    assert named in service.status(LOGIN).text
    # The filed conversation keeps only the reference, so the next message still says it.
    finished = service.conversation(CHAT)
    assert finished is not None and dict(finished.answers) == {"reference": anonymous}
    assert anonymous in service.handle_now(CHAT, OWNER, Text("hello?")).replies[-1].text


def test_what_the_team_side_reads_holds_nothing_of_an_anonymous_reporter(
    database_url: str, storage: SqlStorage
) -> None:
    anonymous, _, _, _ = everything(storage)
    # Read through the key, as the bot does: even opened, these tables do not hold them.
    rows = []
    with storage.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in TEAM_VISIBLE:
                rows += [
                    f"{table.name}: {tuple(row)!r}" for row in connection.execute(table.select())
                ]
    assert any(anonymous in row for row in rows) and any(row.startswith("relays") for row in rows)
    assert [row for row in rows if str(USER_ID) in row or OWNER in row] == []


def test_the_migration_moves_identities_apart_and_leaves_no_trace_of_them(
    database_url: str, storage: SqlStorage
) -> None:
    anonymous, named, service, _ = everything(storage)
    with storage.unit_of_work() as uow:
        before = [uow.concerns.get(anonymous), uow.concerns.get(named)]
        asked = [i for i in uow.outbox.for_reference(anonymous) if i.kind == "reporter_message"]
    status = service.status(OWNER).text
    storage.close()
    keys = keys_for(database_url)
    downgrade(database_url, "0007", keys)  # as 0007 kept them: channel keys in clear
    plain = open_storage(database_url, keys)
    try:
        seen = raw(database_url, plain)
        assert str(USER_ID).encode() in seen and LOGIN.encode() in seen  # so the check can fail
    finally:
        plain.close()

    upgrade(database_url, keys)

    again = open_storage(database_url, keys)
    try:
        seen = raw(database_url, again)
        assert [words for words in IDENTIFYING if words.encode() in seen] == []
        with again.unit_of_work() as uow:
            assert [uow.concerns.get(anonymous), uow.concerns.get(named)] == before
            items = uow.outbox.for_reference(anonymous)
            relayed = uow.relays.find(CHAT, f"sent-{asked[-1].id}")
        assert [i.payload for i in items if i.kind == "reporter_message"] == [
            i.payload for i in asked
        ]
        assert relayed is not None and relayed.reference == anonymous
        assert TurnService(DIALOGUE, again).status(OWNER).text == status
        assert TriageService(again, CONTENT, TEAM, Clock()).reporter_chat(anonymous) == USER_ID
    finally:
        again.close()
