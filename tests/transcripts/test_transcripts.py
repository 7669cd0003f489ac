"""Golden transcripts: whole conversations a reviewer can read, replayed through the service.

Each `*.txt` file beside this one is a conversation as the terminal shows it. Lines that
start with `> ` are what the person sent; everything else is what the bot must answer. The
test replays the inputs through the real turn service and content and compares the whole
text. Set CONCERNBOT_UPDATE_GOLDEN=1 to rewrite the files after an intended change, then
read the diff.

Special inputs: `> [press STEP KEY]` presses a button; `> @long(N)` sends N characters;
`> @restart` starts a new service on the same storage; `> @wait(H)` lets H hours pass.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.channels.console import render
from bot.service import TurnService
from dialogues.bundle import load_content
from dialogues.contacts import quality_team_email
from dialogues.engine import Dialogue
from dialogues.records import Concern
from dialogues.turns import Command, Event, Press, Reply, Text
from storage.memory import MemoryStorage
from transcripts.screens import count_screens

HERE = Path(__file__).parent
CHAT = "console:learner"
CONTENT = load_content()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=20)  # a person takes a while to answer
        return self.now


def _event(line: str) -> Event:
    press = re.fullmatch(r"\[press (\S+) (\S+)\]", line)
    if press:
        return Press(press.group(1), press.group(2))
    long = re.fullmatch(r"@long\((\d+)\)", line)
    if long:
        return Text(("I was left without supervision again. " * 200)[: int(long.group(1))])
    if line.startswith("/"):
        return Command(line[1:])
    return Text(line)


def replay(source: str) -> str:
    """The transcript as the service answers its inputs now."""
    return run(source)[0]


def run(source: str) -> tuple[str, list[tuple[Reply, ...]]]:
    """The transcript as the service answers it, and the replies of each turn."""
    text, turns, _ = run_filing(source)
    return text, turns


def run_filing(source: str) -> tuple[str, list[tuple[Reply, ...]], list[Concern]]:
    """The transcript, the replies of each turn, and the concerns filed, as stored."""
    turns: list[tuple[Reply, ...]] = []
    filed: list[Concern] = []
    storage, clock, rng = MemoryStorage(), Clock(), random.Random(2026)

    def service() -> TurnService:
        return TurnService(Dialogue(CONTENT), storage, clock=clock, random_below=rng.randrange)

    current = service()
    out = [line for line in source.splitlines() if line.startswith("#")]
    for line in source.splitlines():
        if not line.startswith("> "):
            continue
        sent = line[2:]
        out += ["", line]
        if sent == "@restart":
            current = service()
            continue
        wait = re.fullmatch(r"@wait\((\d+)\)", sent)
        if wait:
            clock.now += timedelta(hours=int(wait.group(1)))
            continue
        turn = asyncio.run(current.handle(CHAT, CHAT, _event(sent)))
        turns.append(turn.replies)
        out += [render(reply, CONTENT.prompts) + "\n" for reply in turn.replies]
        if turn.reference:
            with storage.unit_of_work() as uow:
                c = uow.concerns.get(turn.reference)
                assert c is not None
            filed.append(c)
            out.append(
                f"= stored {c.reference}: score {c.score} ({c.band}), pathway {c.advice.level}, "
                f"{'queued for the team' if c.queued_for_team else 'not queued'}, {c.identity}, "
                f"name {c.reporter_name!r}, standards {', '.join(c.standards)}\n"
            )
    return "\n".join(out).rstrip() + "\n", turns, filed


TRANSCRIPTS = sorted(HERE.glob("*.txt"))


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path) -> None:
    expected = path.read_text(encoding="utf-8")
    actual = replay(expected)
    if os.environ.get("CONCERNBOT_UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert actual == expected


def test_there_are_transcripts_of_every_kind() -> None:
    names = {p.stem for p in TRANSCRIPTS}
    assert {
        "happy_path",
        "back_and_edit",
        "pause_and_resume",
        "cancel",
        "immediate_danger",
        "named_identity",
        "invalid_input",
        "pathway_question",
        "typed_input",
        "persona_student_nurse",
        "persona_fy2_doctor",
        "persona_physio_student",
        "level3_physio_student",
        "level3_dental_trainee",
        "edit_who_was_told",
        "quick_question_extreme",
        "fear_at_school",
        "involvement_and_fear",
        "learner_at_risk",
        "extreme_local_unsuitable",
        "identifying_details",
    } <= names


def test_an_edit_of_who_was_told_asks_what_came_of_it_again_and_the_advice_follows() -> None:
    text = (HERE / "edit_who_was_told.txt").read_text(encoding="utf-8")
    edit = text[text.index("> Change: Who knows") :]
    asked = edit[edit.index("> done") : edit.index("> waiting")]
    assert "What came of raising it?" in asked and "Keep it as it is" not in asked
    assert "Your answer was" not in asked  # the old answer is not offered back
    assert "What came of it: Waiting to hear back" in edit
    assert "My advice: Pathway 2" in edit and "pathway 2," in edit
    assert "Pathway 3" not in text


def test_the_quick_question_with_extreme_risk_says_to_alert_the_quality_team_now() -> None:
    text = (HERE / "quick_question_extreme.txt").read_text(encoding="utf-8")
    email = CONTENT.catalogue.pathways.quality_team_email
    advice = text[text.index("My advice:") :]
    assert f"alert the Quality team now ({email} *)" in advice
    assert "= stored" not in text  # nothing filed


# A typical concern: the golden happy path and the three personas of issue 8.
TYPICAL = ("happy_path", "persona_student_nurse", "persona_fy2_doctor", "persona_physio_student")
MOST_SCREENS = 15


@pytest.mark.parametrize("name", TYPICAL)
def test_a_typical_concern_takes_at_most_15_screens_as_the_welcome_says(name: str) -> None:
    _, turns = run((HERE / f"{name}.txt").read_text(encoding="utf-8"))
    screens = count_screens(turns)
    assert screens <= MOST_SCREENS, f"{name}: {screens} screens"
    # The welcome promises "about N short questions" after the safety check and the story.
    promised = int(re.search(r"about (\d+) short questions", CONTENT.prompts.say("welcome"))[1])  # type: ignore[index]
    assert abs((screens - 2) - promised) <= 3, f"{name}: {screens} screens, {promised} promised"


@pytest.mark.parametrize("name", ["persona_physio_student", "level3_physio_student"])
def test_a_physiotherapy_student_never_sees_doctors_contacts(name: str) -> None:
    text = (HERE / f"{name}.txt").read_text(encoding="utf-8")
    for doctors_only in ("Guardian of Safe Working Hours", "Director of Medical Education"):
        assert doctors_only not in text


def test_at_pathway_3_the_physiotherapy_student_is_told_the_hcpc_only_because_of_patients() -> None:
    advice = _advice((HERE / "level3_physio_student.txt").read_text(encoding="utf-8"))
    assert "My advice: Pathway 3" in advice
    assert "• Also, because patients may be at risk: the HCPC" in advice.splitlines()
    assert "england.qualityframework.eoe@nhs.net" in advice
    assert advice.rstrip().splitlines()[-6] == "Support for you:"  # its five lines end it


def test_at_pathway_3_a_dental_trainee_whose_teaching_is_cancelled_is_not_sent_to_the_gdc() -> None:
    advice = _advice((HERE / "level3_dental_trainee.txt").read_text(encoding="utf-8"))
    assert "My advice: Pathway 3" in advice
    assert "GDC" not in advice
    assert "Quality team: england.qualityframework.eoe@nhs.net" in advice
    assert "exception reporting may apply" in advice and "Professional Support" in advice


def _advice(transcript: str) -> str:
    """The advice message of a transcript: from its heading to the end of its support list,
    the advice's last section."""
    start = transcript.index("My advice:")
    return transcript[start : transcript.index("\n\n", transcript.index("Support for you:", start))]


