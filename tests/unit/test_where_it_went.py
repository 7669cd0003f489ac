"""What the learner is told about where a filed concern went: never "on its way" to the
Quality team unless a team channel is set up to take it (policy 8)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogues.bundle import load_content
from dialogues.contacts import quality_team_email
from dialogues.engine import Dialogue
from dialogues.filing import where_it_went
from dialogues.records import Advice
from dialogues.turns import Outcome, Text
from unit.test_engine import NOW, TO_REVIEW

CONTENT = load_content()
SAY = CONTENT.prompts.say
# As the learner reads it: with the marker while the address is unconfirmed.
EMAIL = CONTENT.catalogue.support.mark(quality_team_email(CONTENT.catalogue))
REFERENCE = "QC-2345-6789"


def submit(dialogue: Dialogue) -> Outcome:
    """A whole concern through the engine, sent to the team, anonymous, then Submit."""
    outcome = dialogue.begin("chat/concern", "chat", "concern", NOW)
    for text in (*TO_REVIEW[:-2], "1", "anonymous", "submit"):  # "Yes, send it to them"
        assert outcome.conversation is not None
        outcome = dialogue.handle(outcome.conversation, Text(text), NOW, lambda: REFERENCE)
    assert outcome.concern is not None
    return outcome


BASE = submit(Dialogue(CONTENT)).concern
assert BASE is not None
LEVEL_1 = Advice(level=1, reasons=())
TOP = Advice(level=3, reasons=())


# (queued for the team, team channel set up, identity, advice): the words said.
ROWS = [
    (True, True, "anonymous", LEVEL_1, "queued"),
    (True, True, "named", TOP, "queued"),
    (True, False, "anonymous", LEVEL_1, "queued_waiting_anonymous"),
    (True, False, "confidential", TOP, "queued_waiting"),
    (True, False, "named", LEVEL_1, "queued_waiting"),
    (False, True, "anonymous", TOP, "queued_by_choice_no"),
    (False, False, "named", TOP, "queued_by_choice_no"),
    (False, True, "anonymous", LEVEL_1, "not_queued"),
    (False, False, "confidential", LEVEL_1, "not_queued"),
]


@pytest.mark.parametrize(("queued", "channel", "identity", "advice", "key"), ROWS)
def test_each_configuration_says_what_happened(
    queued: bool, channel: bool, identity: str, advice: Advice, key: str
) -> None:
    concern = replace(
        BASE, queued_for_team=queued, identity=identity, advice=advice, reference=REFERENCE
    )
    words = where_it_went(CONTENT, concern, channel)
    assert words == SAY(key, email=EMAIL, reference=REFERENCE)


def test_the_words_differ_where_the_truth_does() -> None:
    on_its_way = SAY("queued")
    waiting = SAY("queued_waiting", email=EMAIL, reference=REFERENCE)
    assert "on its way" in on_its_way and "sent" not in on_its_way  # queued, not yet sent
    assert waiting.startswith("Saved and waiting: the Quality team has not set up delivery")
    assert EMAIL in waiting and REFERENCE in waiting
    anonymous = SAY("queued_waiting_anonymous", email=EMAIL, reference=REFERENCE)
    assert "not be anonymous" in anonymous and "anonymous" not in waiting


@given(
    queued=st.booleans(),
    channel=st.booleans(),
    identity=st.sampled_from(["anonymous", "confidential", "named"]),
    level=st.integers(1, 3),
    alert_now=st.booleans(),
)
def test_on_its_way_only_with_a_channel_and_the_address_whenever_it_waits(
    queued: bool, channel: bool, identity: str, level: int, alert_now: bool
) -> None:
    advice = Advice(level=level, reasons=(), alert_team_now=alert_now)
    concern = replace(BASE, queued_for_team=queued, identity=identity, advice=advice)
    words = where_it_went(CONTENT, concern, channel)
    assert (words == SAY("queued")) == (queued and channel)
    assert ("on its way" in words) == (queued and channel)
    if queued and not channel:
        assert "waiting" in words and EMAIL in words and concern.reference in words


def test_the_engine_says_on_its_way_only_when_told_a_channel_is_set_up() -> None:
    waiting = submit(Dialogue(CONTENT))  # the default: no channel is assumed
    on_its_way = submit(Dialogue(CONTENT, team_channel=True))
    assert waiting.concern == on_its_way.concern  # the same concern is filed either way
    assert waiting.concern is not None and waiting.concern.queued_for_team
    assert waiting.replies[-1].text == SAY(
        "queued_waiting_anonymous", email=EMAIL, reference=REFERENCE
    )
    assert on_its_way.replies[-1].text == SAY("queued")
    assert waiting.replies[:-1] == on_its_way.replies[:-1]  # only the closing words differ
