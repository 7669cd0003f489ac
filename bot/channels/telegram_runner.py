"""Running the Telegram channel: long polling, or a webhook server behind HTTPS.

Either way an update is kept in the database's inbox before Telegram is told we have it:
polling confirms a batch (the next getUpdates offset) once the whole batch is kept, in one
transaction; the webhook answers 200 once the update is kept, and 503 if the database is
away, so Telegram delivers it again. Handling is apart (`bot.inbox`): each chat in order,
chats side by side, so one chat's backlog holds up no other. A crash at any moment loses
nothing: what was not kept is delivered again, what was kept is handled on the next start,
and the service drops an update it already handled. The webhook refuses requests without
the secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBUserWarning

from bot.channels.limiter import PriorityRateLimiter, in_background
from bot.channels.team import TeamDesk
from bot.channels.telegram import (
    AnyApp,
    TelegramChannel,
    build_application,
    kept,
    with_retries,
)
from bot.channels.telegram_render import oversized_callbacks
from bot.inbox import InboxDrain, Outage, keep_all, patiently
from bot.keeping import Keeping
from bot.notifiers.email import EmailSettings
from bot.notifiers.senders import (
    email_sender,
    failure_notices,
    learner_senders,
    remember_relays,
    telegram_senders,
)
from bot.outbox import Backoff, OutboxWorker, Sender
from bot.service import TurnService
from bot.settings import Settings
from bot.triage import WAITING, TriageService, hand_on, waiting_alerts
from storage.database import SqlStorage
from storage.repositories import InboxItem, Storage, StorageUnavailable

log = logging.getLogger(__name__)
# PTB would rather we called get_updates, which reads each update into objects (slow for a
# batch of 100) that the inbox would only turn back into JSON: we ask for the JSON itself.
warnings.filterwarnings("ignore", "Please use 'Bot.getUpdates'", PTBUserWarning)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramStartError(Exception):
    """The bot cannot start: a one-line reason for the person running it."""


SAY_CONFLICT_AGAIN = 600.0  # seconds before a refusal by Telegram is said again


class Poller:
    """Long polling that keeps each batch in the inbox before confirming it to Telegram.

    A batch is written to the inbox in one transaction; only then does the next getUpdates
    carry the offset past it, which is what confirms it. Handling happens apart, in the
    drain, so one chat's backlog never holds the offset, or any other chat, back. If the
    database is away the batch is not confirmed: Telegram keeps it and hands it over again.
    """

    def __init__(
        self, app: AnyApp, timeout: int, storage: Storage, drain: InboxDrain, outage: Outage
    ) -> None:
        self.app = app
        self.timeout = timeout
        self.storage = storage
        self.drain = drain
        self.outage = outage
        self.offset: int | None = None
        self.pause = 0.0  # before asking again for a batch the database did not take
        self.conflict_said: float | None = None  # when a 409 (another taker) was last said

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
                if isinstance(error, Conflict):
                    self._conflict(error)
                else:
                    log.warning(
                        "getUpdates failed (%s); retrying in %.0f s", type(error).__name__, delay
                    )
                with contextlib.suppress(TimeoutError):  # a stop ends the wait
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 30)
                continue
            if updates and await self._keep(updates, stop):
                self.offset = max(u["update_id"] for u in updates) + 1
        stopping.cancel()
        if self.offset is not None:  # confirm what was kept, so a clean stop redelivers nothing
            try:
                await self.app.bot.get_updates(offset=self.offset, timeout=0)
            except TelegramError:
                log.warning("could not confirm the last updates; they will be delivered again")

    def _conflict(self, error: Conflict) -> None:
        """Telegram lets one process take a bot's updates: say so, and what to do, once in
        a while (not at every refusal); keep asking, as it may be a run still ending."""
        now = asyncio.get_running_loop().time()
        if self.conflict_said is not None and now - self.conflict_said < SAY_CONFLICT_AGAIN:
            return
        self.conflict_said = now
        held = "a webhook is set" if "webhook" in error.message else "another process polls"
        log.error(
            "Telegram refuses long polling: %s for this bot's token. Run one poller, or every "
            "replica in webhook mode (README: Running several replicas). Asking again.",
            held,
        )

    async def _fetch(self) -> list[dict[str, Any]]:
        """The next batch as Telegram sent it: kept as is, and read only when handled."""
        asked: dict[str, Any] = {"timeout": self.timeout, "allowed_updates": Update.ALL_TYPES}
        if self.offset is not None:
            asked["offset"] = self.offset
        result = await self.app.bot.do_api_request(
            "getUpdates", api_kwargs=asked, read_timeout=self.timeout + 10
        )
        return [u for u in result if isinstance(u, dict) and isinstance(u.get("update_id"), int)]

    async def _keep(self, updates: list[dict[str, Any]], stop: asyncio.Event) -> bool:
        """Keep the batch and wake the drain; False (not kept) if the database is away."""
        now = datetime.now(UTC)
        items = [kept(update, now) for update in updates]
        try:
            chats = await asyncio.to_thread(keep_all, self.storage, items)
        except StorageUnavailable as error:
            self.outage.failed(error)
            self.pause = min(self.pause * 2, 15.0) if self.pause else 0.5
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.pause)
            return False
        self.outage.ok()
        self.pause = 0.0
        self.drain.wake(chats)
        return True


def _seconds(wait: float | timedelta) -> float:
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def _worker(app: AnyApp, settings: Settings, triage: TriageService) -> OutboxWorker:
    """The outbox worker with a sender for each way the team is reached."""
    senders: dict[str, Sender] = {}
    if settings.team_chat_id is not None:
        senders.update(telegram_senders(app.bot, triage, settings.team_chat_id))
    if settings.smtp_url is not None and settings.team_email:
        email = EmailSettings.from_url(
            settings.smtp_url.get_secret_value(), settings.email_from, settings.team_email
        )
        senders.update(email_sender(email, triage))
    # A draft's warning goes to its owner whether or not the team has a channel.
    senders.update(learner_senders(app.bot))
    return OutboxWorker(
        triage.storage,
        # Whatever the outbox sends waits behind learners' replies (bot.channels.limiter).
        {kind: in_background(send) for kind, send in senders.items()},
        # A waiting alert is handed on only once the team has a channel to take it.
        forwards={WAITING: hand_on(triage.team)} if triage.team.reachable else {},
        on_sent=remember_relays,
        on_dead=failure_notices(triage.content.prompts, senders),
        send_timeout=settings.outbox_send_timeout,
        lease=timedelta(seconds=settings.outbox_send_timeout * 3),
        backoff=Backoff(first=timedelta(seconds=settings.outbox_retry_seconds)),
    )


# How often the outbox worker looks for what other processes queued (a concern filed in a
# terminal, another replica's items) and for items that have come due. What this process
# queues wakes it at once, and the retries it sets wake it when due: an idle bot costs a
# transaction every few seconds rather than two a second.
OUTBOX_POLL = 5.0


def wake_when_queued(storage: Storage, worker: OutboxWorker) -> None:
    """Have `storage` wake `worker` whenever a transaction in this process queues an item."""
    if not isinstance(storage, SqlStorage):
        return
    loop = asyncio.get_running_loop()

    def queued() -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
            loop.call_soon_threadsafe(worker.wake)

    storage.on_queued = queued


def say_what_waits(triage: TriageService) -> None:
    """At start: how many alerts wait for a team channel; a warning while none is set up."""
    try:
        waiting = waiting_alerts(triage.storage)
    except StorageUnavailable as error:  # the database may be away; the passes will say so
        log.error("could not count the alerts waiting for a team channel: %s", error.problem)
        return
    if not waiting:
        return
    if triage.team.reachable:
        log.info("%d alert(s) saved while no team channel was set up go to the team now", waiting)
    else:
        log.warning(
            "%d alert(s) for the Quality team are saved and waiting: no team channel is set up "
            "(CONCERNBOT_TEAM_CHAT_ID, or CONCERNBOT_SMTP_URL with CONCERNBOT_TEAM_EMAIL; see "
            "the README). They go to the team once one is.",
            waiting,
        )


# Telegram redelivers an unconfirmed update for at most a day; a week is ample.
REMEMBER_UPDATES = timedelta(days=7)
TIDY_EVERY = 6 * 3600.0


def _forget(storage: Storage, cutoff: datetime) -> int:
    with storage.unit_of_work() as uow:
        return uow.inbound.forget_before(cutoff) + uow.inbox.forget_before(cutoff)


async def forget_old_updates(storage: Storage, stop: asyncio.Event, outage: Outage) -> None:
    """Keep the tables of seen and handled update ids from growing without end."""
    while not stop.is_set():
        cutoff = datetime.now(UTC) - REMEMBER_UPDATES
        forgotten = await patiently(functools.partial(_forget, storage, cutoff), outage, stop)
        if forgotten is not None:
            log.info("forgot %d old update ids", forgotten)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), TIDY_EVERY)


SWEEP_EVERY = 3600.0


async def keep_tidy(keeping: Keeping, stop: asyncio.Event, outage: Outage) -> None:
    """The retention sweep, every hour: old closed concerns anonymised, old drafts deleted,
    their owners warned before (each sweep is idempotent, so a missed one costs nothing)."""
    while not stop.is_set():
        await patiently(keeping.sweep, outage, stop)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SWEEP_EVERY)


class _Kept:
    """The drain's handler: kept updates through the channel and the application."""

    def __init__(self, app: AnyApp, channel: TelegramChannel) -> None:
        self.app = app
        self.channel = channel

    async def handle(self, item: InboxItem, quiet: bool) -> None:
        await self.channel.handle_kept(self.app, item, quiet)

    async def slow_down(self, item: InboxItem) -> None:
        await self.channel.slow_down(self.app, item)


