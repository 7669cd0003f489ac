"""Retention, forget-me and withdrawing, on every backend, with a fake clock and restarts.

Each step opens the storage afresh (the memory backend is the same object again, the SQL
ones a new engine on the same database), so what the sweep relies on is what was saved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from secret_keys import keys_for
from test_contract import T0, a_concern, a_conversation

from bot.keeping import Keeping, Periods
from dialogues.bundle import load_content
from storage.database import open_storage, upgrade
from storage.memory import MemoryStorage
from storage.repositories import NO_OWNER, AuditEntry, OutboxItem, Storage

PROMPTS = load_content().prompts
DAY = timedelta(days=1)
Opener = Callable[[], Storage]


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def reopen(request: pytest.FixtureRequest) -> Iterator[Opener]:
    """Opens the same database again each time it is called (a restart)."""
    if request.param == "memory":
        memory = MemoryStorage()
        yield lambda: memory
        return
    url: str = request.getfixturevalue(f"{request.param}_url")
    upgrade(url, keys_for(url))
    opened: list[Storage] = []

    def open_again() -> Storage:
        storage = open_storage(url, keys_for(url))
        opened.append(storage)
        return storage

    yield open_again
    for storage in opened:
        storage.close()


def keeping_at(storage: Storage, now: datetime) -> Keeping:
    return Keeping(storage, PROMPTS, Periods(12, 30, 3), lambda: now)


def no_content_in(entries: list[AuditEntry], *secrets: str) -> None:
    shown = repr(entries)
    for secret in secrets:
        assert secret not in shown


def test_closed_concerns_are_anonymised_after_the_period_and_only_once(reopen: Opener) -> None:
    kept, plain = a_concern("QC-KEEP-0001"), a_concern("QC-GONE-0002")
    storage = reopen()
    with storage.unit_of_work() as uow:
        for concern in (kept, plain):
            uow.concerns.add(concern)
            uow.concerns.set_status(concern.reference, "closed")
            uow.concerns.set_triage(concern.reference, closed_at=T0)
            uow.notes.add(concern.reference, T0, "telegram:user:7", "The ward manager said no")
            uow.relays.add(concern.reference, "to_reporter", "telegram:42", concern.reference, T0)
            sent = uow.outbox.add(OutboxItem.new("reporter_message",
                {"owner": concern.owner, "text": "closed"}, T0, concern.reference))  # fmt: skip
            uow.outbox.mark_sent(sent, T0, "1")
    assert keeping_at(storage, T0).keep(kept.reference, "operator")

    assert keeping_at(reopen(), T0 + 360 * DAY).sweep().anonymised == 0
    assert keeping_at(reopen(), T0 + 370 * DAY).sweep().anonymised == 2
    assert keeping_at(reopen(), T0 + 380 * DAY).sweep().anonymised == 0  # once only

    with reopen().unit_of_work() as uow:
        after = {c.reference: c for c in (uow.concerns.get(kept.reference),
                                          uow.concerns.get(plain.reference)) if c}  # fmt: skip
        notes = {r: len(uow.notes.for_reference(r)) for r in after}
        payloads = [i.payload for r in after for i in uow.outbox.for_reference(r)]
        relays = [uow.relays.find("telegram:42", r) for r in after]
        audit = uow.audit.entries()
    for concern in after.values():
        assert (concern.owner, concern.identity) == (NO_OWNER, "anonymous")
        assert concern.reporter_name is None and concern.reporter_contact is None
    assert after[kept.reference].description == kept.description
    assert after[plain.reference].description == ""
    assert after[plain.reference].further_actions is None
    assert after[plain.reference].organisation_other is None
    assert after[plain.reference].topics == plain.topics  # the choices stay, for counting
    assert notes == {kept.reference: 1, plain.reference: 0}
    assert payloads == [{}, {}] and relays == [None, None]
    lines = [(e.action, e.reference, dict(e.detail)) for e in audit if e.actor == "retention"]
    assert sorted(lines) == [
        ("anonymised", plain.reference, {"text_kept": False}),
        ("anonymised", kept.reference, {"text_kept": True}),
    ]
    no_content_in(audit, kept.description, "Zoë", "zoe@", "telegram:user:42", "ward manager")


def test_a_draft_is_warned_then_deleted_and_a_touch_starts_again(reopen: Opener) -> None:
    telegram = a_conversation("telegram:42/concern", updated_at=T0)
    console = a_conversation("console:sam/concern", owner="console:sam", updated_at=T0)
    with reopen().unit_of_work() as uow:
        uow.conversations.put(telegram)
        uow.conversations.put(console)

    assert keeping_at(reopen(), T0 + 26 * DAY).sweep().warned == 0
    swept = keeping_at(reopen(), T0 + 27 * DAY + timedelta(hours=1)).sweep()
    assert (swept.warned, swept.expired) == (1, 0)  # only Telegram can be told later
    assert keeping_at(reopen(), T0 + 28 * DAY).sweep().warned == 0  # told once
    with reopen().unit_of_work() as uow:
        warnings = uow.outbox.due(T0 + 40 * DAY, 10, kinds=["draft_warning"])
    assert len(warnings) == 1
    assert warnings[0].next_attempt_at == T0 + 27 * DAY + timedelta(hours=1)  # the sweep's
    assert warnings[0].payload["owner"] == "telegram:user:42"
    assert (T0 + 30 * DAY).strftime("%d %b %Y") in str(warnings[0].payload["text"])
    # The terminal learner is told when they next start.
    terminal = keeping_at(reopen(), T0 + 28 * DAY).warning_for("console:sam")
    assert terminal is not None and (T0 + 30 * DAY).strftime("%d %b %Y") in terminal
    assert keeping_at(reopen(), T0 + 20 * DAY).warning_for("console:sam") is None

    # The Telegram learner comes back on day 29: the draft lives another 30 days.
    with reopen().unit_of_work() as uow:
        current = uow.conversations.get(telegram.key)
        assert current is not None
        uow.conversations.put(replace(current, updated_at=T0 + 29 * DAY))

    swept = keeping_at(reopen(), T0 + 31 * DAY).sweep()
    assert (swept.expired, swept.warned) == (1, 0)
    swept = keeping_at(reopen(), T0 + 57 * DAY).sweep()
    assert (swept.expired, swept.warned) == (0, 1)  # warned again, since it was touched
    assert keeping_at(reopen(), T0 + 60 * DAY).sweep().expired == 1
    with reopen().unit_of_work() as uow:
        left = [uow.conversations.get(c.key) for c in (telegram, console)]
        audit = uow.audit.entries()
    assert left == [None, None]
    expired = [e for e in audit if e.action == "draft expired"]
    assert len(expired) == 2 and all(e.reference is None for e in expired)
    no_content_in(audit, "Rota gaps", "telegram:42", "console:sam", "telegram:user:42")


def test_two_sweeps_at_once_warn_and_delete_a_draft_once(reopen: Opener) -> None:
    """As two replicas' sweeps, each having listed the drafts before the other acted."""
    drafts = [a_conversation(f"telegram:{n}/concern", updated_at=T0) for n in (42, 43)]
    with reopen().unit_of_work() as uow:
        for draft in drafts:
            uow.conversations.put(draft)
    stored = []
    with reopen().unit_of_work() as uow:
        stored = [uow.conversations.get(d.key) for d in drafts]
    first, second = keeping_at(reopen(), T0 + 28 * DAY), keeping_at(reopen(), T0 + 28 * DAY)

    assert [first._warn(d, T0 + 28 * DAY) for d in stored if d] == [True, True]
    assert [second._warn(d, T0 + 28 * DAY) for d in stored if d] == [False, False]
    with reopen().unit_of_work() as uow:
        assert len(uow.outbox.due(T0 + 40 * DAY, 10, kinds=["draft_warning"])) == 2
    late = T0 + 31 * DAY
    first, second = keeping_at(reopen(), late), keeping_at(reopen(), late)
    assert [first._expire(d, late) for d in stored if d] == [True, True]
    assert [second._expire(d, late) for d in stored if d] == [False, False]
    with reopen().unit_of_work() as uow:
        expired = [e for e in uow.audit.entries() if e.action == "draft expired"]
    assert len(expired) == 2


