"""One contract for every storage backend: what the bot may rely on, whichever it runs on."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dialogues.records import Advice, Concern, Conversation
from storage.repositories import (
    AuditEntry,
    DuplicateReference,
    StaleConversation,
    Storage,
)

T0 = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
LONDON_SUMMER = timezone(timedelta(hours=1))


class Boom(Exception):
    """Raised inside a unit of work to make it roll back."""


def a_conversation(key: str = "telegram:42", **changes: object) -> Conversation:
    conversation = Conversation(
        key=key,
        owner="telegram:user:42",
        journey="raise_concern",
        state="describe",
        answers={
            "description": "Rota gaps on ward 7 — «no senior cover» 夜勤 🚑",
            "topics": ["supervision", "rota"],
            "likelihood": 4,
            "named": False,
            "site": None,
        },
        trail=("start", "identity", "describe"),
        editing=True,
        paused=False,
        interrupt="help",
        created_at=datetime(2025, 3, 1, 10, 0, tzinfo=LONDON_SUMMER),
        updated_at=T0,
    )
    return replace(conversation, **changes)  # type: ignore[arg-type]  # test-only overrides


def a_concern(reference: str = "QC-0001", **changes: object) -> Concern:
    concern = Concern(
        reference=reference,
        owner="telegram:user:42",
        identity="confidential",
        reporter_name="Zoë Ó Briain",
        reporter_contact="zoe@example.nhs.uk",
        learner_group="foundation_doctor",
        organisation="other",
        organisation_other="St Ælfric's Hospital",
        site=None,
        programme="FY1",
        description="Nobody senior answers bleeps at night — ça arrive souvent.",
        started="months",
        frequency="weekly",
        topics=("supervision", "rota"),
        standards=("S1.2", "S2.1"),
        likelihood=4,
        impact=3,
        score=12,
        band="high",
        controls=("escalated",),
        controls_detail=None,
        further_actions="Tell the guardian of safe working",
        told=("supervisor", "tutor"),
        told_outcome="nothing changed",
        barrier="fear_of_reprisal",
        affected="many",
        danger_now="no",
        patient_risk="possible",
        wants_team="yes",
        advice=Advice(
            level=3,
            reasons=("reason.repeated", "reason.patient_risk"),
            act_now=True,
            incident_reminder=True,
            alert_team_now=False,
            team_would_expect=True,
            skipped_levels=(1, 2),
        ),
        queued_for_team=True,
        status="submitted",
        content_version="2025.03",
        created_at=T0,
    )
    return replace(concern, **changes)  # type: ignore[arg-type]  # test-only overrides


def an_entry(action: str, reference: str | None, minutes: int = 0) -> AuditEntry:
    return AuditEntry(
        at=T0 + timedelta(minutes=minutes),
        actor="quality_team",
        action=action,
        reference=reference,
        detail={"step": action, "ids": [1, 2]},
    )


def is_utc(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


# Conversations --------------------------------------------------------------------------


def test_a_conversation_comes_back_as_it_was_put(storage: Storage) -> None:
    original = a_conversation()
    with storage.unit_of_work() as work:
        saved = work.conversations.put(original)

    with storage.unit_of_work() as work:
        loaded = work.conversations.get(original.key)

    assert saved == replace(original, version=1)
    assert loaded == saved
    assert loaded is not None
    assert loaded.answers["topics"] == ["supervision", "rota"]
    assert loaded.answers["description"] == original.answers["description"]
    assert loaded.trail == ("start", "identity", "describe")
    assert is_utc(loaded.created_at)
    assert is_utc(loaded.updated_at)
    assert loaded.created_at == original.created_at  # the same instant, now told in UTC


def test_each_put_moves_the_version_on(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        first = work.conversations.put(a_conversation())
        second = work.conversations.put(replace(first, state="impact"))
    with storage.unit_of_work() as work:
        loaded = work.conversations.get(first.key)

    assert (first.version, second.version) == (1, 2)
    assert loaded == second


def test_changing_a_returned_conversation_changes_nothing_stored(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        saved = work.conversations.put(a_conversation())
    topics = saved.answers["topics"]
    assert isinstance(topics, list)
    topics.append("tampered")

    with storage.unit_of_work() as work:
        loaded = work.conversations.get(saved.key)

    assert loaded is not None
    assert loaded.answers["topics"] == ["supervision", "rota"]


@pytest.mark.parametrize("version", [0, 2, 7])
def test_a_stale_put_is_refused_and_changes_nothing(storage: Storage, version: int) -> None:
    with storage.unit_of_work() as work:
        stored = work.conversations.put(a_conversation())  # now at version 1

    with pytest.raises(StaleConversation), storage.unit_of_work() as work:
        work.conversations.put(replace(stored, version=version, state="overwritten"))

    with storage.unit_of_work() as work:
        assert work.conversations.get(stored.key) == stored


def test_a_put_that_expects_a_stored_conversation_is_refused_when_none_is(
    storage: Storage,
) -> None:
    with pytest.raises(StaleConversation), storage.unit_of_work() as work:
        work.conversations.put(a_conversation(version=3))

    with storage.unit_of_work() as work:
        assert work.conversations.get("telegram:42") is None


def test_of_two_racing_units_of_work_exactly_one_wins(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.conversations.put(a_conversation())
    with storage.unit_of_work() as work:
        first = work.conversations.get("telegram:42")
    with storage.unit_of_work() as work:
        second = work.conversations.get("telegram:42")
    assert first is not None and second is not None

    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def save(loaded: Conversation, state: str) -> None:
        start.wait()
        try:
            with storage.unit_of_work() as work:
                work.conversations.put(replace(loaded, state=state))
            outcomes[state] = "won"
        except StaleConversation:
            outcomes[state] = "stale"

    racers = [
        threading.Thread(target=save, args=(first, "from_first")),
        threading.Thread(target=save, args=(second, "from_second")),
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=30)

    assert sorted(outcomes.values()) == ["stale", "won"]
    (winner,) = [state for state, outcome in outcomes.items() if outcome == "won"]
    with storage.unit_of_work() as work:
        stored = work.conversations.get("telegram:42")
    assert stored is not None
    assert (stored.state, stored.version) == (winner, 2)


def test_deleting_a_conversation_lets_its_key_start_again(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.conversations.put(a_conversation())
    with storage.unit_of_work() as work:
        work.conversations.delete("telegram:42")
        work.conversations.delete("telegram:never-stored")  # harmless
    with storage.unit_of_work() as work:
        assert work.conversations.get("telegram:42") is None
        restarted = work.conversations.put(a_conversation(state="start"))

    assert restarted.version == 1


def test_conversations_for_an_owner_most_recent_first(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.conversations.put(a_conversation("a", updated_at=T0))
        work.conversations.put(a_conversation("b", updated_at=T0 + timedelta(hours=2)))
        work.conversations.put(a_conversation("c", updated_at=T0 + timedelta(hours=1)))
        work.conversations.put(a_conversation("d", owner="telegram:user:7"))

    with storage.unit_of_work() as work:
        keys = [c.key for c in work.conversations.for_owner("telegram:user:42")]
        nobody = work.conversations.for_owner("telegram:user:0")

    assert keys == ["b", "c", "a"]
    assert nobody == []


# Transactions ---------------------------------------------------------------------------


def test_an_exception_discards_every_write_of_the_unit_of_work(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        before = work.conversations.put(a_conversation())
        work.conversations.put(a_conversation("other"))
        work.audit.record(an_entry("opened", None))

    with pytest.raises(Boom), storage.unit_of_work() as work:
        work.conversations.put(replace(before, state="changed"))
        work.conversations.delete("other")
        work.conversations.put(a_conversation("new"))
        work.concerns.add(a_concern())
        work.audit.record(an_entry("submitted", "QC-0001"))
        assert work.inbound.first_time("telegram:update:1", T0)
        raise Boom

    with storage.unit_of_work() as work:
        assert work.conversations.get(before.key) == before
        assert work.conversations.get("other") is not None
        assert work.conversations.get("new") is None
        assert work.concerns.get("QC-0001") is None
        assert work.concerns.count() == 0
        assert [e.action for e in work.audit.entries()] == ["opened"]
        assert work.inbound.first_time("telegram:update:1", T0)


def test_a_conversation_and_a_concern_are_saved_together(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.conversations.put(a_conversation(state="submitted"))
        work.concerns.add(a_concern())

    with storage.unit_of_work() as work:
        assert work.conversations.get("telegram:42") is not None
        assert work.concerns.get("QC-0001") is not None


def test_a_conversation_and_a_concern_fail_together(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.concerns.add(a_concern())

    with pytest.raises(DuplicateReference), storage.unit_of_work() as work:
        work.conversations.put(a_conversation(state="submitted"))
        work.concerns.add(a_concern(description="another"))

    with storage.unit_of_work() as work:
        assert work.conversations.get("telegram:42") is None
        assert work.concerns.count() == 1


def test_writes_are_visible_inside_their_own_unit_of_work(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        saved = work.conversations.put(a_conversation())
        work.concerns.add(a_concern())
        work.audit.record(an_entry("submitted", "QC-0001"))

        assert work.conversations.get(saved.key) == saved
        assert work.concerns.get("QC-0001") == a_concern()
        assert work.concerns.count() == 1
        assert [e.action for e in work.audit.entries("QC-0001")] == ["submitted"]


# Concerns -------------------------------------------------------------------------------


def test_a_concern_comes_back_equal_in_every_field(storage: Storage) -> None:
    original = a_concern()
    with storage.unit_of_work() as work:
        work.concerns.add(original)
    with storage.unit_of_work() as work:
        loaded = work.concerns.get(original.reference)

    assert loaded == original
    assert loaded is not None
    assert loaded.advice == original.advice
    assert isinstance(loaded.topics, tuple)
    assert is_utc(loaded.created_at)


def test_a_taken_reference_is_refused(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.concerns.add(a_concern())

    with pytest.raises(DuplicateReference), storage.unit_of_work() as work:
        work.concerns.add(a_concern(owner="telegram:user:7", description="not mine"))

    with storage.unit_of_work() as work:
        assert work.concerns.get("QC-0001") == a_concern()
        assert work.concerns.count() == 1


def test_a_reference_taken_in_the_same_unit_of_work_is_refused(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.concerns.add(a_concern())
        with pytest.raises(DuplicateReference):
            work.concerns.add(a_concern(description="again"))
        work.concerns.add(a_concern("QC-0002"))  # the unit of work is still usable

    with storage.unit_of_work() as work:
        assert work.concerns.count() == 2
        assert work.concerns.get("QC-0001") == a_concern()


def test_concerns_for_an_owner_newest_first(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.concerns.add(a_concern("QC-1", created_at=T0 + timedelta(days=1)))
        work.concerns.add(a_concern("QC-2", created_at=T0 + timedelta(days=3)))
        work.concerns.add(a_concern("QC-9", owner="telegram:user:7"))
    with storage.unit_of_work() as work:
        work.concerns.add(a_concern("QC-3", created_at=T0 + timedelta(days=2)))

    with storage.unit_of_work() as work:
        mine = [c.reference for c in work.concerns.for_owner("telegram:user:42")]
        theirs = [c.reference for c in work.concerns.for_owner("telegram:user:7")]
        count = work.concerns.count()

    assert mine == ["QC-2", "QC-3", "QC-1"]
    assert theirs == ["QC-9"]
    assert count == 4


# Audit and inbound ----------------------------------------------------------------------


def test_audit_entries_keep_their_order_and_filter_by_reference(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.audit.record(an_entry("submitted", "QC-1", minutes=0))
        work.audit.record(an_entry("started", None, minutes=1))
    with storage.unit_of_work() as work:
        work.audit.record(an_entry("viewed", "QC-2", minutes=2))
        work.audit.record(an_entry("acknowledged", "QC-1", minutes=3))

    with storage.unit_of_work() as work:
        everything = work.audit.entries()
        for_one = work.audit.entries("QC-1")
        for_none = work.audit.entries("QC-404")

    assert [e.action for e in everything] == ["submitted", "started", "viewed", "acknowledged"]
    assert for_one == [an_entry("submitted", "QC-1", 0), an_entry("acknowledged", "QC-1", 3)]
    assert for_none == []
    assert all(is_utc(e.at) for e in everything)


def test_an_inbound_key_is_new_only_once(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        assert work.inbound.first_time("telegram:update:123", T0) is True
        assert work.inbound.first_time("telegram:update:123", T0) is False
        assert work.inbound.first_time("telegram:update:124", T0) is True

    with storage.unit_of_work() as work:
        assert work.inbound.first_time("telegram:update:123", T0 + timedelta(hours=1)) is False


def test_naive_datetimes_are_refused(storage: Storage) -> None:
    naive = datetime(2025, 3, 1, 9, 30)
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.conversations.put(a_conversation(updated_at=naive))
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.inbound.first_time("telegram:update:1", naive)
