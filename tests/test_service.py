"""The turn service: per-chat ordering, retries on conflict, duplicates, one transaction."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from secret_keys import keys_for
from unit.test_engine import TO_REVIEW, TO_TOPICS

from bot.service import TurnService
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.records import Concern
from dialogues.turns import Command, Press, Text
from storage.database import open_storage, sqlite_url_for, upgrade
from storage.memory import MemoryStorage
from storage.repositories import Storage, UnitOfWork

DIALOGUE = Dialogue(load_content())


async def walk(service: TurnService, chat: str, inputs: list[str]) -> None:
    await service.handle(chat, chat, Command("new"))
    for text in inputs:
        await service.handle(chat, chat, Text(text))


async def test_one_chats_turns_run_one_at_a_time_and_none_is_lost() -> None:
    service = TurnService(DIALOGUE, MemoryStorage())
    await walk(service, "c", TO_TOPICS)
    topics = ["supervision", "induction", "bullying_harassment", "rota_workload", "facilities"]
    # Ten presses at once: each must see the previous one's result.
    await asyncio.gather(*(service.handle("c", "c", Press("topics", t)) for t in topics * 2))
    conversation = service.conversation("c")
    assert conversation is not None
    assert conversation.answers["topics"] == []  # every key toggled twice: all off again
    await asyncio.gather(*(service.handle("c", "c", Press("topics", t)) for t in topics))
    conversation = service.conversation("c")
    assert conversation is not None and sorted(conversation.answers["topics"]) == sorted(topics)


async def test_different_chats_do_not_wait_for_each_other() -> None:
    service = TurnService(DIALOGUE, MemoryStorage())
    await asyncio.gather(*(walk(service, f"chat{n}", TO_TOPICS) for n in range(8)))
    for n in range(8):
        conversation = service.conversation(f"chat{n}")
        assert conversation is not None and conversation.state == "topics"


class ConflictOnce:
    """A storage whose first unit of work loses a race, as a second machine would cause."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.conflicts = 1

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        with self.inner.unit_of_work() as uow:
            if self.conflicts:
                self.conflicts -= 1
                # Someone else moves the conversation between our read and our write.
                other = self.inner
                key = "c/concern"
                with other.unit_of_work() as rival:
                    current = rival.conversations.get(key)
                    if current is not None:
                        rival.conversations.put(current)
            yield uow

    def reading(self) -> contextlib.AbstractContextManager[UnitOfWork]:
        return self.inner.reading()

    def close(self) -> None:
        self.inner.close()


def test_a_conflicting_write_is_retried_and_applied_once(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path)
    upgrade(url, keys_for(url))
    storage = open_storage(url, keys_for(url))
    try:
        plain = TurnService(DIALOGUE, storage)
        plain.handle_now("c", "c", Command("new"))
        racing = TurnService(DIALOGUE, ConflictOnce(storage))  # type: ignore[arg-type]
        turn = racing.handle_now("c", "c", Text("3"))
        assert turn.state == "description"
        conversation = plain.conversation("c")
        assert conversation is not None
        assert conversation.answers["danger"] == "no" and conversation.state == "description"
        assert conversation.version == 3  # new, the rival's write, then ours: no lost update
    finally:
        storage.close()


def test_a_duplicate_delivery_changes_nothing_and_repeats_the_question() -> None:
    service = TurnService(DIALOGUE, MemoryStorage())
    service.handle_now("c", "c", Command("new"), dedupe_key="u1")
    first = service.handle_now("c", "c", Text("3"), dedupe_key="u2")
    again = service.handle_now("c", "c", Text("3"), dedupe_key="u2")
    assert first.state == again.state == "description"
    assert again.replies[-1].step == "description"
    conversation = service.conversation("c")
    assert conversation is not None and conversation.trail == ("danger",)


def test_filing_stores_concern_and_conversation_together(tmp_path: Path) -> None:
    storage = MemoryStorage()
    service = TurnService(DIALOGUE, storage)
    service.handle_now("c", "owner-1", Command("new"))
    for text in TO_REVIEW:
        service.handle_now("c", "owner-1", Text(text))
    turn = service.handle_now("c", "owner-1", Text("submit"))
    assert turn.reference is not None and turn.finished
    with storage.unit_of_work() as uow:
        concern = uow.concerns.get(turn.reference)
        mine = uow.concerns.for_owner("owner-1")
        conversation = uow.conversations.get("c/concern")
    assert isinstance(concern, Concern) and [c.reference for c in mine] == [turn.reference]
    assert concern.identity == "anonymous" and concern.reporter_name is None
    assert conversation is not None and "description" not in conversation.answers


class FailingConcerns:
    """Storage whose concern writes fail: the conversation must not move on without it."""

    def __init__(self, inner: MemoryStorage) -> None:
        self.inner = inner

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        with self.inner.unit_of_work() as uow:

            def refuse(concern: Concern) -> None:
                raise OSError("disk full")

            uow.concerns.add = refuse  # type: ignore[method-assign]
            yield uow

    def reading(self) -> contextlib.AbstractContextManager[UnitOfWork]:
        return self.inner.reading()

    def close(self) -> None:
        pass


def test_a_failed_filing_leaves_the_review_as_it_was() -> None:
    storage = MemoryStorage()
    service = TurnService(DIALOGUE, storage)
    service.handle_now("c", "c", Command("new"))
    for text in TO_REVIEW:
        service.handle_now("c", "c", Text(text))
    failing = TurnService(DIALOGUE, FailingConcerns(storage))  # type: ignore[arg-type]
    with pytest.raises(OSError):
        failing.handle_now("c", "c", Text("submit"))
    conversation = service.conversation("c")
    assert conversation is not None and conversation.state == "review"
    assert conversation.answers["description"] == "Nobody supervises us on the night shift at all."
    assert service.handle_now("c", "c", Text("submit")).reference is not None


def test_a_turn_says_whether_its_event_was_taken() -> None:
    """What a channel shows a press as: chosen only if the conversation moved."""
    service = TurnService(DIALOGUE, MemoryStorage())
    assert not service.handle_now("t", "t", Press("danger", "no")).taken  # no conversation
    assert service.handle_now("t", "t", Command("new")).taken
    assert service.handle_now("t", "t", Press("danger", "no")).taken  # answered
    stale = service.handle_now("t", "t", Press("danger", "patient"))  # answered already
    assert stale.stale and not stale.taken
    assert not service.handle_now("t", "t", Press("description", "nonsense")).taken
