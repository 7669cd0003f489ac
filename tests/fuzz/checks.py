"""What must hold after every fuzzed turn, whatever was sent.

- The turn raised nothing, and answered: at least one reply, except for a repeated update id
  while no conversation is open (`TurnService._current` has no question to repeat).
- Each stored conversation loads, and `Dialogue.question` asks its current step again; at
  the review, every answer follows from the others (`check_follows`).
- No answer vanished or changed off-step. Precisely, comparing each of the chat's two
  conversations (concern, pathway) before and after the turn, one of these holds:
  * nothing was there before, and what is there now is a fresh start (no answers, first step);
  * it was deleted, and it was waiting on "cancel?" (only a confirmed cancel deletes), or
    it was the pathway question and this turn answered it (its closing words say so);
  * it began again (fresh, newer): it had finished, or was waiting on "start again?", or
    the turn was /pathway (which always starts a new pathway question);
  * it was filed: it was at the review (or at the check of the learner's words after it), the
    turn gave a reference, the concern is stored with the answers it had (its free text as
    typed, or with neutral words in place of the details the check found), and the
    conversation keeps only the reference;
  * otherwise every answer is as it was, except the answer of the step it was at (its
    list, for a domain's standards), the standards ticked on arriving at them, the notes of
    what dependents were given on, and an answer that no longer follows from the others (the
    journey's `dependents`: its guard fails, as a name after choosing anonymity, or an answer
    it was given on has changed since). A stale press changes no answer, but at the review,
    where no decision of the privacy check stands (Submit notes what it found).
  Back, edit, pause and resume move the step, never an answer, so they need no exception.
- The trail never holds more entries than the journey has states.
- A repeated update id changes nothing stored: both conversations and the owner's concerns.
- Every reply renders for Telegram: messages with text, each within 4,096 characters, and
  buttons whose callback data is within 64 bytes and reads back as (step, option key); and
  so does a turn's replies in as few messages as fit, each keyboard kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels.telegram_render import (
    MAX_CALLBACK_BYTES,
    MAX_TEXT,
    parse_callback,
    render,
    render_all,
)
from bot.service import Turn
from dialogues.dependents import GIVEN_ON, notes, value_of
from dialogues.engine import CANCEL_STEP, RESTART_STEP, Dialogue
from dialogues.guards import Facts, Guards
from dialogues.journeys import DETAILS_IN, FROM_STORY, JOURNEYS, PRIVACY_CHECK, STORY_PROPOSALS
from dialogues.privacy_check import PrivacyCheck
from dialogues.records import Concern, Conversation
from dialogues.turns import Command, Event, Press, Reply
from storage.repositories import Storage

SLOTS = ("concern", "pathway")


@dataclass(frozen=True)
class Snapshot:
    """What storage holds for one chat: both conversations and the owner's concerns."""

    conversations: dict[str, Conversation | None]
    concerns: tuple[str, ...]

    def target(self) -> Conversation | None:
        """The conversation input goes to, as the turn service chooses it."""
        present = [c for c in self.conversations.values() if c is not None]
        open_ = [c for c in present if not c.finished]
        return max(open_ or present, key=lambda c: c.updated_at, default=None)


def snapshot(storage: Storage, chat: str, owner: str, concerns: bool = False) -> Snapshot:
    """The chat's conversations, and the owner's concerns when asked (a query the more)."""
    with storage.unit_of_work() as uow:
        conversations = {j: uow.conversations.get(f"{chat}/{j}") for j in SLOTS}
        filed = uow.concerns.for_owner(owner) if concerns else []
    return Snapshot(conversations, tuple(sorted(c.reference for c in filed)))


def concern_of(storage: Storage, reference: str) -> Concern | None:
    with storage.unit_of_work() as uow:
        return uow.concerns.get(reference)


def check_replies(replies: tuple[Reply, ...]) -> None:
    for reply in replies:
        messages = render(reply)
        for message in messages:
            assert message.html.strip(), f"an empty message for {reply!r:.200}"
            assert len(message.html) <= MAX_TEXT, f"{len(message.html)} characters: {reply!r:.300}"
        keyboard = messages[-1].keyboard
        buttons = [b for row in keyboard.inline_keyboard for b in row] if keyboard else []
        assert len(buttons) == (len(reply.options) if reply.step else 0)
        for button, option in zip(buttons, reply.options, strict=True):
            data = button.callback_data
            assert isinstance(data, str) and len(data.encode()) <= MAX_CALLBACK_BYTES
            assert parse_callback(data) == (reply.step, option.key), data
            assert button.text.strip()
    # As the channel sends them: the turn's replies in as few messages as fit.
    together = render_all(replies)
    assert all(m.html.strip() and len(m.html) <= MAX_TEXT for m in together)
    shown = [m.keyboard for m in together if m.keyboard is not None]
    assert len(shown) == sum(bool(r.options and r.step) for r in replies)


def check_reloads(dialogue: Dialogue, after: Snapshot) -> None:
    for conversation in after.conversations.values():
        if conversation is None or conversation.finished:
            continue
        journey = JOURNEYS[conversation.journey]
        assert len(conversation.trail) <= len(journey.states), conversation.trail
        question = dialogue.question(conversation)
        assert question.step == conversation.state
        check_replies((question,))
        if conversation.state == "review":
            check_follows(dialogue.facts, conversation)


