"""The pathway question, answered, leaves nothing keyed to the chat on any backend; a concern
it paused is kept, and only that. Turns run as the Telegram channel runs them: each update
kept in the inbox, taken, handled with its key, and marked done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from traces import traces

from bot.service import Turn, TurnService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.turns import Command, Event, Text
from storage.database import SqlStorage
from storage.repositories import InboxItem, Storage

DIALOGUE = Dialogue(load_content())
CHAT_ID = "739184265"
CHAT, OWNER = f"telegram:{CHAT_ID}", f"telegram:user:{CHAT_ID}"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
# Nobody at risk now, a resident doctor, likely and major (extreme), told the supervisor, no
# answer in reasonable time, no reason to skip a level.
PATHWAY = ["3", "1", "4", "4", "1", "done", "4", "1 done"]  # the barrier: none, and Done


class Channel:
    """The Telegram channel's part, as storage sees it, over one service."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.now = T0
        self.service = TurnService(DIALOGUE, storage, clock=self.clock)
        self.update_id = 1000

    def clock(self) -> datetime:
        self.now += timedelta(seconds=20)  # a person takes a while to answer
        return self.now

    def send(self, event: Event) -> Turn:
        self.update_id += 1
        body = {"update_id": self.update_id, "message": {"chat": {"id": int(CHAT_ID)}}}
        key = f"telegram:update:{self.update_id}"
        with self.storage.unit_of_work() as uow:
            uow.inbox.add([InboxItem(key, CHAT, self.update_id, body, self.now)])
        with self.storage.unit_of_work() as uow:
            item = uow.inbox.take(CHAT, self.now, self.now + timedelta(minutes=1))
        assert item is not None and item.key == key
        turn = self.service.handle_now(CHAT, OWNER, event, dedupe_key=key)
        with self.storage.unit_of_work() as uow:
            uow.inbox.done(item.id, self.now)  # nothing to mark once its row went with the turn
        return turn

    def pathway(self, inputs: list[str] = PATHWAY) -> Turn:
        turn = self.send(Command("pathway"))
        for text in inputs:
            turn = self.send(Text(text))
        return turn


def test_the_pathway_question_answered_leaves_nothing_keyed_to_the_chat(
    storage: Storage,
) -> None:
    channel = Channel(storage)
    channel.pathway(PATHWAY[:-1])
    tables = {trace.partition(":")[0] for trace in traces(storage, CHAT_ID)}
    # While it is being asked. On SQL the inbox holds only a keyed hash
    # of the chat; the conversation keeps it sealed, and traces reads through the key.
    kept = {"conversations"} if isinstance(storage, SqlStorage) else {"conversations", "inbox"}
    assert tables == kept
    turn = channel.send(Text(PATHWAY[-1]))

    advice, closing = (reply.text for reply in turn.replies)
    assert "alert the Quality team now" in advice  # the risk asked for was applied
    assert "now deleted: I keep nothing from them" in closing
    assert turn.finished and turn.journey == "pathway"
    assert traces(storage, CHAT_ID) == []
    with storage.unit_of_work() as uow:
        assert uow.concerns.count() == 0


def test_a_concern_the_pathway_question_paused_is_kept_and_only_it(storage: Storage) -> None:
    channel = Channel(storage)
    channel.send(Command("new"))
    channel.send(Text("3"))
    before = channel.service.conversation(CHAT)
    turn = channel.pathway()

    assert "still kept, paused" in turn.replies[-1].text
    left = traces(storage, CHAT_ID)
    assert len(left) == 1 and left[0].startswith("conversations") and "/concern" in left[0]
    kept = channel.service.conversation(CHAT)
    assert kept is not None and before is not None and kept.paused
    assert dict(kept.answers) == dict(before.answers)
    resumed = channel.send(Text("hello"))
    assert resumed.journey == "concern" and resumed.state == "description"


def test_a_pathway_question_cancelled_leaves_nothing_either(storage: Storage) -> None:
    channel = Channel(storage)
    channel.send(Command("pathway"))
    channel.send(Text("3"))
    channel.send(Command("cancel"))
    turn = channel.send(Text("yes"))
    assert turn.finished
    assert traces(storage, CHAT_ID) == []
