"""End to end: the same journey after a crash. The bot is killed with `kill -9` after each
kind of question (a choice by press, ticks, typed text, the review); meanwhile the learner,
hearing nothing, sends their answer again or presses an old button. After the restart a
press on an answered question's buttons changes nothing and takes them away, and a repeat is
told for what it is.

The walk is read from the stored conversation and the content, not from fixed labels: each
question is answered as its kind asks (the last choice, the first tick then Done, a typed
text, Continue), so the tests follow the journey as it changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest
from botapi import BotApiServer
from botapi.state import BotMessage
from botapi.user import ChatUser

from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.records import Conversation
from dialogues.turns import Option

from .conftest import BotProcess, after

pytestmark = pytest.mark.e2e
DIALOGUE = Dialogue(load_content())
PROMPTS = DIALOGUE.prompts
TYPED = "Left alone on the ward at night with nobody to call."
EMAIL = "sam.example@nhs.net"
ACTIONS = frozenset({"done", "skip", "continue", "browse", "submit"})
T = TypeVar("T")


def eventually(check: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def stored(bot: BotProcess, user: ChatUser) -> Conversation:
    storage = bot.storage()
    try:
        with storage.unit_of_work() as uow:
            conversation = uow.conversations.get(f"telegram:{user.chat_id}/concern")
    finally:
        storage.close()
    assert conversation is not None
    return conversation


def kind(state: str) -> str:
    return "review" if state == "review" else PROMPTS.step(state).kind


def head(state: str) -> str:
    """The words a question for `state` shows, whatever note comes before them."""
    return PROMPTS.step(state).prompt.split("{")[0].split("\n")[0][:40]


def choices(conversation: Conversation) -> list[Option]:
    options = DIALOGUE.steps.options(conversation.state, conversation)
    return [o for o in options if not o.action and o.key not in ACTIONS]


def live(user: ChatUser) -> list[BotMessage]:
    """The bot's messages that still show buttons."""
    return [m for m in user.messages() if m.labels]


def question(user: ChatUser) -> BotMessage:
    """The newest message with buttons: the question they belong to."""
    return eventually(lambda: (live(user) or [None])[-1], "a question with buttons")


def mark(user: ChatUser) -> int:
    """Where the chat is now: messages sent or edited later count as answers to what follows."""
    with user.state.cond:
        return int(user.state.seq)


def shown(user: ChatUser, since: int, text: str, timeout: float = 30.0) -> BotMessage:
    """The newest message sent or edited after `since` that shows `text`."""

    def check() -> BotMessage | None:
        for record in sorted(user._bot_records(), key=lambda r: -r.seq):
            snapshot = record.snapshot()
            if record.seq > since and text in snapshot.text:
                return snapshot
        return None

    found: BotMessage = user.state.wait_until(check, timeout, f"a new message with {text!r}")
    return found


def moved(
    bot: BotProcess, user: ChatUser, before: Conversation, since: int, timeout: float = 30.0
) -> str:
    """Wait for the conversation to move on from `before` and its question to be shown."""
    state: str = eventually(
        lambda: (c := stored(bot, user)).version > before.version and c.state, "a turn", timeout
    )
    shown(user, since, head(state), timeout)
    return state


def answer(bot: BotProcess, user: ChatUser) -> str:
    """Answer the current question as its kind asks; the state it moved to."""
    conversation = stored(bot, user)
    state = conversation.state
    since = mark(user)
    if kind(state) == "text":
        user.send(EMAIL if state == "contact" else TYPED)
    elif kind(state) == "info":
        user.press_raw(question(user).message_id, f"{state}|continue")
    elif kind(state) == "multi":
        if not conversation.answer_list(DIALOGUE.steps.answer_key(state)):
            tick(user, conversation)
            conversation = stored(bot, user)
            since = mark(user)
        user.press_raw(question(user).message_id, f"{state}|done")
    else:
        user.press_raw(question(user).message_id, f"{state}|{choices(conversation)[-1].key}")
    return moved(bot, user, conversation, since)


def tick(user: ChatUser, conversation: Conversation) -> None:
    first = choices(conversation)[0]
    after(
        user,
        lambda: user.press_raw(question(user).message_id, f"{conversation.state}|{first.key}"),
        "☑️",
    )


def walk_to(bot: BotProcess, user: ChatUser, wanted: Callable[[str], bool]) -> Conversation:
    """From the start of a concern to the first question `wanted` picks."""
    after(user, lambda: user.send("/start"), head("danger"))
    while not wanted(stored(bot, user).state):
        answer(bot, user)
    return stored(bot, user)


def crash(bot: BotProcess, server: BotApiServer, user: ChatUser) -> None:
    """kill -9 once the bot has done all it will do for what was sent: each update taken and
    marked handled, so the crash falls between turns."""

    def idle() -> bool:
        storage = bot.storage()
        try:
            with storage.unit_of_work() as uow:
                waiting = uow.inbox.count(f"telegram:{user.chat_id}")
        finally:
            storage.close()
        return not server.pending_updates() and waiting == 0

    eventually(idle, "every update handled")
    bot.kill()


def restart(bot: BotProcess) -> None:
    bot.start()