@pytest.mark.postgres
def test_sweeps_racing_on_postgres_anonymise_each_concern_once(postgres_url: str) -> None:
    """Three replicas' sweeps at the same moment: each closed concern anonymised once."""
    upgrade(postgres_url, keys_for(postgres_url))
    stores = [open_storage(postgres_url, keys_for(postgres_url)) for _ in range(3)]
    with stores[0].unit_of_work() as uow:
        for n in range(20):
            concern = a_concern(f"QC-RACE-{n:04d}")
            uow.concerns.add(concern)
            uow.concerns.set_status(concern.reference, "closed")
            uow.concerns.set_triage(concern.reference, closed_at=T0)
    start, done = threading.Barrier(3), []

    def sweep(storage: Storage) -> None:
        start.wait()
        done.append(keeping_at(storage, T0 + 400 * DAY).sweep().anonymised)

    racers = [threading.Thread(target=sweep, args=(s,)) for s in stores]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
    with stores[0].unit_of_work() as uow:
        audit = [e for e in uow.audit.entries() if e.action == "anonymised"]
    for storage in stores:
        storage.close()
    assert sum(done) == 20 and len(audit) == 20


def test_forget_me_deletes_drafts_and_unlinks_concerns_which_stay_anonymous(
    reopen: Opener,
) -> None:
    mine, theirs = a_concern("QC-MINE-0001"), a_concern("QC-THEM-0002", owner="telegram:user:9")
    with reopen().unit_of_work() as uow:
        uow.conversations.put(a_conversation("telegram:42/concern"))
        uow.concerns.add(mine)
        uow.concerns.add(theirs)
        uow.outbox.add(OutboxItem.new("reporter_message",
            {"owner": mine.owner, "text": "a question"}, T0, mine.reference))  # fmt: skip
        uow.outbox.add(OutboxItem.new("team_alert", {}, T0, mine.reference))
    keeping = keeping_at(reopen(), T0)
    plan = keeping.forgettable("telegram:user:42")
    assert (len(plan.drafts), plan.concerns) == (1, (mine.reference,))
    done = keeping.forget("telegram:user:42")
    assert done == plan
    words = keeping.forget_words(done)
    assert "1 draft" in words and mine.reference in words

    keeping = keeping_at(reopen(), T0 + DAY)
    assert keeping.forgettable("telegram:user:42").empty
    with reopen().unit_of_work() as uow:
        after, other = uow.concerns.get(mine.reference), uow.concerns.get(theirs.reference)
        items = {i.kind: i.status for i in uow.outbox.for_reference(mine.reference)}
        audit = uow.audit.entries()
    assert after is not None and other is not None
    assert (after.owner, after.identity, after.reporter_name) == (NO_OWNER, "anonymous", None)
    assert after.description == mine.description  # the team keeps the concern
    assert other.owner == "telegram:user:9" and other.reporter_name == theirs.reporter_name
    assert items == {"reporter_message": "cancelled", "team_alert": "pending"}
    actions = [(e.action, e.reference, dict(e.detail)) for e in audit]
    assert actions == [
        ("identity forgotten", mine.reference, {}),
        ("forgotten", None, {"drafts": 1, "concerns": 1}),
    ]
    no_content_in(audit, mine.description, "Zoë", "telegram:user:42")


