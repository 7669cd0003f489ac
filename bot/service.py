"""The turn service: one inbound event for one chat in, the replies out, the state saved.

A turn locks the chat, loads its conversations, asks the core for the next state, and saves
the conversation and any filed concern in one transaction. Each chat has two conversation
slots, the concern and the quick pathway question, so asking "which pathway?" never
disturbs a concern in progress; input goes to whichever unfinished one moved last.

A conversation that ends deleted (cancelled, or the pathway question answered) is deleted in
the turn's own transaction, and so are the chat's handled inbox rows and the row of the
update being handled: nothing keyed to the chat is left of it. A paused concern is kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.triage import waits_for_channel
from dialogues.engine import Dialogue
from dialogues.filing import make_reference
from dialogues.records import Concern, Conversation
from dialogues.turns import Command, Event, Outcome, Reply
from storage.repositories import (
    AuditEntry,
    DuplicateReference,
    StaleConversation,
    Storage,
    UnitOfWork,
)

log = logging.getLogger(__name__)

JOURNEYS = ("concern", "pathway")
ATTEMPTS = 5


@dataclass(frozen=True)
class Turn:
    """What a channel needs after a turn: the replies, and where the conversation stands."""

    replies: tuple[Reply, ...]
    journey: str | None = None
    state: str | None = None
    paused: bool = False
    finished: bool = False
    reference: str | None = None
    stale: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


# A fresh key each run: tags follow one chat through a run's log without being reversible
# to its Telegram id by hashing candidate ids.
_TAG_KEY = secrets.token_bytes(16)


def _tag(chat: str) -> str:
    """A short tag for logs, so a log line never carries the chat's own id."""
    return hmac.new(_TAG_KEY, chat.encode(), hashlib.sha256).hexdigest()[:10]


