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


def start_concern(user: ChatUser) -> None:
    after(user, lambda: user.send("/start"), "safety check")


def to_description(user: ChatUser) -> None:
    """Danger, group, organisation, site and programme, by buttons and text."""
    after(user, lambda: user.press("No, nobody is at risk right now"), "Which group")
    after(
        user, lambda: user.press("Resident doctor (doctor in training)"), "Where is the placement"
    )
    after(user, lambda: user.press("Cambridge University Hospitals"), "Which site")
    after(user, lambda: user.send("Ward C9"), "programme or specialty")
    after(user, lambda: user.press("Skip"), "In your own words")


def to_review(user: ChatUser) -> None:
    """From the description to the review, ticking and pressing as a learner would."""
    after(user, lambda: user.send(DESCRIPTION), "When did it start")
    after(user, lambda: user.press("Within the last month"), "How often")
    after(user, lambda: user.press("Often"), "What is it about")
    ticked = after(user, lambda: user.press("⬜ Supervision"), "☑️ Supervision")
    assert "⬜ Induction" in ticked.labels  # the same message, edited in place with a tick
    after(user, lambda: user.press("Done"), "standards seem to fit")
    after(user, lambda: user.press("Done"), "How many learners")
    after(user, lambda: user.press("2 to 5"), "Have patients been harmed")
    after(user, lambda: user.press("Patients could be harmed"), "already in place")
    after(user, lambda: user.press("⬜ A senior I can call on"), "☑️ A senior I can call on")
    after(user, lambda: user.press("Done"), "Anything to add")
    after(user, lambda: user.press("Skip"), "how likely")
    after(user, lambda: user.press("4 Likely"), "how serious")
    after(user, lambda: user.press("3 Moderate"), "12 of 25")
    after(user, lambda: user.press("Continue"), "put it right")
    after(user, lambda: user.press("Skip"), "Who have you raised it with")
    after(user, lambda: user.press("⬜ Nobody yet"), "☑️ Nobody yet")
    after(user, lambda: user.press("Done"), "Is any level unsuitable")
    after(user, lambda: user.press("No, the usual routes are fine"), "Quality team?")
    after(user, lambda: user.press("Only if the advice says so"), "How do you want to be known")
    after(user, lambda: user.press("Anonymous"), "Here is everything you have given")


def reference_from(user: ChatUser) -> str:
    message = after(user, lambda: user.press("Submit"), "Your reference is")
    return message.text.split("Your reference is ")[1][:12]


def test_a_whole_concern_by_buttons_and_text(bot: BotProcess, server: BotApiServer) -> None:
    user = server.private_chat(user_id=1001, first_name="Alice", username="alice")
    start_concern(user)
    to_description(user)
    to_review(user)
    reference = reference_from(user)
    advice = user.wait_for("My advice: Pathway 1")
    assert "Guardian of Safe Working Hours" in advice.text  # contacts for resident doctors
    assert "exception reporting" in advice.text.casefold()
    with bot.storage().unit_of_work() as uow:
        concern = uow.concerns.get(reference)
    assert concern is not None
    assert (concern.score, concern.band, concern.identity) == (12, "high", "anonymous")
    assert concern.description == DESCRIPTION and concern.reporter_name is None
    # Every press was answered, every old keyboard taken away, the menu registered.
    presses = [r for r in server.requests("answerCallbackQuery") if r.status == 200]
    assert len(presses) == len(user.callback_answers()) == 24  # every one of the 24 presses
    with_buttons = [m for m in user.messages() if m.labels]
    assert len(with_buttons) <= 1  # only the latest question may still show buttons
    assert {c["command"] for c in server.commands()} >= {"new", "pathway", "status", "privacy"}
    status = after(user, lambda: user.send("/status"), reference)
    assert "waiting for the Quality team" not in status.text  # anonymous, high, not queued
    logs = bot.logs()
    assert DESCRIPTION[:25] not in logs and "alice" not in logs and "1001" not in logs