def test_a_concern_is_withdrawn_only_before_the_team_acts(reopen: Opener) -> None:
    waiting = a_concern("QC-WAIT-0001", status="queued")
    carded = a_concern("QC-CARD-0002", status="queued")
    started = a_concern("QC-LATE-0003", status="received")
    with reopen().unit_of_work() as uow:
        for concern in (waiting, carded, started):
            uow.concerns.add(concern)
        uow.outbox.add(OutboxItem.new("team_alert", {}, T0, waiting.reference))
        uow.outbox.add(OutboxItem.new("team_reminder", {}, T0 + DAY, waiting.reference))
        card = uow.outbox.add(OutboxItem.new("team_alert", {}, T0, carded.reference))
        uow.outbox.mark_sent(card, T0, "77")
    keeping = keeping_at(reopen(), T0 + timedelta(hours=1))
    owner = "telegram:user:42"
    assert keeping.withdraw("telegram:user:9", waiting.reference).result == "unknown"
    assert keeping.withdraw(owner, "QC-NONE-0000").result == "unknown"
    late = keeping.withdraw(owner, started.reference)
    assert (late.result, late.status) == ("too_late", "received")
    assert "can no longer be withdrawn" in keeping.withdrawal_words(late)
    quiet = keeping.withdraw(owner, waiting.reference)
    told = keeping.withdraw(owner, carded.reference)
    assert (quiet.result, quiet.team_told, told.team_told) == ("withdrawn", False, True)
    assert "now will not" in keeping.withdrawal_words(quiet)
    assert "has been told" in keeping.withdrawal_words(told)
    again = keeping_at(reopen(), T0 + DAY).withdraw(owner, waiting.reference)
    assert (again.result, again.status) == ("already", "withdrawn")
    assert "already withdrawn" in keeping.withdrawal_words(again)

    with reopen().unit_of_work() as uow:
        statuses = [uow.concerns.get(c.reference) for c in (waiting, carded, started)]
        quiet_items = [(i.kind, i.status) for i in uow.outbox.for_reference(waiting.reference)]
        told_items = [(i.kind, i.status, dict(i.payload))
                      for i in uow.outbox.for_reference(carded.reference)]  # fmt: skip
        closed = uow.concerns.triage(waiting.reference)
    assert [c.status for c in statuses if c] == ["withdrawn", "withdrawn", "received"]
    assert quiet_items == [("team_alert", "cancelled"), ("team_reminder", "cancelled")]
    assert told_items[0][:2] == ("team_alert", "sent")
    assert told_items[1][:2] == ("team_message", "pending")
    assert carded.reference in str(told_items[1][2]["text"])
    assert closed is not None and closed.closed_at == T0 + timedelta(hours=1)
    # A withdrawn concern is anonymised, like a closed one, after the period.
    assert keeping_at(reopen(), T0 + 400 * DAY).sweep().anonymised == 2
