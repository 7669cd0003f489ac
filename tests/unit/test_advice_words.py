"""The advice as the learner reads it: the act-now lines for whoever is at risk, the reasons
of the advice and no others, and never "act locally" where local action is unsuitable."""

from __future__ import annotations

from hypothesis import given

from dialogues.advice import REASON_KEYS, Situation, advise
from dialogues.bundle import load_content
from dialogues.contacts import quality_team_email
from dialogues.engine import Dialogue
from dialogues.filing import advice_for
from dialogues.records import Conversation

from .test_advice import situations

CONTENT = load_content()
WORDING = Dialogue(CONTENT).wording
SAY = CONTENT.prompts.say
EMAIL = CONTENT.catalogue.support.mark(quality_team_email(CONTENT.catalogue))
ACT_NOW = {
    "patient": SAY("advice_act_now"),
    "patient_not_local": SAY("advice_act_now_not_local", email=EMAIL),
    "learner": SAY("advice_act_now_learner"),
}


@given(situations)
def test_the_advice_says_only_what_holds_for_the_learner(given_: Situation) -> None:
    advice = advise(given_)
    text = WORDING.advice(advice, "resident_doctors")
    reasons = {CONTENT.prompts.reasons[r] for r in advice.reasons}
    assert all(reason in text for reason in reasons)
    for other in REASON_KEYS - set(advice.reasons):
        assert CONTENT.prompts.reasons[other] not in text
    shown = {key for key, words in ACT_NOW.items() if words in text}
    if advice.danger == "learner":
        assert shown == {"learner"}
    elif advice.danger == "patient":
        assert shown == {"patient_not_local" if advice.local_unsuitable else "patient"}
    else:
        assert not shown
    if advice.act_now:
        assert text.index(ACT_NOW[next(iter(shown))]) < text.index("My advice")
    if advice.local_unsuitable:
        assert "act locally" not in text.casefold()
        assert "local action" not in text.casefold()
    if advice.level > 1:
        # Past the act-now block (a patient in danger now is for the people on the spot),
        # nothing sends the learner back to a level the advice has moved past.
        rest = text[text.index("My advice") :].casefold()
        assert "act locally" not in rest and "local action" not in rest
    if advice.alert_team_now:
        assert EMAIL in text


def test_the_extreme_band_says_whom_to_go_to_where_the_placement_is_unsuitable() -> None:
    extreme = CONTENT.catalogue.risk.band_for(25)
    assert "act locally" not in extreme.explanation.casefold()
    assert "Freedom to Speak Up Guardian" in extreme.explanation_not_local
    for band in CONTENT.catalogue.risk.bands:
        assert "locally" not in band.explanation_not_local.replace("rather than acting locally", "")


def test_the_rating_says_whom_to_go_to_once_the_placement_is_ruled_out() -> None:
    extreme = CONTENT.catalogue.risk.band_for(25)
    rated = Conversation(
        key="k", owner="o", journey="concern", state="review",
        answers={"likelihood": "5", "impact": "5", "barrier": ["none"]},
    )  # fmt: skip
    assert extreme.explanation.rstrip(".") in WORDING.score(rated)
    for barrier in (["involves_local"], ["fear_local", "fear_school"], "fear"):  # "fear": old
        ruled_out = rated.with_answer("barrier", barrier)
        assert extreme.explanation_not_local.rstrip(".") in WORDING.score(ruled_out)
    school_only = rated.with_answer("barrier", ["involves_school"])
    assert extreme.explanation.rstrip(".") in WORDING.score(school_only)


def test_a_barrier_the_content_no_longer_has_is_passed_over_not_a_crash() -> None:
    stale = Conversation(
        key="k", owner="o", journey="concern", state="review",
        answers={"likelihood": "5", "impact": "5", "barrier": ["renamed", "fear_local"]},
    )  # fmt: skip
    assert advice_for(CONTENT, stale).local_unsuitable
    assert advice_for(CONTENT, stale.with_answer("barrier", ["renamed"])).level == 1