def test_the_pathway_question(bot: BotProcess, server: BotApiServer) -> None:
    user = server.private_chat(user_id=1002, first_name="Ben")
    after(user, lambda: user.send("/pathway"), "safety check")
    after(user, lambda: user.press("No, nobody is at risk right now"), "Which group")
    after(user, lambda: user.press("Nursing student"), "Who have you raised it with")
    after(user, lambda: user.press("⬜ My practice supervisor or assessor"), "☑️ My practice")
    after(user, lambda: user.press("Done"), "What came of raising it")
    after(user, lambda: user.press("Still unresolved"), "Is any level unsuitable")
    advice = after(user, lambda: user.press("No, the usual routes are fine"), "My advice")
    assert "Pathway 2" in advice.text and "practice education facilitator" in advice.text.casefold()
    with bot.storage().unit_of_work() as uow:
        assert uow.concerns.count() == 0


def test_kill_9_mid_concern_then_finish_it(bot: BotProcess, server: BotApiServer) -> None:
    user = server.private_chat(user_id=1003, first_name="Cat")
    start_concern(user)
    to_description(user)
    after(user, lambda: user.send(DESCRIPTION), "When did it start")
    bot.kill()
    user.press("Within the last month")  # sent while the bot is down
    bot.start()
    after(user, lambda: None, "How often", timeout=30)
    after(user, lambda: user.press("Often"), "What is it about")
    bot.kill()
    bot.start()
    after(user, lambda: user.send("/resume"), "What is it about", timeout=30)
    after(user, lambda: user.press("⬜ Supervision"), "☑️ Supervision")
    after(user, lambda: user.press("Done"), "standards seem to fit")
    after(user, lambda: user.press("Done"), "How many learners")
    for label, expect in [
        ("Just me", "Have patients"), ("No", "already in place"),
        ("⬜ Nothing that I know of", "☑️ Nothing"), ("Done", "Anything to add"),
        ("Skip", "how likely"),
        ("2 Unlikely", "how serious"), ("2 Minor", "of 25"),
        ("Continue", "put it right"), ("Skip", "Who have you"), ("⬜ Nobody yet", "☑️ Nobody"),
        ("Done", "unsuitable"), ("No, the usual routes are fine", "Quality team?"),
        ("No, keep it as my record", "How do you want"), ("Anonymous", "Here is everything"),
    ]:  # fmt: skip
        after(user, lambda label=label: user.press(label), expect)  # type: ignore[misc]
    review = user.last()
    assert (
        DESCRIPTION in review.text
        and "Ward C9" in review.text
        and "Within the last month" in review.text
    )
    reference = reference_from(user)
    with bot.storage().unit_of_work() as uow:
        concern = uow.concerns.get(reference)
    assert concern is not None and concern.started == "this_month" and concern.frequency == "often"


def test_a_duplicate_update_changes_nothing(bot: BotProcess, server: BotApiServer) -> None:
    user = server.private_chat(user_id=1004, first_name="Dev")
    start_concern(user)
    after(user, lambda: user.press("No, nobody is at risk right now"), "Which group")
    server.faults.deliver_twice()
    after(user, lambda: user.send("1"), "Where is the placement")  # "1": resident doctor
    time.sleep(2.5)  # the second delivery comes on a later poll
    assert len(server.requests("getUpdates")) > 2
    with bot.storage().unit_of_work() as uow:
        conversation = uow.conversations.get("telegram:1004/concern")
    assert conversation is not None
    assert conversation.state == "organisation"  # "1" was not taken again as an organisation
    assert conversation.trail == ("danger", "group")


def test_faults_from_the_bot_api_are_retried_and_no_reply_is_dropped(
    bot: BotProcess, server: BotApiServer
) -> None:
    user = server.private_chat(user_id=1005, first_name="Eve")
    start_concern(user)
    server.faults.fail_next("sendMessage", status=429, retry_after=1)
    after(user, lambda: user.press("No, nobody is at risk right now"), "Which group")
    server.faults.fail_next("sendMessage", status=500, count=2)
    after(user, lambda: user.press("Medical student"), "Where is the placement")
    server.faults.delay_next("sendMessage", 3.0)
    after(user, lambda: user.press("Royal Papworth Hospital"), "Which site")
    server.faults.fail_next("getUpdates", status=502, count=2)
    after(user, lambda: user.send("Ward 1"), "programme or specialty", timeout=30)
    statuses = [r.status for r in server.requests("sendMessage")]
    assert statuses.count(429) == 1 and statuses.count(500) == 2
    texts = [m.text for m in user.messages()]
    assert sum("Which group" in t for t in texts) == 1  # retried, not duplicated


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
    after(user, lambda: user.press("No, nobody is at risk right now"), "Which group")
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
    assert conversation is not None and conversation.state == "group"
    after(user, lambda: user.press("Medical student"), "Where is the placement")


