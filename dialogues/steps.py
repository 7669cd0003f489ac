"""One step at a time: the options a step offers, and what a person's input means there.

`read` turns an inbound event into data (an answer, a tick, an action) or a `Problem`
naming what did not fit; it has no side effects, like Rasa's `validate_<slot>` functions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from dialogues.bundle import Content
from dialogues.journeys import JOURNEYS
from dialogues.records import Answer, Conversation
from dialogues.turns import Option, Press, Text

# Exclusive options: choosing one clears the rest, choosing another clears it.
EXCLUSIVE = frozenset({"not_sure", "nobody", "none"})
PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Longer runs of digits cannot be an option's number (and int() refuses past 4,300 digits).
NUMBER_DIGITS = 4
# Dropped from typed text: control characters, unassigned and surrogate code points, and the
# bidirectional overrides that can make text read differently from what it says. Joiners stay:
# emoji sequences and several scripts need them.
DROPPED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


@dataclass(frozen=True)
class Answered:
    value: Answer


@dataclass(frozen=True)
class Toggled:
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Action:
    name: str  # done, skip, continue, browse, submit, or edit:<step>


@dataclass(frozen=True)
class Problem:
    message: str
    values: tuple[tuple[str, object], ...] = ()


Reading = Answered | Toggled | Action | Problem


def clean(text: str) -> str:
    """Text as we keep it: NFC, no control or format characters but newlines, trimmed."""
    text = unicodedata.normalize("NFC", text)
    kept = (
        ch
        for ch in text
        if ch in "\n\t"
        or (unicodedata.category(ch) not in DROPPED_CATEGORIES and ch not in BIDI_CONTROLS)
    )
    return "".join(kept).strip()


def _fold(text: str) -> str:
    return " ".join(clean(text).casefold().split())


class Steps:
    """Options and input reading for every step, over one content bundle."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self.prompts = content.prompts
        self.catalogue = content.catalogue

    # -- options -------------------------------------------------------------------

    def choices(self, step: str, conversation: Conversation) -> tuple[tuple[str, str], ...]:
        """The (key, label) pairs a person picks from at this step, actions excluded."""
        catalogue = self.catalogue
        text = self.prompts.step(step)
        if step == "group":
            return tuple((g.key, g.label) for g in catalogue.pathways.groups)
        if step == "organisation":
            return tuple((o.key, o.name) for o in catalogue.organisations)
        if step == "topics":
            topics = tuple((t.key, t.label) for t in catalogue.framework.topics)
            return (*topics, ("not_sure", text.label("not_sure")))
        if step == "standards":
            ids = self.standard_candidates(conversation)
            labelled = tuple((i, catalogue.framework.standard(i).label) for i in ids)
            return (*labelled, ("not_sure", text.label("not_sure")))
        if step == "domain":
            return tuple(
                (str(d.number), f"{d.number} {d.name}") for d in catalogue.framework.domains
            )
        if step == "domain_standards":
            number = int(conversation.answer_text("domain") or 1)
            return tuple((s.id, s.label) for s in catalogue.framework.standards_in(number))
        if step in ("likelihood", "impact"):
            levels = getattr(catalogue.risk, step)
            return tuple((str(v.score), f"{v.score} {v.label}: {v.description}") for v in levels)
        if step == "told":
            roles = tuple(
                (role.key, role.label)
                for level in catalogue.pathways.levels
                if level.number < 3
                for role in level.roles
            )
            return (*roles, ("nobody", text.label("nobody")))
        if step == "review":
            return tuple(
                (f"edit:{s}", self.prompts.say("edit_prefix", title=self.prompts.step(s).title))
                for s in self.reviewable(conversation)
            )
        return text.choices

    def actions(self, step: str) -> tuple[tuple[str, str], ...]:
        """Buttons that act rather than answer: Done, Skip, Continue, Submit, Browse."""
        text = self.prompts.step(step)
        if step == "standards":
            return (("browse", text.label("browse")), ("done", self.prompts.say("done")))
        if step == "review":
            return (("submit", text.label("submit")),)
        if text.kind == "multi":
            return (("done", self.prompts.say("done")),)
        if text.kind == "info":
            return (("continue", text.label("continue")),)
        if text.kind == "text" and text.optional:
            return (("skip", self.prompts.say("skip")),)
        return ()

    def options(self, step: str, conversation: Conversation) -> tuple[Option, ...]:
        chosen = set(conversation.answer_list(self.list_key(step)))
        multi = self.prompts.step(step).kind == "multi"
        picks = tuple(
            Option(key, label, selected=multi and key in chosen)
            for key, label in self.choices(step, conversation)
        )
        return picks + tuple(Option(k, label, action=True) for k, label in self.actions(step))

    def list_key(self, step: str) -> str:
        """Where a multiple-choice step keeps its ticks (domain browsing adds to standards)."""
        return "standards" if step == "domain_standards" else step

    def standard_candidates(self, conversation: Conversation) -> tuple[str, ...]:
        framework = self.catalogue.framework
        suggested = framework.suggest(
            [t for t in conversation.answer_list("topics") if t != "not_sure"],
            conversation.answer_text("description") or "",
        )
        chosen = [s for s in conversation.answer_list("standards") if s != "not_sure"]
        ids = set(suggested) | set(chosen)
        return tuple(s.id for s in framework.standards if s.id in ids)

    def preticked(self, conversation: Conversation) -> tuple[str, ...]:
        """The standards ticked on arrival: the chosen topics', or the description's if none."""
        framework = self.catalogue.framework
        topics = [t for t in conversation.answer_list("topics") if t != "not_sure"]
        text = "" if topics else conversation.answer_text("description") or ""
        return framework.suggest(topics, text)

    def reviewable(self, conversation: Conversation) -> tuple[str, ...]:
        journey = JOURNEYS[conversation.journey]
        return tuple(s for s in journey.reviewable if s in conversation.answers)

    # -- reading input --------------------------------------------------------------

    def read(self, step: str, conversation: Conversation, event: Text | Press) -> Reading:
        """What the input means at this step, or the problem with it."""
        text = self.prompts.step(step)
        options = self.options(step, conversation)
        if isinstance(event, Press):
            match = next((o for o in options if o.key == event.key), None)
            if match is None:
                return Problem("invalid_choice", (("answer", event.key),))
            return self._picked(text.kind, match)
        if text.kind == "text":
            return self._typed(step, event.text, options)
        if text.kind == "multi":
            return self._typed_many(event.text, options)
        match = match_option(event.text, options)
        if match is None:
            return Problem("invalid_choice", (("answer", clean(event.text)[:60]),))
        return self._picked(text.kind, match)

    def _picked(self, kind: str, option: Option) -> Reading:
        if option.action:
            return Action(option.key)
        if option.key.startswith("edit:"):
            return Action(option.key)
        return Toggled((option.key,)) if kind == "multi" else Answered(option.key)

    def _typed(self, step: str, raw: str, options: Sequence[Option]) -> Reading:
        text = self.prompts.step(step)
        skip = next((o for o in options if o.key == "skip"), None)
        if skip is not None and (match_option(raw, options) is skip or _fold(raw) == "skip"):
            return Action("skip")
        value = clean(raw)
        if len(value) > text.max:
            return Problem("too_long", (("length", len(value)), ("max", text.max)))
        if len(value) < text.min:
            return Problem("too_short", (("min", text.min),))
        if step == "contact" and not (EMAIL.match(value) or PHONE.match(value)):
            return Problem("invalid_contact")
        return Answered(value)

    def _typed_many(self, raw: str, options: Sequence[Option]) -> Reading:
        """Typed numbers or labels tick or untick, like presses; Done moves on."""
        whole = match_option(raw, options)
        if whole is not None:
            return Action(whole.key) if whole.action else Toggled((whole.key,))
        picks = [match_option(part, options) for part in re.split(r"[,;]", raw) if part.strip()]
        if picks and all(p is not None and not p.action for p in picks):
            return Toggled(tuple(dict.fromkeys(p.key for p in picks if p is not None)))
        return Problem("invalid_choice", (("answer", clean(raw)[:60]),))


def match_option(raw: str, options: Sequence[Option]) -> Option | None:
    """An option by its number (1-based), its label or its key, ignoring case and spacing."""
    folded = _fold(raw).rstrip(".")
    # Decimal digits of any script (3, ٣, ३, fullwidth 3) are what int() reads; superscripts and
    # circled digits are digits to isdigit() but not numbers to int(), so they match no number.
    if folded.isdecimal() and len(folded) <= NUMBER_DIGITS:
        number = int(folded)
        if 1 <= number <= len(options):
            return options[number - 1]
    for option in options:
        if folded in (_fold(option.label), option.key.casefold()):
            return option
    return None


def exclusive(keys: list[str]) -> list[str]:
    """Keep an exclusive choice ('not sure', 'nobody', 'none') only on its own."""
    if len(keys) > 1 and any(k in EXCLUSIVE for k in keys):
        last = keys[-1]
        return [last] if last in EXCLUSIVE else [k for k in keys if k not in EXCLUSIVE]
    return keys


def toggle(current: list[str], key: str) -> list[str]:
    if key in current:
        return [k for k in current if k != key]
    return exclusive([*current, key])
