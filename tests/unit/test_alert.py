"""The alert's fields: every QCA field in words, none that identifies an anonymous reporter."""

from __future__ import annotations

from dataclasses import replace

from dialogues.alert import FIELDS, alert_fields
from dialogues.bundle import load_content
from dialogues.records import barrier_keys

from .test_engine import TO_REVIEW, run

CONTENT = load_content()


def filed() -> object:
    outcome = run(*TO_REVIEW, "submit")
    assert outcome.concern is not None
    return outcome.concern


def test_every_field_is_there_in_words() -> None:
    concern = filed()
    fields = {f.key: f for f in alert_fields(concern, CONTENT)}  # type: ignore[arg-type]
    assert tuple(fields) == FIELDS
    assert fields["score"].value == "12 of 25: 🟧 High (amber)"
    assert fields["learner_group"].value == "Resident doctor (doctor in training)"
    assert fields["told"].value == "Nobody yet"
    assert fields["standards"].value.startswith("1.1 ")
    assert fields["advice"].value.startswith("Pathway 1")


def test_an_anonymous_concern_carries_no_identity() -> None:
    concern = replace(filed(), owner="telegram:user:424242")  # type: ignore[type-var]
    text = " ".join(f"{f.label} {f.value}" for f in alert_fields(concern, CONTENT))
    assert "424242" not in text and "telegram" not in text
    assert "Anonymous" in text


def test_a_named_concern_shows_name_and_contact() -> None:
    concern = replace(  # type: ignore[type-var]
        filed(), identity="named", reporter_name="Sam Example", reporter_contact="sam@nhs.net"
    )
    fields = {f.key: f.value for f in alert_fields(concern, CONTENT)}
    assert fields["reporter"] == "Sam Example, sam@nhs.net"


def test_every_barrier_is_in_words_and_an_old_single_key_still_reads() -> None:
    concern = replace(filed(), barrier=("involves_local", "fear_school"))  # type: ignore[type-var]
    fields = {f.key: f.value for f in alert_fields(concern, CONTENT)}
    assert fields["barrier"] == "It involves my placement; Afraid to raise at uni/school"
    old = replace(concern, barrier=barrier_keys("fear"))
    assert {f.key: f.value for f in alert_fields(old, CONTENT)}["barrier"] == (
        "Afraid to raise it locally"
    )