def test_stale_buttons_are_answered_and_change_nothing(
    bot: BotProcess, server: BotApiServer
) -> None:
    user = server.private_chat(user_id=1008, first_name="Hal")
    start_concern(user)
    first = user.last()
    after(user, lambda: user.press("No, nobody is at risk right now"), "Which group")
    after(user, lambda: user.send("Medical student"), "Where is the placement")
    # The first question's keyboard was taken away; press its data anyway, as an old client would.
    server_message = next(m for m in user.messages() if m.message_id == first.message_id)
    assert server_message.labels == []
    user.press_raw(first.message_id, "danger|patient")
    answers = user.wait_for_callback_answers(2)
    assert "earlier question" in (answers[-1] or "")
    user.press_raw(first.message_id, "not-ours")
    answers = user.wait_for_callback_answers(3)
    assert answers[-1]
    with bot.storage().unit_of_work() as uow:
        conversation = uow.conversations.get("telegram:1008/concern")
    assert conversation is not None
    assert conversation.state == "organisation" and conversation.answers["danger"] == "no"


def test_long_text_is_refused_kindly_and_long_replies_are_split(
    bot: BotProcess, server: BotApiServer
) -> None:
    user = server.private_chat(user_id=1009, first_name="Ivy")
    start_concern(user)
    to_description(user)
    after(user, lambda: user.send("x " * 2000), "limit here is 3500")
    long = ("I was left alone again with no senior support. " * 80)[:3500]
    after(user, lambda: user.send(long), "When did it start")
    assert all(len(m.text) <= 4096 for m in user.messages())
    with bot.storage().unit_of_work() as uow:
        conversation = uow.conversations.get("telegram:1009/concern")
    assert conversation is not None and conversation.answers["site"] == "Ward C9"


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
        after(user, lambda: user.press("No, nobody is at risk right now"), "Which group")
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
        user.send("Medical student")
    for user in users:
        user.wait_for("Where is the placement", timeout=20)
    with bot.storage().unit_of_work() as uow:
        for user in users:
            conversation = uow.conversations.get(f"telegram:{user.chat_id}/concern")
            assert conversation is not None and conversation.state == "organisation"
            assert conversation.answers["group"] == "medical_students"
    sends = [r for r in server.requests("sendMessage") if r.chat_id == users[0].chat_id]
    gaps = [b.time - a.time for a, b in itertools.pairwise(sends)]
    assert min(gaps) >= 0.25  # messages to one chat are paced


def test_a_press_delivered_twice_moves_once_and_still_gets_its_reply(
    bot: BotProcess, server: BotApiServer
) -> None:
    user = server.private_chat(user_id=1011, first_name="Kit")
    start_concern(user)
    server.faults.deliver_twice()
    after(user, lambda: user.press("No, nobody is at risk right now"), "Which group")
    time.sleep(2.5)
    with bot.storage().unit_of_work() as uow:
        conversation = uow.conversations.get("telegram:1011/concern")
    assert conversation is not None and conversation.state == "group"
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
            user.press("No, nobody is at risk right now")
            time.sleep(1.5)  # the query expires while the bot is down
            bot.start()
            after(user, lambda: None, "Which group", timeout=30)
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
        after(
            user, lambda: user.press("No, nobody is at risk right now"), "Which group", timeout=30
        )
        server.faults.delay_next("sendMessage", 4.0)  # longer than the request timeout
        after(user, lambda: user.press("Medical student"), "Where is the placement", timeout=30)
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
        after(user, lambda: user.press("No, nobody is at risk right now"), "Which group")
        after(user, lambda: user.send("Medical student"), "Where is the placement")
    finally:
        bot.stop()
    logs = bot.logs()
    assert "turn chat=" in logs  # it did log the turns
    assert "forgot 0 old update ids" in logs  # and keeps the seen-update table tidy
    for secret in (server.token, server.token.split(":")[1], "Quintessa", "qzx_user", "7654321"):
        assert secret not in logs
