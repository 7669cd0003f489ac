"""The SQL storage says when a committed transaction queued an outbox item: the bot wakes
its outbox worker then, rather than polling the database every second."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from secret_keys import keys_for

from storage.database import open_storage, upgrade
from storage.repositories import OutboxItem

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def test_on_queued_is_called_after_a_commit_that_queued_and_only_then(database_url: str) -> None:
    upgrade(database_url, keys_for(database_url))
    storage = open_storage(database_url, keys_for(database_url))
    calls: list[int] = []
    storage.on_queued = lambda: calls.append(len(calls))
    try:
        with storage.unit_of_work() as uow:
            uow.outbox.add(OutboxItem.new("team_alert", {}, T0, "QC-1"))
            assert calls == []  # not before the commit
        assert calls == [0]

        with storage.unit_of_work() as uow:
            uow.outbox.due(T0, 10)
        assert calls == [0]  # nothing queued

        with pytest.raises(RuntimeError), storage.unit_of_work() as uow:
            uow.outbox.add(OutboxItem.new("team_alert", {}, T0, "QC-2"))
            raise RuntimeError("rolled back")
        assert calls == [0]  # nothing committed
    finally:
        storage.close()
