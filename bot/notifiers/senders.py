"""What each kind of outbox item does when the worker sends it, and when it cannot be sent.

team_alert: the alert card in the team chat. team_email: the alert by email with the QCA
document attached. team_reminder: a nudge in the team chat if the alert is still not
acknowledged (nothing otherwise). reporter_message: a message to the reporter's own chat;
a question is sent as a reply prompt and remembered, so the answer finds its way back.
team_message: a message in the team chat (the reporter's answer, by reference only).
team_notice_email: a short email to the team (something could not be delivered).
team_waiting has no sender: it is an alert waiting for a team channel, handed on to these
kinds by the worker once there is one (`bot.triage.hand_on`).

Telegram's refusals of the message itself (too long, bad markup, a chat that is gone, a bot
blocked or removed) are permanent: retrying cannot help, so they are raised as such and the
item fails at once. `failure_notices` then tells the team by the other way (email for the
team chat, the team chat for email) which reference was not delivered and why, in words.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime
from typing import TypeVar

from telegram import Bot, ForceReply
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden

from bot.channels.team import card_keyboard
from bot.channels.telegram import chat_key
from bot.notifiers.email import EmailSettings, build_message, send_email
from bot.outbox import OnDead, PermanentFailure, Sender
from bot.reports.card import card_html
from bot.reports.qca import qca_docx
from bot.triage import TELEGRAM_OWNER, TriageService
from dialogues.alert import alert_fields
from dialogues.prompts import Prompts
from storage.repositories import OutboxItem, UnitOfWork

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TELEGRAM_KINDS = ("team_alert", "team_reminder", "reporter_message", "team_message")
EMAIL_KINDS = ("team_email", "team_notice_email")
T = TypeVar("T")

# What Telegram says when it refuses a message for good, and the reason recorded for it.
_REFUSALS = (
    ("too long", "MessageTooLong"),
    ("can't parse", "CantParseEntities"),
    ("chat not found", "ChatNotFound"),
    ("blocked", "BotBlocked"),
    ("kicked", "BotKicked"),
    ("not a member", "BotKicked"),
    ("deactivated", "ChatNotFound"),
)
_WHY = {
    "MessageTooLong": "why_too_long",
    "CantParseEntities": "why_markup",
    "ChatNotFound": "why_chat_not_found",
    "ChatMigrated": "why_chat_moved",
    "BotBlocked": "why_blocked",
    "BotKicked": "why_kicked",
}


def _chat_of(owner: str) -> int:
    return int(owner.removeprefix(TELEGRAM_OWNER))


async def refused_for_good(call: Callable[[], Awaitable[T]]) -> T:
    """The call's result; a refusal no retry can fix is raised as a PermanentFailure naming
    the error class and the reason ("BadRequest.MessageTooLong"), never Telegram's text."""
    try:
        return await call()
    except ChatMigrated:
        raise PermanentFailure("ChatMigrated") from None
    except (BadRequest, Forbidden) as error:
        said = error.message.casefold()
        reason = next((name for words, name in _REFUSALS if words in said), None)
        kind = type(error).__name__
        raise PermanentFailure(f"{kind}.{reason}" if reason else kind) from None


def telegram_senders(bot: Bot, desk: TriageService, team_chat_id: int) -> dict[str, Sender]:
    prompts = desk.content.prompts

    # One attempt per send: the outbox worker owns retries, with backoff, across restarts.
    async def send(chat_id: int, text: str, **extra: object) -> str:
        escaped = html.escape(text, quote=False)
        message = await refused_for_good(
            lambda: bot.send_message(chat_id, escaped, parse_mode=ParseMode.HTML, **extra)  # type: ignore[arg-type]
        )
        return str(message.message_id)

    async def team_alert(item: OutboxItem) -> str | None:
        case = await asyncio.to_thread(desk.case, item.reference or "")
        card = card_html(case.concern, case.triage, desk.content)
        keyboard = card_keyboard(case.concern.reference, desk)
        message = await refused_for_good(
            lambda: bot.send_message(
                team_chat_id, card, parse_mode=ParseMode.HTML, reply_markup=keyboard
            )
        )
        return str(message.message_id)

    async def team_reminder(item: OutboxItem) -> str | None:
        case = await asyncio.to_thread(desk.case, item.reference or "")
        if case.triage.acknowledged_at is not None or case.concern.status == "closed":
            return None  # acknowledged in time: nothing to say
        band = desk.content.catalogue.risk.band_for(case.concern.score).label
        hours = item.payload.get("hours", "")
        text = prompts.team_say(
            "reminder", reference=case.concern.reference, band=band, hours=hours
        )
        return await send(team_chat_id, text)

    async def reporter_message(item: OutboxItem) -> str | None:
        extra = {"reply_markup": ForceReply()} if item.payload.get("relay") else {}
        return await send(_chat_of(str(item.payload["owner"])), str(item.payload["text"]), **extra)

    async def team_message(item: OutboxItem) -> str | None:
        return await send(team_chat_id, str(item.payload["text"]))

    return {
        "team_alert": team_alert,
        "team_reminder": team_reminder,
        "reporter_message": reporter_message,
        "team_message": team_message,
    }


