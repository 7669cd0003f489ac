"""The Telegram channel: updates in, turn-service events, messages out.

Handlers are small: each reads the update, calls the service once and sends what it says.
No ConversationHandler and no PTB persistence: the conversation lives in storage, so a
killed process loses nothing. Every update is first kept in the database's inbox (see
`telegram_runner`), then handled from there by `handle_kept`, one at a time per chat; the
service drops duplicates by update_id in the same transaction as the state change. When
the database is away, a kept update is not counted as handled: it is tried again later and
the learner is told nothing untrue meanwhile. During a flood, a chat's turns run quietly
(see `bot.inbox`): nothing is sent but what must be said.

An answer costs one send: a turn's replies go in as few messages as fit, and the question
answered by typing keeps its buttons (taking them away would cost a call per answer). A
press is answered, and its message edited once, in place, to show the choice made with its
buttons gone; a press on an earlier question's buttons is told it changed nothing, and only
then are those taken away. Ticks edit their question in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from cachetools import TTLCache
from telegram import Bot, BotCommand, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.limiter import PriorityRateLimiter
from bot.channels.telegram_render import (
    chosen,
    in_place,
    parse_callback,
    render_all,
    toast,
    with_choice,
)
from bot.keeping import Keeping
from bot.service import Turn, TurnService
from dialogues.filing import read_reference
from dialogues.privacy import default_facts, privacy_words
from dialogues.prompts import COMMANDS
from dialogues.turns import Command, Event, Press, Reply, Text
from storage.repositories import InboxItem, StorageUnavailable

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 6
# Telegram asks bots not to burst many messages into one chat: space a turn's messages out.
CHAT_SPACING = 0.3
BACKOFF_START = 0.5
KNOWN_CHATS = 5000  # chats whose last send time is remembered, at most
T = TypeVar("T")
AnyApp = Application[Any, Any, Any, Any, Any, Any]


def chat_key(chat_id: int) -> str:
    return f"telegram:{chat_id}"


def owner_key(user_id: int) -> str:
    return f"telegram:user:{user_id}"


def kept(update: Mapping[str, Any], at: datetime) -> InboxItem:
    """An update, as Telegram sent it, as the inbox keeps it: in its chat's line (in the
    order of update ids), or in a line of its own."""
    update_id = int(update["update_id"])
    key = f"telegram:update:{update_id}"
    chat = _chat_id(update)
    return InboxItem(
        key=key,
        chat=key if chat is None else chat_key(chat),
        seq=update_id,
        payload=dict(update),
        received_at=at,
    )


def _chat_id(update: Mapping[str, Any]) -> int | None:
    """The chat the update belongs to, found as `Update.effective_chat` finds it."""
    for name, body in update.items():
        if name == "update_id" or not isinstance(body, Mapping):
            continue
        chat = body.get("chat")
        if chat is None and isinstance(body.get("message"), Mapping):
            chat = body["message"].get("chat")  # a button press: the message it was on
        if isinstance(chat, Mapping) and isinstance(chat.get("id"), int):
            return int(chat["id"])
    return None


async def with_retries(call: Callable[[], Awaitable[T]]) -> T:
    """A Bot API call retried on 5xx and time-outs, with backoff. A 429 is the rate limiter's
    to wait out; a request Telegram refuses (400, 403) is not retried.

    A retried send that had in fact reached Telegram shows twice: the price of losing none.
    """
    delay = BACKOFF_START
    for attempt in range(1, SEND_ATTEMPTS):
        try:
            return await call()
        except (BadRequest, Forbidden):
            raise
        except NetworkError as error:
            log.warning("bot api call failed (%s), retry %d", type(error).__name__, attempt)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 8)
    return await call()


async def edit_in_place(
    bot: Bot, message: Message, html: str, keyboard: InlineKeyboardMarkup | None = None
) -> None:
    """A message's text and buttons replaced; one that already reads so is left as it is."""
    try:
        await with_retries(
            lambda: bot.edit_message_text(
                html,
                chat_id=message.chat.id,
                message_id=message.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
            )
        )
    except BadRequest as error:
        if "not modified" not in str(error).casefold():
            raise


