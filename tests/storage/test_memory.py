"""What only the memory backend can show: conflicts found when a unit of work commits.

SQL backends block the second writer inside the database, so these interleavings cannot
be run on one thread there; in memory, the check happens at commit and must still hold.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from dialogues.records import Conversation
from storage.memory import MemoryStorage
from storage.repositories import StaleConversation

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def a_conversation() -> Conversation:
    return Conversation(
        key="chat/concern",
        owner="chat",
        journey="concern",
        state="start",
        created_at=T0,
        updated_at=T0,
    )


def test_the_later_of_two_interleaved_commits_is_stale_and_discarded() -> None:
    storage = MemoryStorage()
    with storage.unit_of_work() as work:
        stored = work.conversations.put(a_conversation())

    with pytest.raises(StaleConversation), storage.unit_of_work() as slow:
        slow.conversations.put(replace(stored, state="slow"))
        with storage.unit_of_work() as fast:
            fast.conversations.put(replace(stored, state="fast"))
            assert fast.inbound.first_time("update:1", T0)
        assert slow.inbound.first_time("update:2", T0)

    with storage.unit_of_work() as work:
        loaded = work.conversations.get(stored.key)
        assert work.inbound.first_time("update:2", T0)  # the stale unit of work left nothing
    assert loaded is not None
    assert (loaded.state, loaded.version) == ("fast", 2)


def test_two_interleaved_creations_of_one_key_let_only_the_first_commit() -> None:
    storage = MemoryStorage()
    with pytest.raises(StaleConversation), storage.unit_of_work() as slow:
        slow.conversations.put(replace(a_conversation(), state="slow"))
        with storage.unit_of_work() as fast:
            fast.conversations.put(replace(a_conversation(), state="fast"))

    with storage.unit_of_work() as work:
        loaded = work.conversations.get("chat/concern")
    assert loaded is not None
    assert loaded.state == "fast"
