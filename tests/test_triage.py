"""The team's triage service over storage: each action, its audit line and its messages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from unit.test_engine import TO_REVIEW, run

from bot.channels.team import TeamDesk
from bot.keeping import Keeping, Periods
from bot.triage import (
    RELAY_LIMIT,
    WAITING,
    Refused,
    Team,
    TriageService,
    enqueue_alerts,
    hand_on,
    waiting_alerts,
    waits_for_channel,
)
from dialogues.bundle import load_content
from dialogues.records import Concern
from dialogues.working_hours import Calendar
from storage.memory import MemoryStorage

CONTENT = load_content()
MEMBER, OUTSIDER = 11, 99
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
TEAM = Team(chat_id=-100, members=frozenset({MEMBER}), email=True, reminder_hours=4,
            calendar=Calendar.parse("mon-fri", "09:00-17:00"))  # fmt: skip


def concern(reference: str = "QC-2345-6789", **changes: object) -> Concern:
    filed = run(*TO_REVIEW, "submit").concern
    assert filed is not None
    values = {"reference": reference, "owner": "telegram:user:555", "queued_for_team": True,
              "status": "queued", "created_at": NOW, **changes}  # fmt: skip
    return replace(filed, **values)  # type: ignore[arg-type]


def desk(*concerns: Concern) -> tuple[TriageService, MemoryStorage]:
    storage = MemoryStorage()
    with storage.unit_of_work() as uow:
        for item in concerns:
            uow.concerns.add(item)
    return TriageService(storage, CONTENT, TEAM, lambda: NOW), storage


def test_filing_queues_the_card_the_email_and_a_reminder_after_working_hours() -> None:
    storage = MemoryStorage()
    with storage.unit_of_work() as uow:
        enqueue_alerts(uow, concern(), NOW, TEAM)
        items = uow.outbox.for_reference("QC-2345-6789")
    assert sorted(i.kind for i in items) == ["team_alert", "team_email", "team_reminder"]
    reminder = next(i for i in items if i.kind == "team_reminder")
    assert reminder.next_attempt_at == NOW + timedelta(hours=4)
    with storage.unit_of_work() as uow:
        enqueue_alerts(uow, concern("QC-3333-3333", queued_for_team=False), NOW, TEAM)
        assert uow.outbox.for_reference("QC-3333-3333") == []


NO_CHANNEL = Team(chat_id=None, members=frozenset({MEMBER}))


@pytest.mark.parametrize(
    ("team", "kinds"),
    [
        (TEAM, ["team_alert", "team_reminder", "team_email"]),
        (replace(TEAM, email=False), ["team_alert", "team_reminder"]),
        (replace(TEAM, chat_id=None), ["team_email"]),
        (NO_CHANNEL, [WAITING]),
    ],
)
def test_a_concern_for_the_team_always_enters_the_outbox_whatever_is_set_up(
    team: Team, kinds: list[str]
) -> None:
    storage = MemoryStorage()
    with storage.unit_of_work() as uow:
        enqueue_alerts(uow, concern(), NOW, team)
        assert [i.kind for i in uow.outbox.for_reference("QC-2345-6789")] == kinds
        assert waits_for_channel(uow, "QC-2345-6789") is (not team.reachable)
    assert waiting_alerts(storage) == (0 if team.reachable else 1)


def test_an_alert_that_waited_is_handed_on_to_the_channels_set_up_now() -> None:
    storage = MemoryStorage()
    with storage.unit_of_work() as uow:
        enqueue_alerts(uow, concern(), NOW, NO_CHANNEL)
        [waiting] = uow.outbox.for_reference("QC-2345-6789")
    later = NOW + timedelta(days=2)  # a Thursday, when a team chat is set up
    with storage.unit_of_work() as uow:
        made = hand_on(TEAM)(uow, waiting, later)
        uow.outbox.mark_sent(waiting.id, later, made)
        items = uow.outbox.for_reference("QC-2345-6789")[1:]
        assert not waits_for_channel(uow, "QC-2345-6789")
    assert made == ",".join(f"{i.kind}:{i.id}" for i in items)
    assert [i.kind for i in items] == ["team_alert", "team_reminder", "team_email"]
    # The reminder counts the team's working hours from when they were alerted, not filed.
    assert [i.next_attempt_at for i in items] == [later, later + timedelta(hours=4), later]
    assert waiting_alerts(storage) == 0
    with storage.unit_of_work() as uow, pytest.raises(ValueError):
        hand_on(NO_CHANNEL)(uow, waiting, later)  # nowhere to hand it on to


def test_acknowledge_moves_the_status_tells_the_reporter_and_audits() -> None:
    service, storage = desk(concern())
    service.acknowledge(MEMBER, "QC-2345-6789")
    with storage.unit_of_work() as uow:
        assert uow.concerns.get("QC-2345-6789").status == "received"  # type: ignore[union-attr]
        triage = uow.concerns.triage("QC-2345-6789")
        messages = [
            i for i in uow.outbox.for_reference("QC-2345-6789") if i.kind == "reporter_message"
        ]
        audit = uow.audit.entries("QC-2345-6789")
    assert triage is not None and triage.acknowledged_at == NOW
    assert triage.acknowledged_by == f"telegram:user:{MEMBER}"
    assert [m.payload["text"] for m in messages] == [
        "Update on your concern QC-2345-6789: received by the Quality team."
    ]
    assert [(a.actor, a.action) for a in audit] == [(f"telegram:user:{MEMBER}", "acknowledge")]


def test_a_non_member_is_refused_and_audited_and_nothing_changes() -> None:
    service, storage = desk(concern())
    with pytest.raises(Refused):
        service.acknowledge(OUTSIDER, "QC-2345-6789")
    with storage.unit_of_work() as uow:
        assert uow.concerns.get("QC-2345-6789").status == "queued"  # type: ignore[union-attr]
        assert uow.outbox.for_reference("QC-2345-6789") == []
        audit = uow.audit.entries()
    # Audited as an attempt by nobody in particular, on no concern: the one refused may be
    # the concern's own reporter, whom the team must not be able to tell from its history.
    assert [(a.actor, a.action, a.reference) for a in audit] == [("non-member", "refused", None)]
    assert audit[0].detail == {"action": "acknowledge"}


def test_the_reporter_pressing_the_teams_buttons_leaves_no_trace_the_team_can_see() -> None:
    reporter = 555  # the concern's owner, with a modified client
    service, storage = desk(concern())
    table = TeamDesk(service, TEAM.chat_id or 0)
    for action in ("ack", "status:under_review", "close:resolved", "assign", "history", "ask"):
        answer, go_on = table._act(reporter, "Rae", action, "QC-2345-6789", f"u:{action}")
        assert (answer, go_on) == (CONTENT.prompts.team["refused"], False)
    with pytest.raises(Refused):
        service.ask(reporter, "QC-2345-6789", "hello?")
    history = service.case("QC-2345-6789").history
    assert history == ()
    with storage.unit_of_work() as uow:
        everything = uow.audit.entries()
    assert everything and all(str(reporter) not in repr(entry) for entry in everything)


def test_a_forged_status_is_not_available_and_an_unknown_reference_is_named() -> None:
    service, storage = desk(concern())
    table = TeamDesk(service, TEAM.chat_id or 0)
    unavailable = (CONTENT.prompts.team["action_unavailable"], False)
    for forged in ("status:closed", "status:lost", "close:shrugged", "frobnicate"):
        assert table._act(MEMBER, "Priya", forged, "QC-2345-6789", f"u:{forged}") == unavailable
    with storage.unit_of_work() as uow:
        assert uow.concerns.get("QC-2345-6789").status == "queued"  # type: ignore[union-attr]
    unknown = "There is no concern QC-ZZZZ-ZZZZ the team can see."
    for action in ("history", "ask", "note", "close", "ack", "status:under_review"):
        assert table._act(MEMBER, "Priya", action, "QC-ZZZZ-ZZZZ", f"z:{action}") == (
            unknown,
            False,
        )
    assert table._act(MEMBER, "Priya", "history", "QC-2345-6789", "u:h") == ("", True)


def test_questions_go_to_the_reporter_and_only_the_reporter_can_answer() -> None:
    service, storage = desk(concern())
    service.ask(MEMBER, "QC-2345-6789", "Which nights?")
    with pytest.raises(Refused):
        service.answer("telegram:user:777", "QC-2345-6789", "not mine")
    service.answer("telegram:user:555", "QC-2345-6789", "Weekends.")
    with storage.unit_of_work() as uow:
        items = uow.outbox.for_reference("QC-2345-6789")
    question, answer = items
    assert question.kind == "reporter_message" and question.payload["relay"] is True
    assert "Which nights?" in question.payload["text"]
    # The item does not say whom it is for: the sender reads that from the identity record.
    assert "owner" not in question.payload and "555" not in repr(question.payload)
    assert service.reporter_chat("QC-2345-6789") == 555
    assert answer.kind == "team_message" and "Weekends." in answer.payload["text"]
    assert "555" not in answer.payload["text"]  # the team hears the answer, not who gave it


def test_a_terminal_reporter_cannot_be_messaged_but_the_status_still_moves() -> None:
    service, storage = desk(concern(owner="console:alice"))
    service.close(MEMBER, "QC-2345-6789", "resolved")
    with storage.unit_of_work() as uow:
        assert uow.concerns.get("QC-2345-6789").status == "closed"  # type: ignore[union-attr]
        assert uow.outbox.for_reference("QC-2345-6789") == []
        assert uow.concerns.triage("QC-2345-6789").outcome == "resolved"  # type: ignore[union-attr]


def test_the_queue_puts_the_most_serious_first_then_the_longest_waiting() -> None:
    old_high = concern("QC-AAAA-AAAA", band="high", score=12, created_at=NOW - timedelta(days=3))
    new_high = concern("QC-BBBB-BBBB", band="high", score=12, created_at=NOW - timedelta(hours=1))
    extreme = concern("QC-CCCC-CCCC", band="extreme", score=20, created_at=NOW)
    closed = concern("QC-DDDD-DDDD", band="extreme", score=25, status="closed")
    recorded = concern("QC-EEEE-EEEE", status="recorded", queued_for_team=False)
    service, _ = desk(old_high, new_high, extreme, closed, recorded)
    assert [entry.reference for entry in service.queue()] == [
        "QC-CCCC-CCCC",
        "QC-AAAA-AAAA",
        "QC-BBBB-BBBB",
    ]


def test_unknown_status_or_outcome_is_refused() -> None:
    service, _ = desk(concern())
    with pytest.raises(ValueError):
        service.set_status(MEMBER, "QC-2345-6789", "lost")
    with pytest.raises(ValueError):
        service.close(MEMBER, "QC-2345-6789", "shrugged")


def test_a_relay_too_long_for_one_message_goes_in_parts_that_each_fit() -> None:
    service, storage = desk(concern())
    service.ask(MEMBER, "QC-2345-6789", "Which nights?")
    longest = ("Every night & weekend 💥 nobody <senior> answers. " * 100)[:4096]
    service.answer("telegram:user:555", "QC-2345-6789", longest)
    service.ask(MEMBER, "QC-2345-6789", longest, dedupe="second")
    with storage.unit_of_work() as uow:
        items = uow.outbox.for_reference("QC-2345-6789")
    texts = [str(i.payload["text"]) for i in items]
    assert "(part" not in texts[0] and "Which nights?" in texts[0]  # a short one is whole
    answers = [t for i, t in zip(items, texts, strict=True) if i.kind == "team_message"]
    questions = [t for i, t in zip(items, texts, strict=True) if i.kind == "reporter_message"]
    assert len(answers) == 2 and len(questions) == 3
    assert answers[0].endswith("(part 1 of 2)") and answers[1].endswith("(part 2 of 2)")
    assert all(len(t.encode("utf-16-le")) // 2 <= RELAY_LIMIT for t in texts)
    assert all(i.payload.get("relay") for i in items if i.kind == "reporter_message")


def test_the_team_keeps_a_concerns_text_for_after_anonymising_and_others_cannot() -> None:
    triage, storage = desk(concern(status="closed"))
    with pytest.raises(Refused):
        triage.keep_text(12345, "QC-2345-6789")
    triage.keep_text(MEMBER, "QC-2345-6789")  # a closed concern too: that is when it matters
    desk_words = TeamDesk(triage, -100)._keep(MEMBER, ["qc-2345-6789"])
    assert (
        desk_words == "The free text of QC-2345-6789 will be kept when the concern is anonymised."
    )
    assert TeamDesk(triage, -100)._keep(MEMBER, []).startswith("Usage: /keep REF")
    with storage.unit_of_work() as uow:
        uow.concerns.set_triage("QC-2345-6789", closed_at=NOW - timedelta(days=400))
        audit = [(e.action, e.actor) for e in uow.audit.entries("QC-2345-6789")]
    assert ("text kept", f"telegram:user:{MEMBER}") in audit
    Keeping(storage, CONTENT.prompts, Periods(), lambda: NOW).sweep()
    with storage.unit_of_work() as uow:
        after = uow.concerns.get("QC-2345-6789")
    assert after is not None and after.description and after.reporter_name is None