async def run(
    settings: Settings,
    service: TurnService,
    triage: TriageService,
    keeping: Keeping | None = None,
    privacy: str | None = None,
) -> None:
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
            keeping,
            privacy,
            PriorityRateLimiter(
                settings.telegram_messages_per_second, settings.telegram_group_messages_per_minute
            ),
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
    webhook = bool(settings.telegram_webhook_url)
    try:
        if settings.team_chat_id is not None:
            TeamDesk(triage, settings.team_chat_id).install(app)
        worker = _worker(app, settings, triage)
        wake_when_queued(triage.storage, worker)
        # Independent of each other: side by side, so a start waits for the slowest, not
        # for the sum (each is a round trip to Telegram or a query).
        await asyncio.gather(
            channel.commands_menu(app),
            asyncio.to_thread(say_what_waits, triage),
            *([] if webhook else [with_retries(lambda: app.bot.delete_webhook())]),
        )
        draining = asyncio.create_task(worker.run(stop, OUTBOX_POLL))
        storage, outage = service.storage, Outage()
        tidying = asyncio.create_task(forget_old_updates(storage, stop, outage))
        sweeping = asyncio.create_task(keep_tidy(keeping, stop, outage)) if keeping else None
        inbox = InboxDrain(storage, _Kept(app, channel), outage)
        # Polling is one process per token, so what a killed run had taken is free at once.
        handling = asyncio.create_task(inbox.run(stop, release_taken=not webhook))
        log.info("telegram bot @%s running", app.bot.username)
        if webhook:
            from bot.channels.telegram_webhook import serve_webhook

            await serve_webhook(app, settings, stop, storage, inbox, outage)
        else:
            await Poller(app, settings.telegram_poll_timeout, storage, inbox, outage).run(stop)
        await handling
        await draining
        await tidying
        if sweeping is not None:
            await sweeping
    finally:
        await app.shutdown()
