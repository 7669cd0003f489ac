"""One contract for every storage backend: what the bot may rely on, whichever it runs on."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dialogues.records import Advice, Concern, Conversation
from storage.repositories import (
    AuditEntry,
    DuplicateReference,
    DuplicateRelay,
    OutboxItem,
    StaleConversation,
    Storage,
    Triage,
    UnknownConcern,
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
        barrier=("fear_local", "involves_school"),
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


def test_conversations_read_at_once_come_back_in_the_order_asked(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        first = work.conversations.put(a_conversation(key="chat/concern"))
        second = work.conversations.put(a_conversation(key="chat/pathway", state="group"))
        inside = work.conversations.get_each(["chat/pathway", "nobody", "chat/concern"])
    with storage.unit_of_work() as work:
        after = work.conversations.get_each(["chat/pathway", "nobody", "chat/concern"])
        assert work.conversations.get_each([]) == []

    assert inside == after == [second, None, first]


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


def test_a_delete_at_the_version_loaded_deletes_and_a_stale_one_is_refused(
    storage: Storage,
) -> None:
    with storage.unit_of_work() as work:
        stored = work.conversations.put(a_conversation())  # version 1
    with storage.unit_of_work() as work:
        moved = work.conversations.put(replace(stored, state="moved on"))  # version 2

    with pytest.raises(StaleConversation), storage.unit_of_work() as work:
        work.conversations.delete(stored.key, stored.version)  # loaded before it moved
    with storage.unit_of_work() as work:
        assert work.conversations.get(stored.key) == moved
        work.conversations.delete(moved.key, moved.version)
        assert work.conversations.get(moved.key) is None  # seen inside
    with storage.unit_of_work() as work:
        assert work.conversations.get(moved.key) is None
    with pytest.raises(StaleConversation), storage.unit_of_work() as work:
        work.conversations.delete(moved.key, moved.version)  # someone deleted it first


def test_of_a_delete_and_a_put_racing_exactly_one_wins(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        loaded = work.conversations.put(a_conversation())
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def race(name: str) -> None:
        start.wait()
        try:
            with storage.unit_of_work() as work:
                if name == "delete":
                    work.conversations.delete(loaded.key, loaded.version)
                else:
                    work.conversations.put(replace(loaded, state="put"))
            outcomes[name] = "won"
        except StaleConversation:
            outcomes[name] = "stale"

    racers = [threading.Thread(target=race, args=(name,)) for name in ("delete", "put")]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=30)

    assert sorted(outcomes.values()) == ["stale", "won"]
    with storage.unit_of_work() as work:
        stored = work.conversations.get(loaded.key)
    assert (stored is None) == (outcomes["delete"] == "won")


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


def test_old_inbound_keys_are_forgotten_and_new_ones_kept(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.inbound.first_time("telegram:update:1", T0)
        work.inbound.first_time("telegram:update:2", T0 + timedelta(days=2))
    with storage.unit_of_work() as work:
        assert work.inbound.forget_before(T0 + timedelta(days=1)) == 1
    with storage.unit_of_work() as work:
        assert work.inbound.first_time("telegram:update:1", T0 + timedelta(days=3)) is True
        assert work.inbound.first_time("telegram:update:2", T0 + timedelta(days=3)) is False


def test_forgetting_is_rolled_back_with_its_unit_of_work(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.inbound.first_time("telegram:update:9", T0)
    with pytest.raises(RuntimeError), storage.unit_of_work() as work:
        work.inbound.forget_before(T0 + timedelta(days=1))
        raise RuntimeError("rolled back")
    with storage.unit_of_work() as work:
        assert work.inbound.first_time("telegram:update:9", T0 + timedelta(days=2)) is False


def test_naive_datetimes_are_refused(storage: Storage) -> None:
    naive = datetime(2025, 3, 1, 9, 30)
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.conversations.put(a_conversation(updated_at=naive))
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.inbound.first_time("telegram:update:1", naive)


# Triage ---------------------------------------------------------------------------------


def test_a_new_concern_has_empty_triage_and_an_unknown_one_none(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.concerns.add(a_concern())
    with storage.unit_of_work() as work:
        assert work.concerns.triage("QC-0001") == Triage(reference="QC-0001")
        assert work.concerns.triage("QC-404") is None


def test_triage_fields_are_set_a_few_at_a_time(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.concerns.add(a_concern())
    acknowledged = datetime(2025, 3, 2, 10, 0, tzinfo=LONDON_SUMMER)
    with storage.unit_of_work() as work:
        work.concerns.set_triage(
            "QC-0001", acknowledged_at=acknowledged, acknowledged_by="telegram:user:900"
        )
    with storage.unit_of_work() as work:
        work.concerns.set_triage("QC-0001", assigned_to="telegram:user:901")
    with storage.unit_of_work() as work:
        triage = work.concerns.triage("QC-0001")
        concern = work.concerns.get("QC-0001")

    assert triage == Triage(
        reference="QC-0001",
        acknowledged_at=acknowledged,
        acknowledged_by="telegram:user:900",
        assigned_to="telegram:user:901",
    )
    assert triage.acknowledged_at is not None and is_utc(triage.acknowledged_at)
    assert concern == a_concern()  # the concern itself is untouched


def test_triage_can_be_cleared_and_closed(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.concerns.add(a_concern())
        work.concerns.set_triage("QC-0001", assigned_to="telegram:user:901")
        work.concerns.set_triage(
            "QC-0001", assigned_to=None, outcome="Rota fixed — «merci»", closed_at=T0
        )
        seen_inside = work.concerns.triage("QC-0001")
    with storage.unit_of_work() as work:
        assert work.concerns.triage("QC-0001") == seen_inside
    assert seen_inside == Triage(reference="QC-0001", outcome="Rota fixed — «merci»", closed_at=T0)


def test_bad_triage_is_refused(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.concerns.add(a_concern())
    with pytest.raises(UnknownConcern), storage.unit_of_work() as work:
        work.concerns.set_triage("QC-404", outcome="x")
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.concerns.set_triage("QC-0001", description="rewritten")
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.concerns.set_triage("QC-0001", closed_at="yesterday")
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.concerns.set_triage("QC-0001", outcome=T0)
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.concerns.set_triage("QC-0001", closed_at=datetime(2025, 3, 1))
    with storage.unit_of_work() as work:
        assert work.concerns.triage("QC-0001") == Triage(reference="QC-0001")


def test_a_status_change_is_seen_at_once_and_kept(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.concerns.add(a_concern())
    with storage.unit_of_work() as work:
        work.concerns.set_status("QC-0001", "under_review")
        assert work.concerns.get("QC-0001") == a_concern(status="under_review")
    with storage.unit_of_work() as work:
        assert work.concerns.get("QC-0001") == a_concern(status="under_review")
        assert [c.status for c in work.concerns.for_owner("telegram:user:42")] == ["under_review"]
    with pytest.raises(UnknownConcern), storage.unit_of_work() as work:
        work.concerns.set_status("QC-404", "closed")


def test_a_status_set_in_the_unit_of_work_that_adds_the_concern(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.concerns.add(a_concern())
        work.concerns.set_status("QC-0001", "received")
    with storage.unit_of_work() as work:
        assert work.concerns.get("QC-0001") == a_concern(status="received")


def test_a_rollback_discards_status_and_triage(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.concerns.add(a_concern())
    with pytest.raises(Boom), storage.unit_of_work() as work:
        work.concerns.set_status("QC-0001", "closed")
        work.concerns.set_triage("QC-0001", outcome="done", closed_at=T0)
        raise Boom
    with storage.unit_of_work() as work:
        assert work.concerns.get("QC-0001") == a_concern()
        assert work.concerns.triage("QC-0001") == Triage(reference="QC-0001")


def test_search_filters_and_lists_newest_first(storage: Storage) -> None:
    day = timedelta(days=1)
    with storage.unit_of_work() as work:
        work.concerns.add(a_concern("QC-1", created_at=T0))
        work.concerns.add(a_concern("QC-2", created_at=T0 + day, organisation="trust_a"))
        work.concerns.add(a_concern("QC-3", created_at=T0 + 2 * day, status="closed"))
        work.concerns.add(a_concern("QC-4", created_at=T0 + 3 * day, organisation="trust_a"))
        work.concerns.add(a_concern("QC-5", created_at=T0 + 4 * day))
        work.concerns.set_triage("QC-5", outcome="resolved", closed_at=T0 + 5 * day)

    def refs(concerns: list[Concern]) -> list[str]:
        return [c.reference for c in concerns]

    with storage.unit_of_work() as work:
        assert refs(work.concerns.search()) == ["QC-5", "QC-4", "QC-3", "QC-2", "QC-1"]
        assert refs(work.concerns.search(since=T0 + day, until=T0 + 3 * day)) == ["QC-3", "QC-2"]
        assert refs(work.concerns.search(since=T0 + 4 * day)) == ["QC-5"]
        assert refs(work.concerns.search(status="closed")) == ["QC-3"]
        assert refs(work.concerns.search(organisation="trust_a")) == ["QC-4", "QC-2"]
        assert refs(work.concerns.search(open_only=True)) == ["QC-4", "QC-2", "QC-1"]
        assert refs(
            work.concerns.search(until=T0 + 2 * day, organisation="other", open_only=True)
        ) == ["QC-1"]
        assert work.concerns.search(status="nothing") == []
        # The same instant given in another zone.
        later = (T0 + 3 * day).astimezone(LONDON_SUMMER)
        assert refs(work.concerns.search(since=later)) == ["QC-5", "QC-4"]


# Outbox ---------------------------------------------------------------------------------


def an_item(kind: str = "team_alert", minutes: int = 0, **changes: object) -> OutboxItem:
    at = T0 + timedelta(minutes=minutes)
    item = OutboxItem.new(
        kind,
        {"reference": "QC-0001", "fields": ["band", "score"], "text": "Ward 7 — «nuit» 🚑"},
        at,
        reference="QC-0001",
    )
    return replace(item, **changes)  # type: ignore[arg-type]  # test-only overrides


def test_an_outbox_item_comes_back_as_it_was_added(storage: Storage) -> None:
    original = an_item(created_at=T0.astimezone(LONDON_SUMMER))
    with storage.unit_of_work() as work:
        first = work.outbox.add(original)
        second = work.outbox.add(an_item("team_email"))
    with storage.unit_of_work() as work:
        loaded = work.outbox.get(first)
        missing = work.outbox.get(second + 1000)

    assert first >= 1 and second != first
    assert loaded == replace(original, id=first)
    assert loaded is not None and is_utc(loaded.created_at) and is_utc(loaded.next_attempt_at)
    assert (loaded.status, loaded.attempts, loaded.sent_at, loaded.external_id) == (
        "pending",
        0,
        None,
        None,
    )
    assert missing is None


def test_changing_a_returned_payload_changes_nothing_stored(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        id = work.outbox.add(an_item())
        loaded = work.outbox.get(id)
        assert loaded is not None
        loaded.payload["fields"].append("tampered")
    with storage.unit_of_work() as work:
        again = work.outbox.get(id)
    assert again is not None and again.payload["fields"] == ["band", "score"]


def test_due_gives_pending_items_whose_time_has_come_longest_waiting_first(
    storage: Storage,
) -> None:
    with storage.unit_of_work() as work:
        late = work.outbox.add(an_item(minutes=5))
        early = work.outbox.add(an_item(minutes=1))
        future = work.outbox.add(an_item(minutes=60))
        email = work.outbox.add(an_item("team_email", minutes=2))
        sent = work.outbox.add(an_item(minutes=0))
        work.outbox.mark_sent(sent, T0, "msg-1")

    now = T0 + timedelta(minutes=10)
    with storage.unit_of_work() as work:
        assert [i.id for i in work.outbox.due(now, 10)] == [early, email, late]
    with storage.unit_of_work() as work:
        assert [i.id for i in work.outbox.due(now, 2)] == [early, email]
    with storage.unit_of_work() as work:
        assert [i.id for i in work.outbox.due(now, 10, kinds=["team_alert"])] == [early, late]
        assert work.outbox.due(now, 10, kinds=[]) == []
    with storage.unit_of_work() as work:
        assert [i.id for i in work.outbox.due(T0 + timedelta(hours=2), 10)][-1] == future


def test_a_sent_item_is_never_due_or_sent_again(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        id = work.outbox.add(an_item())
    sent_at = T0 + timedelta(seconds=3)
    with storage.unit_of_work() as work:
        assert work.outbox.mark_sent(id, sent_at, "telegram:-100:77") is True
    with storage.unit_of_work() as work:
        assert work.outbox.mark_sent(id, T0 + timedelta(hours=1), "again") is False
        assert work.outbox.mark_retry(id, T0, "TimedOut") is False
        assert work.outbox.mark_dead(id, "TimedOut") is False
        assert work.outbox.reschedule(id, T0) is False
        assert work.outbox.due(T0 + timedelta(days=1), 10) == []
        loaded = work.outbox.get(id)

    assert loaded is not None
    assert (loaded.status, loaded.sent_at, loaded.external_id) == (
        "sent",
        sent_at,
        "telegram:-100:77",
    )


def test_a_retry_counts_the_attempt_and_waits(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        id = work.outbox.add(an_item())
    later = T0 + timedelta(seconds=5)
    with storage.unit_of_work() as work:
        assert work.outbox.mark_retry(id, later, "NetworkError") is True
        assert work.outbox.mark_retry(id, later, "TimedOut") is True
    with storage.unit_of_work() as work:
        assert work.outbox.due(later - timedelta(microseconds=1), 10) == []
        (due,) = work.outbox.due(later, 10)

    assert (due.id, due.attempts, due.next_attempt_at, due.last_error, due.status) == (
        id,
        2,
        later,
        "TimedOut",
        "pending",
    )


def test_a_dead_item_counts_its_last_attempt_and_is_never_due(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        id = work.outbox.add(an_item())
        work.outbox.mark_retry(id, T0, "NetworkError")
    with storage.unit_of_work() as work:
        assert work.outbox.mark_dead(id, "telegram.error.BadRequest") is True
    with storage.unit_of_work() as work:
        loaded = work.outbox.get(id)
        assert work.outbox.due(T0 + timedelta(days=1), 10) == []
        assert work.outbox.mark_retry(id, T0, "TimedOut") is False

    assert loaded is not None
    assert (loaded.status, loaded.attempts, loaded.last_error) == (
        "dead",
        2,
        "telegram.error.BadRequest",
    )


def test_a_reschedule_moves_only_the_time(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        id = work.outbox.add(an_item())
        assert work.outbox.reschedule(id, T0 + timedelta(minutes=5)) is True
    with storage.unit_of_work() as work:
        assert work.outbox.due(T0 + timedelta(minutes=4), 10) == []
        (due,) = work.outbox.due(T0 + timedelta(minutes=5), 10)
    assert (due.attempts, due.last_error) == (0, None)


def test_error_text_is_refused_only_class_names_are_kept(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        id = work.outbox.add(an_item())
    for error in ["", "Bad Request: chat not found", "x" * 101, "Error\nZoë"]:
        with pytest.raises(ValueError), storage.unit_of_work() as work:
            work.outbox.mark_retry(id, T0, error)
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.outbox.add(an_item(last_error="it said: Zoë was here"))
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.outbox.add(an_item(status="maybe"))
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.outbox.add(an_item(next_attempt_at=datetime(2025, 3, 1)))
    with storage.unit_of_work() as work:
        loaded = work.outbox.get(id)
    assert loaded == replace(an_item(), id=id)


def test_outbox_items_for_a_reference_in_the_order_added(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        alert = work.outbox.add(an_item("team_alert", minutes=9))
        work.outbox.add(an_item(reference="QC-0002"))
        work.outbox.add(an_item(reference=None))
        email = work.outbox.add(an_item("team_email", minutes=1))
        work.outbox.mark_sent(alert, T0, "m1")

    with storage.unit_of_work() as work:
        mine = work.outbox.for_reference("QC-0001")
        assert work.outbox.for_reference("QC-404") == []

    assert [(i.id, i.kind, i.status) for i in mine] == [
        (alert, "team_alert", "sent"),
        (email, "team_email", "pending"),
    ]


def test_a_rollback_discards_outbox_writes(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        kept = work.outbox.add(an_item())
    with pytest.raises(Boom), storage.unit_of_work() as work:
        work.concerns.add(a_concern())
        discarded = work.outbox.add(an_item("team_email"))
        assert work.outbox.mark_sent(kept, T0, "m1") is True
        assert [i.id for i in work.outbox.due(T0, 10)] == [discarded]
        raise Boom
    with storage.unit_of_work() as work:
        assert work.outbox.get(discarded) is None
        assert [i.id for i in work.outbox.due(T0, 10)] == [kept]
        assert work.outbox.for_reference("QC-0001") == [replace(an_item(), id=kept)]
        assert work.concerns.get("QC-0001") is None


def test_workers_taking_one_item_at_a_time_never_share_one(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        ids = {work.outbox.add(an_item(minutes=n % 3)) for n in range(12)}

    start = threading.Barrier(3)
    taken: list[int] = []
    failures: list[BaseException] = []

    def drain() -> None:
        start.wait()
        try:
            while True:
                with storage.unit_of_work() as work:
                    items = work.outbox.due(T0 + timedelta(minutes=5), 1)
                    if not items:
                        return
                    assert work.outbox.mark_sent(items[0].id, T0, None)
                taken.append(items[0].id)
        except BaseException as error:  # collected and asserted on below
            failures.append(error)

    workers = [threading.Thread(target=drain) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert failures == []
    assert sorted(taken) == sorted(ids)


def test_open_units_of_work_calling_due_together_never_get_the_same_item(
    row_locking_storage: Storage,
) -> None:
    storage = row_locking_storage
    with storage.unit_of_work() as work:
        ids = {work.outbox.add(an_item(minutes=n)) for n in range(6)}

    both_took = threading.Barrier(2)
    taken: dict[str, list[int]] = {}
    failures: list[BaseException] = []

    def take(name: str) -> None:
        try:
            with storage.unit_of_work() as work:
                items = work.outbox.due(T0 + timedelta(hours=1), 4)
                taken[name] = [item.id for item in items]
                # Hold the transaction open until the other has taken its share too.
                both_took.wait(timeout=30)
        except BaseException as error:  # collected and asserted on below
            failures.append(error)

    first = threading.Thread(target=take, args=("first",))
    second = threading.Thread(target=take, args=("second",))
    first.start()
    while "first" not in taken and first.is_alive():
        time.sleep(0.01)  # the first has its rows before the second asks
    second.start()
    for thread in (first, second):
        thread.join(timeout=60)

    assert failures == []
    assert len(taken["first"]) == 4 and len(taken["second"]) == 2
    assert set(taken["first"]).isdisjoint(taken["second"])
    assert set(taken["first"]) | set(taken["second"]) == ids
    with storage.unit_of_work() as work:  # locks end with their unit of work
        assert len(work.outbox.due(T0 + timedelta(hours=1), 10)) == 6


# Notes and relays -----------------------------------------------------------------------


def test_notes_for_a_reference_in_the_order_added(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        first = work.notes.add("QC-1", T0, "telegram:user:900", "Rang the DME — «no answer»")
        work.notes.add("QC-2", T0, "telegram:user:900", "elsewhere")
    with storage.unit_of_work() as work:
        second = work.notes.add("QC-1", T0 - timedelta(hours=1), "telegram:user:901", "Later")
    with pytest.raises(Boom), storage.unit_of_work() as work:
        work.notes.add("QC-1", T0, "telegram:user:901", "discarded")
        raise Boom

    with storage.unit_of_work() as work:
        notes = work.notes.for_reference("QC-1")
        assert work.notes.for_reference("QC-404") == []

    assert [(n.id, n.author, n.text) for n in notes] == [
        (first, "telegram:user:900", "Rang the DME — «no answer»"),
        (second, "telegram:user:901", "Later"),
    ]
    assert second > first
    assert all(is_utc(n.at) for n in notes)


def test_a_relay_finds_the_concern_a_reply_belongs_to(storage: Storage) -> None:
    at = T0.astimezone(LONDON_SUMMER)
    with storage.unit_of_work() as work:
        work.relays.add("QC-1", "to_reporter", "telegram:42", "1001", at)
        work.relays.add("QC-1", "to_team", "telegram:-100123", "1001", at)
    with storage.unit_of_work() as work:
        to_reporter = work.relays.find("telegram:42", "1001")
        to_team = work.relays.find("telegram:-100123", "1001")
        assert work.relays.find("telegram:42", "1002") is None

    assert to_reporter is not None and to_team is not None
    assert (to_reporter.reference, to_reporter.direction) == ("QC-1", "to_reporter")
    assert (to_team.chat, to_team.message_id, to_team.direction) == (
        "telegram:-100123",
        "1001",
        "to_team",
    )
    assert to_team.at == at and is_utc(to_team.at)


def test_a_relay_is_kept_once_and_checked(storage: Storage) -> None:
    with storage.unit_of_work() as work:
        work.relays.add("QC-1", "to_reporter", "telegram:42", "1001", T0)
    with pytest.raises(DuplicateRelay), storage.unit_of_work() as work:
        work.relays.add("QC-2", "to_reporter", "telegram:42", "1001", T0)
    with pytest.raises(ValueError), storage.unit_of_work() as work:
        work.relays.add("QC-1", "sideways", "telegram:42", "1002", T0)
    with pytest.raises(Boom), storage.unit_of_work() as work:
        work.relays.add("QC-1", "to_team", "telegram:-1", "5", T0)
        raise Boom
    with storage.unit_of_work() as work:
        relay = work.relays.find("telegram:42", "1001")
        assert work.relays.find("telegram:-1", "5") is None
    assert relay is not None and relay.reference == "QC-1"
