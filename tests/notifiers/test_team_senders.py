"""The senders against the Bot API test server and a real SMTP server: the biggest card goes,
long relays go in parts (each once), and a refusal no retry can fix fails at once and is told."""

from __future__ import annotations

import smtplib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from botapi import BotApiServer
from reports.worst_case import worst_concern, worst_text
from telegram import Bot

from bot.notifiers.email import EmailError, EmailSettings, build_message, send_email
from bot.notifiers.senders import (
    email_sender,
    failure_notices,
    remember_relays,
    telegram_senders,
)
from bot.outbox import OutboxWorker, PermanentFailure
from bot.triage import RELAY_LIMIT, Team, TriageService
from dialogues.bundle import load_content
from notifiers.smtp_server import Collector, SmtpServer, free_port
from storage.memory import MemoryStorage
from storage.repositories import OutboxItem

CONTENT = load_content()
TEAM_CHAT, MEMBER, REPORTER = -100777, 11, 4242999
NOW = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
REFERENCE = "QC-WWWW-WWWW"


@pytest.fixture
def server() -> Iterator[BotApiServer]:
    with BotApiServer() as running:
        yield running


@pytest.fixture
async def bot(server: BotApiServer) -> AsyncIterator[Bot]:
    async with Bot(server.token, base_url=server.base_url) as opened:
        yield opened


def desk(chat_id: int = TEAM_CHAT, **changes: Any) -> TriageService:
    storage = MemoryStorage()
    with storage.unit_of_work() as uow:
        uow.concerns.add(worst_concern(CONTENT, owner=f"telegram:user:{REPORTER}", **changes))
    team = Team(chat_id=chat_id, members=frozenset({MEMBER}), email=True)
    return TriageService(storage, CONTENT, team, lambda: NOW)


def worker(service: TriageService, bot: Bot, smtp: SmtpServer | None = None) -> OutboxWorker:
    senders = dict(telegram_senders(bot, service, service.team.chat_id or 0))
    if smtp is not None:
        settings = EmailSettings.from_url(
            f"smtp://{smtp.host}:{smtp.port}", "bot@example.nhs.uk", "quality@example.nhs.uk"
        )
        senders.update(email_sender(settings, service))
    return OutboxWorker(
        service.storage, senders, max_attempts=20, random_fraction=lambda: 0.0,
        on_sent=remember_relays, on_dead=failure_notices(CONTENT.prompts, senders),
    )  # fmt: skip


def items(service: TriageService, kind: str | None = None) -> list[OutboxItem]:
    with service.storage.unit_of_work() as uow:
        found = uow.outbox.for_reference(REFERENCE)
    return [i for i in found if kind is None or i.kind == kind]


async def test_the_card_of_the_biggest_concern_reaches_the_team_chat(
    server: BotApiServer, bot: Bot
) -> None:
    team = server.group_chat(TEAM_CHAT, "Quality team")
    service = desk()
    with service.storage.unit_of_work() as uow:
        uow.outbox.add(OutboxItem.new("team_alert", {}, NOW, REFERENCE))
    assert await worker(service, bot).drain_once(NOW) == 1
    [card] = team.messages()
    assert card.text.startswith(f"Quality Concerns Alert {REFERENCE}")
    assert "✅ Acknowledge" in card.labels
    assert len(card.text.encode("utf-16-le")) // 2 <= 4096
    assert [i.status for i in items(service)] == ["sent"]


async def test_a_long_question_and_answer_go_in_parts_each_once(
    server: BotApiServer, bot: Bot
) -> None:
    team = server.group_chat(TEAM_CHAT, "Quality team")
    reporter = server.private_chat(user_id=REPORTER, first_name="Rae")
    service = desk()
    question = worst_text(4096)  # the longest message a member can send
    service.ask(MEMBER, REFERENCE, question)
    service.answer(f"telegram:user:{REPORTER}", REFERENCE, worst_text(4096, "Weekends & 💥 "))
    # The first part's first try fails on the way: it goes again, alone, and after the rest
    # (each part says which it is).
    server.faults.fail_next("sendMessage", status=500, count=1)
    outbox = worker(service, bot)
    await outbox.drain_once(NOW)
    await outbox.drain_once(NOW.replace(hour=10))
    sent = items(service)
    assert len(sent) >= 4 and all(i.status == "sent" for i in sent)
    assert all(len(str(i.payload["text"])) <= RELAY_LIMIT for i in sent)

    received = [m.text for m in reporter.messages()]
    assert len(received) == len(items(service, "reporter_message"))  # each part exactly once
    assert all("(part" in text and REFERENCE in text for text in received)
    in_order = sorted(received, key=lambda t: t.split("(part ")[1])
    joined = "".join(t.split(":\n\n", 1)[1].split("\n(part")[0] for t in in_order)
    assert joined.replace(" ", "").replace("\n", "") == question.replace(" ", "").replace("\n", "")
    answers = [m.text for m in team.messages()]
    assert len(answers) == len(items(service, "team_message")) >= 2
    # A reply to any part of the question is an answer for the team.
    with service.storage.unit_of_work() as uow:
        for message in reporter.messages():
            assert uow.relays.find(f"telegram:{REPORTER}", str(message.message_id)) is not None


