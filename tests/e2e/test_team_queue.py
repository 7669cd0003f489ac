"""End to end: /queue a page at a time in the team chat, the real bot over the Bot API server.

The open concerns are written to the bot's database directly (filing 45 through the
journey would take minutes and send 45 alerts); the bot reads them as it would any.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from botapi import BotApiServer

from dialogues.records import Advice, Concern
from storage.views import band_rank

from .conftest import BotProcess, after
from .test_team import MEMBER, OUTSIDER, TEAM_CHAT, smtp, team_bot  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e
BANDS = ("low", "moderate", "high", "extreme")
NOW = datetime.now(UTC)


def concern(n: int, **changes: object) -> Concern:
    base = Concern(
        reference=f"QC-TEST-{n:04d}", owner="", identity="anonymous", reporter_name=None,
        reporter_contact=None, learner_group="foundation_doctor", organisation="other",
        organisation_other=f"Ward {n}", site=None, programme=None, description="Rota gaps.",
        started="months", frequency="weekly", topics=(), standards=(), likelihood=3,
        impact=3, score=9, band=BANDS[n % 4], controls=(), controls_detail=None,
        further_actions=None, told=(), told_outcome=None, barrier=(), affected="many",
        danger_now="no", patient_risk="possible", wants_team="yes",
        advice=Advice(level=3, reasons=(), act_now=False, incident_reminder=False,
                      alert_team_now=False, team_would_expect=True, skipped_levels=()),
        queued_for_team=True, status=("queued", "received", "under_review")[n % 3],
        content_version="test", created_at=NOW - timedelta(hours=n % 7, minutes=n),
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]  # test-only overrides


def shown(text: str) -> list[str]:
    return re.findall(r"QC-TEST-\d{4}", text)


def test_the_queue_turns_its_pages_in_place_in_order_while_concerns_are_filed(
    team_bot: BotProcess,  # noqa: F811
    server: BotApiServer,
) -> None:
    team = server.group_chat(TEAM_CHAT, "EoE Quality team")
    member = team.member(MEMBER, "Priya")
    after(member, lambda: member.send("/help"), "Quality team commands")  # migrated, running
    concerns = [concern(n) for n in range(45)]
    with team_bot.storage().unit_of_work() as uow:
        for filed in concerns:
            uow.concerns.add(filed)
        uow.concerns.add(concern(99, status="closed"))
    order = [c.reference for c in sorted(
        concerns, key=lambda c: (band_rank(c.band), c.created_at, c.reference)
    )]  # fmt: skip

    first = after(member, lambda: member.send("/queue"), "Page 1 of 3")
    assert "1 to 20 of 45" in first.text and shown(first.text) == order[:20]
    assert first.labels == ["Next ▶️"]
    assert all(len(b.callback_data or "") < 64 for row in first.buttons for b in row)

    second = after(member, lambda: member.press("Next ▶️"), "Page 2 of 3")
    assert second.message_id == first.message_id  # the same message, edited
    assert shown(second.text) == order[20:40] and second.labels == ["◀️ Previous", "Next ▶️"]

    # Filed between pages, ahead of everything: it moves nothing on the pages after.
    newcomer = concern(500, band="extreme", created_at=NOW - timedelta(days=3))
    with team_bot.storage().unit_of_work() as uow:
        uow.concerns.add(newcomer)
    third = after(member, lambda: member.press("Next ▶️"), "Page 3 of 3")
    assert shown(third.text) == order[40:] and "42 to 46 of 46" in third.text
    assert third.labels == ["◀️ Previous"]

    back = after(member, lambda: member.press("◀️ Previous"), "22 to 41 of 46")
    assert shown(back.text) == order[20:40]
    # The 20 just before: the newcomer shifted them by one, so the first page is one more.
    nearly = after(member, lambda: member.press("◀️ Previous"), "2 to 21 of 46")
    assert shown(nearly.text) == order[:20]
    start = after(member, lambda: member.press("◀️ Previous"), "1 to 20 of 46")
    assert shown(start.text) == [newcomer.reference, *order[:19]]
    assert start.message_id == first.message_id
    assert len(member.messages()) == 2  # /help's answer and the one queue message

    # Someone outside the team cannot turn it: refused, audited, and the page stays.
    outsider = team.member(OUTSIDER, "Nosy")
    outsider.press("Next ▶️", message_id=first.message_id)
    [answer] = outsider.wait_for_callback_answers(1)
    assert answer is not None and "Only members" in answer
    assert "1 to 20 of 46" in member.messages()[-1].text
