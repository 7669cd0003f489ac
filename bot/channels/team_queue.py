"""/queue in the team chat: the open concerns a page at a time, one message that the
previous and next buttons turn the pages of, in place.

A button carries the key of the first or last concern on the page it was pressed on (see
`storage.views.QueueKey`), not a page number: the next page starts just after that concern
however many were filed or closed meanwhile, and a page costs two queries, at any size.
"""

from __future__ import annotations

import asyncio
import contextlib
import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.channels.telegram import edit_in_place, with_retries
from bot.triage import TriageService, age
from storage.views import PAGE_SIZE, QueueKey, QueuePage

PREFIX = "tq"  # button data: tq|n|<key> (the page after) or tq|p|<key> (the page before)
NEXT, PREVIOUS = "n", "p"
SHOWN = 60  # characters of a typed organisation or an assignee's name on a line


def _clip(text: str) -> str:
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def button_data(direction: str, key: QueueKey) -> str:
    return f"{PREFIX}|{direction}|{key.to_text()}"


class QueuePager:
    """The /queue message and its buttons, for members of the team."""

    def __init__(self, triage: TriageService, team_chat_id: int) -> None:
        self.triage = triage
        self.chat_id = team_chat_id
        self.prompts = triage.content.prompts

    def render(self, page: QueuePage) -> tuple[str, InlineKeyboardMarkup | None]:
        """The page as the team sees it (HTML), and its buttons (None: it is all there is)."""
        team = self.prompts.team
        if not page.entries:
            return html.escape(team["queue_empty"], quote=False), None
        now = self.triage.clock()
        risk = self.triage.content.catalogue.risk
        names = {o.key: o.name for o in self.triage.content.catalogue.organisations}
        first, last = page.before + 1, page.before + len(page.entries)
        pages = max(-(-page.total // PAGE_SIZE), -(-last // PAGE_SIZE) + page.has_next)
        lines = [team["queue_heading"], self.prompts.team_say(
            "queue_page", page=-(-last // PAGE_SIZE), pages=pages, first=first, last=last,
            total=page.total,
        )]  # fmt: skip
        for entry in page.entries:
            lines.append(self.prompts.team_say(
                "queue_line", symbol=risk.band_for(entry.score).symbol,
                reference=entry.reference, age=age(entry.created_at, now, self.prompts.team_say),
                organisation=_clip(entry.organisation_other or names.get(entry.organisation, "")),
                status=self.prompts.statuses.get(entry.status, entry.status),
                assigned=_clip(entry.assigned_to or team["nobody"]),
            ))  # fmt: skip
        buttons = []
        if page.has_previous:
            data = button_data(PREVIOUS, page.entries[0].key)
            buttons.append(InlineKeyboardButton(team["queue_previous"], callback_data=data))
        if page.has_next:
            data = button_data(NEXT, page.entries[-1].key)
            buttons.append(InlineKeyboardButton(team["queue_next"], callback_data=data))
        keyboard = InlineKeyboardMarkup([buttons]) if buttons else None
        return html.escape("\n".join(lines), quote=False), keyboard

    async def send_first(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/queue: the first page, with its buttons."""
        text, keyboard = self.render(await asyncio.to_thread(self.triage.queue_page))
        await with_retries(lambda: context.bot.send_message(
            self.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=keyboard
        ))  # fmt: skip

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Previous or next: the same message shows that page (members only)."""
        query = update.callback_query
        user = update.effective_user
        if query is None or user is None:
            raise ApplicationHandlerStop
        if not self.triage.team.is_member(user.id):
            await asyncio.to_thread(self.triage.refuse, "queue")
            with contextlib.suppress(BadRequest):
                await with_retries(lambda: query.answer(self.prompts.team["refused"]))
            raise ApplicationHandlerStop
        try:
            _, direction, key_text = (query.data or "").split("|")
            key = QueueKey.from_text(key_text)
            if direction not in (NEXT, PREVIOUS):
                raise ValueError(direction)
        except ValueError:  # not data this version wrote: stale or forged
            with contextlib.suppress(BadRequest):
                await query.answer(self.prompts.say("stale_button")[:190])
            raise ApplicationHandlerStop from None
        after, before = (key, None) if direction == NEXT else (None, key)
        page = await asyncio.to_thread(self.triage.queue_page, after, before)
        text, keyboard = self.render(page)
        with contextlib.suppress(BadRequest):  # too old to answer: the page still turns
            await with_retries(lambda: query.answer())
        if isinstance(query.message, Message):
            await edit_in_place(context.bot, query.message, text, keyboard)
        raise ApplicationHandlerStop
