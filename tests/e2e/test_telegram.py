"""End to end: learners on Telegram, through the real bot process and a strict Bot API server."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from botapi import BotApiServer
from botapi.user import ChatUser

from .conftest import BotProcess, after

pytestmark = pytest.mark.e2e
DESCRIPTION = "On most night shifts the FY1s cover the wards alone with nobody to escalate to."
# A story the reader can tell nothing from: the questions all follow.
PLAIN = "Things on my placement are not right and I want to raise it."
NO_ONE = "No, nobody is at risk now"
STORY = "Tell me what is happening"
GROUP = "Which of these are you"
PLACE = "Where is your placement"


def start_concern(user: ChatUser) -> None:
    after(user, lambda: user.send("/start"), "safety check")


def to_story(user: ChatUser) -> None:
    after(user, lambda: user.press(NO_ONE), STORY)


def to_place(user: ChatUser) -> None:
    """The story told and its reading confirmed, the group pressed: the hospital is next."""
    to_story(user)
    after(user, lambda: user.send(DESCRIPTION), "From your story")
    after(user, lambda: user.press("Yes, that's right"), GROUP)
    after(user, lambda: user.press("Resident doctor"), PLACE)


def to_review(user: ChatUser) -> None:
    """From the hospital to the review, ticking and pressing as a learner would."""
    after(user, lambda: user.send("Addenbrookes, ward C9"), "When did it start")
    after(user, lambda: user.press("Within the last month"), "How often")
    after(user, lambda: user.press("Often"), "How many learners")
    after(user, lambda: user.press("2 to 5"), "Have patients been harmed")
    after(user, lambda: user.press("Patients could be harmed"), "already being done")
    ticked = after(user, lambda: user.press("⬜ A senior I can call on"), "☑️ A senior I can")
    assert "⬜ Nothing that I know of" in ticked.labels  # the same message, edited in place
    after(user, lambda: user.press("Done"), "how likely")
    after(user, lambda: user.press("Likely"), "how serious")
    rated = after(user, lambda: user.press("Moderate"), "Who have you raised it with")
    assert "12 of 25" in rated.text  # the rating comes with the next question
    after(user, lambda: user.press("⬜ Nobody yet"), "☑️ Nobody yet")
    after(user, lambda: user.press("Done"), "reason not to raise it")
    after(user, lambda: user.press("⬜ No, the usual routes are fine"), "☑️ No, the usual")
    after(user, lambda: user.press("Done"), "Quality team?")
    after(user, lambda: user.press("Only if the advice says so"), "How do you want to be known")
    after(user, lambda: user.press("Anonymous"), "Please check your concern")


def reference_from(user: ChatUser) -> str:
    message = after(user, lambda: user.press("Submit"), "Your reference is")
    return message.text.split("Your reference is ")[1][:12]


def test_a_whole_concern_by_buttons_and_text(bot: BotProcess, server: BotApiServer) -> None:
    user = server.private_chat(user_id=1001, first_name="Alice", username="alice")
    start_concern(user)
    to_place(user)
    to_review(user)
    review = user.last()
    assert review.labels[0] == "Submit" and len(review.labels) <= 8
    reference = reference_from(user)
    advice = user.wait_for("My advice: Pathway 1")
    assert "Guardian of Safe Working Hours" in advice.text  # contacts for resident doctors
    assert "exception reporting" in advice.text.casefold()
    with bot.storage().unit_of_work() as uow:
        concern = uow.concerns.get(reference)
    assert concern is not None
    assert (concern.score, concern.band, concern.identity) == (12, "high", "anonymous")
    assert concern.description == DESCRIPTION and concern.reporter_name is None
    # Every press was answered, and its question shows the choice in place of its buttons;
    # one send an answer; the menu registered.
    presses = [r for r in server.requests("answerCallbackQuery") if r.status == 200]
    assert len(presses) == len(user.callback_answers()) == 18  # every one of the 18 presses
    chosen = [m for m in user.messages() if "\n\n✓ " in m.text]
    assert len(chosen) == 15 and not any(m.labels for m in chosen)  # 3 presses were ticks
    assert any(m.text.endswith("\n\n✓ A senior I can call on") for m in chosen)  # Done: ticks
    typed = ["/start", DESCRIPTION, "Addenbrookes, ward C9"]
    assert len(server.requests("sendMessage")) == len(typed) + len(chosen)  # advice with Submit
    assert not server.requests("editMessageReplyMarkup")
    assert {c["command"] for c in server.commands()} >= {"new", "pathway", "status", "privacy"}
    status = after(user, lambda: user.send("/status"), reference)
    assert "waiting for the Quality team" not in status.text  # anonymous, high, not queued
    logs = bot.logs()
    assert DESCRIPTION[:25] not in logs and "alice" not in logs and "1001" not in logs


PHYSIO = (
    "Hi sorry if this is the wrong place. Im a physio student (2nd year, UEA) on placement at "
    "Ipswich. Ive been here 2 weeks and had no induction at all and nobody has been allocated "
    "as my practice educator so im basically on my own. Ive not raised it with anyone yet"
)


def test_a_physiotherapy_student_by_typing_and_buttons(
    bot: BotProcess, server: BotApiServer
) -> None:
    """Persona (c) of issue 8: what the story said is checked in one step, then buttons."""
    user = server.private_chat(user_id=1016, first_name="Pia")
    start_concern(user)
    to_story(user)
    check = after(user, lambda: user.send(PHYSIO), "From your story")
    assert check.labels == ["Yes, that's right", "Some of it is wrong"]
    assert "Induction ('induction')" in check.text and "University of East Anglia" in check.text
    for label, expect in [
        ("Yes, that's right", "When did it start"), ("Within the last month", "How often"),
        ("All the time, it is ongoing", "How many"), ("Just me", "Have patients"),
        ("Not sure", "already being done"), ("⬜ Nothing that I know of", "☑️ Nothing"),
        ("Done", "how likely"), ("Likely", "how serious"), ("Moderate", "reason not to"),
        ("⬜ No, the usual routes are fine", "☑️ No, the usual"), ("Done", "Quality team?"),
        ("Only if the advice says so", "How do you want"), ("Anonymous", "Please check"),
    ]:  # fmt: skip
        after(user, lambda label=label: user.press(label), expect)  # type: ignore[misc]
    reference = reference_from(user)
    advice = user.wait_for("My advice: Pathway 1")
    assert "practice educator" in advice.text
    for message in user.messages():
        assert "Guardian of Safe Working Hours" not in message.text
        assert "Director of Medical Education" not in message.text
    with bot.storage().unit_of_work() as uow:
        concern = uow.concerns.get(reference)
    assert concern is not None
    assert (concern.learner_group, concern.university) == ("ahp_students", "uea")
    assert concern.organisation == "east_suffolk_north_essex" and concern.told == ("nobody",)


def test_no_keyboard_is_more_than_8_buttons_of_30_characters(
    bot: BotProcess, server: BotApiServer
) -> None:
    user = server.private_chat(user_id=1017, first_name="Rae")
    start_concern(user)
    to_place(user)
    to_review(user)
    for message in user.messages():
        assert len(message.labels) <= 8, message.labels
        assert all(len(label) <= 30 + 3 for label in message.labels)  # a tick's "☑️ " aside


def test_the_pathway_question(bot: BotProcess, server: BotApiServer) -> None:
    user = server.private_chat(user_id=1002, first_name="Ben")
    after(user, lambda: user.send("/pathway"), "safety check")
    after(user, lambda: user.press(NO_ONE), GROUP)
    after(user, lambda: user.press("Nursing student"), "how likely")
    after(user, lambda: user.press("Unlikely"), "how serious")
    asked = after(user, lambda: user.press("Minor"), "Who have you raised it with")
    assert "⬜ Guardian of Safe Working Hours" not in asked.labels  # the nurse's own list
    after(user, lambda: user.press("⬜ Practice supervisor/assessor"), "☑️ Practice supervisor")
    after(user, lambda: user.press("Done"), "What came of raising it")
    after(user, lambda: user.press("Still unresolved"), "reason not to raise it")
    after(user, lambda: user.press("⬜ No, the usual routes are fine"), "☑️ No, the usual")
    advice = after(user, lambda: user.press("Done"), "My advice")
    assert "Pathway 2" in advice.text and "practice education facilitator" in advice.text.casefold()
    user.wait_for("I keep nothing from them")
    with bot.storage().unit_of_work() as uow:
        assert uow.concerns.count() == 0
        assert uow.conversations.get("telegram:1002/pathway") is None  # deleted, as it says


def test_kill_9_mid_concern_then_finish_it(bot: BotProcess, server: BotApiServer) -> None:
    user = server.private_chat(user_id=1003, first_name="Cat")
    start_concern(user)
    to_story(user)
    after(user, lambda: user.send(DESCRIPTION), "From your story")
    bot.kill()
    user.press("Yes, that's right")  # sent while the bot is down
    bot.start()
    after(user, lambda: None, GROUP, timeout=30)
    after(user, lambda: user.press("Resident doctor"), PLACE)
    bot.kill()
    bot.start()
    after(user, lambda: user.send("/resume"), PLACE, timeout=30)
    after(user, lambda: user.send("Addenbrookes, ward C9"), "When did it start")
    for label, expect in [
        ("Within the last month", "How often"), ("Often", "How many"),
        ("Just me", "Have patients"), ("No", "already being done"),
        ("⬜ Nothing that I know of", "☑️ Nothing"), ("Done", "how likely"),
        ("Unlikely", "how serious"), ("Minor", "of 25"), ("⬜ Nobody yet", "☑️ Nobody"),
        ("Done", "reason not to"), ("⬜ No, the usual routes are fine", "☑️ No, the usual"),
        ("Done", "Quality team?"),
        ("No, keep it as my record", "How do you want"), ("Anonymous", "Please check"),
    ]:  # fmt: skip
        after(user, lambda label=label: user.press(label), expect)  # type: ignore[misc]
    review = user.last()
    assert (
        DESCRIPTION[:150] in review.text
        and "Addenbrookes, ward C9" in review.text
        and "Within the last month" in review.text
    )
    reference = reference_from(user)
    with bot.storage().unit_of_work() as uow:
        concern = uow.concerns.get(reference)
    assert concern is not None and concern.started == "this_month" and concern.frequency == "often"


def test_a_duplicate_update_changes_nothing(bot: BotProcess, server: BotApiServer) -> None:
    user = server.private_chat(user_id=1004, first_name="Dev")
    start_concern(user)
    to_story(user)
    after(user, lambda: user.send(PLAIN), GROUP)
    server.faults.deliver_twice()
    after(user, lambda: user.send("1"), PLACE)  # "1": resident doctor
    time.sleep(2.5)  # the second delivery comes on a later poll
    assert len(server.requests("getUpdates")) > 2
    with bot.storage().unit_of_work() as uow:
        conversation = uow.conversations.get("telegram:1004/concern")
    assert conversation is not None
    assert conversation.state == "organisation"  # "1" was not taken again as an organisation
    assert conversation.trail == ("danger", "description", "group")


def test_faults_from_the_bot_api_are_retried_and_no_reply_is_dropped(
    bot: BotProcess, server: BotApiServer
) -> None:
    user = server.private_chat(user_id=1005, first_name="Eve")
    start_concern(user)
    server.faults.fail_next("sendMessage", status=429, retry_after=1)
    after(user, lambda: user.press(NO_ONE), STORY)
    server.faults.fail_next("sendMessage", status=500, count=2)
    after(user, lambda: user.send(PLAIN), GROUP)
    server.faults.delay_next("sendMessage", 3.0)
    after(user, lambda: user.press("Medical student"), "Which university")
    server.faults.fail_next("getUpdates", status=502, count=2)
    after(user, lambda: user.press("University of Cambridge"), PLACE, timeout=30)
    statuses = [r.status for r in server.requests("sendMessage")]
    assert statuses.count(429) == 1 and statuses.count(500) == 2
    texts = [m.text for m in user.messages()]
    assert sum(STORY in t for t in texts) == 1  # retried, not duplicated


def test_group_chats_are_pointed_to_a_private_chat(bot: BotProcess, server: BotApiServer) -> None:
    group = server.group_chat(-100500, "FY1 cohort")
    member = group.member(1006, "Fay")
    secret = "My supervisor shouted at me in front of patients"
    member.send(secret)
    reply = after(member, lambda: member.send("/start"), "private chat")
    assert "t.me/" in reply.text and "?start=concern" in reply.text
    time.sleep(1)
    assert all(secret not in m.text for m in member.messages())
    assert len(member.messages()) == 1  # the ordinary message got no reply at all


def test_non_text_input_gets_a_reply_and_changes_nothing(
    bot: BotProcess, server: BotApiServer
) -> None:
    user = server.private_chat(user_id=1007, first_name="Gus")
    start_concern(user)
    to_story(user)
    for send in (
        user.send_photo,
        user.send_sticker,
        user.send_voice,
        user.send_document,
        user.send_location,
    ):
        after(user, send, "only read text")
    after(user, lambda: user.edit_last_sent("changed"), "not edits")
    with bot.storage().unit_of_work() as uow:
        conversation = uow.conversations.get("telegram:1007/concern")
    assert conversation is not None and conversation.state == "description"
    after(user, lambda: user.send(PLAIN), GROUP)


def test_stale_buttons_are_answered_and_change_nothing(
    bot: BotProcess, server: BotApiServer
) -> None:
    user = server.private_chat(user_id=1008, first_name="Hal")
    start_concern(user)
    first = user.last()
    to_story(user)
    # The pressed question shows the choice made, in place of its buttons.
    pressed = next(m for m in user.messages() if m.message_id == first.message_id)
    assert pressed.labels == [] and pressed.text.endswith(f"\n\n✓ {NO_ONE}")
    asked = after(user, lambda: user.send(PLAIN), GROUP)
    after(user, lambda: user.send("1"), PLACE)  # typed: that question keeps its buttons
    assert next(m for m in user.messages() if m.message_id == asked.message_id).labels
    assert not server.requests("editMessageReplyMarkup")  # no call to take them away
    # A later press on them is answered as stale, and only then are they taken away.
    user.press("Medical student", message_id=asked.message_id)
    answers = user.wait_for_callback_answers(2)
    assert "earlier question" in (answers[-1] or "")
    user.wait_for(lambda m: m.message_id == asked.message_id and not m.labels)
    # Its data pressed anyway on the first question, as an old client would.
    user.press_raw(first.message_id, "danger|patient")
    answers = user.wait_for_callback_answers(3)
    assert "earlier question" in (answers[-1] or "")
    user.press_raw(first.message_id, "not-ours")
    answers = user.wait_for_callback_answers(4)
    assert answers[-1]
    with bot.storage().unit_of_work() as uow:
        conversation = uow.conversations.get("telegram:1008/concern")
    assert conversation is not None
    assert conversation.state == "organisation" and conversation.answers["danger"] == "no"
    assert conversation.answers["group"] == "resident_doctors"


def test_long_text_is_refused_kindly_and_long_replies_are_split(
    bot: BotProcess, server: BotApiServer
) -> None:
    user = server.private_chat(user_id=1009, first_name="Ivy")
    start_concern(user)
    to_story(user)
    after(user, lambda: user.send("x " * 2000), "limit here is 3500")
    long = ("I was left alone again with no senior support. " * 80)[:3500]
    after(user, lambda: user.send(long), "From your story")
    assert all(len(m.text) <= 4096 for m in user.messages())
    with bot.storage().unit_of_work() as uow:
        conversation = uow.conversations.get("telegram:1009/concern")
    assert conversation is not None and conversation.answers["description"] == long.strip()


def test_webhook_mode_needs_the_secret(server: BotApiServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "CONCERNBOT_TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/hook",
        "CONCERNBOT_TELEGRAM_WEBHOOK_SECRET": "s3cret-token_value",
        "CONCERNBOT_TELEGRAM_LISTEN": "127.0.0.1",
        "CONCERNBOT_TELEGRAM_PORT": str(port),
    }
    bot = BotProcess(server, tmp_path / "data", extra_env=env).start()
    try:
        server.wait_for_request("setWebhook", timeout=20)
        assert server.webhook()["url"].endswith("/telegram/hook")
        user = server.private_chat(user_id=1010, first_name="Jo")
        after(user, lambda: user.send("/start"), "safety check")
        after(user, lambda: user.press(NO_ONE), STORY)
        forged = {"update_id": 999999, "message": {"message_id": 1, "date": 0,
                  "chat": {"id": 1010, "type": "private"}, "from": {"id": 1010, "is_bot": False,
                  "first_name": "Jo"}, "text": "/cancel"}}  # fmt: skip
        assert server.post_raw_to_webhook(forged, secret=None) == 403
        assert server.post_raw_to_webhook(forged, secret="wrong") == 403
        with bot.storage().unit_of_work() as uow:
            conversation = uow.conversations.get("telegram:1010/concern")
        assert conversation is not None and conversation.interrupt is None
    finally:
        bot.stop()


@pytest.mark.parametrize(
    ("token", "expected"),
    [("", "set CONCERNBOT_TELEGRAM_TOKEN"), ("123:not-the-right-token", "rejected the token")],
)
def test_a_missing_or_rejected_token_is_one_clear_line(
    server: BotApiServer,
    tmp_path,
    token: str,
    expected: str,  # type: ignore[no-untyped-def]
) -> None:
    bot = BotProcess(server, tmp_path / "data", extra_env={"CONCERNBOT_TELEGRAM_TOKEN": token})
    bot.start()
    assert bot.process is not None
    assert bot.process.wait(30) == 2
    output = bot.logs().strip().splitlines()
    assert output[-1].startswith("concernbot: ") and expected in output[-1]
    assert "Traceback" not in bot.logs()


def test_chats_run_side_by_side_each_in_order(bot: BotProcess, server: BotApiServer) -> None:
    users = [server.private_chat(user_id=2000 + n, first_name=f"U{n}") for n in range(4)]
    for user in users:
        user.send("/start")
    for user in users:
        user.wait_for("safety check", timeout=20)
    for user in users:  # each sends two answers back to back, all chats at once
        user.send("3")
        user.send(PLAIN)
    for user in users:
        user.wait_for(GROUP, timeout=20)
    with bot.storage().unit_of_work() as uow:
        for user in users:
            conversation = uow.conversations.get(f"telegram:{user.chat_id}/concern")
            assert conversation is not None and conversation.state == "group"
            assert conversation.answers["description"] == PLAIN
    sends = [r for r in server.requests("sendMessage") if r.chat_id == users[0].chat_id]
    gaps = [b.time - a.time for a, b in itertools.pairwise(sends)]
    assert min(gaps) >= 0.25  # messages to one chat are paced


def test_a_press_delivered_twice_moves_once_and_still_gets_its_reply(
    bot: BotProcess, server: BotApiServer
) -> None:
    user = server.private_chat(user_id=1011, first_name="Kit")
    start_concern(user)
    server.faults.deliver_twice()
    after(user, lambda: user.press(NO_ONE), STORY)
    time.sleep(2.5)
    with bot.storage().unit_of_work() as uow:
        conversation = uow.conversations.get("telegram:1011/concern")
    assert conversation is not None and conversation.state == "description"
    assert conversation.trail == ("danger",)
    assert not any("went wrong" in m.text for m in user.messages())
    assert user.callback_answers() == [None]  # answered once, quietly


def test_a_press_too_old_to_answer_after_a_restart_still_gets_the_next_question(
    tmp_path: Path,
) -> None:
    with BotApiServer(callback_query_timeout=1.0) as server:
        bot = BotProcess(server, tmp_path / "data").start()
        try:
            user = server.private_chat(user_id=1012, first_name="Lou")
            start_concern(user)
            bot.kill()
            user.press(NO_ONE)
            time.sleep(1.5)  # the query expires while the bot is down
            bot.start()
            after(user, lambda: None, STORY, timeout=30)
        finally:
            bot.stop()


def test_getupdates_refusals_and_slow_sends_do_not_stop_the_bot(
    server: BotApiServer, tmp_path: Path
) -> None:
    env = {"CONCERNBOT_TELEGRAM_REQUEST_TIMEOUT": "2"}
    bot = BotProcess(server, tmp_path / "data", extra_env=env).start()
    try:
        user = server.private_chat(user_id=1013, first_name="Mo")
        start_concern(user)
        server.faults.fail_next("getUpdates", status=429, retry_after=1)
        server.faults.fail_next("getUpdates", status=502, count=2)
        after(user, lambda: user.press(NO_ONE), STORY, timeout=30)
        server.faults.delay_next("sendMessage", 4.0)  # longer than the request timeout
        after(user, lambda: user.send(PLAIN), GROUP, timeout=30)
        assert bot.process is not None and bot.process.poll() is None
        statuses = [r.status for r in server.requests("getUpdates")]
        assert statuses.count(429) == 1 and statuses.count(502) == 2
        assert "TimedOut" in bot.logs()  # the slow send was retried, not dropped
    finally:
        bot.stop()


def test_a_slow_chat_does_not_hold_up_another(bot: BotProcess, server: BotApiServer) -> None:
    slow = server.private_chat(user_id=1014, first_name="Nia")
    quick = server.private_chat(user_id=1015, first_name="Oz")
    after(quick, lambda: quick.send("/help"), "concernbot")
    server.faults.delay_next("sendMessage", 6.0)
    slow.send("/privacy")
    time.sleep(0.5)
    started = time.monotonic()
    after(quick, lambda: quick.send("/privacy"), "What concernbot keeps")
    assert time.monotonic() - started < 4.0
    slow.wait_for("What concernbot keeps", timeout=20)


def test_debug_logs_hold_no_token_name_or_id(server: BotApiServer, tmp_path: Path) -> None:
    bot = BotProcess(server, tmp_path / "data", extra_env={"CONCERNBOT_LOG_LEVEL": "DEBUG"})
    bot.start()
    try:
        user = server.private_chat(user_id=7654321, first_name="Quintessa", username="qzx_user")
        start_concern(user)
        to_story(user)
        after(user, lambda: user.send(PLAIN), GROUP)
    finally:
        bot.stop()
    logs = bot.logs()
    assert "turn chat=" in logs  # it did log the turns
    assert "forgot 0 old update ids" in logs  # and keeps the seen-update table tidy
    for secret in (server.token, server.token.split(":")[1], "Quintessa", "qzx_user", "7654321"):
        assert secret not in logs
