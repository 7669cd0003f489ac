"""Email: URL settings, message building, and real exchanges with an SMTP server."""

from __future__ import annotations

import socket
import time
from email.message import EmailMessage

import pytest

from bot.notifiers.email import EmailError, EmailSettings, build_message, send_email
from notifiers.smtp_server import PASSWORD, USER, SmtpServer, free_port

# The AUTH test server offers AUTH over plain on purpose; aiosmtpd warns about exactly that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SENDER = "concernbot@bot.example"
TEAM = "quality.team@nhs.example"
DOCUMENT = b"PK\x03\x04" + bytes(range(256)) * 40  # not a real DOCX; the bytes must survive


def an_alert() -> EmailMessage:
    return build_message(
        subject="Quality concern QC-0001 · high (12)",
        body="Reference: QC-0001\nBand: high — «act now» 🚑\n",
        attachments=[("QC-0001 alert.docx", DOCUMENT, DOCX)],
        sender=SENDER,
        to=TEAM,
    )


def settings_for(server: SmtpServer, credentials: str = "") -> EmailSettings:
    return EmailSettings.from_url(
        f"smtp://{credentials}{server.host}:{server.port}", SENDER, TEAM, timeout=5
    )


# URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "security", "port"),
    [
        ("smtp://relay.example", "plain", 25),
        ("smtp+starttls://relay.example", "starttls", 587),
        ("smtps://relay.example", "tls", 465),
        ("SMTPS://relay.example:2465", "tls", 2465),
    ],
)
def test_the_scheme_chooses_the_security_and_default_port(
    url: str, security: str, port: int
) -> None:
    settings = EmailSettings.from_url(url, SENDER, TEAM)
    assert (settings.host, settings.port, settings.security) == ("relay.example", port, security)
    assert (settings.username, settings.password) == (None, None)


def test_user_and_password_are_percent_decoded_and_kept_out_of_repr() -> None:
    settings = EmailSettings.from_url(
        "smtp+starttls://quality%40team.example:p%40ss%3Aw%2Frd%25@smtp.example:2525",
        SENDER,
        "a@x.example, b@x.example",
    )
    assert (settings.username, settings.password) == (USER, PASSWORD)
    assert settings.to == ("a@x.example", "b@x.example")
    assert settings.port == 2525
    assert "p@ss" not in repr(settings) and "w%2Frd" not in repr(settings)


@pytest.mark.parametrize(
    "url", ["http://relay.example", "smtp://", "smtp://relay.example:port", "relay.example"]
)
def test_what_is_not_an_smtp_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        EmailSettings.from_url(url, SENDER, TEAM)


def test_a_sender_and_a_recipient_are_required() -> None:
    with pytest.raises(ValueError):
        EmailSettings.from_url("smtp://relay.example", SENDER, " , ")
    with pytest.raises(ValueError):
        EmailSettings.from_url("smtp://relay.example", " ", TEAM)


# Messages -------------------------------------------------------------------------------


def test_a_built_message_has_its_headers_body_and_attachment() -> None:
    message = an_alert()
    assert message["Subject"] == "Quality concern QC-0001 · high (12)"
    assert (message["From"], message["To"]) == (SENDER, TEAM)
    assert message["Message-ID"].endswith("@bot.example>")
    assert message["Date"]
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == "QC-0001 alert.docx"


def test_a_header_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError):
        build_message("Alert\nBcc: someone@else.example", "body", [], SENDER, TEAM)


# Real exchanges -------------------------------------------------------------------------


async def test_an_email_with_a_document_arrives_intact(smtp_server: SmtpServer) -> None:
    message = an_alert()

    message_id = await send_email(settings_for(smtp_server), message)

    (received,) = smtp_server.received
    assert (received.mail_from, received.rcpt_tos) == (SENDER, (TEAM,))
    got = received.message
    assert got["Subject"] == "Quality concern QC-0001 · high (12)"
    assert got["Message-ID"] == message_id == message["Message-ID"]
    body = got.get_body(("plain",))
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")  # lines travel with CRLF endings
    assert text == "Reference: QC-0001\nBand: high — «act now» 🚑\n"
    (attachment,) = got.iter_attachments()
    assert isinstance(attachment, EmailMessage)
    assert attachment.get_filename() == "QC-0001 alert.docx"
    assert attachment.get_content_type() == DOCX
    assert attachment.get_content() == DOCUMENT


async def test_the_right_password_is_let_in(smtp_auth_server: SmtpServer) -> None:
    credentials = "quality%40team.example:p%40ss%3Aw%2Frd%25@"

    await send_email(settings_for(smtp_auth_server, credentials), an_alert())

    assert len(smtp_auth_server.received) == 1


@pytest.mark.parametrize(
    ("credentials", "error"),
    [
        ("quality%40team.example:wrong@", "SMTPAuthenticationError"),
        ("", "SMTPSenderRefused"),  # no AUTH at all: the server refuses MAIL FROM
    ],
)
async def test_a_wrong_or_missing_password_is_an_email_error(
    smtp_auth_server: SmtpServer, credentials: str, error: str
) -> None:
    with pytest.raises(EmailError) as raised:
        await send_email(settings_for(smtp_auth_server, credentials), an_alert())

    assert raised.value.error_name == error
    assert str(raised.value) == error  # the name only: no server reply, no address
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert smtp_auth_server.received == []


async def test_a_server_that_is_down_is_an_email_error() -> None:
    settings = EmailSettings.from_url(f"smtp://127.0.0.1:{free_port()}", SENDER, TEAM)

    with pytest.raises(EmailError) as raised:
        await send_email(settings, an_alert())

    assert raised.value.error_name == "ConnectionRefusedError"


async def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections complete in the backlog; no greeting ever comes
        port = silent.getsockname()[1]
        settings = EmailSettings.from_url(f"smtp://127.0.0.1:{port}", SENDER, TEAM, timeout=0.3)

        started = time.monotonic()
        with pytest.raises(EmailError) as raised:
            await send_email(settings, an_alert())

    # smtplib reports a read that timed out as the server having gone away.
    assert raised.value.error_name == "SMTPServerDisconnected"
    assert time.monotonic() - started < 5
