"""End to end: the Quality team's side, through the real bot process, Bot API and SMTP servers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botapi import BotApiServer
from botapi.state import BotMessage
from botapi.user import ChatUser
from notifiers.smtp_server import SmtpServer, serve
from sqlmodel import SQLModel

from bot.reports.qca import qca_text
from storage.database import DATABASE_FILE, SqlStorage

from .conftest import CONCERNBOT, BotProcess, after

pytestmark = pytest.mark.e2e
TEAM_CHAT = -1009000
MEMBER, SECOND_MEMBER, OUTSIDER = 9001, 9002, 9999
LEARNER = 4242001
DESCRIPTION = "Students are left alone on the ward at night; a patient fell and nobody senior came."


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from serve()


@pytest.fixture
def team_bot(server: BotApiServer, smtp: SmtpServer, tmp_path: Path) -> Iterator[BotProcess]:
    env = {
        "CONCERNBOT_TEAM_CHAT_ID": str(TEAM_CHAT),
        "CONCERNBOT_TEAM_MEMBERS": f"{MEMBER}, {SECOND_MEMBER}",
        "CONCERNBOT_TEAM_EMAIL": "quality@example.nhs.uk",
        "CONCERNBOT_SMTP_URL": f"smtp://{smtp.host}:{smtp.port}",
        "CONCERNBOT_EMAIL_FROM": "concernbot@example.nhs.uk",
        "CONCERNBOT_TEAM_REMINDER_HOURS": "0.002",  # about 7 seconds
        "CONCERNBOT_TEAM_WORKING_DAYS": "mon-sun",
        "CONCERNBOT_TEAM_WORKING_HOURS": "00:00-24:00",
        "CONCERNBOT_TELEGRAM_REQUEST_TIMEOUT": "3",
        "CONCERNBOT_OUTBOX_SEND_TIMEOUT": "4",  # a send cut short by a crash goes again in 12 s
        "CONCERNBOT_OUTBOX_RETRY_SECONDS": "1",
    }
    bot = BotProcess(server, tmp_path / "data", extra_env=env).start()
    try:
        yield bot
    finally:
        bot.stop()


def tell(user: ChatUser, story: str) -> None:
    """Send the story, and mark wrong whatever the bot read from it: every question follows."""
    group, check, parts = "Which of these are you", "From your story", "Which parts are wrong"
    user.send(story)  # a chat raises one concern here: neither question was asked before
    reply = user.wait_for(lambda m: group in m.text or check in m.text, timeout=20)
    if check not in reply.text:
        return
    user.press("Some of it is wrong")
    reply = user.wait_for(lambda m: group in m.text or parts in m.text, timeout=20)
    if parts in reply.text:
        for label in [label for label in reply.labels if label.startswith("⬜ ")]:
            ticked = "☑️ " + label.removeprefix("⬜ ")
            after(user, lambda label=label: user.press(label), ticked)  # type: ignore[misc]
        after(user, lambda: user.press("Done"), "Which of these are you")


def file_concern(
    user: ChatUser, identity: str = "Anonymous", description: str = DESCRIPTION
) -> str:
    """A whole concern, sent to the team; returns its reference."""
    steps = [
        ("/start", "safety check"), ("No, nobody is at risk now", "in your own words"),
        (description, "Which of these are you"), ("Nursing student", "Which university"),
        ("University of East Anglia", "Where is your placement"),
        ("Norwich, ward 7", "What is it about"),
        ("⬜ Supervision", "☑️ Supervision"), ("Done", "standards"), ("Done", "When did it"),
        ("This week", "How often"), ("All the time, it is ongoing", "How many"),
        ("6 to 20", "Have patients"), ("Yes, a patient was harmed", "already being done"),
        ("⬜ Nothing that I know of", "☑️ Nothing"), ("Done", "how likely"),
        ("Likely", "how serious"), ("Major", "Who have you"),
        ("⬜ Nobody yet", "☑️ Nobody"), ("Done", "reason not to"),
        ("⬜ No, the usual routes are fine", "☑️ No, the usual"), ("Done", "Quality team?"),
        ("Yes, send it to them", "How do you want"),
        (identity, "Your name" if identity != "Anonymous" else "Please check"),
    ]  # fmt: skip
    for label, expect in steps:
        if label == description:
            tell(user, description)
        elif label.startswith("/") or label == "Norwich, ward 7":
            after(user, lambda label=label: user.send(label), expect)  # type: ignore[misc]
        else:
            after(user, lambda label=label: user.press(label), expect)  # type: ignore[misc]
    if identity != "Anonymous":
        after(user, lambda: user.send("Dr Named Person"), "email address or a phone")
        after(user, lambda: user.send("Dr Named Person, named.person@nhs.net"), "Please check")
    message = after(user, lambda: user.press("Submit"), "Your reference is")
    return message.text.split("Your reference is ")[1][:12]


def cards(member: ChatUser, reference: str) -> list[BotMessage]:
    return [m for m in member.messages() if f"Quality Concerns Alert {reference}" in m.text]


def test_a_concern_reaches_the_team_once_is_worked_to_closed_and_anonymity_holds(
    team_bot: BotProcess, server: BotApiServer, smtp: SmtpServer
) -> None:
    team = server.group_chat(TEAM_CHAT, "EoE Quality team")
    member = team.member(MEMBER, "Priya")
    outsider = team.member(OUTSIDER, "Nosy")
    learner = server.private_chat(user_id=LEARNER, first_name="Zebedee", username="zeb_learner")
    reference = file_concern(learner)
    learner.wait_for("It is on its way to the NHS England regional Quality team")

    # One card in the team chat, with the alert's fields; one email with the QCA attached.
    card = member.wait_for(f"Quality Concerns Alert {reference}", timeout=20)
    assert "Risk score: 16 of 25" in card.text and "Norfolk and Norwich" in card.text
    assert "✅ Acknowledge" in card.labels
    deadline = time.monotonic() + 20
    while not smtp.received and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # room for a second email, if one were coming
    assert len(smtp.received) == 1
    mail = smtp.received[0].message
    assert reference in mail["Subject"] and mail["To"] == "quality@example.nhs.uk"
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == f"{reference}.docx"
    document = qca_text(attachment.get_content())
    assert reference in document and DESCRIPTION in document

    # A non-member's press is refused, and audited; so is the reporter's own, sent with the
    # team's button data from a modified client.
    outsider.press("✅ Acknowledge", message_id=card.message_id)
    assert "Only members" in (outsider.wait_for_callback_answers(1)[0] or "")
    own_chat, pressed = learner.messages()[-1].message_id, len(learner.callback_answers())
    for forged in (f"t|ack|{reference}", f"t|history|{reference}", f"t|close:resolved|{reference}"):
        learner.press_raw(own_chat, forged)
    answers = learner.wait_for_callback_answers(pressed + 3)[pressed:]
    assert all("Only members" in (a or "") for a in answers)

    # A member acknowledges: the card shows it, the learner hears of it.
    member.press("✅ Acknowledge", message_id=card.message_id)
    member.wait_for(lambda m: m.message_id == card.message_id and "Acknowledged: ✓" in m.text)
    learner.wait_for("received by the Quality team", timeout=20)

    # The member asks a question; the learner answers; the answer comes back by reference.
    member.press("❓ Ask the reporter", message_id=card.message_id)
    prompt = member.wait_for("Reply to this message with your question")
    after(member, lambda: member.reply(prompt.message_id, "Which nights does this happen?"),
          "Question on its way")  # fmt: skip
    question = learner.wait_for("Which nights does this happen?", timeout=20)
    assert reference in question.text
    after(
        learner,
        lambda: learner.reply(question.message_id, "Every weekend night."),
        "answer is on its way",
    )
    answer = member.wait_for("Every weekend night.", timeout=20)
    assert reference in answer.text

    # A note, and closing with an outcome; the learner is told.
    member.press("📝 Add a note", message_id=card.message_id)
    note_prompt = member.wait_for("internal note")
    after(member, lambda: member.reply(note_prompt.message_id, "Spoke to the DME."), "Note added")
    member.press("🔒 Close…", message_id=card.message_id)
    member.wait_for(lambda m: m.message_id == card.message_id and "Resolved locally" in m.labels)
    member.press("Resolved locally", message_id=card.message_id)
    learner.wait_for("has been closed: Resolved locally", timeout=20)

    assert len(cards(member, reference)) == 1  # one card, however many edits

    # The history has every action with who did it; the refused press is there too.
    history = after(member, lambda: member.send(f"/case {reference.lower()}"), "History of")
    for action in ("acknowledge", "ask", "note", "close:resolved", "answer"):
        assert action in history.text
    with team_bot.storage().unit_of_work() as uow:
        assert uow.concerns.get(reference).status == "closed"  # type: ignore[union-attr]
        refused = [e for e in uow.audit.entries() if e.action == "refused"]
        audit = uow.audit.entries()
    # Refusals are audited by nobody in particular and against no concern: the reporter's
    # own attempts must not show the team who reported it.
    assert [(e.actor, e.reference) for e in refused] == [("non-member", None)] * 4
    assert "refused" not in history.text
    assert all(str(LEARNER) not in repr(entry) for entry in audit)

    # Anonymity held everywhere the team looks (/case showed the card again, as asked).
    assert len(cards(member, reference)) == 2
    seen = [m.text for m in member.messages()] + [m.caption or "" for m in member.messages()]
    seen += [mail["Subject"], mail.get_body(("plain",)).get_content(), document]  # type: ignore[union-attr]
    for fmt in ("csv", "xlsx"):  # the register too
        out = team_bot.data_dir.parent / f"register.{fmt}"
        exported = subprocess.run(
            [CONCERNBOT, "export", "--format", fmt, "--out", str(out)],
            env=team_bot.env(), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert exported.returncode == 0, exported.stderr
        seen.append(out.read_bytes().decode("latin-1"))
        if fmt == "csv":
            assert reference in seen[-1]
    # The database's tables the team's side reads (opened with the key, as the bot reads them)
    # and the database file itself, with its write-ahead log, as anyone holding it reads it.
    storage = team_bot.storage()
    assert isinstance(storage, SqlStorage)
    try:
        with storage.engine.connect() as connection:
            for table in SQLModel.metadata.sorted_tables:
                if table.name in ("concerns", "audit_log", "notes", "outbox", "relays"):
                    seen += [repr(tuple(row)) for row in connection.execute(table.select())]
    finally:
        storage.close()
    database = team_bot.data_dir / DATABASE_FILE
    files = [database, database.with_name(database.name + "-wal")]
    seen.append(b"".join(f.read_bytes() for f in files if f.exists()).decode("latin-1"))
    assert reference in seen[-1]  # the raw read reads something
    for secret in (str(LEARNER), "Zebedee", "zeb_learner"):
        assert all(secret not in text for text in seen), secret


def test_team_commands_the_queue_the_picture_and_a_reminder(
    team_bot: BotProcess, server: BotApiServer
) -> None:
    team = server.group_chat(TEAM_CHAT, "EoE Quality team")
    member = team.member(SECOND_MEMBER, "Sam")
    learner = server.private_chat(user_id=4242002, first_name="Yara")
    reference = file_concern(learner, identity="Confidential")
    card = member.wait_for(f"Quality Concerns Alert {reference}", timeout=20)
    assert "Dr Named Person, named.person@nhs.net" in card.text  # confidential: the team sees it
    # A history is never a heading with nothing under it (filing is its first line); what is
    # not a reference's shape is named as typed, not garbled into one.
    after(member, lambda: member.send(f"/case {reference}"), "concern.submitted by reporter")
    after(member, lambda: member.send("/case QC-NOPE"), "QC-NOPE is not a reference")
    assert not any(m.text.rstrip().endswith(":") for m in member.messages())
    assert not any("QC-NOPE-" in m.text for m in member.messages())
    reminder = member.wait_for(f"⏰ {reference}", timeout=30)
    assert "not been acknowledged" in reminder.text
    queue = after(member, lambda: member.send("/queue"), "Open concerns")
    assert reference in queue.text and "🟥" in queue.text
    assert " 0 h old" not in queue.text  # minutes old, or under a minute
    assert f"{reference}, under a minute old" in queue.text or " min old" in queue.text
    after(member, lambda: member.send("/stats"), "Open concerns: 1")
    [picture] = member.files()
    assert picture.data.startswith(b"\x89PNG")
    outsider = team.member(OUTSIDER, "Nosy")
    after(outsider, lambda: outsider.send("/queue"), "Only members")
    assert sum(f"⏰ {reference}" in m.text for m in member.messages()) == 1


def test_the_alert_survives_a_restart_and_a_bot_api_outage_and_arrives_once(
    team_bot: BotProcess, server: BotApiServer
) -> None:
    team = server.group_chat(TEAM_CHAT, "EoE Quality team")
    member = team.member(MEMBER, "Priya")
    learner = server.private_chat(user_id=4242003, first_name="Xan")
    # The team chat is out of reach for a while, and a slow answer is cut short by a crash...
    server.faults.fail_next("sendMessage", status=500, count=4, chat_id=TEAM_CHAT)
    reference = file_concern(learner)
    time.sleep(2.5)
    team_bot.kill()
    with team_bot.storage().unit_of_work() as uow:
        [alert] = [i for i in uow.outbox.for_reference(reference) if i.kind == "team_alert"]
    assert alert.status == "pending"  # not lost: waiting in the outbox
    team_bot.start()
    member.wait_for(f"Quality Concerns Alert {reference}", timeout=90)
    time.sleep(3)
    assert len(cards(member, reference)) == 1
    with team_bot.storage().unit_of_work() as uow:
        alerts = [i for i in uow.outbox.for_reference(reference) if i.kind == "team_alert"]
    assert [i.status for i in alerts] == ["sent"]
    failed = [
        r for r in server.requests("sendMessage") if r.chat_id == TEAM_CHAT and r.status == 500
    ]
    assert len(failed) == 4


def test_odd_input_in_the_team_chat_changes_nothing_it_should_not(
    team_bot: BotProcess, server: BotApiServer
) -> None:
    team = server.group_chat(TEAM_CHAT, "EoE Quality team")
    member = team.member(MEMBER, "Priya")
    outsider = team.member(OUTSIDER, "Nosy")
    learner = server.private_chat(user_id=4242004, first_name="Wren")
    long = ("Night after night nobody senior answers the bleep and we are left alone. " * 60)[:3500]
    reference = file_concern(learner, description=long)
    card = member.wait_for(f"Quality Concerns Alert {reference}", timeout=20)
    assert len(card.text) <= 4096 and "full text is in the QCA document" in card.text

    # Forged or broken button data: a short answer, no error message, nothing changes.
    member.press_raw(card.message_id, "t|x")
    member.press_raw(card.message_id, "t|ack|QC-ZZZZ-ZZZZ")
    answers = member.wait_for_callback_answers(2)
    assert "no concern QC-ZZZZ-ZZZZ" in (answers[1] or "")
    # A status no button offers is not available (the concern exists); a History press for
    # a reference the team does not have says so, rather than "something went wrong".
    member.press_raw(card.message_id, f"t|status:closed|{reference}")
    member.press_raw(card.message_id, "t|history|QC-ZZZZ-ZZZZ")
    answers = member.wait_for_callback_answers(4)
    assert answers[2] == "That action is not available."
    assert answers[3] == "There is no concern QC-ZZZZ-ZZZZ the team can see."

    # A non-member replying to a member's prompt is refused; an edited question is not resent.
    member.press("❓ Ask the reporter", message_id=card.message_id)
    prompt = member.wait_for("Reply to this message with your question")
    after(outsider, lambda: outsider.reply(prompt.message_id, "Who are you?"), "Only members")
    after(
        member,
        lambda: member.reply(prompt.message_id, "How many nights a week?"),
        "Question on its way",
    )
    learner.wait_for("How many nights a week?", timeout=20)
    member.edit_last_sent("How many nights a week, roughly?")
    time.sleep(3)
    assert not any("roughly" in m.text for m in learner.messages())
    assert not any("went wrong" in m.text for m in member.messages())

    # Acknowledging after "under review" does not move the concern back; closed stays closed.
    member.press("🔎 Under review", message_id=card.message_id)
    learner.wait_for("under review by the Quality team", timeout=20)
    member.press("✅ Acknowledge", message_id=card.message_id)
    member.wait_for(lambda m: m.message_id == card.message_id and "Acknowledged: ✓" in m.text)
    member.press("🔒 Close…", message_id=card.message_id)
    member.wait_for(lambda m: m.message_id == card.message_id and "No further action" in m.labels)
    member.press("No further action", message_id=card.message_id)
    learner.wait_for("has been closed", timeout=20)
    member.press_raw(card.message_id, f"t|status:with_provider|{reference}")
    assert "closed" in (member.wait_for_callback_answers(10)[-1] or "")
    with team_bot.storage().unit_of_work() as uow:
        assert uow.concerns.get(reference).status == "closed"  # type: ignore[union-attr]
    assert not any("received by the Quality team" in m.text for m in learner.messages())


def test_a_concern_the_learner_kept_is_not_the_teams(
    team_bot: BotProcess, server: BotApiServer
) -> None:
    team = server.group_chat(TEAM_CHAT, "EoE Quality team")
    member = team.member(MEMBER, "Priya")
    learner = server.private_chat(user_id=4242005, first_name="Vic")
    after(learner, lambda: learner.send("/start"), "safety check")
    text = "We are never given protected teaching time on this rotation."
    for label, expect in [
        ("No, nobody is at risk now", "own words"), (text, "Which of these are you"),
        ("Medical student", "Which university"), ("University of Cambridge", "placement"),
        ("Papworth", "What is it about"), ("⬜ Induction", "☑️ Induction"),
        ("Done", "standards"), ("Done", "When did it"), ("This week", "How often"),
        ("It happened once", "How many"), ("Just me", "Have patients"),
        ("No", "already being done"),
        ("⬜ Nothing that I know of", "☑️ Nothing"), ("Done", "how likely"),
        ("Unlikely", "how serious"), ("Minor", "Who have you"),
        ("⬜ Nobody yet", "☑️ Nobody"), ("Done", "reason not to"),
        ("⬜ No, the usual routes are fine", "☑️ No, the usual"), ("Done", "Quality team?"),
        ("No, keep it as my record", "known"),
        ("Anonymous", "Please check"),
    ]:  # fmt: skip
        if label == text:
            tell(learner, text)
        elif label == "Papworth":
            after(learner, lambda label=label: learner.send(label), expect)  # type: ignore[misc]
        else:
            after(learner, lambda label=label: learner.press(label), expect)  # type: ignore[misc]
    message = after(learner, lambda: learner.press("Submit"), "Your reference is")
    reference = message.text.split("Your reference is ")[1][:12]
    after(member, lambda: member.send(f"/case {reference}"), f"no concern {reference}")
    time.sleep(2)
    assert not any(f"Alert {reference}" in m.text for m in member.messages())
