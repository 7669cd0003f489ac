"""Rendering replies for Telegram: escaping, splitting, keyboards, callback data."""

from __future__ import annotations

import pytest

from bot.channels.telegram_render import (
    MAX_TEXT,
    callback_data,
    chosen,
    oversized_callbacks,
    parse_callback,
    render,
    render_all,
    split_text,
    toast,
    with_choice,
)
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.records import Conversation
from dialogues.turns import Option, Reply

DIALOGUE = Dialogue(load_content())


def test_text_is_escaped_for_html() -> None:
    [message] = render(Reply("Tom & Jerry <b>not bold</b> 5 > 3"))
    assert message.html == "Tom &amp; Jerry &lt;b&gt;not bold&lt;/b&gt; 5 &gt; 3"


def test_long_text_is_split_at_paragraphs_and_keeps_every_character() -> None:
    paragraphs = [f"Paragraph {n}: " + "word " * 150 for n in range(12)]
    text = "\n\n".join(paragraphs)
    pieces = split_text(text)
    assert len(pieces) > 1 and all(len(p) <= 3500 for p in pieces)
    assert "".join(pieces).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(
        " ", ""
    )
    assert all(p.startswith("Paragraph") for p in pieces)


def test_text_without_breaks_is_still_split_under_the_limit() -> None:
    pieces = split_text("x" * 9000)
    assert [len(p) for p in pieces] == [3500, 3500, 2000]


def test_the_keyboard_rides_on_the_last_piece() -> None:
    reply = Reply("y " * 4000, step="danger", options=(Option("no", "No"),))
    messages = render(reply)
    assert len(messages) == 3
    assert [m.keyboard is not None for m in messages] == [False, False, True]
    assert all(len(m.html) <= MAX_TEXT for m in messages)


def test_text_that_escaping_lengthens_is_split_under_the_limit() -> None:
    # Found by the fuzz: a review of answers full of "&" and "<" rendered to 10,395 characters.
    text = "Here is everything you have given.\n" + "&<>" * 1150
    messages = render(Reply(text, step="review", options=(Option("submit", "Submit"),)))
    assert len(messages) > 1 and all(len(m.html) <= MAX_TEXT for m in messages)
    assert "".join(m.html for m in messages).count("&amp;") == 1150
    assert messages[-1].keyboard is not None


def test_ticks_and_pairs() -> None:
    options = (
        Option("a", "Short", selected=True),
        Option("b", "Also short"),
        Option("c", "A label too long to share a row"),
        Option("done", "Done", action=True),
    )
    reply = Reply("Pick", step="topics", multi=True, options=options)
    [message] = render(reply)
    assert message.keyboard is not None
    rows = [[b.text for b in row] for row in message.keyboard.inline_keyboard]
    assert rows == [
        ["☑️ Short", "⬜ Also short"],
        ["⬜ A label too long to share a row"],
        ["Done"],
    ]
    assert message.keyboard.inline_keyboard[0][0].callback_data == "topics|a"


def test_risk_levels_are_short_buttons_with_their_meaning_on_request() -> None:
    conversation = Conversation(key="k", owner="o", journey="concern", state="likelihood")
    [message] = render(DIALOGUE.question(conversation))
    assert "Will probably happen" not in message.html
    assert message.keyboard is not None
    labels = [b.text for row in message.keyboard.inline_keyboard for b in row]
    assert labels == [
        "Rare", "Unlikely", "Possible", "Likely", "Almost certain", "What do these mean?"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "parsed"),
    [
        ("danger|no", ("danger", "no")),
        ("review|edit:where", ("review", "edit:where")),
        ("nonsense", None),
        ("a|b|c", None),
        ("|x", None),
        (None, None),
    ],
)
def test_parse_callback(data: str | None, parsed: tuple[str, str] | None) -> None:
    assert parse_callback(data) == parsed


def test_callback_data_over_64_bytes_is_refused() -> None:
    assert callback_data("step", "k" * 59) == "step|" + "k" * 59
    with pytest.raises(ValueError, match="64 bytes"):
        callback_data("step", "k" * 60)


def test_every_button_the_shipped_content_can_make_fits() -> None:
    assert oversized_callbacks(DIALOGUE) == []


def test_a_turns_replies_go_in_one_message_with_the_buttons_on_it() -> None:
    question = Reply("How often?", "frequency", (Option("often", "Often"),))
    [message] = render_all([Reply("Thank you & welcome."), question])
    assert message.html == "Thank you &amp; welcome.\n\nHow often?"
    assert message.keyboard is not None
    # A question with buttons ends its message: what follows goes in the next one.
    first, second = render_all([question, Reply("A note.")])
    assert first.keyboard is not None and second.html == "A note." and second.keyboard is None
    assert len(render_all([Reply("x " * 2000), Reply("y")])) == 2  # split as before


def test_a_press_shows_the_label_pressed_or_the_ticks_of_a_done() -> None:
    single = render(Reply("Q?", "frequency", (Option("often", "Often"), Option("rare", "Rarely"))))
    assert chosen(single[-1].keyboard, "frequency|rare") == ["Rarely"]
    assert chosen(single[-1].keyboard, "frequency|gone") == []  # not on these buttons
    ticks = (
        Option("a", "A senior", selected=True),
        Option("b", "Nobody"),
        Option("c", "A nurse", selected=True),
        Option("done", "Done", action=True),
    )
    multi = render(Reply("Who?", "told", ticks, multi=True))
    assert chosen(multi[-1].keyboard, "told|done") == ["A senior", "A nurse"]
    assert chosen(multi[-1].keyboard, "told|b") == ["⬜ Nobody"]  # a tick is edited in place
    assert with_choice("Tom & Jerry?", "✓ Yes") == "Tom &amp; Jerry?\n\n✓ Yes"
    assert with_choice("x" * (MAX_TEXT - 3), "✓ Yes") is None  # would not fit: buttons only


def test_a_toast_is_the_note_without_its_lead_in_to_the_question() -> None:
    note = (
        "That button belongs to an earlier question, which already has an answer, so it "
        "changed nothing (/back changes that answer). Here is where you are now:"
    )
    assert toast(note) == (
        "That button belongs to an earlier question, which already has an answer, so it "
        "changed nothing (/back changes that answer)."
    )
    assert toast("That press changed nothing.") == "That press changed nothing."
