"""The Quality team's desk in Telegram: alert cards, triage buttons, commands and relays.

The team chat gets one card per alert, with the fields of a Quality Concerns Alert and the
triage buttons. Questions to the reporter and the reporter's answers travel by reference,
as replies to the bot's own messages. Only members may act; a refused press is audited.
Handlers here run before the learner's and stop the update when they have dealt with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.team_queue import PREFIX as QUEUE_PREFIX
from bot.channels.team_queue import QueuePager
from bot.channels.telegram import chat_key, edit_in_place, with_retries
from bot.message_size import MAX_MESSAGE, split
from bot.reports.card import card_html
from bot.reports.picture import risk_picture
from bot.triage import (
    OUTCOMES,
    AlreadyClosed,
    AlreadyDone,
    Refused,
    TriageService,
    UnknownConcern,
    telegram_user,
)
from dialogues.filing import read_reference

log = logging.getLogger(__name__)

AnyApp = Application[Any, Any, Any, Any, Any, Any]
PREFIX = "t"
STATUS_BUTTONS = ("under_review", "with_provider")


def card_keyboard(
    reference: str, desk: TriageService, closing: bool = False
) -> InlineKeyboardMarkup:
    team = desk.content.prompts.team

    def button(action: str, label_key: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(team[label_key], callback_data=f"{PREFIX}|{action}|{reference}")

    if closing:
        rows = [[button(f"close:{o}", f"outcome_{o}")] for o in OUTCOMES]
        return InlineKeyboardMarkup([*rows, [button("back", "back")]])
    return InlineKeyboardMarkup([
        [button("ack", "acknowledge"), button("status:under_review", "under_review")],
        [button("status:with_provider", "with_provider"), button("close", "close")],
        [button("assign", "assign"), button("ask", "ask")],
        [button("note", "note"), button("history", "history")],
    ])  # fmt: skip


class TeamDesk:
    """Telegram handlers for the team chat, and for reporters answering the team."""

    def __init__(self, triage: TriageService, team_chat_id: int) -> None:
        self.triage = triage
        self.chat_id = team_chat_id
        self.prompts = triage.content.prompts
        self.pager = QueuePager(triage, team_chat_id)

    def install(self, app: AnyApp) -> None:
        # New messages only: an edited question or answer must not go out a second time.
        in_team = filters.Chat(self.chat_id) & filters.UpdateType.MESSAGE
        app.add_handler(CallbackQueryHandler(self.on_press, pattern=rf"^{PREFIX}\|"), group=-1)
        pages = CallbackQueryHandler(self.pager.on_press, pattern=rf"^{QUEUE_PREFIX}\|")
        app.add_handler(pages, group=-1)
        app.add_handler(MessageHandler(in_team & filters.REPLY & filters.TEXT & ~filters.COMMAND,
                                       self.on_team_reply), group=-1)  # fmt: skip
        app.add_handler(MessageHandler(in_team & filters.COMMAND, self.on_command), group=-1)
        app.add_handler(MessageHandler(in_team, self.on_team_chatter), group=-1)
        private_reply = (
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.REPLY
            & filters.TEXT & ~filters.COMMAND
        )  # fmt: skip
        app.add_handler(MessageHandler(private_reply, self.on_reporter_reply), group=-1)

    # -- the team chat -------------------------------------------------------------------

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A triage button: refused for non-members, otherwise done and the card refreshed."""
        query = update.callback_query
        user = update.effective_user
        parts = (query.data or "").split("|") if query else []
        if query is None or user is None or len(parts) != 3:
            if query is not None:
                with contextlib.suppress(BadRequest):
                    await query.answer(self.prompts.say("stale_button")[:190])
            raise ApplicationHandlerStop
        _, action, reference = parts
        dedupe = f"telegram:update:{update.update_id}"
        note, go_on = await asyncio.to_thread(
            self._act, user.id, user.first_name, action, reference, dedupe
        )
        with contextlib.suppress(BadRequest):  # too old to answer: the action itself is done
            await with_retries(lambda: query.answer(note))
        if not go_on:
            raise ApplicationHandlerStop
        if action in ("ask", "note"):
            await self._prompt(context, action, reference)
        elif action == "history":
            await self._send(context, await asyncio.to_thread(self._history, reference))
        if isinstance(query.message, Message):  # an old card may no longer be editable
            await self._refresh(context, query.message, reference, closing=action == "close")
        raise ApplicationHandlerStop

    def _act(
        self, user_id: int, name: str, action: str, reference: str, dedupe: str
    ) -> tuple[str, bool]:
        """Run one triage action: the short answer for the button press, and whether to go
        on (prompt, history, the card refreshed)."""
        triage = self.triage
        team = self.prompts.team
        unknown = self.prompts.team_say("case_unknown", reference=reference)
        if action in ("close", "back", "history", "ask", "note"):
            if not triage.team.is_member(user_id):  # looking and asking are for members too
                triage.refuse(action)
                return team["refused"], False
            return ("", True) if triage.sees(reference) else (unknown, False)
        try:
            if action == "ack":
                triage.acknowledge(user_id, reference, dedupe)
            elif action.startswith("status:"):
                triage.set_status(user_id, reference, action.removeprefix("status:"), dedupe)
            elif action.startswith("close:"):
                triage.close(user_id, reference, action.removeprefix("close:"), dedupe)
            elif action == "assign":
                triage.assign(user_id, reference, name, dedupe)
            else:
                return team["action_unavailable"], False
        except Refused:
            return team["refused"], False
        except AlreadyClosed:
            return team["already_closed"], True
        except AlreadyDone:
            return "", True
        except UnknownConcern:
            return unknown, False
        except ValueError:  # a status or outcome no button offers: forged or stale data
            return team["action_unavailable"], False
        return team["done"], True

    async def _prompt(
        self, context: ContextTypes.DEFAULT_TYPE, action: str, reference: str
    ) -> None:
        """Ask the member for the text as a reply to this message, and remember what it is for."""
        key = "ask_prompt" if action == "ask" else "note_prompt"
        sent = await with_retries(lambda: context.bot.send_message(
            self.chat_id, self.prompts.team_say(key, reference=reference),
            reply_markup=ForceReply(),
        ))  # fmt: skip
        direction = "to_reporter" if action == "ask" else "note"
        await asyncio.to_thread(self._remember, reference, direction, sent.message_id)

    def _remember(self, reference: str, direction: str, message_id: int) -> None:
        with self.triage.storage.unit_of_work() as uow:
            uow.relays.add(reference, direction, chat_key(self.chat_id), str(message_id),
                           self.triage.clock())  # fmt: skip

    async def on_team_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A member's reply to a prompt: the question goes to the reporter, or the note is kept."""
        message = update.effective_message
        user = update.effective_user
        if message is None or user is None or message.reply_to_message is None:
            raise ApplicationHandlerStop
        replied = message.reply_to_message.message_id
        dedupe = f"telegram:update:{update.update_id}"
        reply = await asyncio.to_thread(
            self._relay_from_team, user.id, replied, message.text or "", dedupe
        )
        if reply:
            await self._send(context, reply)
        raise ApplicationHandlerStop

    def _relay_from_team(self, user_id: int, replied_to: int, text: str, dedupe: str) -> str | None:
        with self.triage.storage.unit_of_work() as uow:
            relay = uow.relays.find(chat_key(self.chat_id), str(replied_to))
        if relay is None:
            return None
        try:
            if relay.direction == "to_reporter":
                self.triage.ask(user_id, relay.reference, text, dedupe)
                return self.prompts.team_say("asked", reference=relay.reference)
            self.triage.add_note(user_id, relay.reference, text, dedupe)
            return self.prompts.team_say("noted", reference=relay.reference)
        except Refused:
            return self.prompts.team["refused"]
        except AlreadyClosed:
            return self.prompts.team["already_closed"]
        except (AlreadyDone, UnknownConcern):
            return None

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/queue, /case REF, /stats and /help in the team chat, for members."""
        message = update.effective_message
        user = update.effective_user
        if message is None or user is None:
            raise ApplicationHandlerStop
        words = (message.text or "").split()
        name = words[0].lstrip("/").split("@")[0].casefold() if words else ""
        if not self.triage.team.is_member(user.id):
            await asyncio.to_thread(self.triage.refuse, name)
            await self._send(context, self.prompts.team["refused"])
        elif name == "queue":
            await self.pager.send_first(context)
        elif name == "case":
            await self._case(context, words[1:])
        elif name == "stats":
            await self._stats(context)
        elif name == "assign":
            await self._send(context, await asyncio.to_thread(self._assign, user.id, words[1:]))
        elif name == "keep":
            await self._send(context, await asyncio.to_thread(self._keep, user.id, words[1:]))
        else:
            await self._send(context, self.prompts.team["help"])
        raise ApplicationHandlerStop

    async def on_team_chatter(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Ordinary talk in the team chat is the team's own: the bot stays out of it."""
        raise ApplicationHandlerStop

    def _assign(self, user_id: int, args: list[str]) -> str:
        """/assign REF NAME: give a concern to a member of the team."""
        if len(args) < 2:
            return self.prompts.team["assign_usage"]
        reference = read_reference(args[0])
        if reference is None:
            return self.prompts.team_say("not_a_reference", typed=args[0])
        try:
            self.triage.assign(user_id, reference, " ".join(args[1:]))
        except (UnknownConcern, ValueError):
            return self.prompts.team_say("case_unknown", reference=reference)
        except AlreadyClosed:
            return self.prompts.team["already_closed"]
        return self.prompts.team_say("assigned", reference=reference, name=" ".join(args[1:]))

    def _keep(self, user_id: int, args: list[str]) -> str:
        """/keep REF: the concern's free text is kept when it is anonymised."""
        keeping = self.prompts.keeping
        if not args:
            return keeping["team_keep_usage"]
        reference = read_reference(args[0])
        if reference is None:
            return self.prompts.team_say("not_a_reference", typed=args[0])
        try:
            self.triage.keep_text(user_id, reference)
        except UnknownConcern:
            return self.prompts.team_say("case_unknown", reference=reference)
        return self.prompts.keeping_say("keep_done", reference=reference)

    async def _case(self, context: ContextTypes.DEFAULT_TYPE, args: list[str]) -> None:
        if not args:
            await self._send(context, self.prompts.team["case_usage"])
            return
        reference = read_reference("".join(args))
        if reference is None:
            typed = " ".join(args)
            await self._send(context, self.prompts.team_say("not_a_reference", typed=typed))
            return
        try:
            case = await asyncio.to_thread(self.triage.case, reference)
        except UnknownConcern:
            await self._send(context, self.prompts.team_say("case_unknown", reference=reference))
            return
        card = card_html(case.concern, case.triage, self.triage.content)
        await with_retries(lambda: context.bot.send_message(
            self.chat_id, card, parse_mode=ParseMode.HTML,
            reply_markup=card_keyboard(reference, self.triage),
        ))  # fmt: skip
        await self._send(context, await asyncio.to_thread(self._history, reference))

    def _history(self, reference: str) -> str:
        case = self.triage.case(reference)
        if not case.history and not case.notes:  # not a heading with nothing under it
            return self.prompts.team_say("history_empty", reference=reference)
        lines = [self.prompts.team_say("history_heading", reference=reference)]
        for entry in case.history:
            at = entry.at.strftime("%d %b %H:%M")
            lines.append(
                self.prompts.team_say("history_line", at=at, action=entry.action, actor=entry.actor)
            )
        for note in case.notes:
            at = note.at.strftime("%d %b %H:%M")
            lines.append(
                self.prompts.team_say("note_line", at=at, author=note.author, text=note.text)
            )
        return "\n".join(lines)

    async def _stats(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        counts = await asyncio.to_thread(self.triage.open_counts)
        picture = await asyncio.to_thread(risk_picture, counts, self.triage.content)
        caption = self.prompts.team_say("stats_caption", count=counts.total)
        await with_retries(lambda: context.bot.send_photo(
            self.chat_id, io.BytesIO(picture), caption=caption, filename="risk-picture.png"
        ))  # fmt: skip

    async def _refresh(self, context: ContextTypes.DEFAULT_TYPE, message: Message, reference: str,
                       closing: bool) -> None:  # fmt: skip
        """Show the card as it now stands (or the closing outcomes)."""
        try:
            case = await asyncio.to_thread(self.triage.case, reference)
        except UnknownConcern:
            return
        text = card_html(case.concern, case.triage, self.triage.content)
        keyboard = card_keyboard(reference, self.triage, closing=closing)
        await edit_in_place(context.bot, message, text, keyboard)

    async def _send(self, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
        """Text in the team chat, in as many messages as Telegram's limit needs (as it counts:
        an emoji is two), however long the history, the notes or a name typed in it."""
        for piece in split(text, MAX_MESSAGE - 96):
            await with_retries(lambda piece=piece: context.bot.send_message(  # type: ignore[misc]
                self.chat_id, html.escape(piece, quote=False), parse_mode=ParseMode.HTML
            ))  # fmt: skip

    # -- reporters answering ---------------------------------------------------------------

    async def on_reporter_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A reporter's reply to a relayed question goes to the team; other replies go on."""
        message = update.effective_message
        user = update.effective_user
        chat = update.effective_chat
        if message is None or user is None or chat is None or message.reply_to_message is None:
            return
        key = chat_key(chat.id)
        replied = str(message.reply_to_message.message_id)
        relay = await asyncio.to_thread(self._find, key, replied)
        if relay is None and _just_sent_by_bot(message.reply_to_message, context.bot.id):
            # A question is remembered once its send is recorded, a moment after Telegram
            # delivered it: a reply that quick waits for that record rather than being lost.
            for wait in RELAY_WAITS:
                await asyncio.sleep(wait)
                relay = await asyncio.to_thread(self._find, key, replied)
                if relay is not None:
                    break
        if relay is None:
            return  # an ordinary reply: the journey takes it
        dedupe = f"telegram:update:{update.update_id}"
        try:
            await asyncio.to_thread(
                self.triage.answer, telegram_user(user.id), relay, message.text or "", dedupe
            )
        except AlreadyDone:
            raise ApplicationHandlerStop from None
        except (Refused, UnknownConcern):
            return
        text = self.prompts.reporter_say("answer_sent", reference=relay)
        escaped = html.escape(text, quote=False)
        await with_retries(
            lambda: context.bot.send_message(chat.id, escaped, parse_mode=ParseMode.HTML)
        )
        raise ApplicationHandlerStop

    def _find(self, chat: str, message_id: str) -> str | None:
        with self.triage.storage.unit_of_work() as uow:
            relay = uow.relays.find(chat, message_id)
        return relay.reference if relay is not None and relay.direction == "to_team" else None


# How long a reply to a message the bot sent moments ago waits for it to be known as a question.
RELAY_WAITS = (0.1, 0.2, 0.4, 0.8, 1.5)
RELAY_FRESH = timedelta(seconds=30)


def _just_sent_by_bot(replied: Message, bot_id: int) -> bool:
    sender = replied.from_user
    fresh = datetime.now(UTC) - replied.date < RELAY_FRESH
    return sender is not None and sender.id == bot_id and fresh