def learner_senders(bot: Bot) -> dict[str, Sender]:
    """Messages to a learner that need no team channel: a draft's deletion warning."""

    async def draft_warning(item: OutboxItem) -> str | None:
        text = html.escape(str(item.payload["text"]), quote=False)
        chat = _chat_of(str(item.payload["owner"]))
        message = await refused_for_good(
            lambda: bot.send_message(chat, text, parse_mode=ParseMode.HTML)
        )
        return str(message.message_id)

    return {"draft_warning": draft_warning}


def remember_relays(uow: UnitOfWork, item: OutboxItem, external_id: str | None) -> None:
    """In the transaction that marks a question sent: a reply to it is an answer for the team."""
    if item.kind == "reporter_message" and item.payload.get("relay") and external_id:
        chat = chat_key(_chat_of(str(item.payload["owner"])))
        uow.relays.add(item.reference or "", "to_team", chat, external_id, item.created_at)


def email_sender(settings: EmailSettings, desk: TriageService) -> Mapping[str, Sender]:
    prompts = desk.content.prompts

    async def team_email(item: OutboxItem) -> str | None:
        case = await asyncio.to_thread(desk.case, item.reference or "")
        concern = case.concern
        fields = alert_fields(concern, desk.content)
        values = {f.key: f.value for f in fields}
        band = desk.content.catalogue.risk.band_for(concern.score).label
        subject = prompts.team_say(
            "email_subject", reference=concern.reference, band=band,
            organisation=values["organisation"],
        )  # fmt: skip
        subject = " ".join(subject.split())  # a header is one line, whatever the learner typed
        body = "\n".join(
            [prompts.team["email_intro"], ""] + [f"{f.label}: {f.value}" for f in fields]
        )
        document = await asyncio.to_thread(qca_docx, concern, desk.content)
        attachment = (f"{concern.reference}.docx", document, DOCX)
        message = build_message(subject, body, [attachment], settings.sender, settings.to)
        return await send_email(settings, message)

    async def team_notice_email(item: OutboxItem) -> str | None:
        subject = " ".join(str(item.payload["subject"]).split())
        message = build_message(subject, str(item.payload["text"]), [], settings.sender,
                                settings.to)  # fmt: skip
        return await send_email(settings, message)

    return {"team_email": team_email, "team_notice_email": team_notice_email}


def failure_notices(prompts: Prompts, kinds: Collection[str]) -> OnDead:
    """What to do when an item is given up: tell the team by another way, if there is one
    (`kinds` are the kinds the worker can send). A failed email is told in the team chat; a
    failed message in the team chat by email; a question the reporter never got in the team
    chat, where it was asked. The notice names the reference and why, nothing of the concern.
    A notice, a reminder or a status update that fails brings no notice (doctor lists them)."""
    by_email = "team_notice_email" in kinds
    in_chat = "team_message" in kinds

    def tell(uow: UnitOfWork, item: OutboxItem, now: datetime, permanent: bool) -> None:
        if item.kind == "reporter_message" and not item.payload.get("relay"):
            return  # a status update: the reporter still sees where it stands with /status
        if item.kind not in ("team_alert", "team_email", "team_message", "reporter_message"):
            return
        words = undelivered(prompts, item, permanent)
        reference = item.reference or ""
        chat_failed = item.kind in ("team_alert", "team_message")
        if in_chat and not chat_failed:
            notice = OutboxItem.new("team_message", {"text": words}, now, reference)
        elif by_email and item.kind != "team_email":
            what = prompts.team[f"what_{item.kind}"]
            subject = prompts.team_say("undelivered_subject", what=what, reference=reference)
            payload = {"subject": subject, "text": words}
            notice = OutboxItem.new("team_notice_email", payload, now, reference)
        else:
            return
        uow.outbox.add(notice)

    return tell


def undelivered(prompts: Prompts, item: OutboxItem, permanent: bool) -> str:
    """In words: what could not be delivered, about which reference, and why."""
    error = item.last_error or ""
    reason = error.rpartition(".")[2]
    if not permanent:
        why = prompts.team_say("why_gave_up", attempts=item.attempts, error=error)
    elif reason in _WHY:
        why = prompts.team[_WHY[reason]]
    elif item.kind.endswith("email"):
        why = prompts.team["why_mail_refused"]
    else:
        why = prompts.team["why_telegram_refused"]
    what = prompts.team[f"what_{item.kind}"]
    return prompts.team_say("undelivered", what=what, reference=item.reference or "", why=why)
