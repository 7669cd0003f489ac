"""The alert card: every field when it fits, and always within Telegram's limit when not."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from botapi.markup import parse_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.message_size import MAX_MESSAGE, telegram_length
from bot.reports.card import CARD_LIMIT, card_html, fair_shares, fit_list
from dialogues.alert import alert_fields
from dialogues.bundle import Content, load_content
from storage.repositories import Triage

from .conftest import MakeConcern
from .worst_case import every, limit, worst_concern, worst_text

CONTENT = load_content()
ACKNOWLEDGED = Triage("QC-WWWW-WWWW", datetime(2026, 10, 1, tzinfo=UTC), "telegram:user:1")


def shown(card: str) -> str:
    """The card as Telegram shows it: its HTML parsed, as the Bot API test server does."""
    plain, _ = parse_text(card, "HTML")
    return plain


def more(shown: str, count: int) -> str:
    return f"{shown} and {count} more"


def test_a_card_that_fits_shows_every_field_whole(
    content: Content, make_concern: MakeConcern
) -> None:
    concern = make_concern(description="Nobody senior <answers> bleeps & nobody calls back.")
    card = card_html(concern, Triage(concern.reference), content)
    for field in alert_fields(concern, content):
        if field.key != "reference":
            assert f"{field.label}: {field.value}" in shown(card)
    assert content.prompts.alert["shortened"] not in card


def test_the_worst_case_card_fits_and_says_it_was_shortened(content: Content) -> None:
    concern = worst_concern(content)
    card = card_html(concern, ACKNOWLEDGED, content)
    assert telegram_length(card) <= CARD_LIMIT < MAX_MESSAGE
    assert telegram_length(shown(card)) <= MAX_MESSAGE
    text = shown(card)
    assert content.prompts.alert["shortened"] in text
    assert "Quality Concerns Alert QC-WWWW-WWWW" in text
    for field in alert_fields(concern, content):  # every field is there, if only in part
        if field.key != "reference":
            assert f"{field.label}:" in text
    # Lists are shortened by their short forms, never cut mid-word; the standards all show.
    ids = ", ".join(concern.standards)
    assert f"Standard(s) affected: {ids}" in text
    assert "💥" in text and "<b>cover</b>" in text  # the learner's text, shown as typed
    description = text.split("Description: ")[1].split("\nStarted: ")[0]
    assert len(description) > 500 and description.endswith("…")  # the largest share


def test_a_long_list_is_cut_to_its_first_items_and_how_many_more() -> None:
    short = [f"{d}.{n}" for d in range(1, 7) for n in range(1, 5)]
    items = [f"Standard {s} with a long summary" for s in short]
    assert fit_list(items, short, 10_000, more) == "; ".join(items)
    assert fit_list(items, short, 200, more) == ", ".join(short)
    assert fit_list(items, short, 30, more) == "1.1, 1.2, 1.3, 1.4 and 20 more"
    assert fit_list(items, short, 29, more) == "1.1, 1.2, 1.3 and 21 more"
    assert fit_list(items, short, 3, more) == "and 24 more"  # at least the count


def test_fair_shares_give_short_fields_all_they_need_and_split_the_rest() -> None:
    assert fair_shares([10, 1000, 1000], 510) == [10, 250, 250]
    assert fair_shares([10, 1000, 1000], 510, [1, 3, 1]) == [10, 375, 125]
    assert fair_shares([10, 20], 1000) == [10, 20]
    assert fair_shares([10, 20], -5) == [0, 0]


texts = st.text(
    st.one_of(st.sampled_from("&<>\"' \n💥👩‍⚕️夜"), st.characters(exclude_categories=("Cs",)))
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_concern_any_triage_renders_within_the_limit(data: st.DataObject) -> None:
    content = CONTENT

    def text(step: str) -> str | None:
        return data.draw(st.none() | texts.map(lambda t: t[: limit(content, step)]) |
                         st.just(worst_text(limit(content, step))))  # fmt: skip

    def some(step: str) -> tuple[str, ...]:
        return tuple(data.draw(st.lists(st.sampled_from(every(content, step)), unique=True)))

    standards = [s.id for s in content.catalogue.framework.standards]
    concern = worst_concern(
        content,
        description=text("description") or "x" * 20,
        organisation_other=text("organisation_other"),
        site=text("site"),
        programme=text("programme"),
        controls_detail=text("controls_detail"),
        further_actions=text("actions"),
        reporter_name=text("name"),
        reporter_contact=text("contact"),
        topics=some("topics"),
        told=some("told"),
        controls=some("controls"),
        standards=tuple(data.draw(st.lists(st.sampled_from(standards), unique=True))),
        identity=data.draw(st.sampled_from(["named", "confidential", "anonymous"])),
    )
    assigned = data.draw(st.none() | st.text(max_size=4096))
    triage = Triage(concern.reference, assigned_to=assigned)
    card = card_html(concern, triage, content)
    assert telegram_length(card) <= CARD_LIMIT
    assert telegram_length(shown(card)) <= MAX_MESSAGE
    assert html.escape(concern.reference) in card