def assert_only_the_current_question_is_live(bot: BotProcess, user: ChatUser) -> None:
    """Buttons left on an answered question (one answered by typing keeps them) change
    nothing: a press on them is answered as stale and only then are they taken away. After
    that, the only buttons left belong to the question being asked now."""
    conversation = stored(bot, user)
    asking = not conversation.finished and bool(DIALOGUE.question(conversation).options)
    for message in live(user):
        if asking and head(conversation.state) in message.text:
            continue
        data = message.buttons[0][0].callback_data
        answered = len(user.callback_answers())
        user.press_raw(message.message_id, str(data))
        assert user.wait_for_callback_answers(answered + 1)[-1]  # told it changed nothing
        user.wait_for(lambda m, id=message.message_id: m.message_id == id and not m.labels)  # type: ignore[misc]
    now = stored(bot, user)
    assert (now.state, now.answers) == (conversation.state, conversation.answers)
    expected = 1 if asking else 0

    def settled() -> bool:
        shown = live(user)
        return len(shown) >= expected and all(head(now.state) in m.text for m in shown)

    try:
        eventually(settled, "only the current question's buttons live", timeout=10)
    except AssertionError:
        texts = [m.text[:60] for m in live(user)]
        raise AssertionError(f"at {now.state}, messages with live buttons: {texts}") from None


def test_a_choice_pressed_again_after_a_restart(bot: BotProcess, server: BotApiServer) -> None:
    user = server.private_chat(user_id=3001, first_name="Ada")
    conversation = walk_to(bot, user, lambda s: kind(s) == "choice" and s != "danger")
    pressed = question(user)
    data = f"{conversation.state}|{choices(conversation)[-1].key}"
    since = mark(user)
    user.press_raw(pressed.message_id, data)
    following = moved(bot, user, conversation, since)
    crash(bot, server, user)
    since = mark(user)
    user.press_raw(pressed.message_id, data)  # a second tap, delivered after the restart
    restart(bot)
    again = shown(user, since, PROMPTS.say("press_again"))
    assert head(following) in again.text  # the current question, in the same message
    assert again.labels  # with its buttons
    callback = user.wait_for_callback_answers(2)[-1]
    assert callback is not None and "changed nothing" not in callback
    after_it = stored(bot, user)
    assert after_it.state == following and after_it.trail[-1] == conversation.state
    assert_only_the_current_question_is_live(bot, user)
    answer(bot, user)  # the question shown before the restart is answered too
    assert_only_the_current_question_is_live(bot, user)


def test_ticks_then_done_typed_and_pressed_after_a_restart(
    bot: BotProcess, server: BotApiServer
) -> None:
    user = server.private_chat(user_id=3002, first_name="Bea")
    conversation = walk_to(bot, user, lambda s: kind(s) == "multi")
    ticked = question(user)
    tick(user, conversation)
    conversation = stored(bot, user)
    crash(bot, server, user)
    since = mark(user)
    user.send("done")  # typed while the bot is down
    user.press_raw(ticked.message_id, f"{conversation.state}|done")  # and pressed as well
    restart(bot)
    following = moved(bot, user, conversation, since)
    again = shown(user, since, PROMPTS.say("press_again"))
    assert head(following) in again.text
    after_it = stored(bot, user)
    assert after_it.state == following and after_it.trail[-1] == conversation.state
    assert_only_the_current_question_is_live(bot, user)


def test_a_typed_answer_sent_again_after_a_restart(bot: BotProcess, server: BotApiServer) -> None:
    user = server.private_chat(user_id=3003, first_name="Cy")
    # A text question followed by one the same text does not answer.
    walk_to(bot, user, lambda s: kind(s) == "text")
    while True:
        asked = stored(bot, user)
        following = answer(bot, user)
        if kind(asked.state) == "text" and kind(following) in ("choice", "multi"):
            break
    title = PROMPTS.step(asked.state).title
    crash(bot, server, user)
    since = mark(user)
    user.send(EMAIL if asked.state == "contact" else TYPED)  # sent again: no answer came
    restart(bot)
    again = shown(user, since, PROMPTS.say("repeated_answer", question=title))
    assert head(following) in again.text and again.labels
    after_it = stored(bot, user)
    assert after_it.state == following and after_it.answers[asked.state] == TYPED
    assert not any(m.text.startswith("Sorry,") for m in user.messages())
    assert_only_the_current_question_is_live(bot, user)
    answer(bot, user)
    assert_only_the_current_question_is_live(bot, user)


def test_the_review_after_a_restart(bot: BotProcess, server: BotApiServer) -> None:
    user = server.private_chat(user_id=3004, first_name="Di")
    conversation = walk_to(bot, user, lambda s: s == "review")
    review = question(user)
    edit = next(
        o.key for o in DIALOGUE.steps.options("review", conversation) if o.key.startswith("edit:")
    )
    since = mark(user)
    user.press_raw(review.message_id, f"review|{edit}")
    changing = moved(bot, user, conversation, since)
    crash(bot, server, user)
    since = mark(user)
    user.press_raw(review.message_id, f"review|{edit}")  # the Change, tapped twice
    restart(bot)
    again = shown(user, since, PROMPTS.say("press_again"))
    assert head(changing) in again.text
    assert stored(bot, user).state == changing
    assert_only_the_current_question_is_live(bot, user)
    while answer(bot, user) != "review":  # the answer changed, then the review again
        assert_only_the_current_question_is_live(bot, user)
    assert_only_the_current_question_is_live(bot, user)
    since = mark(user)
    user.press_raw(question(user).message_id, "review|submit")
    done = shown(user, since, "Your reference is")
    reference = done.text.split("Your reference is ")[1][:12]
    crash(bot, server, user)
    restart(bot)
    since = mark(user)
    user.press_raw(question_or(user, review).message_id, "review|submit")  # an old Submit
    shown(user, since, f"That concern has been submitted (reference {reference})")
    assert_only_the_current_question_is_live(bot, user)  # none at all: it is filed


def question_or(user: ChatUser, fallback: BotMessage) -> BotMessage:
    """The newest message with buttons, or `fallback` when none is left."""
    shown = live(user)
    return shown[-1] if shown else fallback
