"""The terminal channel: a chat on standard input and output.

Choices are numbered; a number or the option's words both work, so it reads as well from a
pipe as from a person. At a choice one line is one answer; at a text question the answer is
every line up to an empty line or a lone "." (or the end of input), so a pasted description
stays one answer. It only translates: every decision is the turn service's.

When the database is away, an answer is not lost: the learner is told it was not saved and
why, it is tried again a few times, and then the chat stops, pointing to `--resume`. Each
line typed carries a key of its own, so a try whose save did go through (a connection lost
just after the commit) is not applied twice.
"""

from __future__ import annotations

import asyncio
import getpass
import uuid
from collections.abc import Callable, Sequence
from typing import TextIO

from bot.service import Turn, TurnService
from dialogues.matching import command_word
from dialogues.prompts import Prompts
from dialogues.turns import Command, Event, Reply, Text
from storage.database import StorageUnavailable

# The resume hint when `concernbot` is on PATH; the command line computes the one to show
# (see `bot.cli.chat_command`), and the chat uses its dialogue's.
CONSOLE_RESUME = "`concernbot chat --resume`"
END_OF_TEXT = ("", ".")  # a line that ends a text answer
# Seconds to wait before each new try of an answer the database could not take.
RETRY_WAITS = (1.0, 2.0, 4.0)


def chat_key(user: str | None = None) -> str:
    return f"console:{user or getpass.getuser()}"


def render(reply: Reply, prompts: Prompts) -> str:
    """A reply as terminal text: the message, then its options numbered."""
    lines = [reply.text]
    for number, option in enumerate(reply.options, start=1):
        tick = ("[x] " if option.selected else "[ ] ") if reply.multi and not option.action else ""
        # A short "which of these?" list keeps the numbers of the whole list.
        lines.append(f"  {option.number or number}. {tick}{option.label}")
    shortlist = any(option.number is not None for option in reply.options)
    if reply.expects_text:
        lines.append(prompts.say("console_text_hint"))
    elif reply.typed and not shortlist:
        lines.append(prompts.say("console_typed_hint"))
    elif reply.multi and not shortlist:
        lines.append(prompts.say("console_multi_hint"))
    elif reply.options:
        lines.append(prompts.say("console_choice_hint"))
    return "\n".join(lines)


class ConsoleChat:
    """One terminal conversation, driven line by line."""

    def __init__(
        self,
        service: TurnService,
        stdin: TextIO,
        stdout: TextIO,
        user: str | None = None,
        retry_waits: Sequence[float] = RETRY_WAITS,
    ) -> None:
        self.service = service
        self.prompts = service.dialogue.prompts
        self.stdin = stdin
        self.stdout = stdout
        self.chat = chat_key(user)
        self.retry_waits = tuple(retry_waits)

    def _show(self, turn: Turn) -> None:
        for reply in turn.replies:
            self.stdout.write(render(reply, self.prompts) + "\n\n")
        self.stdout.flush()

    def _say(self, key: str, **values: object) -> None:
        self.stdout.write(self.prompts.say(key, **values) + "\n\n")
        self.stdout.flush()

    async def _send(self, event: Event, dedupe_key: str | None = None) -> Turn:
        turn = await self.service.handle(self.chat, self.chat, event, dedupe_key=dedupe_key)
        self._show(turn)
        return turn

    async def _answer(self, text: str) -> Turn:
        """One typed line, tried again while the database is away; StorageUnavailable when
        it stays away (the learner has been told their earlier answers are safe)."""
        key = f"console:line:{uuid.uuid4().hex}"
        for wait in self.retry_waits:
            try:
                return await self._send(Text(text), key)
            except StorageUnavailable as error:
                self._say("console_not_saved", reason=error.reason, seconds=f"{wait:g}")
            await asyncio.sleep(wait)
        try:
            return await self._send(Text(text), key)
        except StorageUnavailable as error:
            resume = self.service.dialogue.resume_hint
            self._say("console_not_saved_stop", reason=error.reason, resume=resume)
            raise

    async def run(
        self,
        journey: str = "concern",
        resume: bool = False,
        prompt: Callable[[], None] | None = None,
    ) -> int:
        """Chat until the journey ends, is paused or cancelled, or input runs out."""
        first = (
            Command("resume") if resume else Command("pathway" if journey == "pathway" else "new")
        )
        turn = await self._send(first)
        if resume and turn.state is None:
            return 1
        while not (turn.finished or turn.paused):
            if prompt is not None:
                prompt()
            text = self._read(expects_text=bool(turn.replies) and turn.replies[-1].expects_text)
            if text is None:
                if turn.state is not None:
                    hint = self.service.dialogue.resume_hint
                    self.stdout.write(self.prompts.say("paused", resume=hint) + "\n")
                return 0
            turn = await self._answer(text)
        return 0

    def _read(self, expects_text: bool) -> str | None:
        """One answer: a line, or at a text question the lines up to an empty one or ".".

        None when input has run out. A command on the first line is sent at once.
        """
        line = self.stdin.readline()
        if not line:
            return None
        first = line.rstrip("\r\n")
        if not expects_text or first.strip() in END_OF_TEXT:
            return first
        if first.lstrip().startswith("/") or command_word(first):
            return first
        lines = [first]
        while (line := self.stdin.readline()) and line.rstrip("\r\n").strip() not in END_OF_TEXT:
            lines.append(line.rstrip("\r\n"))
        return "\n".join(lines)
