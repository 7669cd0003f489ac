"""End to end: the biggest concern the journey allows, through the real bot process, the Bot
API test server and a real SMTP server. Every list full, every text at its limit: one card,
one email with its document, the register, /case, triage presses, relays both ways at the
longest a Telegram message can be. Nothing refused, nothing lost, nothing said that was not so.
"""

from __future__ import annotations

import csv
import io
import subprocess
import time

import openpyxl
import pytest
from botapi import BotApiServer
from botapi.state import BotMessage
from botapi.user import ChatUser
from notifiers.smtp_server import SmtpServer
from reports.worst_case import choices, worst_text

from bot.reports.qca import qca_text
from dialogues.bundle import load_content
from dialogues.readings import EXCLUSIVE

from .conftest import CONCERNBOT, BotProcess, after
from .test_team import MEMBER, TEAM_CHAT, cards, smtp, team_bot  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e
CONTENT = load_content()
LEARNER = 4242777
LIMIT = 4096


def limit(step: str) -> int:
    return CONTENT.prompts.step(step).max


ORG_OTHER = worst_text(limit("organisation_other"), "Hospice «St Ælfric» & <GP> 🏥 ")
DESCRIPTION = worst_text(limit("description"))
CONTROLS = worst_text(limit("controls_detail"), "Registrar by phone & <not> at night 📞\n")
ACTIONS = worst_text(limit("actions"), "A named senior & <protected> teaching ✅ ")
# The name and the contact are one answer, at its limit together.
CONTACT = "z" * (120 - len("@example.nhs.uk")) + "@example.nhs.uk"
NAME = worst_text(limit("name") - len(CONTACT) - 2, "Dr Zoë Ó'Briain & <Sam> ")
QUESTION = worst_text(LIMIT, "Which nights & <wards>? 🌙 ")  # the longest message there is
ANSWER = worst_text(LIMIT, "Every weekend & <bank> holiday 💤 ")


def untick_free(message: BotMessage) -> str:
    """The numbers of the options not yet ticked (leaving out the ones that stand alone)."""
    numbers = []
    options = [b for row in message.buttons for b in row if b.label[:2] in ("⬜ ", "☑️")]
    for number, button in enumerate(options, start=1):
        label = button.label.split(" ", 1)[1]
        if button.label.startswith("⬜") and label not in ALONE:
            numbers.append(str(number))
    return ",".join(numbers)


ALONE = {  # the choices that clear the others: "Not sure", "Nobody yet", "Nothing that I know of"
    label for step in ("topics", "topics_more", "told", "controls", "barrier")
    for key, label in choices(CONTENT, step) if key in EXCLUSIVE
} | {CONTENT.prompts.step("standards").labels["not_sure"]}  # fmt: skip


def tick_all(user: ChatUser, expect_after_done: str) -> None:
    """At a multiple-choice step: tick every option that goes with the others, then Done."""
    numbers = untick_free(user.last())
    if numbers:
        after(user, lambda: user.send(numbers), "☑️")
    assert untick_free(user.last()) == "", user.last().labels
    after(user, lambda: user.send("Done"), expect_after_done)


def walk(user: ChatUser, steps: list[tuple[str, str]]) -> None:
    """Type each answer and wait for the words of the question that follows it."""
    for text, expect in steps:
        after(user, lambda text=text: user.send(text), expect)  # type: ignore[misc]


def file_worst_concern(user: ChatUser) -> str:
    """The journey at every limit; returns the reference."""
    walk(user, [
        ("/start", "safety check"), ("No, nobody is at risk now", "in your own words"),
        (DESCRIPTION, "Which of these are you"),
        ("Allied health (physio, OT…)", "Which university"),
        ("Another, or none", "Where is your placement"),
        ("Somewhere else", "Which organisation is it"), (ORG_OTHER, "What is it about"),
    ])  # fmt: skip
    after(user, lambda: user.send(untick_free(user.last())), "☑️")
    after(user, lambda: user.send("More topics…"), "More topics")
    tick_all(user, "standards fit")
    for domain in range(1, len(CONTENT.catalogue.framework.domains) + 1):
        after(user, lambda: user.send("Browse all standards"), "Which area")
        after(user, lambda domain=domain: user.send(str(domain)), "Tick the standards")  # type: ignore[misc]
        tick_all(user, "standards fit")
    assert untick_free(user.last()) == ""
    after(user, lambda: user.send("Done"), "When did it start")
    walk(user, [
        ("More than 6 months ago", "How often"), ("All the time, it is ongoing", "How many"),
        ("More than 20", "Have patients"), ("Yes, a patient was harmed", "already being done"),
    ])  # fmt: skip
    tick_all(user, "What else is being done")
    walk(user, [(CONTROLS, "how likely"), ("5", "how serious"), ("5", "Who have you")])
    tick_all(user, "What came of raising it")
    walk(user, [
        ("Waiting to hear back", "reason not to raise"),
    ])  # fmt: skip
    tick_all(user, "Quality team?")  # every barrier: the longest line for the team
    walk(user, [
        ("Yes, send it to them", "How do you want"), ("Confidential", "Your name, and"),
        (f"{NAME}, {CONTACT}", "Please check your concern"),
    ])  # fmt: skip
    # What would put it right is asked when the risk is changed on the review.
    user.wait_for(lambda m: "Submit" in m.labels, timeout=20)
    after(user, lambda: user.press("Change: Risk"), "safety check")
    walk(user, [
        ("Keep it as it is", "Have patients"), ("Keep it as it is", "already being done"),
        ("Done", "What else is being done"), ("Keep it as it is", "how likely"),
        ("Keep it as it is", "how serious"), ("Keep it as it is", "put it right"),
        (ACTIONS, "Please check your concern"),
    ])  # fmt: skip
    user.wait_for(lambda m: "Submit" in m.labels, timeout=20)
    message = after(user, lambda: user.press("Submit"), "Your reference is")
    return message.text.split("Your reference is ")[1][:12]