async def test_an_alert_telegram_refuses_for_good_fails_at_once_and_the_team_is_emailed(
    server: BotApiServer, bot: Bot, smtp_server: SmtpServer
) -> None:
    service = desk(chat_id=-100404)  # a chat the bot is not in: "chat not found"
    with service.storage.unit_of_work() as uow:
        uow.outbox.add(OutboxItem.new("team_alert", {}, NOW, REFERENCE))
    outbox = worker(service, bot, smtp_server)
    await outbox.drain_once(NOW)
    [alert] = items(service, "team_alert")
    assert (alert.status, alert.attempts, alert.last_error) == (
        "dead", 1, "BadRequest.ChatNotFound",
    )  # fmt: skip
    assert len(server.requests("sendMessage")) == 1  # not tried again
    await outbox.drain_once(NOW)
    [notice] = smtp_server.received
    assert REFERENCE in notice.message["Subject"]
    body = notice.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "The alert card for the team chat about QC-WWWW-WWWW could not be delivered" in body
    assert "Telegram does not know the chat" in body
    assert "Night" not in body  # nothing of the concern itself
    assert [i.status for i in items(service, "team_notice_email")] == ["sent"]


async def test_a_question_to_a_reporter_who_blocked_the_bot_is_told_in_the_team_chat(
    server: BotApiServer, bot: Bot
) -> None:
    team = server.group_chat(TEAM_CHAT, "Quality team")
    server.private_chat(user_id=REPORTER).block_bot()
    service = desk()
    service.ask(MEMBER, REFERENCE, "Which nights?")
    service.set_status(MEMBER, REFERENCE, "under_review")  # a status update: no notice
    outbox = worker(service, bot)
    await outbox.drain_once(NOW)
    await outbox.drain_once(NOW)
    failed = items(service, "reporter_message")
    assert [(i.status, i.last_error) for i in failed] == [("dead", "Forbidden.BotBlocked")] * 2
    [notice] = [m.text for m in team.messages()]
    assert notice.startswith("⚠️ A question for the reporter about QC-WWWW-WWWW")
    assert "the person has blocked the bot" in notice


async def test_a_mail_the_server_refuses_for_good_fails_at_once_and_is_told_in_the_chat(
    server: BotApiServer, bot: Bot, refusing: SmtpServer
) -> None:
    team = server.group_chat(TEAM_CHAT, "Quality team")
    service = desk()
    with service.storage.unit_of_work() as uow:
        uow.outbox.add(OutboxItem.new("team_email", {}, NOW, REFERENCE))
    outbox = worker(service, bot, refusing)
    await outbox.drain_once(NOW)
    await outbox.drain_once(NOW)
    [email] = items(service, "team_email")
    assert (email.status, email.attempts, email.last_error) == (
        "dead", 1, "SMTPRecipientsRefused",
    )  # fmt: skip
    [notice] = [m.text for m in team.messages()]
    assert "The alert email about QC-WWWW-WWWW could not be delivered" in notice
    assert "the mail server refused it" in notice


class RefuseRecipients(Collector):
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: Any) -> str:  # fmt: skip
        return "550 5.1.1 No such mailbox"


@pytest.fixture
def refusing() -> Iterator[SmtpServer]:
    """A real SMTP server that refuses every recipient for good (550)."""
    handler = RefuseRecipients()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, handler)
    finally:
        controller.stop()


async def test_refusals_are_permanent_only_when_a_retry_cannot_help(
    smtp_server: SmtpServer,
) -> None:
    assert PermanentFailure("BadRequest").permanent
    settings = EmailSettings.from_url("smtp://127.0.0.1:1", "bot@example.nhs.uk", "q@example")
    message = build_message("s", "b", [], settings.sender, settings.to)
    with pytest.raises(EmailError) as refused_connection:
        await send_email(settings, message)  # nobody listening: try again later
    assert not refused_connection.value.permanent
    from bot.notifiers.email import refused_for_good

    assert refused_for_good(smtplib.SMTPDataError(552, b"too big"))
    assert refused_for_good(smtplib.SMTPRecipientsRefused({"a@b": (550, b"no")}))
    assert not refused_for_good(smtplib.SMTPRecipientsRefused({"a@b": (450, b"busy")}))
    assert not refused_for_good(smtplib.SMTPAuthenticationError(535, b"bad login"))
    assert not refused_for_good(smtplib.SMTPDataError(451, b"later"))
