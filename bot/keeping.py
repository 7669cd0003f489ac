"""What is kept and for how long: the retention sweep, forget-me, and withdrawing a concern.

The sweep anonymises concerns closed longer ago than the retention period, deletes drafts
left untouched too long, and warns their owners a few days before, on channels that can
send a message later (Telegram: an outbox item with a due time). Each concern and each
draft is done in its own transaction, and done once (a concern is marked anonymised, an
owner warned), so a sweep cut short or run twice does no harm.

The audit log records that something happened, to which reference, never what was written
or who wrote it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialogues.prompts import Prompts
from dialogues.records import Conversation
from storage.repositories import (
    PENDING,
    SENT,
    AuditEntry,
    OutboxItem,
    StaleConversation,
    Storage,
    UnitOfWork,
)

log = logging.getLogger(__name__)

TELEGRAM_OWNER = "telegram:user:"
# Before the team acts on a concern, its reporter may withdraw it.
WITHDRAWABLE = ("recorded", "queued")
WITHDRAWN = "withdrawn"
DRAFT_WARNING = "draft_warning"
# Items that carry the reporter's chat: emptied or cancelled when they are forgotten.
TO_REPORTER = ("reporter_message",)
ACTOR = "retention"


@dataclass(frozen=True)
class Periods:
    """How long things are kept (from the settings)."""

    closed_months: int = 12
    draft_days: int = 30
    warn_days: int = 3

    @property
    def closed(self) -> timedelta:
        return timedelta(days=round(self.closed_months * 365.25 / 12))

    @property
    def draft(self) -> timedelta:
        return timedelta(days=self.draft_days)

    @property
    def warn_after(self) -> timedelta:
        return timedelta(days=max(self.draft_days - self.warn_days, 0))


@dataclass(frozen=True)
class Swept:
    anonymised: int = 0
    expired: int = 0
    warned: int = 0


@dataclass(frozen=True)
class Forgettable:
    """What forget-me deletes for one learner: their drafts' keys, their concerns' refs."""

    drafts: tuple[str, ...]
    concerns: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.drafts and not self.concerns


@dataclass(frozen=True)
class Withdrawal:
    """What became of a request to withdraw: `result` is withdrawn, unknown or too_late."""

    result: str
    reference: str
    status: str = ""
    team_told: bool = False


def _chat_of(key: str) -> str:
    """The chat of a conversation key ("telegram:42/concern" -> "telegram:42")."""
    return key.rpartition("/")[0] or key


class Keeping:
    def __init__(
        self,
        storage: Storage,
        prompts: Prompts,
        periods: Periods,
        clock: Callable[[], datetime],
        resume_hint: str = "/resume",
    ) -> None:
        self.storage = storage
        self.prompts = prompts
        self.periods = periods
        self.clock = clock
        self.resume_hint = resume_hint

    # -- the sweep -------------------------------------------------------------------

    def sweep(self) -> Swept:
        """Anonymise, expire and warn whatever is due now; what was done."""
        now = self.clock()
        anonymised = sum(self._anonymise(r, now) for r in self._due_concerns(now))
        with self.storage.unit_of_work() as uow:
            old = uow.conversations.untouched_since(now - self.periods.draft)
        expired = sum(self._expire(c, now) for c in old)
        with self.storage.unit_of_work() as uow:
            idle = uow.conversations.untouched_since(now - self.periods.warn_after, unwarned=True)
        warned = sum(self._warn(c, now) for c in idle if not c.finished)
        if anonymised or expired or warned:
            log.info("retention: anonymised=%d expired=%d warned=%d", anonymised, expired, warned)
        return Swept(anonymised, expired, warned)

    def _due_concerns(self, now: datetime) -> list[str]:
        with self.storage.unit_of_work() as uow:
            return uow.concerns.due_for_anonymising(now - self.periods.closed)

    def _anonymise(self, reference: str, now: datetime) -> bool:
        with self.storage.unit_of_work() as uow:
            if reference not in uow.concerns.due_for_anonymising(now - self.periods.closed):
                return False  # another sweep did it meanwhile
            self._unlink(uow, reference)
            kept = uow.concerns.anonymise(reference, now)
            if not kept:
                uow.notes.forget(reference)
                uow.outbox.forget_payloads(reference)
            detail = {"text_kept": kept}
            uow.audit.record(AuditEntry(now, ACTOR, "anonymised", reference, detail))
        return True

    def _expire(self, draft: Conversation, now: datetime) -> bool:
        with self.storage.unit_of_work() as uow:
            current = uow.conversations.get(draft.key)
            if current is None or current.updated_at >= now - self.periods.draft:
                return False  # gone, or touched since it was listed
            try:
                uow.conversations.delete(current.key, current.version)
            except StaleConversation:
                return False  # touched, or deleted by another sweep, since it was read
            uow.inbox.forget_chat(_chat_of(current.key))
            detail = {"journey": current.journey, "finished": current.finished}
            uow.audit.record(AuditEntry(now, ACTOR, "draft expired", None, detail))
        return True

    def _warn(self, draft: Conversation, now: datetime) -> bool:
        """An outbox item, due when the warning is, for an owner a message can reach; a
        terminal owner is told when they next start (`warning_for`)."""
        if not draft.owner.startswith(TELEGRAM_OWNER):
            return False
        due = draft.updated_at + self.periods.warn_after
        text = self._warning_text(draft)
        with self.storage.unit_of_work() as uow:
            current = uow.conversations.get(draft.key)
            if current is None or current.version != draft.version:
                return False  # touched since it was listed: the warning no longer holds
            if not uow.conversations.mark_warned(draft.key, now):
                return False  # another sweep (another replica) warned them meanwhile
            payload = {"owner": draft.owner, "text": text}
            uow.outbox.add(OutboxItem.new(DRAFT_WARNING, payload, max(due, now)))
            uow.audit.record(AuditEntry(now, ACTOR, "draft warned", None, {}))
        return True

    def _warning_text(self, draft: Conversation) -> str:
        deleted_on = draft.updated_at + self.periods.draft
        idle = self.periods.warn_after.days
        return self.prompts.keeping_say(
            "draft_warning", idle=idle, date=deleted_on.strftime("%d %b %Y"),
            resume=self.resume_hint,
        )  # fmt: skip

    def warning_for(self, chat: str) -> str | None:
        """For a terminal's start: the warning, if the chat's draft is deleted soon."""
        now = self.clock()
        with self.storage.unit_of_work() as uow:
            draft = uow.conversations.get(f"{chat}/concern")
        if draft is None or draft.finished or draft.updated_at > now - self.periods.warn_after:
            return None
        return self._warning_text(draft)

    # -- forget me -------------------------------------------------------------------

    def forgettable(self, owner: str) -> Forgettable:
        with self.storage.unit_of_work() as uow:
            # A finished conversation (it keeps a filed concern's reference) is deleted too,
            # but it is no draft: only those still in progress are counted as drafts.
            drafts = tuple(c.key for c in uow.conversations.for_owner(owner) if not c.finished)
            concerns = tuple(c.reference for c in uow.concerns.for_owner(owner))
        return Forgettable(drafts, concerns)

    def forget(self, owner: str) -> Forgettable:
        """Delete the owner's drafts, unlink them from their concerns; what was done."""
        now = self.clock()
        with self.storage.unit_of_work() as uow:
            drafts = uow.conversations.for_owner(owner)
            for draft in drafts:
                uow.conversations.delete(draft.key)
                uow.inbox.forget_chat(_chat_of(draft.key))
            concerns = uow.concerns.for_owner(owner)
            for concern in concerns:
                self._unlink(uow, concern.reference)
                uow.concerns.forget_identity(concern.reference)
                uow.audit.record(
                    AuditEntry(now, "reporter", "identity forgotten", concern.reference, {})
                )
            detail = {"drafts": len(drafts), "concerns": len(concerns)}
            uow.audit.record(AuditEntry(now, "reporter", "forgotten", None, detail))
        in_progress = tuple(d.key for d in drafts if not d.finished)
        return Forgettable(in_progress, tuple(c.reference for c in concerns))

    def _unlink(self, uow: UnitOfWork, reference: str) -> None:
        """Whatever ties the concern to its reporter's chat, besides the concern's row."""
        for item in uow.outbox.for_reference(reference):
            if item.kind in TO_REPORTER and item.status == PENDING:
                uow.outbox.cancel(item.id)
        uow.outbox.forget_payloads(reference, TO_REPORTER)
        uow.relays.forget(reference, "to_reporter")

    # -- withdrawing -----------------------------------------------------------------

    def withdraw(self, owner: str, reference: str) -> Withdrawal:
        """Close the owner's concern as withdrawn if the team has not acted on it yet; its
        alerts still waiting are cancelled, and a team that already had it is told."""
        now = self.clock()
        with self.storage.unit_of_work() as uow:
            concern = uow.concerns.get(reference)
            if concern is None or not owner or concern.owner != owner:
                return Withdrawal("unknown", reference)
            if concern.status == WITHDRAWN:
                return Withdrawal("already", reference, WITHDRAWN)
            if concern.status not in WITHDRAWABLE:
                return Withdrawal("too_late", reference, concern.status)
            items = uow.outbox.for_reference(reference)
            for item in items:
                if item.status == PENDING:
                    uow.outbox.cancel(item.id)
            told = any(i.kind in ("team_alert", "team_email") and i.status == SENT for i in items)
            if told:
                text = self.prompts.keeping_say("team_withdrawn", reference=reference)
                uow.outbox.add(OutboxItem.new("team_message", {"text": text}, now, reference))
            uow.concerns.set_status(reference, WITHDRAWN)
            uow.concerns.set_triage(reference, closed_at=now)
            detail = {"team_told": told}
            uow.audit.record(AuditEntry(now, "reporter", "concern withdrawn", reference, detail))
        return Withdrawal(WITHDRAWN, reference, WITHDRAWN, told)

    def withdrawal_words(self, outcome: Withdrawal) -> str:
        say = self.prompts.keeping_say
        if outcome.result == "unknown":
            return say("withdraw_unknown", reference=outcome.reference)
        if outcome.result == "already":
            return say("withdraw_already", reference=outcome.reference)
        if outcome.result == "too_late":
            status = self.prompts.statuses.get(outcome.status, outcome.status)
            return say("withdraw_too_late", reference=outcome.reference, status=status)
        key = "withdraw_done_told" if outcome.team_told else "withdraw_done"
        return say(key, reference=outcome.reference)

    def forget_words(self, done: Forgettable) -> str:
        say = self.prompts.keeping_say
        if done.concerns:
            return say(
                "forget_done", drafts=len(done.drafts), concerns=len(done.concerns),
                references=", ".join(done.concerns),
            )  # fmt: skip
        return say("forget_done_drafts", drafts=len(done.drafts))

    def preview_words(self, plan: Forgettable) -> str:
        say = self.prompts.keeping_say
        if plan.empty:
            return say("forget_nothing")
        return say("forget_preview", drafts=len(plan.drafts), concerns=len(plan.concerns))

    # -- the team's flag -------------------------------------------------------------

    def keep(self, reference: str, actor: str) -> bool:
        """Mark the concern's free text as needed; False if there is no such concern."""
        with self.storage.unit_of_work() as uow:
            if uow.concerns.get(reference) is None:
                return False
            uow.concerns.keep_text(reference, True)
            uow.audit.record(AuditEntry(self.clock(), actor, "text kept", reference, {}))
        return True
