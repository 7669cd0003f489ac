"""Email to the Quality team: settings from an SMTP URL, building a message, sending it.

`CONCERNBOT_SMTP_URL` takes one of three forms; user and password are optional and
percent-decoded, so "p%40ss" is the password "p@ss":

    smtp://user:pass@host:25              plain (no encryption; for a local relay)
    smtp+starttls://user:pass@host:587    plain, then upgraded with STARTTLS
    smtps://user:pass@host:465            TLS from the first byte

Sending runs smtplib in a worker thread with a timeout. A failure raises `EmailError`,
which carries only the class name of what went wrong: server replies and messages can
quote addresses or the email itself, and they must not reach logs or the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

Security = Literal["plain", "starttls", "tls"]
_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
DEFAULT_TIMEOUT = 30.0


class EmailError(Exception):
    """Sending failed; `error_name` is the class name of the cause, and nothing else.

    `permanent` when the server refused the mail itself for good (a 5xx reply to the sender,
    every recipient or the message): sending it again would be refused again. A refused login
    is not: it is fixed in the settings, and the mail should then go.
    """

    def __init__(self, error_name: str, permanent: bool = False) -> None:
        super().__init__(error_name)
        self.error_name = error_name
        self.permanent = permanent


@dataclass(frozen=True)
class EmailSettings:
    """Where and how to send, and who the mail is from and to."""

    host: str
    port: int
    security: Security
    sender: str
    to: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_url(
        cls, url: str, sender: str, to: str | Sequence[str], timeout: float = DEFAULT_TIMEOUT
    ) -> EmailSettings:
        """Settings from an SMTP URL (see the module docstring); ValueError if it is not one.

        `to` is one address, several separated by commas, or a list of them.
        """
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise ValueError("the SMTP URL must start smtp://, smtp+starttls:// or smtps://")
        security, default_port = _SCHEMES[scheme]
        if not parts.hostname:
            raise ValueError("the SMTP URL names no host")
        try:
            port = parts.port or default_port
        except ValueError:
            raise ValueError("the SMTP URL has a port that is not a number") from None
        recipients = _addresses(to)
        if not recipients:
            raise ValueError("no recipient address")
        if not sender.strip():
            raise ValueError("no sender address")
        return cls(
            host=parts.hostname,
            port=port,
            security=security,
            sender=sender.strip(),
            to=recipients,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            timeout=timeout,
        )


def _addresses(to: str | Sequence[str]) -> tuple[str, ...]:
    given = to.split(",") if isinstance(to, str) else to
    return tuple(address.strip() for address in given if address.strip())


def build_message(
    subject: str,
    body: str,
    attachments: Sequence[tuple[str, bytes, str]],
    sender: str,
    to: str | Sequence[str],
) -> EmailMessage:
    """A plain-text email with files attached, each given as (filename, bytes, MIME type).

    Header values with line breaks are refused (ValueError) by the email module itself.
    """
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(_addresses(to))
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=_domain(sender))
    message.set_content(body)
    for filename, data, mime_type in attachments:
        maintype, _, subtype = mime_type.partition("/")
        if not maintype or not subtype:
            raise ValueError(f"not a MIME type: {mime_type}")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def _domain(address: str) -> str | None:
    """The domain of "name@host" or "Name <name@host>", for the Message-ID."""
    _, at, domain = address.rpartition("@")
    return (domain.strip("> ") or None) if at else None


async def send_email(settings: EmailSettings, message: EmailMessage) -> str:
    """Send the message to `settings.to` and return its Message-ID; EmailError on failure."""
    if message["Message-ID"] is None:
        message["Message-ID"] = make_msgid(domain=_domain(settings.sender))
    try:
        await asyncio.to_thread(_send, settings, message)
    except (smtplib.SMTPException, OSError, ValueError) as error:
        # `from None`: the cause's text may quote addresses or the mail itself.
        raise EmailError(type(error).__name__, refused_for_good(error)) from None
    return str(message["Message-ID"])


def refused_for_good(error: BaseException) -> bool:
    """A permanent (5xx) refusal of the sender, all the recipients or the message."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return False
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600
    return False


def _send(settings: EmailSettings, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.security == "tls":
        client = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        if settings.security == "starttls":
            client.starttls(context=context)
        if settings.username is not None:
            client.login(settings.username, settings.password or "")
        refused = client.send_message(message, from_addr=settings.sender, to_addrs=settings.to)
    if refused:
        # Some recipients took it; failing now would send it to them again on retry.
        log.warning("email sent but %d recipient(s) refused", len(refused))
