"""The outbox at a glance, on every backend: counts by kind and status, and what was given up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.repositories import OutboxItem, Storage

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def test_counts_by_kind_and_status_and_the_dead_latest_first(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        assert work.outbox.counts() == {} and work.outbox.dead(10) == []
        ids = [
            work.outbox.add(OutboxItem.new(kind, {}, T0 + timedelta(minutes=n), f"QC-{n}"))
            for n, kind in enumerate(["team_alert", "team_alert", "team_email", "team_alert"])
        ]
        work.outbox.mark_sent(ids[0], T0, "1")
        work.outbox.mark_dead(ids[1], "BadRequest.MessageTooLong")
        work.outbox.mark_dead(ids[2], "SMTPRecipientsRefused")
    with storage.unit_of_work() as work:
        counts = work.outbox.counts()
        dead = work.outbox.dead(10)
        latest = work.outbox.dead(1)
    assert counts == {
        ("team_alert", "sent"): 1,
        ("team_alert", "dead"): 1,
        ("team_email", "dead"): 1,
        ("team_alert", "pending"): 1,
    }
    assert [(i.reference, i.kind, i.last_error) for i in dead] == [
        ("QC-2", "team_email", "SMTPRecipientsRefused"),
        ("QC-1", "team_alert", "BadRequest.MessageTooLong"),
    ]
    assert [i.id for i in latest] == [ids[2]]
