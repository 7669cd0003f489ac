"""The dialogue engine: one pure function of (conversation, event) to (conversation, replies).

Commands (back, pause, cancel, help, new, resume) work at every step; back, pause, cancel,
help and resume also typed alone without the slash, even at a text question. Input that does
not fit is answered with the reason and the same question again, and nothing given before is
lost; input that fits a few options is answered with just those. After each answer the
story check (`dialogues.proposals`) may read the story or accept what it said; the journey
then passes over what the story answered, and an answer changed has those that follow from
it asked again (`dialogues.dependents`). Submit checks the learner's words for details that
could identify someone (`dialogues.privacy_check`) and, once nothing is found or the learner
has decided what to do with them, files the concern and shows the advice; the caller stores
both at once. The quick pathway question ends with its advice and leaves no conversation
behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from dialogues.bundle import CANCEL_STEP, RESTART_STEP, Content
from dialogues.dependents import tidy
from dialogues.filing import advice_for, file_concern, where_it_went
from dialogues.guards import Facts
from dialogues.journeys import ANSWERED, JOURNEYS, SUBMITTED
from dialogues.machines import build_machine, next_state, walk
from dialogues.matching import command_word
from dialogues.privacy_check import PrivacyCheck
from dialogues.proposals import StoryCheck
from dialogues.questions import Questions
from dialogues.readings import Answered, Problem, Reading, Toggled, Unclear, clean, toggle
from dialogues.records import Conversation
from dialogues.repeats import pressed_again, typed_again
from dialogues.review import Review
from dialogues.steps import Steps
from dialogues.turns import Command, Event, Outcome, Press, Reply, Text
from dialogues.wording import Wording

# Typed bare, these start again only where they are not an answer (not at a text question).
RESTART_WORDS = frozenset({"new", "start"})


class Dialogue:
    """Both journeys over one content bundle, with one shared machine per journey."""

    def __init__(self, content: Content, resume_hint: str = "/resume",
                 team_channel: bool = False) -> None:  # fmt: skip
        self.content = content
        # Whether a way to the Quality team (chat, email) is set up where concerns are filed:
        # only then is one sent to them "on its way"; otherwise it is saved and waits.
        self.team_channel = team_channel
        self.prompts = content.prompts
        self.steps = Steps(content)
        self.wording = Wording(content, self.steps)
        self.review = Review(content, self.steps, self.wording)
        self.story = StoryCheck(content, self.steps)
        self.privacy = PrivacyCheck(content)
        self.questions = Questions(content, self.steps, self.review, self.story, self.privacy)
        self.machines = {name: build_machine(j) for name, j in JOURNEYS.items()}
        groups = content.catalogue.pathways.groups
        self.facts = Facts(
            students=frozenset(g.key for g in groups if g.student),
            roles={g.key: frozenset(k for k, _ in self.steps.told_roles(g.key)) for g in groups},
        )
        self.resume_hint = resume_hint

    # -- entry points ----------------------------------------------------------------

    def begin(self, key: str, owner: str, journey: str, now: datetime) -> Outcome:
        """A new conversation on a journey: the welcome and the first question."""
        start = JOURNEYS[journey].initial
        conversation = Conversation(
            key=key, owner=owner, journey=journey, state=start, created_at=now, updated_at=now
        )
        welcome = "welcome" if journey == "concern" else "welcome_pathway"
        intro = Reply(self.prompts.say(welcome) + "\n" + self.prompts.say("commands"))
        return Outcome(conversation, (intro, self.question(conversation)))

    def handle(
        self,
        conversation: Conversation,
        event: Event,
        now: datetime,
        new_reference: Callable[[], str],
    ) -> Outcome:
        """One turn. `new_reference` is called only when a concern is filed."""
        moved_at = conversation.updated_at
        conversation = replace(conversation, updated_at=now)
        if conversation.finished:
            return self._finished(conversation)
        conversation = self.privacy.reset(conversation)
        if conversation.interrupt is not None:
            return self._interrupted(conversation, event, now)
        if isinstance(event, Text) and event.text.lstrip().startswith("/"):
            words = event.text.strip().lstrip("/").split()
            event = Command(words[0].split("@")[0].casefold() if words else "")
        elif isinstance(event, Text) and command_word(event.text):
            # "back", "Pause." or "help" on its own is the command, even at a text question.
            event = Command(command_word(event.text) or "")
        if conversation.paused:
            conversation = replace(conversation, paused=False)
            if not isinstance(event, Command) and self._does_not_fit(conversation, event):
                # Days later the learner may not remember the question: show it again.
                return self.resume(conversation)
        if isinstance(event, Command):
            return self._command(conversation, event.name)
        if isinstance(event, Press) and event.step != conversation.state:
            note = self.prompts.say(pressed_again(self.steps, conversation, event))
            return Outcome(conversation, (self.question(conversation, note=note),), stale=True)
        reading = self.steps.read(conversation.state, conversation, event)
        if isinstance(reading, Problem) and isinstance(event, Text):
            word = clean(event.text).casefold()
            if word in RESTART_WORDS and self.prompts.step(conversation.state).kind != "text":
                return self._command(conversation, word)
        if isinstance(event, Text) and isinstance(reading, Problem | Unclear):
            repeated = typed_again(self.steps, conversation, event, moved_at, now)
            if repeated is not None:
                title = self.prompts.step(repeated).title
                note = self.prompts.say("repeated_answer", question=title)
                return Outcome(conversation, (self.question(conversation, note=note),))
        return self._apply(conversation, reading, now, new_reference)

    def question(self, conversation: Conversation, note: str | None = None) -> Reply:
        """The current step asked as a reply, with its options."""
        return self.questions.ask(conversation, note)

    # -- answers ---------------------------------------------------------------------

    def _apply(
        self,
        conversation: Conversation,
        reading: Reading,
        now: datetime,
        new_reference: Callable[[], str],
    ) -> Outcome:
        step = conversation.state
        if isinstance(reading, Unclear):
            ticked = self._ticked(conversation, reading.ticked)
            return Outcome(ticked, (self._which(ticked, reading),))
        if isinstance(reading, Problem):
            hint = self.prompts.say("multi_hint" if self._is_multi(step) else "choice_hint")
            values = dict(reading.values)
            if reading.message in ("invalid_choice", "nothing_typed"):
                values["hint"] = hint
            problem = self.prompts.say(reading.message, **values)
            return Outcome(conversation, (Reply(problem), self.question(conversation)))
        if isinstance(reading, Toggled):
            updated = self._ticked(conversation, reading.keys)
            if reading.then is not None:
                return self._act(updated, reading.then, now, new_reference)
            return Outcome(updated, (self.question(updated),))
        if isinstance(reading, Answered):
            answered = conversation.with_answer(self.steps.answer_key(step), reading.value)
            for key, value in reading.also:
                answered = answered.with_answer(key, value)
            given = tuple(key for key, _ in reading.also)
            return self._advance(answered, given=given, new_reference=new_reference)
        return self._act(conversation, reading.name, now, new_reference)

    def _ticked(self, conversation: Conversation, keys: tuple[str, ...]) -> Conversation:
        if not keys:
            return conversation
        key = self.steps.answer_key(conversation.state)
        ticked = conversation.answer_list(key)
        for toggled in keys:
            ticked = toggle(ticked, toggled)
        return conversation.with_answer(key, ticked)

    def _which(self, conversation: Conversation, unclear: Unclear) -> Reply:
        """Only the options that fit, under their numbers in the whole list, to choose from."""
        step = conversation.state
        shown = self.steps.typed_options(step, conversation)
        fitting = tuple(
            replace(option, number=number)
            for number, option in enumerate(shown, start=1)
            if option.key in unclear.keys
        )
        text = self.prompts.say("which", answer=unclear.said)
        return Reply(text, step, fitting, multi=self._is_multi(step))

    def _act(
        self,
        conversation: Conversation,
        action: str,
        now: datetime,
        new_reference: Callable[[], str],
    ) -> Outcome:
        step = conversation.state
        if action.startswith("edit:"):
            journey = JOURNEYS[conversation.journey]
            section = next(s for s in journey.sections if s.name == action.removeprefix("edit:"))
            editing = replace(
                conversation,
                state=section.steps[0],
                editing=True,
                trail=(*conversation.trail, step),
            )
            return Outcome(editing, (self._ask_again(editing),))
        if action == "skip":
            return self._advance(conversation.with_answer(step, None))
        if action == "done":
            key = self.steps.answer_key(step)
            if not conversation.answer_list(key):
                problem = Reply(self.prompts.say("invalid_multi_empty"))
                return Outcome(conversation, (problem, self.question(conversation)))
            return self._advance(conversation)
        if action in ("browse", "more"):
            return self._advance(conversation, intent=action)
        if action == "keep":
            return self._advance(conversation, new_reference=new_reference)
        if action == "explain":
            explained = Reply(self.wording.explain(step))
            return Outcome(conversation, (explained, self.question(conversation)))
        if action == "submit":
            missing = self._first_unanswered(conversation)
            if missing is not None:
                # An edit left unfinished (say, /back before naming the organisation).
                asking = replace(
                    conversation, state=missing, editing=True, trail=(*conversation.trail, step)
                )
                note = self.prompts.say("answer_first")
                return Outcome(asking, (self.question(asking, note=note),))
            checked = self.privacy.check(conversation)
            machine = self.machines[checked.journey]
            state = next_state(machine, checked, trigger="submit", facts=self.facts)
            if state == SUBMITTED:
                return self._submit(checked, now, new_reference)
            asking = replace(checked, state=state, trail=(*checked.trail, step))
            return Outcome(asking, (self.question(asking),))
        return self._advance(conversation, new_reference=new_reference)  # continue

    def _advance(
        self,
        conversation: Conversation,
        intent: str | None = None,
        given: tuple[str, ...] = (),
        new_reference: Callable[[], str] | None = None,
    ) -> Outcome:
        journey = JOURNEYS[conversation.journey]
        machine = self.machines[journey.name]
        settled = self.privacy.settle(self.story.settle(conversation))
        # Given just now: this step's answer, its side answers, and what the story gave.
        keys = {**settled.answers, **conversation.answers}
        read = [k for k in keys if settled.answers.get(k) != conversation.answers.get(k)]
        given = (self.steps.answer_key(conversation.state), *given, *read)
        tidied = tidy(journey, settled.answers, self.facts, given)
        conversation = replace(settled, answers=tidied.answers)
        state = next_state(machine, conversation, intent=intent, facts=self.facts)
        missing = None
        if state == "review" and conversation.editing:
            # An answer outside the section changed drops one elsewhere: ask it before the review.
            missing = self._first_unanswered(conversation)
            state = missing or state
        trail = (*conversation.trail, conversation.state)
        if state in trail:
            # A loop (browsing a domain returns to the standards): back from there goes where
            # it went the first time, and the trail never holds a step twice.
            trail = trail[: trail.index(state)]
        editing = conversation.editing and state != "review"
        moved = replace(conversation, state=state, trail=trail, editing=editing)
        if state == "review":
            # Back from the review goes to the last question on the way through, as answered now.
            moved = replace(moved, trail=walk(machine, journey, moved, "review", self.facts))
        if state == "standards" and "standards" not in moved.answers:
            moved = moved.with_answer("standards", list(self.steps.preticked(moved)))
        if state == ANSWERED:
            return self._answered(moved)
        if state == SUBMITTED and new_reference is not None:  # decided at the privacy check
            return self._submit(moved, moved.updated_at, new_reference)
        again = None
        if self.steps.answer_key(state) in tidied.dropped:
            changed = self.prompts.step(conversation.state).title
            again = self.prompts.say("asked_again", question=changed)
        elif missing is not None:
            again = self.prompts.say("answer_first")
        if (journey.notes_after or {}).get(conversation.state) == "score" and state != "review":
            score = self.wording.score(moved)
            return Outcome(moved, (self.question(moved, note=_notes(score, again)),))
        if editing:
            return Outcome(moved, (self._ask_again(moved, again),))
        return Outcome(moved, (self.question(moved, note=again),))

    def _submit(
        self, conversation: Conversation, now: datetime, new_reference: Callable[[], str]
    ) -> Outcome:
        reference = new_reference()
        concern = file_concern(self.content, conversation, reference, now)
        say = self.prompts.say
        submitted = "submitted_anonymous" if concern.identity == "anonymous" else "submitted"
        replies = [Reply(say(submitted, reference=reference))]
        advice = self.wording.advice(concern.advice, concern.learner_group, concern.university)
        replies.append(Reply(advice))
        replies.append(Reply(where_it_went(self.content, concern, self.team_channel)))
        # The filed concern holds the answers now; the conversation keeps only the reference.
        done = replace(
            conversation, state=SUBMITTED, answers={"reference": reference}, trail=(), editing=False
        )
        return Outcome(done, tuple(replies), concern)

    def _answered(self, conversation: Conversation) -> Outcome:
        """The advice; the quick question is then deleted (None), as its closing words say."""
        advice = advice_for(self.content, conversation)
        text = self.wording.advice(advice, conversation.answer_text("group"))
        return Outcome(None, (Reply(text), Reply(self.prompts.say("pathway_answered"))))

    # -- commands and interruptions ----------------------------------------------------

    def _command(self, conversation: Conversation, name: str) -> Outcome:
        say = self.prompts.say
        if name == "back":
            return self._back(conversation)
        if name == "help":
            step = self.prompts.step(conversation.state)
            typing = {"choice": "help_choice", "multi": "help_multi"}.get(step.kind)
            text = step.help + (f"\n{say(typing)}" if typing else "")
            if "explain" in step.labels:
                text = f"{self.wording.explain(conversation.state)}\n{text}"
            text += f"\n\n{say('help_general')}\n{say('commands')}"
            return Outcome(conversation, (Reply(text), self.question(conversation)))
        if name == "pause":
            paused = replace(conversation, paused=True)
            return Outcome(paused, (Reply(say("paused", resume=self.resume_hint)),))
        if name == "resume":
            return self.resume(conversation)
        if name == "cancel":
            return self._confirm(conversation, CANCEL_STEP, "cancel_confirm")
        if name in ("new", "start"):
            if not conversation.answers:
                return Outcome(conversation, (self.question(conversation),))
            return self._confirm(conversation, RESTART_STEP, "in_progress")
        unknown = say("not_a_command", command=f"/{name}", commands=say("commands"))
        return Outcome(conversation, (Reply(unknown), self.question(conversation)))

    def answers_given(self, conversation: Conversation) -> int:
        """How many questions have an answer (not the bookkeeping kept beside them)."""
        reviewable = set(JOURNEYS[conversation.journey].reviewable) | {
            "group",
            "topics",
            "standards",
        }
        return sum(1 for key in conversation.answers if key in reviewable)

    def resume(self, conversation: Conversation) -> Outcome:
        """Back to where the conversation was, with a reminder of how far it had got."""
        resumed = replace(conversation, paused=False, interrupt=None)
        note = self.prompts.say("resumed", count=self.answers_given(resumed))
        return Outcome(resumed, (self.question(resumed, note=note),))

    def _back(self, conversation: Conversation) -> Outcome:
        journey = JOURNEYS[conversation.journey]
        # Ticks changed without Done may leave an answer that no longer follows: not kept.
        answers = tidy(journey, conversation.answers, self.facts).answers
        conversation = replace(conversation, answers=answers)
        if conversation.editing or not conversation.trail:
            if conversation.editing:
                review = replace(conversation, state="review", editing=False)
                trail = walk(self.machines[journey.name], journey, review, "review", self.facts)
                back = replace(review, trail=trail)
                return Outcome(back, (self.question(back),))
            return Outcome(
                conversation,
                (Reply(self.prompts.say("back_at_start")), self.question(conversation)),
            )
        back = replace(conversation, state=conversation.trail[-1], trail=conversation.trail[:-1])
        return Outcome(back, (self._ask_again(back),))

    def _ask_again(self, conversation: Conversation, note: str | None = None) -> Reply:
        step = conversation.state
        key = self.steps.answer_key(step)
        if key not in conversation.answers or self.prompts.step(step).kind in ("multi", "info"):
            return self.question(conversation, note=note)  # ticks show what was chosen
        given = self.wording.answer(step, conversation, excerpt=500)
        return self.question(conversation, note=self.prompts.say("current_answer", answer=given))

    def _confirm(self, conversation: Conversation, step: str, text: str) -> Outcome:
        asking = replace(conversation, interrupt=step)
        question = self.prompts.say(text, count=self.answers_given(conversation))
        return Outcome(asking, (Reply(question, step, self.steps.confirm_options(step)),))

    def _interrupted(self, conversation: Conversation, event: Event, now: datetime) -> Outcome:
        """The answer to 'discard this?': yes discards, anything else carries on."""
        step = conversation.interrupt or CANCEL_STEP
        if isinstance(event, Press):
            choice = event.key if event.step == step else None
        elif isinstance(event, Text) and not event.text.lstrip().startswith("/"):
            choice = self.steps.confirmation(step, event.text)
        else:
            choice = None  # a command (say /start again) never confirms a discard
        carried_on = replace(conversation, interrupt=None)
        if choice != "yes":
            return Outcome(carried_on, (Reply(self.prompts.say("kept")), self.question(carried_on)))
        if step == CANCEL_STEP:
            start = self.prompts.say("start_hint")
            return Outcome(None, (Reply(self.prompts.say("cancelled", start=start)),))
        return self.begin(conversation.key, conversation.owner, conversation.journey, now)

    def _finished(self, conversation: Conversation) -> Outcome:
        start = self.prompts.say("start_hint")
        if conversation.state == SUBMITTED:
            reference = conversation.answer_text("reference") or ""
            return Outcome(
                conversation,
                (Reply(self.prompts.say("finished", reference=reference, start=start)),),
            )
        return Outcome(conversation, (Reply(self.prompts.say("finished_pathway", start=start)),))

    def _first_unanswered(self, conversation: Conversation) -> str | None:
        """The first question on the way to the review, as answered, that has no answer."""
        journey = JOURNEYS[conversation.journey]
        for state in walk(self.machines[journey.name], journey, conversation, "review", self.facts):
            kind = self.prompts.step(state).kind
            if kind != "info" and self.steps.answer_key(state) not in conversation.answers:
                return state
        return None

    def _does_not_fit(self, conversation: Conversation, event: Event) -> bool:
        if isinstance(event, Command):
            return False
        if isinstance(event, Press):
            return event.step != conversation.state
        return isinstance(self.steps.read(conversation.state, conversation, event), Problem)

    def _is_multi(self, step: str) -> bool:
        return self.prompts.step(step).kind == "multi"


def _notes(*notes: str | None) -> str | None:
    return "\n\n".join(n for n in notes if n) or None
