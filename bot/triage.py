"""The Quality team's work on a concern: triage, notes, questions and answers, the queue.

Each action is one unit of work: the change, its audit line (who and when) and any message
it causes, written to the outbox in the same transaction, so a message goes out exactly when
the change it reports was saved. Actions by anyone not in the team are refused and audited.
Replies to the reporter travel by reference; the team never learns an anonymous reporter's
identity, and the reporter never learns which member asked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.message_size import MAX_MESSAGE, split, telegram_length
from bot.outbox import Forward
from dialogues.bundle import Content
from dialogues.records import Concern
from dialogues.working_hours import Calendar, add_working_hours
from storage.repositories import (
    PENDING,
    AuditEntry,
    Note,
    OutboxItem,
    Storage,
    Triage,
    UnitOfWork,
)
from storage.views import OPEN_STATUSES, OpenCounts, QueueEntry, QueueKey, QueuePage

log = logging.getLogger(__name__)

STATUSES = (*OPEN_STATUSES, "closed")
OUTCOMES = ("resolved", "action_plan", "escalated", "no_action")
TELEGRAM_OWNER = "telegram:user:"
# A relayed question or answer longer than this (template included) goes in parts.
RELAY_LIMIT = MAX_MESSAGE - 96
NON_MEMBER = "non-member"  # the audit's actor for a refused attempt: nobody in particular


class Refused(Exception):
    """The person is not a member of the Quality team."""


class UnknownConcern(Exception):
    """No concern the team may see has that reference (the learner kept it as a record)."""


class AlreadyClosed(Exception):
    """The concern is closed; nothing more can be done to it."""


class AlreadyDone(Exception):
    """This update was handled before (a redelivery or a retry): nothing is done again."""


@dataclass(frozen=True)
class Team:
    """Who the Quality team is, and how alerts reach them."""

    chat_id: int | None
    members: frozenset[int]
    email: bool = False
    reminder_hours: float = 8.0
    calendar: Calendar | None = None

    def is_member(self, user_id: int) -> bool:
        return user_id in self.members

    @property
    def reachable(self) -> bool:
        """Whether any channel to the team (the team chat, email) is set up."""
        return self.chat_id is not None or self.email


def telegram_user(user_id: int) -> str:
    return f"{TELEGRAM_OWNER}{user_id}"


# An alert filed while no team channel was set up. No sender sends it: the outbox worker of
# a bot that has a channel hands it on (`hand_on`), so a concern sent to the team is always
# kept in the outbox and reaches the team once a channel exists, however late.
WAITING = "team_waiting"


def enqueue_alerts(uow: UnitOfWork, concern: Concern, now: datetime, team: Team) -> None:
    """In the filing transaction: the alert card, the email and the reminder, as outbox
    items; or, while no team channel is set up, one item that waits for one."""
    if not concern.queued_for_team:
        return
    if not team.reachable:
        uow.outbox.add(OutboxItem.new(WAITING, {}, now, concern.reference))
        return
    _alert_items(uow, concern.reference, now, team)


def _alert_items(uow: UnitOfWork, reference: str, now: datetime, team: Team) -> list[str]:
    """One alert for each channel the team has, and the reminder with the chat's card;
    names each item added ("team_alert:12")."""
    items = []
    if team.chat_id is not None:
        items.append(OutboxItem.new("team_alert", {}, now, reference))
        calendar = team.calendar or Calendar.parse("mon-fri", "09:00-17:00")
        due = add_working_hours(now, team.reminder_hours, calendar)
        items.append(
            OutboxItem.new("team_reminder", {"hours": team.reminder_hours}, due, reference)
        )
    if team.email:
        items.append(OutboxItem.new("team_email", {}, now, reference))
    return [f"{item.kind}:{uow.outbox.add(item)}" for item in items]


def hand_on(team: Team) -> Forward:
    """What the outbox worker does with a waiting alert once the team has a channel: adds the
    channels' items, in the transaction that marks it handed on, so it happens once."""

    def forward(uow: UnitOfWork, item: OutboxItem, now: datetime) -> str:
        if not team.reachable:  # a worker without a team channel must not take it
            raise ValueError("no team channel to hand a waiting alert on to")
        return ",".join(_alert_items(uow, item.reference or "", now, team))

    return forward


def waits_for_channel(uow: UnitOfWork, reference: str) -> bool:
    """Whether the concern's alert is still waiting for a team channel."""
    return any(
        item.kind == WAITING and item.status == PENDING
        for item in uow.outbox.for_reference(reference)
    )


def waiting_alerts(storage: Storage) -> int:
    """How many alerts wait for a team channel."""
    with storage.reading() as uow:
        return uow.outbox.counts().get((WAITING, PENDING), 0)


@dataclass(frozen=True)
class Case:
    concern: Concern
    triage: Triage
    history: tuple[AuditEntry, ...]
    notes: tuple[Note, ...]