class TelegramChannel:
    """Translates between Telegram updates and the turn service."""

    def __init__(
        self, service: TurnService, keeping: Keeping | None = None, privacy: str | None = None
    ) -> None:
        self.service = service
        self.prompts = service.dialogue.prompts
        self.keeping = keeping
        # The words of this installation's settings (bot.app.privacy_facts); without them,
        # those of a default installation.
        self.privacy = privacy or privacy_words(self.prompts, default_facts(self.prompts))
        # A chat's last send matters only for the spacing after it: forgotten after that.
        self._last_sent: TTLCache[int, float] = TTLCache(KNOWN_CHATS, CHAT_SPACING)
        self._quiet: set[int] = set()  # chats whose current update is handled quietly
        self._unavailable: dict[int, StorageUnavailable] = {}  # update id -> why it failed

    def install(self, app: AnyApp) -> None:
        app.add_handler(MessageHandler(~filters.ChatType.PRIVATE, self.on_group))
        app.add_handler(CallbackQueryHandler(self.on_press))
        app.add_handler(MessageHandler(filters.UpdateType.EDITED, self.on_edit))
        app.add_handler(MessageHandler(filters.COMMAND, self.on_command))
        app.add_handler(MessageHandler(filters.TEXT, self.on_text))
        app.add_handler(MessageHandler(filters.ALL, self.on_other))
        app.add_error_handler(self.on_error)

    async def commands_menu(self, app: AnyApp) -> None:
        menu = [
            BotCommand(name, self.prompts.commands[name]) for name in COMMANDS if name != "start"
        ]
        await with_retries(lambda: app.bot.set_my_commands(menu))

    # -- handlers ------------------------------------------------------------------

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Typed text: an answer to the current question."""
        message = update.effective_message
        if message is None or message.text is None:
            return
        await self._turn(update, context, Text(message.text))

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A /command: status, privacy, forgetme and withdraw are answered here, the rest go
        to the journey."""
        message = update.effective_message
        if message is None or message.text is None:
            return
        words = message.text.split()
        name = words[0].lstrip("/").split("@")[0].casefold()
        chat = update.effective_chat
        if chat is None:
            return
        owner = owner_key(update.effective_user.id) if update.effective_user else chat_key(chat.id)
        if name == "privacy":
            await self._send(context, chat.id, [Reply(self.privacy)])
        elif name == "status":
            reply = await asyncio.to_thread(self.service.status, owner)
            await self._send(context, chat.id, [reply])
        elif name in ("forgetme", "withdraw") and self.keeping is not None:
            text = await asyncio.to_thread(self._keeping, self.keeping, name, owner, words[1:])
            await self._send(context, chat.id, [Reply(text)])
        else:
            await self._turn(update, context, Command(name))

    def _keeping(self, keeping: Keeping, name: str, owner: str, args: list[str]) -> str:
        """/forgetme: what it deletes, then with "yes" deletes it; /withdraw REF."""
        say = self.prompts.keeping_say
        if name == "withdraw":
            if not args:
                return say("withdraw_usage")
            reference = read_reference(args[0])
            if reference is None:
                return say("withdraw_not_reference", typed=args[0])
            return keeping.withdrawal_words(keeping.withdraw(owner, reference))
        if args and args[0].casefold() == "yes":
            done = keeping.forget(owner)
            return keeping.preview_words(done) if done.empty else keeping.forget_words(done)
        plan = keeping.forgettable(owner)
        if plan.empty:
            return keeping.preview_words(plan)
        return f"{keeping.preview_words(plan)}\n\n{say('forget_confirm_telegram')}"

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button: toggles edit the question in place; anything else moves on."""
        query = update.callback_query
        if query is None:
            return
        parsed = parse_callback(query.data)
        message = query.message if isinstance(query.message, Message) else None
        if parsed is None or message is None or message.chat.type != ChatType.PRIVATE:
            with contextlib.suppress(BadRequest):
                await with_retries(lambda: query.answer(self.prompts.say("stale_button")[:190]))
            return
        step, key = parsed
        turn = await self._service_turn(update, Press(step, key))
        # Answered whatever happens next; a query that is too old to answer (after a restart)
        # must not cost the learner the reply. A press on another question is told what
        # became of it (the note that leads the question sent with it); one that moved nothing
        # and is not asked again (no conversation, or a finished one), that it changed nothing.
        notice = (
            toast(turn.replies[0].text.partition("\n\n")[0])
            if turn.stale and turn.replies
            else None
        )
        if not turn.stale and not turn.taken and all(r.step != step for r in turn.replies):
            notice = self.prompts.say("stale_button")
        with contextlib.suppress(BadRequest):
            await with_retries(
                lambda: query.answer(notice if notice and len(notice) <= 190 else None)
            )
        if message.chat.id in self._quiet and turn.reference is None:
            return  # a flood's turn: saved; the reply to its last message says where it stands
        replies = list(turn.replies)
        first = replies[0] if replies else None
        if (
            not turn.stale
            and first is not None
            and first.step == step
            and first.multi
            and len(replies) == 1
        ):
            await self._edit(context, message, first)
            return
        await self._pressed(context, message, str(query.data), turn.taken and not turn.stale)
        await self._send(context, message.chat.id, replies, must=turn.reference is not None)

    async def on_edit(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An edited message: not read, and said so; nothing changes."""
        if update.effective_chat:
            await self._send(
                context, update.effective_chat.id, [Reply(self.prompts.say("edited_ignored"))]
            )

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Photos, stickers, voice, files, locations: a clear reply, the state unchanged."""
        if update.effective_chat:
            reply = Reply(self.prompts.say("unsupported_input"))
            await self._send(context, update.effective_chat.id, [reply])

    async def on_group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """In a group: never take a concern or repeat its text; point to a private chat."""
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None or not (message.text or "").startswith("/"):
            return
        link = f"https://t.me/{context.bot.username}?start=concern"
        text = self.prompts.say("group_private_only", link=link)
        await self._send(context, chat.id, [Reply(text)])

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure by type only, and tell the person their answers are safe; with
        the database away, say nothing: the update stays kept and is handled later."""
        error = context.error
        if isinstance(update, Update) and update.callback_query is not None:
            with contextlib.suppress(TelegramError):
                await update.callback_query.answer()
        if isinstance(error, StorageUnavailable) and isinstance(update, Update):
            self._unavailable[update.update_id] = error  # for handle_kept; logged there
            return
        # The type only: a traceback could quote a database statement's parameters.
        log.error("update failed: %s", type(error).__name__)
        if isinstance(update, Update) and update.effective_chat:
            try:
                await self._send(
                    context, update.effective_chat.id, [Reply(self.prompts.say("error"))]
                )
            except Exception:  # the error path must not raise again
                log.error("could not send the error message")

    # -- updates kept in the inbox --------------------------------------------------

    async def handle_kept(self, app: AnyApp, item: InboxItem, quiet: bool) -> None:
        """Handle a kept update with the application's handlers; quiet: send nothing that
        need not be said. StorageUnavailable if the database was away (nothing was saved)."""
        update = Update.de_json(dict(item.payload), app.bot)
        chat = update.effective_chat
        hush = chat.id if quiet and chat is not None and chat.type == ChatType.PRIVATE else None
        if hush is not None:
            self._quiet.add(hush)
        try:
            await app.process_update(update)
        finally:
            if hush is not None:
                self._quiet.discard(hush)
            failure = self._unavailable.pop(update.update_id, None)
        if failure is not None:
            raise failure

    async def slow_down(self, app: AnyApp, item: InboxItem) -> None:
        """Ask a private chat sending far faster than anyone types to slow down."""
        update = Update.de_json(dict(item.payload), app.bot)
        chat = update.effective_chat
        if chat is not None and chat.type == ChatType.PRIVATE:
            await self._send_with(app.bot, chat.id, [Reply(self.prompts.say("slow_down"))])

    # -- plumbing ------------------------------------------------------------------

    async def _service_turn(self, update: Update, event: Event) -> Turn:
        chat = update.effective_chat
        user = update.effective_user
        assert chat is not None  # handlers only run for updates with a chat
        owner = owner_key(user.id) if user else chat_key(chat.id)
        dedupe = f"telegram:update:{update.update_id}"
        return await self.service.handle(chat_key(chat.id), owner, event, dedupe_key=dedupe)

    async def _turn(self, update: Update, context: ContextTypes.DEFAULT_TYPE, event: Event) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        turn = await self._service_turn(update, event)
        if chat.id in self._quiet and turn.reference is None:
            return  # a flood's turn: saved; the reply to its last message says where it stands
        await self._send(context, chat.id, turn.replies, must=turn.reference is not None)

    async def _send(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chat_id: int,
        replies: Sequence[Reply],
        must: bool = False,
    ) -> None:
        """Send the replies, spaced out; in a quiet chat only what `must` be said."""
        if chat_id in self._quiet and not must:
            return
        await self._send_with(context.bot, chat_id, replies)

    async def _send_with(self, bot: Bot, chat_id: int, replies: Sequence[Reply]) -> None:
        loop = asyncio.get_running_loop()
        for piece in render_all(replies):
            wait = self._last_sent.get(chat_id, 0.0) + CHAT_SPACING - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await with_retries(
                lambda piece=piece: bot.send_message(  # type: ignore[misc]
                    chat_id, piece.html, parse_mode=ParseMode.HTML, reply_markup=piece.keyboard
                )
            )
            self._last_sent[chat_id] = loop.time()

    async def _edit(
        self, context: ContextTypes.DEFAULT_TYPE, message: Message, reply: Reply
    ) -> None:
        piece = render_all([reply])[-1]
        await edit_in_place(
            context.bot, message, in_place(message.text or "", piece), piece.keyboard
        )

    async def _pressed(
        self, context: ContextTypes.DEFAULT_TYPE, message: Message, data: str, taken: bool
    ) -> None:
        """The pressed message, in one edit: the choice shown under it if the press was
        taken, and its buttons gone either way. None left to take away: nothing to do."""
        if message.reply_markup is None:
            return
        labels = chosen(message.reply_markup, data) if taken and message.text else []
        line = self.prompts.say("chosen", choice=", ".join(labels)) if labels else None
        html = with_choice(message.text or "", line) if line else None
        if html is not None:
            # Too old to edit, or gone: the choice is saved all the same.
            with contextlib.suppress(BadRequest):
                await edit_in_place(context.bot, message, html)
            return
        await self._drop_keyboard(context, message.chat.id, message.message_id)

    async def _drop_keyboard(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, message_id: int
    ) -> None:
        # Already gone, or too old to edit: then there is nothing to take away.
        with contextlib.suppress(BadRequest):
            await with_retries(
                lambda: context.bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=message_id
                )
            )


def build_application(
    token: str,
    api_url: str,
    service: TurnService,
    timeout: float = 15.0,
    keeping: Keeping | None = None,
    privacy: str | None = None,
    limiter: BaseRateLimiter[Any] | None = None,
) -> tuple[Application[Any, Any, Any, Any, Any, Any], TelegramChannel]:
    """The PTB application: our handlers, a rate limiter (Telegram's limits, learners' replies
    first, 429s retried; see `bot.channels.limiter`), no Updater."""
    api = api_url.rstrip("/")
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .rate_limiter(limiter or PriorityRateLimiter())
        .updater(None)
        .connect_timeout(10)
        .read_timeout(timeout)
        .write_timeout(timeout)
        .build()
    )
    channel = TelegramChannel(service, keeping, privacy)
    channel.install(app)
    return app, channel
