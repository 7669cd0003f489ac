"""What crosses the core's boundary in one turn: inbound events and outbound replies.

Channels translate their own updates into these events and render these replies; the
core never sees a Telegram object or a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogues.records import Concern, Conversation


@dataclass(frozen=True)
class Text:
    """Something the person typed."""

    text: str


@dataclass(frozen=True)
class Press:
    """A button pressed: the option's key, and the step the button was shown for."""

    step: str
    key: str


@dataclass(frozen=True)
class Command:
    """A command such as back, pause or cancel (without the slash)."""

    name: str


Event = Text | Press | Command


@dataclass(frozen=True)
class Option:
    """One button: its key, its label, and whether it is ticked (multiple choice)."""

    key: str
    label: str
    selected: bool = False
    action: bool = False
    # Its number in the whole list, when shown in a shorter one ("which of these?"), so that
    # a typed number means the same option whichever list it was read from.
    number: int | None = None


@dataclass(frozen=True)
class Reply:
    """One message to show. A question carries its step and options."""

    text: str
    step: str | None = None
    options: tuple[Option, ...] = ()
    multi: bool = False
    expects_text: bool = False
    # A choice that is mostly typed (the hospital or town): its buttons are only a few.
    typed: bool = False


@dataclass(frozen=True)
class Outcome:
    """The result of a turn: the conversation to save (None: delete it), replies, a concern."""

    conversation: Conversation | None
    replies: tuple[Reply, ...]
    concern: Concern | None = None
    stale: bool = False  # a button from an earlier question: nothing changed