class TriageService:
    def __init__(self, storage: Storage, content: Content, team: Team,
                 clock: Callable[[], datetime]) -> None:  # fmt: skip
        self.storage = storage
        self.content = content
        self.team = team
        self.clock = clock

    # -- reading -----------------------------------------------------------------------

    def case(self, reference: str) -> Case:
        with self.storage.unit_of_work() as uow:
            concern = self._concern(uow, reference)
            return Case(
                concern,
                uow.concerns.triage(reference) or Triage(reference),
                tuple(uow.audit.entries(reference)),
                tuple(uow.notes.for_reference(reference)),
            )

    def sees(self, reference: str) -> bool:
        """Whether the team has a concern with this reference."""
        try:
            with self.storage.unit_of_work() as uow:
                self._concern(uow, reference)
        except UnknownConcern:
            return False
        return True

    def queue_page(self, after: QueueKey | None = None, before: QueueKey | None = None,
                   size: int | None = None) -> QueuePage:  # fmt: skip
        """One page of the open concerns: the most serious band first, then the longest
        waiting; the first page, or the one after or before a concern (`TeamViews`).
        Read-only: a page never waits behind a learner's turn, nor holds one up."""
        with self.storage.reading() as uow:
            if size is None:
                return uow.views.queue_page(after, before)
            return uow.views.queue_page(after, before, size)

    def queue(self, page_size: int = 500) -> list[QueueEntry]:
        """Every open concern in queue order, read a page at a time."""
        entries: list[QueueEntry] = []
        page = self.queue_page(size=page_size)
        entries.extend(page.entries)
        while page.has_next and page.entries:
            page = self.queue_page(after=page.entries[-1].key, size=page_size)
            entries.extend(page.entries)
        return entries

    def open_counts(self) -> OpenCounts:
        """The open concerns counted for the risk picture, in the database (read-only)."""
        with self.storage.reading() as uow:
            return uow.views.open_counts()

    # -- acting --------------------------------------------------------------------------

    def acknowledge(self, user_id: int, reference: str, dedupe: str | None = None) -> Concern:
        with self._acting(user_id, "acknowledge", reference, dedupe) as (uow, concern, now):
            by = telegram_user(user_id)
            uow.concerns.set_triage(reference, acknowledged_at=now, acknowledged_by=by)
            if concern.status != "queued":  # acknowledging never moves a concern backwards
                return concern
            return self._move(uow, concern, "received", now)

    def set_status(
        self, user_id: int, reference: str, status: str, dedupe: str | None = None
    ) -> Concern:
        if status not in OPEN_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self._acting(user_id, f"status:{status}", reference, dedupe) as (uow, concern, now):
            return self._move(uow, concern, status, now)

    def close(
        self, user_id: int, reference: str, outcome: str, dedupe: str | None = None
    ) -> Concern:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self._acting(user_id, f"close:{outcome}", reference, dedupe) as (uow, concern, now):
            uow.concerns.set_triage(reference, outcome=outcome, closed_at=now)
            uow.concerns.set_status(reference, "closed")
            label = self.content.prompts.team[f"outcome_{outcome}"]
            words = self.content.prompts.reporter_say("closed", reference=reference, outcome=label)
            self._tell_reporter(uow, concern, now, words)
            return _with_status(concern, "closed")

    def assign(self, user_id: int, reference: str, name: str, dedupe: str | None = None) -> Concern:
        with self._acting(user_id, "assign", reference, dedupe) as (uow, concern, _):
            uow.concerns.set_triage(reference, assigned_to=name)
            return concern

    def keep_text(self, user_id: int, reference: str, dedupe: str | None = None) -> None:
        """Keep the concern's free text when it is anonymised after closing (retention)."""
        with self._acting(user_id, "text kept", reference, dedupe, open_only=False) as (uow, _, _):
            uow.concerns.keep_text(reference, True)

    def add_note(self, user_id: int, reference: str, text: str, dedupe: str | None = None) -> None:
        with self._acting(user_id, "note", reference, dedupe, open_only=False) as (uow, _, now):
            uow.notes.add(reference, now, telegram_user(user_id), text)

    def ask(self, user_id: int, reference: str, text: str, dedupe: str | None = None) -> None:
        """A question for the reporter, relayed by reference; the reply comes back that way."""
        with self._acting(user_id, "ask", reference, dedupe) as (uow, concern, now):
            for question in self._in_parts("question", reference, text):
                self._tell_reporter(uow, concern, now, question, relay=True)

    def answer(self, owner: str, reference: str, text: str, dedupe: str | None = None) -> None:
        """The reporter's answer, to the team chat, carrying the reference and nothing else."""
        with self.storage.unit_of_work() as uow:
            if dedupe is not None and not uow.inbound.first_time(dedupe, self.clock()):
                raise AlreadyDone(dedupe)
            concern = self._concern(uow, reference)
            if concern.owner != owner:
                raise Refused("only the reporter can answer for this concern")
            now = self.clock()
            for body in self._in_parts("answer_from_reporter", reference, text):
                uow.outbox.add(OutboxItem.new("team_message", {"text": body}, now, reference))
            uow.audit.record(AuditEntry(now, "reporter", "answer", reference, {}))

    def reporter_chat(self, reference: str) -> int | None:
        """The Telegram chat of the concern's reporter, read from their identity record at
        the moment of sending; None if they cannot be reached (a terminal, or forgotten)."""
        with self.storage.unit_of_work() as uow:
            concern = uow.concerns.get(reference)
        return None if concern is None else telegram_chat_of(concern.owner)

    def refuse(self, action: str) -> None:
        """Write a refused attempt to the audit log: what was tried, not who or on what.

        The one who tries may be the concern's own reporter (a modified client can send the
        team's button data), so neither their channel id nor the reference goes in: an entry
        against the concern would show the team who reported it.
        """
        with self.storage.unit_of_work() as uow:
            detail = {"action": action}
            uow.audit.record(AuditEntry(self.clock(), NON_MEMBER, "refused", None, detail))
        log.warning("team action refused action=%s", action)

    # -- plumbing ------------------------------------------------------------------------

    def _in_parts(self, key: str, reference: str, text: str) -> list[str]:
        """A relayed text in its template ("question" for the reporter, "answer_from_reporter"
        for the team) as one message, or as several, each marked "(part 1 of 2)", when it
        would not fit in one. Each part becomes an outbox item of its own, all in the same
        transaction, so a retry sends again only the part that did not go."""
        prompts = self.content.prompts

        def say(words: str) -> str:
            if key == "question":
                return prompts.reporter_say(key, reference=reference, text=words)
            return prompts.team_say(key, reference=reference, text=words)

        if telegram_length(say(text)) <= RELAY_LIMIT:
            return [say(text)]
        longest_mark = prompts.team_say("relay_part", part=999, parts=999)
        room = RELAY_LIMIT - telegram_length(say("")) - telegram_length(longest_mark) - 1
        pieces = split(text, room)
        return [
            say(f"{piece}\n{prompts.team_say('relay_part', part=n, parts=len(pieces))}")
            for n, piece in enumerate(pieces, start=1)
        ]

    @contextmanager
    def _acting(
        self,
        user_id: int,
        action: str,
        reference: str,
        dedupe: str | None = None,
        open_only: bool = True,
    ) -> Iterator[tuple[UnitOfWork, Concern, datetime]]:
        """One team action in one transaction: membership checked, the update not seen
        before, the concern loaded (and still open), the audit line written."""
        if not self.team.is_member(user_id):
            self.refuse(action)
            raise Refused(action)
        with self.storage.unit_of_work() as uow:
            if dedupe is not None and not uow.inbound.first_time(dedupe, self.clock()):
                raise AlreadyDone(dedupe)
            concern = self._concern(uow, reference)
            if open_only and concern.status == "closed":
                raise AlreadyClosed(reference)
            now = self.clock()
            uow.audit.record(AuditEntry(now, telegram_user(user_id), action, reference, {}))
            yield uow, concern, now

    def _concern(self, uow: UnitOfWork, reference: str) -> Concern:
        """A concern sent to the team; one the learner kept as a record is not the team's."""
        concern = uow.concerns.get(reference)
        if concern is None or not concern.queued_for_team:
            raise UnknownConcern(reference)
        return concern

    def _move(self, uow: UnitOfWork, concern: Concern, status: str, now: datetime) -> Concern:
        if concern.status == status:
            return concern
        uow.concerns.set_status(concern.reference, status)
        words = self.content.prompts.statuses[status]
        text = self.content.prompts.reporter_say(
            "status_changed", reference=concern.reference, status=words
        )
        self._tell_reporter(uow, concern, now, text)
        return _with_status(concern, status)

    def _tell_reporter(self, uow: UnitOfWork, concern: Concern, now: datetime, text: str,
                       relay: bool = False) -> None:  # fmt: skip
        """A message to the reporter's own chat, when there is one to reach."""
        if not concern.owner.startswith(TELEGRAM_OWNER):
            return  # a terminal chat cannot be reached later; /status still shows the change
        # No owner in the item: the sender looks it up in the identity record when sending.
        payload = {"text": text, "relay": relay}
        uow.outbox.add(OutboxItem.new("reporter_message", payload, now, concern.reference))


def telegram_chat_of(owner: str) -> int | None:
    """The private chat of a Telegram owner key (a user's private chat has their id)."""
    if not owner.startswith(TELEGRAM_OWNER):
        return None
    return int(owner.removeprefix(TELEGRAM_OWNER))


def _with_status(concern: Concern, status: str) -> Concern:
    return replace(concern, status=status)


def age(since: datetime, now: datetime, say: Callable[..., str]) -> str:
    """A short age in the team's words (`say` is Prompts.team_say): "under a minute",
    "40 min", "5 h", "3 d". A fresh concern is not "0 h" old."""
    waited = now - since
    if waited >= timedelta(days=1):
        return say("age_days", days=waited.days)
    if waited >= timedelta(hours=1):
        return say("age_hours", hours=int(waited.total_seconds() // 3600))
    if waited >= timedelta(minutes=1):
        return say("age_minutes", minutes=int(waited.total_seconds() // 60))
    return say("age_new")
