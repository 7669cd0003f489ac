"""Replies as Telegram messages: escaped HTML, split under the size limit, inline keyboards.

Pure functions, no network: they are tested without a bot. Callback data is
`<step>|<key>`, so a press names the question it answers and a stale one is recognised.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from dialogues.engine import Dialogue
from dialogues.journeys import JOURNEYS
from dialogues.records import Conversation
from dialogues.turns import Option, Reply

MAX_TEXT = 4096
# Room for the escaping of a split chunk: split on the plain text well under the limit.
CHUNK = 3500
MAX_CALLBACK_BYTES = 64
# A label longer than this is listed in full in the message, and numbered on its button.
BUTTON_LABEL = 40
PAIR_LABEL = 18  # labels this short sit two to a row
TICK, NO_TICK = "☑️ ", "⬜ "


@dataclass(frozen=True)
class Message:
    html: str
    keyboard: InlineKeyboardMarkup | None = None


def callback_data(step: str, key: str) -> str:
    data = f"{step}|{key}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def oversized_callbacks(dialogue: Dialogue) -> list[str]:
    """Every button the content can produce whose callback data Telegram would refuse."""
    steps = dialogue.steps
    everything = Conversation(
        key="check",
        owner="check",
        journey="concern",
        state="review",
        answers={s: "x" for s in JOURNEYS["concern"].reviewable} | {"domain": "1"},
    )
    framework = dialogue.content.catalogue.framework
    keys: list[tuple[str, str]] = []
    for step in dialogue.prompts.steps:
        options = steps.typed_options(step, everything)
        keys += [(step, o.key) for o in options]
    keys += [("standards", s.id) for s in framework.standards]
    keys += [("domain_standards", s.id) for s in framework.standards]
    keys += [
        (interrupt, answer) for interrupt in ("_cancel", "_restart") for answer in ("yes", "no")
    ]
    return sorted({f"{s}|{k}" for s, k in keys if len(f"{s}|{k}".encode()) > MAX_CALLBACK_BYTES})


def parse_callback(data: str | None) -> tuple[str, str] | None:
    """The (step, key) of a press, or None for data this bot did not make."""
    if not data or data.count("|") != 1:
        return None
    step, key = data.split("|")
    return (step, key) if step and key else None


def split_text(text: str, limit: int = CHUNK) -> list[str]:
    """Text in pieces under `limit`, broken at paragraphs, then lines, then spaces."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit))
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    pieces.append(rest)
    return [p for p in pieces if p]


def button_labels(options: Sequence[Option]) -> list[str]:
    """Buttons' texts. When some label is too long for a button, the message lists them all in
    full, and the buttons carry a short form: the part before the colon ("4 Likely") when that
    tells every option apart, otherwise a numbered, shortened label."""
    labels = [o.label for o in options]
    if all(len(label) <= BUTTON_LABEL for label in labels):
        return labels
    heads = [label.partition(":")[0] for label in labels]
    if all(":" in label for label in labels) and len(set(heads)) == len(heads):
        return heads
    return [
        f"{o.number or n}. {label[: BUTTON_LABEL - 5]}…" if len(label) > BUTTON_LABEL else label
        for n, (o, label) in enumerate(zip(options, labels, strict=True), start=1)
    ]


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """One button a row, but short answers side by side in pairs, in order."""
    if not reply.options or reply.step is None:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    waiting: InlineKeyboardButton | None = None
    for option, text in zip(reply.options, button_labels(reply.options), strict=True):
        if reply.multi and not option.action:
            text = (TICK if option.selected else NO_TICK) + text
        button = InlineKeyboardButton(text, callback_data=callback_data(reply.step, option.key))
        if len(option.label) <= PAIR_LABEL and not option.action:
            if waiting is None:
                waiting = button
            else:
                rows.append([waiting, button])
                waiting = None
            continue
        if waiting is not None:
            rows.append([waiting])
            waiting = None
        rows.append([button])
    if waiting is not None:
        rows.append([waiting])
    return InlineKeyboardMarkup(rows)


def render(reply: Reply) -> list[Message]:
    """One reply as one or more messages; the keyboard rides on the last."""
    text = reply.text
    if any(len(o.label) > BUTTON_LABEL for o in reply.options):
        listing = "\n".join(
            f"{o.number or n}. {o.label}" for n, o in enumerate(reply.options, start=1)
        )
        text = f"{text}\n\n{listing}"
    pieces = [escaped for p in split_text(text) for escaped in _escaped(p)]
    messages = [Message(p) for p in pieces[:-1]]
    messages.append(Message(pieces[-1], keyboard(reply)))
    return messages


def render_all(replies: Sequence[Reply]) -> list[Message]:
    """A turn's replies in as few messages as they fit: a reply without buttons rides in the
    message of the one after it, so that an answer costs one send however many notes lead
    the next question."""
    messages: list[Message] = []
    leading: list[str] = []
    for number, reply in enumerate(replies, start=1):
        if reply.options or number == len(replies):
            messages += render(replace(reply, text="\n\n".join([*leading, reply.text])))
            leading = []
        else:
            leading.append(reply.text)
    return messages


def chosen(markup: InlineKeyboardMarkup | None, data: str) -> list[str]:
    """What a press on `data` chose, as its buttons showed it: the button pressed, or for a
    multiple choice's Done, the ones ticked. Nothing if no button carries `data`."""
    buttons = [button for row in markup.inline_keyboard for button in row] if markup else []
    pressed = next((b for b in buttons if b.callback_data == data), None)
    if pressed is None:
        return []
    ticked = [b.text.removeprefix(TICK) for b in buttons if b.text.startswith(TICK)]
    if ticked and not pressed.text.startswith((TICK, NO_TICK)):
        return ticked
    return [pressed.text]


def with_choice(text: str, choice: str) -> str | None:
    """A question's text (as Telegram gives it back) followed by the line of the choice made,
    as HTML; None if that would not fit in a message."""
    if len(text) + len(choice) + 2 > MAX_TEXT:
        return None
    return html.escape(f"{text}\n\n{choice}", quote=False)


def toast(note: str) -> str:
    """A note as a press's answer, alone in a toast: without the sentence that leads into
    what follows it in the chat ("Here is where you are now:")."""
    if not note.endswith(":"):
        return note
    head, stop, _ = note.rstrip(":").rpartition(". ")
    return f"{head}{stop.strip()}" if stop else note


def in_place(shown: str, question: Message) -> str:
    """The HTML that redraws `question` in a message now showing `shown` (its plain text, as
    Telegram gives it back): the notes that rode before the question (`render_all`) stay."""
    plain = html.unescape(question.html)
    head, found, _ = shown.rpartition(f"\n\n{plain.partition(chr(10))[0]}")
    if not found or not head:
        return question.html
    redrawn = f"{html.escape(head, quote=False)}\n\n{question.html}"
    return redrawn if len(redrawn) <= MAX_TEXT else question.html


def _escaped(piece: str) -> list[str]:
    """A piece escaped, split again when escaping took it past the limit: "&" becomes five
    characters, so a review of answers full of them can grow to 10,000 (found by the fuzz)."""
    escaped = html.escape(piece, quote=False)
    if len(escaped) <= MAX_TEXT:
        return [escaped]
    return [html.escape(p, quote=False) for p in split_text(piece, MAX_TEXT // len("&amp;"))]