def fits(message: BotMessage) -> bool:
    return len(message.text.encode("utf-16-le")) // 2 <= LIMIT


def test_the_biggest_concern_goes_end_to_end(
    team_bot: BotProcess,  # noqa: F811
    server: BotApiServer,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    team = server.group_chat(TEAM_CHAT, "EoE Quality team")
    member = team.member(MEMBER, "Priya")
    learner = server.private_chat(user_id=LEARNER, first_name="Zoë")
    reference = file_worst_concern(learner)
    with team_bot.storage().unit_of_work() as uow:
        stored = uow.concerns.get(reference)
    assert stored is not None and stored.description == DESCRIPTION
    assert len(stored.standards) == len(CONTENT.catalogue.framework.standards)
    assert len(stored.topics) == len(CONTENT.catalogue.framework.topics)

    # Exactly one card, within the limit, with the buttons; it says it was shortened.
    card = member.wait_for(f"Quality Concerns Alert {reference}", timeout=30)
    assert fits(card) and "✅ Acknowledge" in card.labels
    assert CONTENT.prompts.alert["shortened"] in card.text
    assert ", ".join(stored.standards) in card.text

    # One email, its document whole: every standard, the whole description.
    deadline = time.monotonic() + 30
    while not smtp.received and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # room for a second card or email, if one were coming
    assert len(cards(member, reference)) == 1 and len(smtp.received) == 1
    mail = smtp.received[0].message
    body = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert DESCRIPTION in body and NAME in body
    [attachment] = list(mail.iter_attachments())
    document = qca_text(attachment.get_content())
    for text in (DESCRIPTION, ORG_OTHER, CONTROLS, ACTIONS, NAME, CONTACT):
        assert text in document
    for standard in CONTENT.catalogue.framework.standards:
        assert standard.label in document

    # The register, CSV and XLSX, read back: the whole description in the concern's row.
    exported = {}
    for fmt in ("csv", "xlsx"):
        out = team_bot.data_dir.parent / f"register.{fmt}"
        run = subprocess.run(
            [CONCERNBOT, "export", "--format", fmt, "--out", str(out)],
            env=team_bot.env(), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        exported[fmt] = out
    rows = list(csv.reader(io.StringIO(exported["csv"].read_text(encoding="utf-8-sig"))))
    [row] = [r for r in rows if r and r[0] == reference]
    assert DESCRIPTION in row and NAME in ", ".join(row)
    sheet = openpyxl.load_workbook(exported["xlsx"]).active
    assert sheet is not None
    [cells] = [[c.value for c in r] for r in sheet.iter_rows() if r[0].value == reference]
    assert DESCRIPTION in cells

    # /case: the card again, and its history; triage presses refresh the card each time.
    again = after(member, lambda: member.send(f"/case {reference}"), "History of")
    assert fits(again) and len(cards(member, reference)) == 2
    for press, shows in [
        ("✅ Acknowledge", "Acknowledged: ✓"),
        ("🔎 Under review", "Status: under review"),
        ("🏥 With provider", "Status: raised with the education provider"),
        ("🙋 Assign to me", "Assigned: Priya"),
    ]:
        member.press(press, message_id=card.message_id)
        member.wait_for(lambda m, shows=shows: m.message_id == card.message_id and shows in m.text)  # type: ignore[misc]
    long_name = worst_text(LIMIT - 40, "Priya & <the> whole team 👥 ")
    after(member, lambda: member.send(f"/assign {reference} {long_name}"), "is assigned to")
    member.press("✅ Acknowledge", message_id=card.message_id)  # refreshes with the long name
    refreshed = member.wait_for(
        lambda m: m.message_id == card.message_id and "Assigned: Priya & <the>" in m.text
    )
    assert fits(refreshed)

    # A question at the longest a message can be reaches the reporter, in parts.
    member.press("❓ Ask the reporter", message_id=card.message_id)
    prompt = member.wait_for("Reply to this message with your question")
    after(member, lambda: member.reply(prompt.message_id, QUESTION), "Question on its way")
    first = learner.wait_for("(part 1 of 2)", timeout=30)
    second = learner.wait_for("(part 2 of 2)", timeout=30)
    assert fits(first) and fits(second) and reference in first.text
    # The answer, as long, comes back to the team by reference, in parts.
    after(learner, lambda: learner.reply(second.message_id, ANSWER), "answer is on its way")
    answers = [
        member.wait_for(
            lambda m, part=part: (
                m.text.startswith(f"Answer from the reporter of {reference}")
                and m.text.endswith(f"(part {part} of 2)")
            ),
            timeout=30,
        )
        for part in (1, 2)
    ]
    assert all(fits(a) for a in answers)
    assert "Every weekend & <bank> holiday" in answers[0].text

    # Close it; the reporter is told. Nothing went wrong, nothing is waiting or failed.
    member.press("🔒 Close…", message_id=card.message_id)
    member.wait_for(lambda m: m.message_id == card.message_id and "Resolved locally" in m.labels)
    member.press("Resolved locally", message_id=card.message_id)
    learner.wait_for("has been closed: Resolved locally", timeout=30)
    everything = member.messages() + learner.messages()
    assert all(fits(m) for m in everything)
    assert not any("went wrong" in m.text or "could not be delivered" in m.text for m in everything)
    time.sleep(2)
    doctor = subprocess.run(
        [CONCERNBOT, "doctor"], env=team_bot.env(), capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "0 failed permanently" in doctor.stdout
