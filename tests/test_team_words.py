"""The team's words that name a reference, a history or an age: each true as sent."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from test_triage import CONTENT, MEMBER, NOW, concern, desk

from bot.channels.team import TeamDesk
from bot.channels.team_queue import QueuePager
from bot.triage import age

NOT_A_REFERENCE = "QC-NOPE is not a reference (they look like QC-7KMX-3RTA)."


class Chat:
    """What `context.bot` sends, kept as (text, parse mode)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_message(self, chat_id: int, text: str, **_: Any) -> None:
        self.sent.append(text)


def case(desk_: TeamDesk, *args: str) -> list[str]:
    chat = Chat()
    asyncio.run(desk_._case(SimpleNamespace(bot=chat), list(args)))  # type: ignore[arg-type]
    return chat.sent


def test_what_is_not_a_reference_is_named_as_typed_and_never_garbled() -> None:
    service, _ = desk(concern())
    team = TeamDesk(service, -100)
    assert case(team, "QC-NOPE") == [NOT_A_REFERENCE]
    assert case(team, "<b>nope</b>") == ["&lt;b&gt;nope&lt;/b&gt; is not a reference (they look"
                                         " like QC-7KMX-3RTA)."]  # fmt: skip
    assert team._assign(MEMBER, ["QC-NOPE", "Priya"]) == NOT_A_REFERENCE
    assert team._keep(MEMBER, ["QC-NOPE"]) == NOT_A_REFERENCE
    # A reference's shape that the team does not have is named in its canonical form.
    assert case(team, "qc", "zzzz", "zzzz") == [
        "There is no concern QC-ZZZZ-ZZZZ the team can see."
    ]
    assert not any("QC-NOPE-" in text for text in case(team, "QC-NOPE"))


def test_a_case_with_no_history_says_so_rather_than_a_bare_heading() -> None:
    service, _ = desk(concern())
    team = TeamDesk(service, -100)
    sent = case(team, "qc-2345-6789")
    assert len(sent) == 2 and "QC-2345-6789" in sent[0]
    assert sent[1] == "No history yet for QC-2345-6789: no action or note on it so far."
    service.acknowledge(MEMBER, "QC-2345-6789", "u:ack")
    history = case(team, "QC-2345-6789")[1]
    assert history.startswith("History of QC-2345-6789:\n") and len(history.splitlines()) > 1


def test_a_fresh_concern_is_not_zero_hours_old() -> None:
    say = CONTENT.prompts.team_say
    ages = [timedelta(seconds=20), timedelta(minutes=40), timedelta(hours=5, minutes=59),
            timedelta(days=3, hours=2)]  # fmt: skip
    assert [age(NOW - waited, NOW, say) for waited in ages] == [
        "under a minute", "40 min", "5 h", "3 d"
    ]  # fmt: skip
    service, _ = desk(concern(created_at=NOW - timedelta(minutes=12)))
    shown, _ = QueuePager(service, -100).render(service.queue_page())
    assert "QC-2345-6789, 12 min old" in shown
    assert "0 h" not in shown