def _closing(name: str) -> str:
    """What a transcript's concern is answered with: from the thanks to the end."""
    text = (HERE / f"{name}.txt").read_text(encoding="utf-8")
    return text[text.index("Thank you. Your concern is recorded.") :]


def test_a_learner_afraid_at_school_is_sent_past_it_to_pathway_3() -> None:
    advice = _closing("fear_at_school")
    assert "My advice: Pathway 3" in advice
    assert CONTENT.prompts.reasons["fear_school"] in advice


def test_involved_and_afraid_locally_nothing_recommends_the_placement() -> None:
    advice = _closing("involvement_and_fear")
    assert "My advice: Pathway 2" in advice
    for reason in ("involves_local", "fear_local", "start_2"):
        assert CONTENT.prompts.reasons[reason] in advice
    assert CONTENT.prompts.reasons["start_1"] not in advice
    assert "local routes" not in advice


def test_a_learner_at_risk_reads_about_their_own_safety_not_the_patients() -> None:
    text = (HERE / "learner_at_risk.txt").read_text(encoding="utf-8")
    assert CONTENT.prompts.step("danger_now").label("learner") in text
    assert "I can't do that yet" in text  # said, and the concern carried on
    advice = _closing("learner_at_risk")
    assert advice.index(CONTENT.prompts.say("advice_act_now_learner")) < advice.index("My advice")
    assert CONTENT.prompts.say("advice_act_now") not in text
    assert CONTENT.prompts.step("danger_now").prompt not in text


def test_where_local_action_is_unsuitable_nothing_says_to_act_locally() -> None:
    text = (HERE / "extreme_local_unsuitable.txt").read_text(encoding="utf-8")
    assert "act locally" not in text.casefold() and "local action" not in text.casefold()
    email = CONTENT.catalogue.support.mark(quality_team_email(CONTENT.catalogue))
    advice = _closing("extreme_local_unsuitable")
    assert CONTENT.prompts.say("advice_act_now_not_local", email=email) in advice
    assert CONTENT.prompts.say("advice_alert_now_not_local", email=email, pathway=2) in advice
    extreme = CONTENT.catalogue.risk.band_for(25)
    assert extreme.explanation_not_local.rstrip(".") in text


def test_the_anonymous_physiotherapy_student_is_shown_what_could_identify_them() -> None:
    text, _, [concern] = run_filing((HERE / "identifying_details.txt").read_text("utf-8"))
    words = CONTENT.identifying.words
    first = text[text.index("> submit") :]
    assert first.index(words.anonymous) < first.index('"Dr Patel" → [a doctor]')
    assert first.index("> submit") < first.index("Thank you.")
    assert text.count(words.anonymous) == 2  # checked again after the words were changed
    # What is filed is the changed words, with the neutral words the learner chose.
    assert concern.description == (
        "Year 2 physio student on a stroke ward placement. Two weeks ago a doctor shouted at "
        "me in front of patients. I was [one of the team]."
    )
    assert "Patel" not in concern.description and concern.identity == "anonymous"
