"""The terminal channel: a chat on standard input and output.

Choices are numbered; a number or the option's words both work, so it reads as well from a
pipe as from a person. At a choice one line is one answer; at a text question the answer is
every line up to an empty line or a lone "." (or the end of input), so a pasted description
stays one answer. It only translates: every decision is the turn service's.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import TextIO

from bot.service import Turn, TurnService
from dialogues.matching import command_word
from dialogues.prompts import Prompts
from dialogues.turns import Command, Event, Reply, Text

CONSOLE_RESUME = "`concernbot chat --resume`"
END_OF_TEXT = ("", ".")  # a line that ends a text answer


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
    ) -> None:
        self.service = service
        self.prompts = service.dialogue.prompts
        self.stdin = stdin
        self.stdout = stdout
        self.chat = chat_key(user)

    def _show(self, turn: Turn) -> None:
        for reply in turn.replies:
            self.stdout.write(render(reply, self.prompts) + "\n\n")
        self.stdout.flush()

    async def _send(self, event: Event) -> Turn:
        turn = await self.service.handle(self.chat, self.chat, event)
        self._show(turn)
        return turn

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
                    self.stdout.write(self.prompts.say("paused", resume=CONSOLE_RESUME) + "\n")
                return 0
            turn = await self._send(Text(text))
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
