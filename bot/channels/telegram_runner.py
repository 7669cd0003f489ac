"""Running the Telegram channel: long polling, or a webhook server behind HTTPS.

Polling confirms a batch to Telegram (the next getUpdates offset) only after every update
in it was handled, so a crash at any moment means redelivery, never loss; duplicates are
dropped by the service. A chat's updates are handled in order, different chats at once.
The webhook answers Telegram only after handling, and refuses requests without the secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import signal
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import tornado.httpserver
import tornado.web
from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from bot.channels.team import TeamDesk
from bot.channels.telegram import build_application, with_retries
from bot.channels.telegram_render import oversized_callbacks
from bot.notifiers.email import EmailSettings
from bot.notifiers.senders import email_sender, failure_notices, remember_relays, telegram_senders
from bot.outbox import Backoff, OutboxWorker, Sender
from bot.service import TurnService
from bot.settings import Settings
from bot.triage import TriageService
from storage.repositories import Storage

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

AnyApp = Application[Any, Any, Any, Any, Any, Any]


class TelegramStartError(Exception):
    """The bot cannot start: a one-line reason for the person running it."""


class Poller:
    """Long polling that never confirms an update before it is handled.

    Each update runs as its own task, chained behind the previous one of the same chat, so a
    chat's updates keep their order while a slow chat holds up no other. The offset sent to
    Telegram stops at the oldest update still in flight: after a crash that one, and any
    after it, come again, and the service drops those it already handled.
    """

    def __init__(self, app: AnyApp, timeout: int) -> None:
        self.app = app
        self.timeout = timeout
        self.offset: int | None = None
        self.in_flight: dict[int, asyncio.Task[None]] = {}
        self.known: set[int] = set()  # fetched ids at or past the offset
        self.chat_tails: dict[int, asyncio.Task[None]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        stopping = asyncio.create_task(stop.wait())
        delay = 1.0
        while not stop.is_set():
            fetch = asyncio.create_task(self._fetch())
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():  # stopping: do not wait out the long poll
                fetch.cancel()
                break
            try:
                updates = fetch.result()
                delay = 1.0
            except RetryAfter as error:
                await asyncio.sleep(_seconds(error.retry_after))
                continue
            except InvalidToken as error:
                raise TelegramStartError("Telegram no longer accepts the token") from error
            except (NetworkError, Conflict) as error:
                log.warning(
                    "getUpdates failed (%s); retrying in %.0f s", type(error).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
                continue
            fresh = [u for u in updates if u.update_id not in self.known]
            for update in fresh:
                self._start(update)
            self._advance()
            if not fresh and self.in_flight:
                # Telegram hands back what is in flight at once: wait for some of it to finish.
                await asyncio.wait(
                    self.in_flight.values(), timeout=1, return_when=asyncio.FIRST_COMPLETED
                )
        stopping.cancel()
        if self.in_flight:
            await asyncio.wait(self.in_flight.values(), timeout=20)
        self._advance()
        if self.offset is not None:  # confirm what was handled, so a clean stop redelivers nothing
            try:
                await self.app.bot.get_updates(offset=self.offset, timeout=0)
            except TelegramError:
                log.warning("could not confirm the last updates; they will be delivered again")

    async def _fetch(self) -> tuple[Update, ...]:
        updates: tuple[Update, ...] = await self.app.bot.get_updates(
            offset=self.offset,
            timeout=self.timeout,
            read_timeout=self.timeout + 10,
            allowed_updates=Update.ALL_TYPES,
        )
        return updates

    def _start(self, update: Update) -> None:
        self.known.add(update.update_id)
        chat = update.effective_chat
        key = chat.id if chat else -update.update_id
        before = self.chat_tails.get(key)

        async def handle() -> None:
            if before is not None:
                await asyncio.wait({before})  # the chat's previous update first, however it ended
            await self.app.process_update(update)

        task = asyncio.create_task(handle())
        self.in_flight[update.update_id] = task
        self.chat_tails[key] = task
        task.add_done_callback(lambda _: self._done(update.update_id, key, task))

    def _done(self, update_id: int, key: int, task: asyncio.Task[None]) -> None:
        self.in_flight.pop(update_id, None)
        if self.chat_tails.get(key) is task:
            del self.chat_tails[key]

    def _advance(self) -> None:
        if self.in_flight:
            self.offset = min(self.in_flight)
        elif self.known:
            self.offset = max(self.known) + 1
        if self.offset is not None:
            self.known = {i for i in self.known if i >= self.offset}


def _seconds(wait: float | timedelta) -> float:
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


class WebhookHandler(tornado.web.RequestHandler):
    def initialize(self, app: AnyApp, secret: str) -> None:
        self.app = app
        self.secret = secret

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("webhook request without the right secret refused")
            self.set_status(403)
            return
        try:
            data = json.loads(self.request.body)
            update = Update.de_json(data, self.app.bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError):
            update = None
        if update is None:
            self.set_status(400)
            return
        await self.app.process_update(update)
        self.set_status(200)


async def serve_webhook(app: AnyApp, settings: Settings, stop: asyncio.Event) -> None:
    url = settings.telegram_webhook_url or ""
    if settings.telegram_webhook_secret is None:
        raise TelegramStartError("webhook mode needs CONCERNBOT_TELEGRAM_WEBHOOK_SECRET")
    secret = settings.telegram_webhook_secret.get_secret_value()
    path = urlparse(url).path or "/"
    route = re.escape(path)  # tornado reads the path as a pattern
    web = tornado.web.Application([(route, WebhookHandler, {"app": app, "secret": secret})])
    server = tornado.httpserver.HTTPServer(web)
    server.listen(settings.telegram_port, settings.telegram_listen)
    try:
        await with_retries(
            lambda: app.bot.set_webhook(
                url=url, secret_token=secret, allowed_updates=Update.ALL_TYPES
            )
        )
        log.info(
            "webhook listening on %s:%d%s", settings.telegram_listen, settings.telegram_port, path
        )
        await stop.wait()
    finally:
        server.stop()


def _worker(app: AnyApp, settings: Settings, triage: TriageService) -> OutboxWorker | None:
    """The outbox worker with a sender for each way the team is reached."""
    senders: dict[str, Sender] = {}
    if settings.team_chat_id is not None:
        senders.update(telegram_senders(app.bot, triage, settings.team_chat_id))
    if settings.smtp_url is not None and settings.team_email:
        email = EmailSettings.from_url(
            settings.smtp_url.get_secret_value(), settings.email_from, settings.team_email
        )
        senders.update(email_sender(email, triage))
    if not senders:
        return None
    return OutboxWorker(
        triage.storage,
        senders,
        on_sent=remember_relays,
        on_dead=failure_notices(triage.content.prompts, senders),
        send_timeout=settings.outbox_send_timeout,
        lease=timedelta(seconds=settings.outbox_send_timeout * 3),
        backoff=Backoff(first=timedelta(seconds=settings.outbox_retry_seconds)),
    )


# Telegram redelivers an unconfirmed update for at most a day; a week is ample.
REMEMBER_UPDATES = timedelta(days=7)
TIDY_EVERY = 6 * 3600.0


def _forget(storage: Storage, cutoff: datetime) -> int:
    with storage.unit_of_work() as uow:
        return uow.inbound.forget_before(cutoff)


async def forget_old_updates(storage: Storage, stop: asyncio.Event) -> None:
    """Keep the table of seen update ids from growing without end."""
    while not stop.is_set():
        cutoff = datetime.now(UTC) - REMEMBER_UPDATES
        log.info("forgot %d old update ids", await asyncio.to_thread(_forget, storage, cutoff))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), TIDY_EVERY)


async def run(settings: Settings, service: TurnService, triage: TriageService) -> None:
    too_long = oversized_callbacks(service.dialogue)
    if too_long:
        raise TelegramStartError(
            f"content keys too long for Telegram buttons: {', '.join(too_long)}"
        )
    if settings.telegram_token is None or not settings.telegram_token.get_secret_value():
        raise TelegramStartError(
            "set CONCERNBOT_TELEGRAM_TOKEN to the token BotFather gave you (see the README)"
        )
    try:
        app, channel = build_application(
            settings.telegram_token.get_secret_value(),
            settings.telegram_api_url,
            service,
            settings.telegram_request_timeout,
        )
        await app.initialize()
    except InvalidToken as error:
        raise TelegramStartError(
            "Telegram rejected the token in CONCERNBOT_TELEGRAM_TOKEN"
        ) from error
    except NetworkError as error:
        raise TelegramStartError(
            f"cannot reach the Bot API at {settings.telegram_api_url} ({type(error).__name__})"
        ) from error
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await channel.commands_menu(app)
        if settings.team_chat_id is not None:
            TeamDesk(triage, settings.team_chat_id).install(app)
        worker = _worker(app, settings, triage)
        draining = asyncio.create_task(worker.run(stop)) if worker else None
        tidying = asyncio.create_task(forget_old_updates(service.storage, stop))
        log.info("telegram bot @%s running", app.bot.username)
        if settings.telegram_webhook_url:
            await serve_webhook(app, settings, stop)
        else:
            await with_retries(lambda: app.bot.delete_webhook())
            await Poller(app, settings.telegram_poll_timeout).run(stop)
        if draining is not None:
            await draining
        await tidying
    finally:
        await app.shutdown()
