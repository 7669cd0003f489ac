"""One step at a time: the options a step offers, and what a person's input means there.

`read` turns an inbound event into data (an answer, a tick, an action) or a `Problem`
naming what did not fit; it has no side effects, like Rasa's `validate_<slot>` functions.
Typed text is read by the one matcher (`dialogues.matching`), fed by the options' labels
and the synonyms in content: no step compares strings itself.

A step shows at most eight buttons. Where there are more choices than fit (the hospitals,
the learner groups, the topics, the standards), the rest are offered to typing only: typed
words are matched against every choice, and a few that fit come back as "which of these?",
numbered after the buttons so that a typed number means the same option in either list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType

from dialogues.bundle import CANCEL_STEP, KEEP, LABELLED_ACTIONS, RESTART_STEP, Content
from dialogues.journeys import DECISIONS, JOURNEYS, PRIVACY_CHECK, proposed_items
from dialogues.matching import (
    Ambiguous,
    Choice,
    Match,
    Matcher,
    Picked,
    Refused,
    TooMany,
    Unmatched,
    words,
)
from dialogues.readings import (
    Action,
    Answered,
    Problem,
    Reading,
    Toggled,
    Unclear,
    clean,
    name_and_contact,
)
from dialogues.records import Conversation
from dialogues.turns import Option, Press, Text

# The "are you sure?" questions: the labels of their yes and no.
CONFIRM_LABELS = {
    CANCEL_STEP: ("cancel_yes", "cancel_no"),
    RESTART_STEP: ("in_progress_restart", "in_progress_continue"),
}
# Where a step keeps its answer, when not under its own name: a second page adds to the first.
ANSWER_KEYS = {"group_more": "group", "topics_more": "topics", "domain_standards": "standards"}
# The standards offered as buttons, beside Not sure, Browse and Done.
SHOWN_STANDARDS = 5
# No keyboard has more buttons than this, so that it fits on a phone.
MOST_BUTTONS = 8
# Matchers kept ready (see `Steps.__init__`).
MATCHERS_KEPT = 512


class Steps:
    """Options and input reading for every step, over one content bundle."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self.prompts = content.prompts
        self.catalogue = content.catalogue
        # Each list of choices' matcher, made once: folding every label and synonym was most
        # of a turn's work, and the same lists come round again and again. Matchers are read
        # only; the lists are the content's, so a few hundred hold them all.
        self._ready = lru_cache(maxsize=MATCHERS_KEPT)(self._made)
        # Read for every answer the review shows: made once, read only.
        levels = self.catalogue.pathways.levels
        self._role_labels = MappingProxyType({r.key: r.label for lv in levels for r in lv.roles})

    # -- options -------------------------------------------------------------------

    def choices(self, step: str, conversation: Conversation) -> tuple[tuple[str, str], ...]:
        """Every (key, label) a person may pick at this step, buttons first, actions excluded."""
        catalogue = self.catalogue
        framework, pathways = catalogue.framework, catalogue.pathways
        text = self.prompts.step(step)
        if step in ("group", "group_more"):
            more = step == "group_more"
            first = [(g.key, g.short) for g in pathways.groups if g.more == more]
            rest = [(g.key, g.short) for g in pathways.groups if g.more != more]
            return (*first, *rest)
        if step == "university":
            return tuple((u.key, u.short) for u in catalogue.universities)
        if step == "organisation":
            everywhere = [(o.key, o.short) for o in catalogue.organisations]
            return (everywhere[-1], *everywhere[:-1])  # "Somewhere else" is the one button
        if step in ("topics", "topics_more"):
            first = [
                (t.key, t.short) for t in framework.topics if t.more == (step == "topics_more")
            ]
            rest = [(t.key, t.short) for t in framework.topics if (t.key, t.short) not in first]
            not_sure = ("not_sure", text.label("not_sure"))
            return (*first, not_sure, *rest) if step == "topics_more" else (*first, *rest, not_sure)
        if step == "standards":
            ids = self.standard_candidates(conversation)[:SHOWN_STANDARDS]
            labelled = tuple((i, framework.standard(i).button) for i in ids)
            others = tuple((s.id, s.button) for s in framework.standards if s.id not in ids)
            return (*labelled, ("not_sure", text.label("not_sure")), *others)
        if step == "domain":
            return tuple((str(d.number), f"{d.number} {d.short}") for d in framework.domains)
        if step == "domain_standards":
            number = int(conversation.answer_text("domain") or 1)
            return tuple((s.id, s.button) for s in framework.standards_in(number))
        if step in ("likelihood", "impact"):
            levels = getattr(catalogue.risk, step)
            return tuple((str(v.score), v.label) for v in levels)
        if step == "told":
            return self._told_choices(conversation, ("nobody", text.label("nobody")))
        if step == "story_wrong":
            return tuple((item, text.label(item)) for item in self.story_items(conversation))
        if step == PRIVACY_CHECK:
            words = self.content.identifying.words
            return tuple((key, getattr(words, key)) for key in DECISIONS)
        if step == "review":
            return tuple(
                (f"edit:{name}", self.prompts.say("edit_prefix", title=text.label(name)))
                for name in self.review_sections(conversation)
            )
        return text.choices

    def shown(self, step: str, conversation: Conversation) -> int:
        """How many of the step's choices are buttons; the rest are offered to typing."""
        choices = self.choices(step, conversation)
        if step in ("group", "group_more"):
            more = step == "group_more"
            return sum(g.more == more for g in self.catalogue.pathways.groups)
        if step == "organisation":
            return 1
        if step == "told":  # the buttons first (see `_told_choices`), Done beside them
            return min(len(choices), MOST_BUTTONS - len(self.actions(step, conversation)))
        if step == "topics":
            return sum(not t.more for t in self.catalogue.framework.topics)
        if step == "topics_more":
            return sum(t.more for t in self.catalogue.framework.topics) + 1
        if step == "standards":
            return min(len(self.standard_candidates(conversation)), SHOWN_STANDARDS) + 1
        return len(choices)

    def _told_choices(
        self, conversation: Conversation, nobody: tuple[str, str]
    ) -> tuple[tuple[str, str], ...]:
        """The group's roles and Nobody; whom the story said they told, though the group's
        list has no such role (a doctor's "ward manager"), still on offer (ticked) in place
        of the group's last roles not ticked, which are then offered to typing only."""
        offered = self.told_roles(conversation.answer_text("group"))
        ticked = set(conversation.answer_list("told"))
        # In another group's (button-length) words where one has the role.
        words = dict(self.told_roles(None))
        words.update((k, w) for g in self.catalogue.pathways.groups[::-1] for k, w in g.roles)
        kept = [(k, words[k]) for k in words if k in ticked - {k for k, _ in offered}]
        over = max(0, len(offered) + len(kept) - (MOST_BUTTONS - 2))  # beside Nobody, Done
        spare = [r for r in offered if r[0] not in ticked][::-1][:over]
        shown = [r for r in offered if r not in spare]
        return (*shown, *kept, nobody, *spare[::-1])

    def told_roles(self, group_key: str | None) -> tuple[tuple[str, str], ...]:
        """Whom this group may have told, in its own words; every role if the group is unknown."""
        pathways = self.catalogue.pathways
        group = next((g for g in pathways.groups if g.key == group_key), None)
        if group is not None and group.roles:
            return group.roles
        return tuple((r.key, r.label) for lv in pathways.levels if lv.number < 3 for r in lv.roles)

    def actions(self, step: str, conversation: Conversation) -> tuple[tuple[str, str], ...]:
        """Buttons that act rather than answer: Done, Skip, Continue, Submit, Browse, More..."""
        text = self.prompts.step(step)
        say = self.prompts.say
        labelled = [(name, text.label(name)) for name in LABELLED_ACTIONS if name in text.labels]
        if text.kind in ("choice", "text") and self._keeps(step, conversation):
            labelled.append((KEEP, say("keep")))
        if step == "standards":
            return (("browse", text.label("browse")), ("done", say("done")))
        if step == "review":
            return (("submit", text.label("submit")),)
        if text.kind == "multi":
            return (*labelled, ("done", say("done")))
        if text.kind == "info":
            return (("continue", text.label("continue")),)
        if text.kind == "text" and text.optional:
            return (*labelled, ("skip", say("skip")))
        return tuple(labelled)

    def _keeps(self, step: str, conversation: Conversation) -> bool:
        """Keep is offered when a question is asked again from the review, with an answer."""
        return conversation.editing and conversation.answers.get(self.answer_key(step)) is not None

    def options(self, step: str, conversation: Conversation) -> tuple[Option, ...]:
        """The buttons: the choices shown, then the actions (the review's Submit comes first)."""
        if step in CONFIRM_LABELS:
            return self.confirm_options(step)
        shown = self.shown(step, conversation)
        picks = self._picks(step, conversation)[:shown]
        acts = tuple(Option(k, label, action=True) for k, label in self.actions(step, conversation))
        if len(picks) + len(acts) > MOST_BUTTONS:
            # Keep is still there to type ("keep", "same"): the answer is shown in the message.
            acts = tuple(a for a in acts if a.key != KEEP)
        return acts + picks if step == "review" else picks + acts

    def typed_options(self, step: str, conversation: Conversation) -> tuple[Option, ...]:
        """What typing may choose: the buttons, then the choices offered to typing only."""
        if step in CONFIRM_LABELS:
            return self.confirm_options(step)
        shown = self.shown(step, conversation)
        options = self.options(step, conversation)
        hidden = self._picks(step, conversation)[shown:]
        keeps = tuple(
            Option(KEEP, label, action=True)
            for key, label in self.actions(step, conversation)
            if key == KEEP and all(o.key != KEEP for o in options)
        )
        return options + keeps + hidden

    def _picks(self, step: str, conversation: Conversation) -> tuple[Option, ...]:
        chosen = set(conversation.answer_list(self.answer_key(step)))
        multi = self.prompts.step(step).kind == "multi"
        return tuple(
            Option(key, label, selected=multi and key in chosen)
            for key, label in self.choices(step, conversation)
        )

    def confirm_options(self, step: str) -> tuple[Option, ...]:
        """The yes and no of an "are you sure?" question."""
        yes, no = CONFIRM_LABELS[step]
        return (Option("yes", self.prompts.say(yes)), Option("no", self.prompts.say(no)))

    def answer_key(self, step: str) -> str:
        """Where a step keeps its answer (a second page of choices adds to the first's)."""
        return ANSWER_KEYS.get(step, step)

    def standard_candidates(self, conversation: Conversation) -> tuple[str, ...]:
        framework = self.catalogue.framework
        suggested = framework.suggest(
            [t for t in conversation.answer_list("topics") if t != "not_sure"],
            conversation.answer_text("description") or "",
        )
        chosen = [s for s in conversation.answer_list("standards") if s != "not_sure"]
        ids = set(suggested) | set(chosen)
        ordered = [s.id for s in framework.standards if s.id in ids]
        # The ticked first, so the buttons show what the learner has.
        return tuple(sorted(ordered, key=lambda i: i not in chosen))

    def preticked(self, conversation: Conversation) -> tuple[str, ...]:
        """The standards ticked on arrival: the chosen topics', or the description's if none."""
        framework = self.catalogue.framework
        topics = [t for t in conversation.answer_list("topics") if t != "not_sure"]
        text = "" if topics else conversation.answer_text("description") or ""
        return framework.suggest(topics, text)

    def review_sections(self, conversation: Conversation) -> tuple[str, ...]:
        """The review's sections that have an answer to show."""
        journey = JOURNEYS[conversation.journey]
        return tuple(
            section.name
            for section in journey.sections
            if any(self.answer_key(step) in conversation.answers for step in section.steps)
        )

    def story_items(self, conversation: Conversation) -> tuple[str, ...]:
        """The parts of the story's proposals a learner can mark wrong, as proposed."""
        journey = JOURNEYS[conversation.journey]
        return proposed_items(conversation.answers, journey.story_items)

    # -- reading input --------------------------------------------------------------

    def read(self, step: str, conversation: Conversation, event: Text | Press) -> Reading:
        """What the input means at this step, or the problem with it."""
        text = self.prompts.step(step)
        options = self.typed_options(step, conversation)
        if isinstance(event, Press):
            match = next((o for o in options if o.key == event.key), None)
            if match is None:
                return Problem("invalid_choice", (("answer", event.key),))
            picked = self._picked(text.kind, match)
            if step == "organisation" and isinstance(picked, Answered):
                return Answered(picked.value, (("site", None),))
            return picked
        matcher = self._matcher(step, options)
        if text.kind == "text":
            return self._typed(step, event.text, matcher)
        if text.kind == "multi":
            return self._typed_many(event.text, matcher)
        if step == "organisation":
            return self._place(event.text, matcher, options)
        return self._chosen(text.kind, matcher.one(event.text), event.text, options)

    def confirmation(self, step: str, raw: str) -> str | None:
        """The key ("yes" or "no") typed at an "are you sure?" question, whole words only."""
        found = self._matcher(step, self.confirm_options(step)).one(raw, mode="strict")
        return found.key if isinstance(found, Picked) else None

    def matcher(self, step: str, conversation: Conversation) -> Matcher:
        """The matcher for this step's options, numbered as shown."""
        return self._matcher(step, self.typed_options(step, conversation))

    def _matcher(self, step: str, shown: Sequence[Option]) -> Matcher:
        synonyms = self.content.synonyms
        # A second page of choices reads the first page's synonyms too.
        said = {**synonyms.for_step(self.answer_key(step)), **synonyms.for_step(step)}
        choices = tuple(
            Choice(o.key, n, o.label, self._names(step, o), said.get(o.key, ()), o.action)
            for n, o in enumerate(shown, start=1)
        )
        return self._ready(choices)

    def _made(self, choices: tuple[Choice, ...]) -> Matcher:
        synonyms = self.content.synonyms
        return Matcher(choices, synonyms.filler, synonyms.joiners)

    def _names(self, step: str, option: Option) -> tuple[str, ...]:
        """The words that name an option, where its label is a short form of a longer name."""
        catalogue, key = self.catalogue, option.key
        if option.action:
            return ()
        if step in ("likelihood", "impact") and key.isdigit():
            return (option.label, f"{key} {option.label}")
        if step in ("standards", "domain_standards") and key != "not_sure":
            standard = next((s for s in catalogue.framework.standards if s.id == key), None)
            return (option.label, f"{standard.id} {standard.summary}") if standard else ()
        long = (self.role_labels() if step == "told" else self.long_labels(step)).get(key)
        return (option.label, long) if long and long != option.label else ()

    def long_labels(self, step: str) -> dict[str, str]:
        """Choices' full names where buttons show a short form: what the Quality team reads."""
        catalogue = self.catalogue
        if step in ("group", "group_more"):
            return {g.key: g.label for g in catalogue.pathways.groups}
        if step == "organisation":
            return {o.key: o.name for o in catalogue.organisations}
        if step == "university":
            return {u.key: u.name for u in catalogue.universities}
        if step in ("topics", "topics_more"):
            return {t.key: t.label for t in catalogue.framework.topics}
        return {}

    def role_labels(self) -> Mapping[str, str]:
        """Every role's own label: how a role is named outside its group's list."""
        return self._role_labels

    def _chosen(self, kind: str, found: Match, raw: str, options: Sequence[Option]) -> Reading:
        if isinstance(found, Picked):
            return self._picked(kind, next(o for o in options if o.key == found.key))
        if isinstance(found, Ambiguous):
            return Unclear(found.keys, clean(raw)[:60])
        if not clean(raw):
            return Problem("nothing_typed")
        problem = "too_many_fit" if isinstance(found, TooMany) else "invalid_choice"
        return Problem(problem, (("answer", clean(raw)[:60]),))

    def _place(self, raw: str, matcher: Matcher, options: Sequence[Option]) -> Reading:
        """A hospital, site or town typed, perhaps with more ("Ipswich, ward 12"): kept as the
        site unless it is only the organisation's own name or a number."""
        found = matcher.one(raw)
        if isinstance(found, Unmatched):
            found = matcher.leading(raw)
        if isinstance(found, Picked):
            option = next(o for o in options if o.key == found.key)
            if option.action:
                return Action(option.key)
            typed = clean(raw)[: self.prompts.step("organisation_other").max]
            # Only words of the organisation's own name ("Norwich") say nothing more.
            own = {
                w for n in (option.label, *self._names("organisation", option)) for w in words(n)
            }
            plain = set(words(typed)) <= own or typed.isdigit()
            return Answered(option.key, (("site", None if plain else typed),))
        if isinstance(found, Unmatched):
            return Problem("organisation_unknown", (("answer", clean(raw)[:60]),))
        return self._chosen("choice", found, raw, options)

    def _picked(self, kind: str, option: Option) -> Reading:
        if option.action:
            return Action(option.key)
        if option.key.startswith("edit:"):
            return Action(option.key)
        return Toggled((option.key,)) if kind == "multi" else Answered(option.key)

    def _typed(self, step: str, raw: str, matcher: Matcher) -> Reading:
        text = self.prompts.step(step)
        # Free text is never guessed at: only an action's number or its words, whole, act.
        found = matcher.one(raw, mode="exact")
        if isinstance(found, Picked):
            return Action(found.key)
        value = clean(raw)
        if len(value) > text.max:
            return Problem("too_long", (("length", len(value)), ("max", text.max)))
        if len(value) < text.min:
            return Problem("too_short", (("min", text.min),))
        if step == "name":
            return name_and_contact(value, text.min)
        return Answered(value)

    def _typed_many(self, raw: str, matcher: Matcher) -> Reading:
        """Typed numbers or words tick or untick, like presses; Done moves on."""
        found = matcher.several(raw)
        if isinstance(found, Refused) and not clean(raw):
            return Problem("nothing_typed")
        if isinstance(found, Refused):
            problem = "too_many_fit" if found.too_many else "invalid_choice"
            return Problem(problem, (("answer", clean(found.text)[:60]),))
        if found.unclear:
            return Unclear(found.unclear, clean(found.unclear_text)[:60], found.keys)
        if not found.keys and found.action:
            return Action(found.action)
        return Toggled(found.keys, found.action)
