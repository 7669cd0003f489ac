"""One step at a time: the options a step offers, and what a person's input means there.

`read` turns an inbound event into data (an answer, a tick, an action) or a `Problem`
naming what did not fit; it has no side effects, like Rasa's `validate_<slot>` functions.
Typed text is read by the one matcher (`dialogues.matching`), fed by the options' labels
and the synonyms in content: no step compares strings itself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from dialogues.bundle import CANCEL_STEP, RESTART_STEP, Content
from dialogues.journeys import JOURNEYS
from dialogues.matching import Ambiguous, Choice, Match, Matcher, Picked, Refused, TooMany
from dialogues.records import Answer, Conversation
from dialogues.turns import Option, Press, Text

# Exclusive options: choosing one clears the rest, choosing another clears it.
EXCLUSIVE = frozenset({"not_sure", "nobody", "none"})
PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Dropped from typed text: control characters, unassigned and surrogate code points, and the
# bidirectional overrides that can make text read differently from what it says. Joiners stay:
# emoji sequences and several scripts need them.
DROPPED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
# The "are you sure?" questions: the labels of their yes and no.
CONFIRM_LABELS = {
    CANCEL_STEP: ("cancel_yes", "cancel_no"),
    RESTART_STEP: ("in_progress_restart", "in_progress_continue"),
}


@dataclass(frozen=True)
class Answered:
    value: Answer


@dataclass(frozen=True)
class Toggled:
    keys: tuple[str, ...]
    then: str | None = None  # an action typed after the ticks: "1, 3 done"


@dataclass(frozen=True)
class Action:
    name: str  # done, skip, continue, browse, submit, or edit:<step>


@dataclass(frozen=True)
class Problem:
    message: str
    values: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Unclear:
    """What was typed fits a few options: ask which, keeping any ticks that were clear."""

    keys: tuple[str, ...]
    said: str
    ticked: tuple[str, ...] = ()


Reading = Answered | Toggled | Action | Problem | Unclear


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
        if step in CONFIRM_LABELS:
            return self.confirm_options(step)
        chosen = set(conversation.answer_list(self.list_key(step)))
        multi = self.prompts.step(step).kind == "multi"
        picks = tuple(
            Option(key, label, selected=multi and key in chosen)
            for key, label in self.choices(step, conversation)
        )
        return picks + tuple(Option(k, label, action=True) for k, label in self.actions(step))

    def confirm_options(self, step: str) -> tuple[Option, ...]:
        """The yes and no of an "are you sure?" question."""
        yes, no = CONFIRM_LABELS[step]
        return (Option("yes", self.prompts.say(yes)), Option("no", self.prompts.say(no)))

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
        matcher = self.matcher(step, conversation)
        if text.kind == "text":
            return self._typed(step, event.text, matcher)
        if text.kind == "multi":
            return self._typed_many(event.text, matcher)
        return self._chosen(text.kind, matcher.one(event.text), event.text, options)

    def confirmation(self, step: str, raw: str) -> str | None:
        """The key ("yes" or "no") typed at an "are you sure?" question, whole words only."""
        found = self._matcher(step, self.confirm_options(step)).one(raw, mode="strict")
        return found.key if isinstance(found, Picked) else None

    def matcher(self, step: str, conversation: Conversation) -> Matcher:
        """The matcher for this step's options as shown, numbered as shown."""
        return self._matcher(step, self.options(step, conversation))

    def _matcher(self, step: str, shown: Sequence[Option]) -> Matcher:
        synonyms = self.content.synonyms
        said = synonyms.for_step(step)
        choices = tuple(
            Choice(o.key, n, o.label, self._names(step, o.key), said.get(o.key, ()), o.action)
            for n, o in enumerate(shown, start=1)
        )
        return Matcher(choices, synonyms.filler, synonyms.joiners)

    def _names(self, step: str, key: str) -> tuple[str, ...]:
        """The words that name an option when its label also carries a description."""
        catalogue = self.catalogue
        if step in ("likelihood", "impact") and key.isdigit():
            level = next((v for v in getattr(catalogue.risk, step) if str(v.score) == key), None)
            return (f"{level.score} {level.label}",) if level else ()
        if step in ("standards", "domain_standards") and key != "not_sure":
            standard = next((s for s in catalogue.framework.standards if s.id == key), None)
            return (f"{standard.id} {standard.summary}",) if standard else ()
        return ()

    def _chosen(self, kind: str, found: Match, raw: str, options: Sequence[Option]) -> Reading:
        if isinstance(found, Picked):
            return self._picked(kind, next(o for o in options if o.key == found.key))
        if isinstance(found, Ambiguous):
            return Unclear(found.keys, clean(raw)[:60])
        problem = "too_many_fit" if isinstance(found, TooMany) else "invalid_choice"
        return Problem(problem, (("answer", clean(raw)[:60]),))

    def _picked(self, kind: str, option: Option) -> Reading:
        if option.action:
            return Action(option.key)
        if option.key.startswith("edit:"):
            return Action(option.key)
        return Toggled((option.key,)) if kind == "multi" else Answered(option.key)

    def _typed(self, step: str, raw: str, matcher: Matcher) -> Reading:
        text = self.prompts.step(step)
        # Free text is never guessed at: only Skip's number or its words, whole, skip.
        if matcher.one(raw, mode="exact") == Picked("skip"):
            return Action("skip")
        value = clean(raw)
        if len(value) > text.max:
            return Problem("too_long", (("length", len(value)), ("max", text.max)))
        if len(value) < text.min:
            return Problem("too_short", (("min", text.min),))
        if step == "contact" and not (EMAIL.match(value) or PHONE.match(value)):
            return Problem("invalid_contact")
        return Answered(value)

    def _typed_many(self, raw: str, matcher: Matcher) -> Reading:
        """Typed numbers or words tick or untick, like presses; Done moves on."""
        found = matcher.several(raw)
        if isinstance(found, Refused):
            problem = "too_many_fit" if found.too_many else "invalid_choice"
            return Problem(problem, (("answer", clean(found.text)[:60]),))
        if found.unclear:
            return Unclear(found.unclear, clean(found.unclear_text)[:60], found.keys)
        if not found.keys and found.action:
            return Action(found.action)
        return Toggled(found.keys, found.action)


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
