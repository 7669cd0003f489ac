"""Running the Telegram channel: long polling, or a webhook server behind HTTPS.

Polling confirms a batch to Telegram (the next getUpdates offset) only after every update
in it was handled, so a crash at any moment means redelivery, never loss; duplicates are
dropped by the service. A chat's updates are handled in order, different chats at once.
The webhook answers Telegram only after handling, and refuses requests without the secret.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from collections import defaultdict
from typing import Any
from urllib.parse import urlparse

import tornado.httpserver
import tornado.web
from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError
from telegram.ext import Application

from bot.channels.telegram import build_application, with_retries
from bot.channels.telegram_render import oversized_callbacks
from bot.service import TurnService
from bot.settings import Settings

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

AnyApp = Application[Any, Any, Any, Any, Any, Any]


class TelegramStartError(Exception):
    """The bot cannot start: a one-line reason for the person running it."""


async def handle_batch(app: AnyApp, updates: list[Update]) -> None:
    """Each chat's updates in order; different chats concurrently."""
    by_chat: defaultdict[int, list[Update]] = defaultdict(list)
    for update in updates:
        chat = update.effective_chat
        by_chat[chat.id if chat else -update.update_id].append(update)

    async def in_order(chat_updates: list[Update]) -> None:
        for update in chat_updates:
            await app.process_update(update)

    await asyncio.gather(*(in_order(u) for u in by_chat.values()))


async def poll(app: AnyApp, stop: asyncio.Event, timeout: int) -> None:
    offset: int | None = None
    delay = 1.0
    while not stop.is_set():
        try:
            updates = await app.bot.get_updates(
                offset=offset,
                timeout=timeout,
                read_timeout=timeout + 10,
                allowed_updates=Update.ALL_TYPES,
            )
            delay = 1.0
        except (NetworkError, Conflict) as error:
            log.warning("getUpdates failed (%s); retrying in %.0f s", type(error).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30)
            continue
        if updates:
            await handle_batch(app, list(updates))
            offset = updates[-1].update_id + 1
    if offset is not None:  # confirm the last batch, so a clean stop redelivers nothing
        try:
            await app.bot.get_updates(offset=offset, timeout=0)
        except TelegramError:
            log.warning("could not confirm the last updates; they will be delivered again")


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
            update = Update.de_json(json.loads(self.request.body), self.app.bot)
        except (ValueError, TypeError, KeyError):
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
    web = tornado.web.Application([(path, WebhookHandler, {"app": app, "secret": secret})])
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


async def run(settings: Settings, service: TurnService) -> None:
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
            settings.telegram_token.get_secret_value(), settings.telegram_api_url, service
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
        log.info("telegram bot @%s running", app.bot.username)
        if settings.telegram_webhook_url:
            await serve_webhook(app, settings, stop)
        else:
            await with_retries(lambda: app.bot.delete_webhook())
            await poll(app, stop, settings.telegram_poll_timeout)
    finally:
        await app.shutdown()