class TurnService:
    def __init__(
        self,
        dialogue: Dialogue,
        storage: Storage,
        clock: Callable[[], datetime] = _now,
        random_below: Callable[[int], int] = secrets.randbelow,
        on_filed: Callable[[UnitOfWork, Concern, datetime], None] | None = None,
    ) -> None:
        self.dialogue = dialogue
        self.storage = storage
        # Runs inside the filing transaction: alerts queued for the team are saved with it.
        self.on_filed = on_filed
        self.clock = clock
        self.random_below = random_below
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def handle(
        self, chat: str, owner: str, event: Event, dedupe_key: str | None = None
    ) -> Turn:
        """Run one turn for a chat, one at a time per chat; blocking storage runs in a thread."""
        lock = self._locks.get(chat)
        if lock is None:
            lock = self._locks[chat] = asyncio.Lock()
        async with lock:
            return await asyncio.to_thread(self.handle_now, chat, owner, event, dedupe_key)

    def handle_now(
        self, chat: str, owner: str, event: Event, dedupe_key: str | None = None
    ) -> Turn:
        """The same turn, synchronously (the caller holds the chat's lock)."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self.storage.unit_of_work() as uow:
                    if dedupe_key and not uow.inbound.first_time(dedupe_key, self.clock()):
                        log.info("duplicate inbound dropped chat=%s", _tag(chat))
                        return self._current(uow, chat)
                    return self._turn(uow, chat, owner, event, dedupe_key)
            except (StaleConversation, DuplicateReference) as error:
                # Another process moved this chat, or a reference collided: run the turn again.
                log.warning(
                    "turn retried chat=%s attempt=%d: %s", _tag(chat), attempt, type(error).__name__
                )
        raise RuntimeError(f"turn for chat {_tag(chat)} kept conflicting")

    # -- inside the transaction ------------------------------------------------------

    def _turn(
        self, uow: UnitOfWork, chat: str, owner: str, event: Event, dedupe_key: str | None
    ) -> Turn:
        now = self.clock()
        slots = _slots(uow, chat)
        if isinstance(event, Command) and event.name in ("new", "start", "pathway"):
            journey = "pathway" if event.name == "pathway" else "concern"
            current = slots[journey]
            if journey == "pathway":
                self._pause_concern(uow, slots["concern"])
            if current is None or current.finished or journey == "pathway":
                outcome = self.dialogue.begin(f"{chat}/{journey}", owner, journey, now)
            else:
                outcome = self.dialogue.handle(current, event, now, self._reference)
            return self._save(uow, chat, slots[journey], outcome, dedupe_key)
        active = _active(slots)
        if isinstance(event, Command) and event.name == "resume":
            if active is None:
                start = self.dialogue.prompts.say("start_hint")
                return Turn((Reply(self.dialogue.prompts.say("nothing_to_resume", start=start)),))
            return self._save(uow, chat, active, self.dialogue.resume(active), dedupe_key)
        target = active or _latest(slots)
        if target is None:
            say = self.dialogue.prompts.say
            start = say("start_hint")
            if isinstance(event, Command) and event.name == "help":
                return Turn((Reply(f"{say('help_general')}\n{start}"),))
            return Turn((Reply(say("no_conversation", start=start)),))
        outcome = self.dialogue.handle(target, event, now, self._reference)
        return self._save(uow, chat, target, outcome, dedupe_key)

    def _save(
        self,
        uow: UnitOfWork,
        chat: str,
        before: Conversation | None,
        outcome: Outcome,
        dedupe_key: str | None = None,
    ) -> Turn:
        after = outcome.conversation
        if after is None:
            return self._delete(uow, chat, before, outcome, dedupe_key)
        # A fresh conversation replacing a finished one takes over its row's version.
        stored = uow.conversations.put(replace(after, version=before.version if before else 0))
        if outcome.concern is not None:
            uow.concerns.add(outcome.concern)
            if self.on_filed is not None:
                self.on_filed(uow, outcome.concern, self.clock())
            uow.audit.record(
                AuditEntry(
                    at=self.clock(),
                    actor="reporter",
                    action="concern.submitted",
                    reference=outcome.concern.reference,
                    detail={
                        "band": outcome.concern.band,
                        "queued": outcome.concern.queued_for_team,
                    },
                )
            )
            log.info("concern filed reference=%s", outcome.concern.reference)
        else:
            log.info("turn chat=%s journey=%s state=%s", _tag(chat), stored.journey, stored.state)
        return Turn(
            outcome.replies,
            journey=stored.journey,
            state=stored.state,
            paused=stored.paused,
            finished=stored.finished,
            reference=outcome.concern.reference if outcome.concern else None,
            stale=outcome.stale,
        )

    def _delete(
        self,
        uow: UnitOfWork,
        chat: str,
        before: Conversation | None,
        outcome: Outcome,
        dedupe_key: str | None,
    ) -> Turn:
        """A conversation discarded or done with: its row goes, and with it the chat's inbox
        rows (payloads already emptied) and this update's; only what waits is kept."""
        if before is None:
            return Turn(outcome.replies, finished=True)
        uow.conversations.delete(before.key, before.version)
        uow.inbox.forget_chat(chat, dedupe_key)
        log.info("conversation deleted chat=%s journey=%s", _tag(chat), before.journey)
        replies = outcome.replies
        if before.journey == "pathway":
            replies = replies + self._paused_concern_note(uow, chat)
        return Turn(replies, journey=before.journey, finished=True)

    def _pause_concern(self, uow: UnitOfWork, concern: Conversation | None) -> None:
        """A concern set aside for the pathway question waits, paused, with every answer."""
        if concern is not None and not concern.finished and not concern.paused:
            uow.conversations.put(replace(concern, paused=True))

    def _current(self, uow: UnitOfWork, chat: str) -> Turn:
        """For a duplicate: the question as it stands, changing nothing."""
        slots = _slots(uow, chat)
        active = _active(slots)
        if active is None:
            return Turn(())
        return Turn((self.dialogue.question(active),), journey=active.journey, state=active.state)

    def _paused_concern_note(self, uow: UnitOfWork, chat: str) -> tuple[Reply, ...]:
        concern = uow.conversations.get(f"{chat}/concern")
        if concern is None or concern.finished:
            return ()
        resume = self.dialogue.resume_hint
        return (Reply(self.dialogue.prompts.say("concern_still_paused", resume=resume)),)

    def _reference(self) -> str:
        return make_reference(self.random_below)

    # -- reading ---------------------------------------------------------------------

    def status(self, owner: str) -> Reply:
        """The reporter's concerns, newest first, and where each stands."""
        prompts = self.dialogue.prompts
        with self.storage.unit_of_work() as uow:
            concerns = uow.concerns.for_owner(owner)
            # Sent to the team, but held until the team has a channel to receive it.
            waiting = {c.reference for c in concerns
                       if c.status == "queued" and waits_for_channel(uow, c.reference)}  # fmt: skip
        if not concerns:
            return Reply(prompts.say("status_none", start=prompts.say("start_hint")))
        lines = [prompts.say("status_heading")]
        for concern in concerns:
            shown = "waiting" if concern.reference in waiting else concern.status
            status = prompts.statuses.get(shown, concern.status)
            date = concern.created_at.strftime("%d %b %Y")
            lines.append(
                "• "
                + prompts.say("status_line", reference=concern.reference, date=date, status=status)
            )
        return Reply("\n".join(lines))

    def conversation(self, chat: str, journey: str = "concern") -> Conversation | None:
        with self.storage.unit_of_work() as uow:
            return uow.conversations.get(f"{chat}/{journey}")


def _slots(uow: UnitOfWork, chat: str) -> dict[str, Conversation | None]:
    """The chat's conversation on each journey (None for none), read in one go."""
    found = uow.conversations.get_each([f"{chat}/{journey}" for journey in JOURNEYS])
    return dict(zip(JOURNEYS, found, strict=True))


def _active(slots: dict[str, Conversation | None]) -> Conversation | None:
    """The unfinished conversation that moved last."""
    open_ = [c for c in slots.values() if c is not None and not c.finished]
    return max(open_, key=lambda c: c.updated_at, default=None)


def _latest(slots: dict[str, Conversation | None]) -> Conversation | None:
    present = [c for c in slots.values() if c is not None]
    return max(present, key=lambda c: c.updated_at, default=None)
