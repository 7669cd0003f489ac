"""The terminal channel: a chat on standard input and output, one answer per line.

Choices are numbered; a number or the option's words both work, so it reads as well from a
pipe as from a person. It only translates: every decision is the turn service's.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import TextIO

from bot.service import Turn, TurnService
from dialogues.prompts import Prompts
from dialogues.turns import Command, Event, Reply, Text

CONSOLE_RESUME = "`concernbot chat --resume`"


def chat_key(user: str | None = None) -> str:
    return f"console:{user or getpass.getuser()}"


def render(reply: Reply, prompts: Prompts) -> str:
    """A reply as terminal text: the message, then its options numbered."""
    lines = [reply.text]
    for number, option in enumerate(reply.options, start=1):
        tick = ("[x] " if option.selected else "[ ] ") if reply.multi and not option.action else ""
        lines.append(f"  {number}. {tick}{option.label}")
    if reply.multi:
        lines.append(prompts.say("console_multi_hint"))
    elif reply.options and not reply.expects_text:
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
            line = self.stdin.readline()
            if not line:
                if turn.state is not None:
                    self.stdout.write(self.prompts.say("paused", resume=CONSOLE_RESUME) + "\n")
                return 0
            turn = await self._send(Text(line.rstrip("\n")))
        return 0
