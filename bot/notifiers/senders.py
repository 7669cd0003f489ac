"""What each kind of outbox item does when the worker sends it.

team_alert: the alert card in the team chat. team_email: the alert by email with the QCA
document attached. team_reminder: a nudge in the team chat if the alert is still not
acknowledged (nothing otherwise). reporter_message: a message to the reporter's own chat;
a question is sent as a reply prompt and remembered, so the answer finds its way back.
team_message: a message in the team chat (the reporter's answer, by reference only).
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Mapping

from telegram import Bot, ForceReply
from telegram.constants import ParseMode

from bot.channels.team import card_html, card_keyboard
from bot.channels.telegram import chat_key
from bot.notifiers.email import EmailSettings, build_message, send_email
from bot.outbox import Sender
from bot.reports.qca import qca_docx
from bot.triage import TELEGRAM_OWNER, TriageService
from dialogues.alert import alert_fields
from storage.repositories import OutboxItem, UnitOfWork

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _chat_of(owner: str) -> int:
    return int(owner.removeprefix(TELEGRAM_OWNER))


def telegram_senders(bot: Bot, desk: TriageService, team_chat_id: int) -> dict[str, Sender]:
    prompts = desk.content.prompts

    # One attempt per send: the outbox worker owns retries, with backoff, across restarts.
    async def send(chat_id: int, text: str, **extra: object) -> str:
        escaped = html.escape(text, quote=False)
        message = await bot.send_message(chat_id, escaped, parse_mode=ParseMode.HTML, **extra)  # type: ignore[arg-type]
        return str(message.message_id)

    async def team_alert(item: OutboxItem) -> str | None:
        case = await asyncio.to_thread(desk.case, item.reference or "")
        card = card_html(case.concern, case.triage, desk)
        keyboard = card_keyboard(case.concern.reference, desk)
        message = await bot.send_message(
            team_chat_id, card, parse_mode=ParseMode.HTML, reply_markup=keyboard
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

    return {"team_email": team_email}
