"""The personas of issue 8 on Telegram, typed as their golden transcripts type them.

Each persona's lines (the `> ` lines of tests/transcripts/persona_*.txt) are sent as Telegram
messages to the real bot process; after each, the bot's next message must begin as the
transcript's does. The same concern then ends filed, and a press on an answered question's
buttons is answered as stale. (The physiotherapy student also goes by buttons in test_telegram.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from botapi import BotApiServer

from .conftest import BotProcess, after

pytestmark = pytest.mark.e2e
TRANSCRIPTS = Path(__file__).parent.parent / "transcripts"


def typed_lines(name: str) -> list[tuple[str, str]]:
    """(what the learner typed, how the bot's answer to it begins), from a transcript."""
    lines = (TRANSCRIPTS / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    pairs = []
    for number, line in enumerate(lines):
        if line.startswith("> "):
            reply = next((r for r in lines[number + 1 :] if r.strip()), "")
            pairs.append((line[2:], reply[:30]))
    return pairs


@pytest.mark.parametrize(
    ("persona", "user_id", "identity"),
    [("persona_student_nurse", 1021, "anonymous"), ("persona_fy2_doctor", 1022, "confidential"),
     ("persona_physio_student", 1023, "anonymous")],
)  # fmt: skip
def test_a_persona_typed_on_telegram_files_its_concern(
    bot: BotProcess, server: BotApiServer, persona: str, user_id: int, identity: str
) -> None:
    user = server.private_chat(user_id=user_id, first_name="Sam")
    pairs = typed_lines(persona)
    # At most 15 screens, the /new that starts it, and the Done of a multi-select typed alone.
    assert 8 <= len(pairs) <= 17
    for text, expect in pairs:
        last = after(user, lambda text=text: user.send(text), expect)  # type: ignore[misc]
    assert "Your reference is" in last.text or any(
        "Your reference is" in m.text for m in user.messages()[-4:]
    )
    reference = next(m for m in user.messages() if "Your reference is" in m.text).text
    reference = reference.split("Your reference is ")[1][:12]
    with bot.storage().unit_of_work() as uow:
        concern = uow.concerns.get(reference)
    assert concern is not None and concern.identity == identity
    # Questions answered by typing keep their buttons (taking them away would cost a call an
    # answer); a press on one is answered as stale, and only then are they taken away.
    old = next(m for m in user.messages() if m.labels)
    user.press(old.labels[0], message_id=old.message_id)
    assert "earlier question" in (user.wait_for_callback_answers(1)[-1] or "")
    user.wait_for(lambda m: m.message_id == old.message_id and not m.labels, timeout=20)
    assert not server.requests("editMessageReplyMarkup")[:-1]  # that one only
