"""The webhook server: Telegram posts each update to us (through an HTTPS proxy).

Apart from the runner, and imported only when a webhook URL is set. It saves no start-up
time today: python-telegram-bot's `telegram.ext` imports tornado itself (for its own
webhook updater) whenever tornado is installed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from datetime import UTC, datetime
from urllib.parse import urlparse

import tornado.httpserver
import tornado.web
from telegram import Update

from bot.channels.telegram import AnyApp, kept, with_retries
from bot.channels.telegram_runner import SECRET_HEADER, TelegramStartError
from bot.inbox import InboxDrain, Outage, keep_all
from bot.settings import Settings
from storage.repositories import Storage, StorageUnavailable

log = logging.getLogger(__name__)


class WebhookHandler(tornado.web.RequestHandler):
    """Keeps each update in the inbox and answers 200 at once; 503 if the database is away,
    so that Telegram delivers it again later."""

    def initialize(
        self, app: AnyApp, secret: str, storage: Storage, drain: InboxDrain, outage: Outage
    ) -> None:
        self.app = app
        self.secret = secret
        self.storage = storage
        self.drain = drain
        self.outage = outage

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
        item = kept(data, datetime.now(UTC))
        try:
            chats = await asyncio.to_thread(keep_all, self.storage, [item])
        except StorageUnavailable as error:
            self.outage.failed(error)
            self.set_status(503)
            return
        self.outage.ok()
        self.drain.wake(chats)
        self.set_status(200)


async def serve_webhook(
    app: AnyApp,
    settings: Settings,
    stop: asyncio.Event,
    storage: Storage,
    drain: InboxDrain,
    outage: Outage,
) -> None:
    url = settings.telegram_webhook_url or ""
    if settings.telegram_webhook_secret is None:
        raise TelegramStartError("webhook mode needs CONCERNBOT_TELEGRAM_WEBHOOK_SECRET")
    secret = settings.telegram_webhook_secret.get_secret_value()
    path = urlparse(url).path or "/"
    route = re.escape(path)  # tornado reads the path as a pattern
    given = {"app": app, "secret": secret, "storage": storage, "drain": drain, "outage": outage}
    web = tornado.web.Application([(route, WebhookHandler, given)])
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