def check_follows(facts: Facts, conversation: Conversation) -> None:
    """Every answer on the review follows from the others: each dependent's guard holds, and
    the answers it was given on are as they are now."""
    guards = Guards(conversation.answers, facts=facts)
    noted = notes(conversation.answers)
    for dependent in JOURNEYS[conversation.journey].dependents:
        if dependent.answer not in conversation.answers:
            continue
        guard = dependent.guard
        assert guard is None or getattr(guards, guard)(), f"{dependent.answer}: {guard} fails"
        for on in dependent.on:
            now = value_of(conversation.answers.get(on))
            assert noted.get((dependent.answer, on)) == now, f"{dependent.answer} on {on}"


# Answers given in the same words as another step's: the site typed with the hospital, the
# contact with the name. (FROM_STORY notes which answers came from the story.)
ALSO_ANSWERED = {"organisation": ("site", "organisation_other"), "name": ("contact",)}
STORY_STEPS = frozenset({"description", "story_check", "story_wrong"})
STORY_KEYS = frozenset({STORY_PROPOSALS, "story_check", "story_wrong", "site"})


def _fresh(conversation: Conversation) -> bool:
    return not conversation.answers and conversation.state == JOURNEYS[conversation.journey].initial


def _no_longer_follows(facts: Facts, key: str, was: Conversation, now: Conversation) -> bool:
    """The answer is a dependent that does not stand with the answers as they are now."""
    dependent = next((d for d in JOURNEYS[was.journey].dependents if d.answer == key), None)
    if dependent is None:
        return False
    guard = dependent.guard
    # The guard is asked of the answer as it was, beside the others as they are now (a
    # guard that reads the answer itself, as has_roles_of_group does, holds without it).
    kept = {**now.answers, key: was.answers.get(key)}
    if guard is not None and not getattr(Guards(kept, facts=facts), guard)():
        return True
    noted = notes(was.answers)
    return any(
        noted.get((key, on), value_of(was.answers.get(on))) != value_of(now.answers.get(on))
        for on in dependent.on
    )


def check_answers(
    dialogue: Dialogue,
    storage: Storage,
    event: Event,
    turn: Turn,
    before: Snapshot,
    after: Snapshot,
) -> None:
    for slot in SLOTS:
        was, now = before.conversations[slot], after.conversations[slot]
        if was is None:
            assert now is None or _fresh(now), f"{slot} appeared with answers: {now}"
            continue
        if now is None:
            answered = dialogue.prompts.say("pathway_answered") in [r.text for r in turn.replies]
            confirmed = was.interrupt == CANCEL_STEP
            assert confirmed or (slot == "pathway" and answered), f"{slot} deleted: {was}"
            continue
        if now.created_at > was.created_at:
            restarted = was.finished or was.interrupt == RESTART_STEP
            pathway = slot == "pathway" and event == Command("pathway")
            assert _fresh(now) and (restarted or pathway), f"{slot} restarted: {was} -> {now}"
            continue
        if turn.reference is not None and slot == "concern" and was.state != now.state:
            assert was.state in ("review", PRIVACY_CHECK) and now.state == "submitted"
            assert dict(now.answers) == {"reference": turn.reference}
            concern = concern_of(storage, turn.reference)
            assert concern is not None and concern.owner == was.owner
            typed = was.answers["description"]
            replaced = PrivacyCheck(dialogue.content).replaced(was).answers["description"]
            assert concern.description == typed or (
                was.state == PRIVACY_CHECK and concern.description == replaced
            )
            assert concern.organisation == was.answers["organisation"]
            assert concern.identity == was.answers["identity"]
            continue
        targeted = was.key == getattr(before.target(), "key", None)
        _check_on_step(dialogue, slot, event, turn, was, now, targeted)


def _check_on_step(
    dialogue: Dialogue,
    slot: str,
    event: Event,
    turn: Turn,
    was: Conversation,
    now: Conversation,
    targeted: bool,
) -> None:
    step = was.state
    on_step = {step, dialogue.steps.answer_key(step), FROM_STORY, GIVEN_ON}
    on_step |= set(ALSO_ANSWERED.get(step, ()))
    if step in STORY_STEPS:  # the story, and the check of what was read from it
        on_step |= JOURNEYS[was.journey].prefilled | STORY_KEYS
    stale = turn.stale or (isinstance(event, Press) and event.step != step)
    if stale or not targeted or was.interrupt is not None:
        on_step = set()
    if step == "review":  # Submit notes what the check found; no decision stands here
        on_step |= {PRIVACY_CHECK, DETAILS_IN}
    for key in set(was.answers) | set(now.answers):
        old, new = was.answers.get(key, ...), now.answers.get(key, ...)
        if old == new or key in on_step:
            continue
        gone = _no_longer_follows(dialogue.facts, key, was, now)
        if new is ... and gone:
            continue
        if key == "standards" and now.state == "standards" and (old is ... or gone):
            continue  # ticked on arrival from the topics (anew, when the topics changed)
        raise AssertionError(f"{slot}: answer {key!r} changed at {step!r}: {old!r} -> {new!r}")


def check_duplicate(turn: Turn, before: Snapshot, after: Snapshot) -> None:
    assert after == before, "a repeated update id changed what is stored"
    target = before.target()
    if target is None or target.finished:
        assert not turn.replies
    else:
        assert [r.step for r in turn.replies] == [target.state]


def check_answered(turn: Turn, before: Snapshot, duplicate: bool) -> None:
    if turn.replies:
        return
    nothing_open = all(c is None or c.finished for c in before.conversations.values())
    assert duplicate and nothing_open, "a turn without a reply"
