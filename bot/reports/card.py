"""The alert card in the team chat: every field of the alert, always within Telegram's limit.

A concern that touches many standards, with long answers, would make a card of five thousand
characters, and Telegram refuses anything over 4,096: the card would never arrive. So the
card is fitted to a budget measured on the HTML as sent (tags and escapes counted, UTF-16 as
Telegram counts): short fields are shown whole; the long ones (free text, lists, the reporter)
share what is left fairly, so a field that fits in its share is shown whole and leaves the
rest to the others (the description, the learner's own account, has a triple share). A list
keeps its first items and says how many more ("1.1, 1.2, 3.1 and 12 more"); a text keeps its
start and ends with "…". When anything was shortened the card says so: the QCA document (by
email, or `concernbot export --qca`) has it all.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from bot.message_size import MAX_MESSAGE, escaped_length, shorten, telegram_length
from dialogues.alert import AlertField, alert_fields
from dialogues.bundle import Content
from dialogues.records import Concern
from storage.repositories import Triage

# Room under Telegram's limit, so a small change of wording never tips a card over.
CARD_LIMIT = MAX_MESSAGE - 96
# Fields that can be long: typed text, lists, and the reporter's name and contact.
LONG_FIELDS = frozenset({
    "organisation", "site", "programme", "standards", "topics", "description", "controls",
    "further_actions", "told", "reporter",
})  # fmt: skip
# The learner's own account weighs most when room is short.
WEIGHTS = {"description": 3}
# The assignee's name is typed by a member (/assign REF NAME) and can be long too.
ASSIGNEE_LIMIT = 60


def card_html(concern: Concern, triage: Triage, content: Content) -> str:
    """The alert card as Telegram HTML: every QCA field, then where the team has got with it."""
    prompts = content.prompts
    fields = [f for f in alert_fields(concern, content) if f.key != "reference"]
    footer = prompts.team_say(
        "card_footer",
        status=prompts.statuses.get(concern.status, concern.status),
        acknowledged=prompts.team["not_yet"] if triage.acknowledged_at is None else "✓",
        assigned=shorten(triage.assigned_to or prompts.team["nobody"], ASSIGNEE_LIMIT),
    )
    heading = f"{prompts.alert['title']} {concern.reference}"
    title = f"<b>{html.escape(heading, quote=False)}</b>"
    tail = f"\n<i>{html.escape(footer, quote=False)}</i>"

    def line(field: AlertField, value: str) -> str:
        return f"<b>{html.escape(field.label, quote=False)}:</b> {html.escape(value, quote=False)}"

    whole = [title, *(line(f, f.value) for f in fields), tail]
    if _size(whole) <= CARD_LIMIT:
        return "\n".join(whole)

    note = html.escape(prompts.alert["shortened"], quote=False)
    fixed = [title, *(line(f, f.value) for f in fields if f.key not in LONG_FIELDS), note, tail]
    long = [f for f in fields if f.key in LONG_FIELDS]
    # Each long line costs its label and a newline besides its value.
    room = CARD_LIMIT - _size(fixed) - sum(_size([line(f, "")]) + 1 for f in long)

    def more(shown: str, count: int) -> str:
        return prompts.team_say("card_more", shown=shown, count=count)

    # Lists first: one cut to its short forms may leave part of its share, for the texts.
    fitted: dict[str, str] = {}
    for group in ([f for f in long if f.items], [f for f in long if not f.items]):
        others = [f for f in long if f.key not in fitted]
        shares = fair_shares(
            [escaped_length(f.value) for f in others], room, [WEIGHTS.get(f.key, 1) for f in others]
        )
        share_of = {f.key: share for f, share in zip(others, shares, strict=True)}
        for f in group:
            fitted[f.key] = _fit(f, share_of[f.key], more)
            room -= escaped_length(fitted[f.key])
    lines = [title, *(line(f, fitted.get(f.key, f.value)) for f in fields), note, tail]
    return "\n".join(lines)


def _size(lines: Sequence[str]) -> int:
    """The length of these lines joined by newlines, as Telegram counts it."""
    return sum(telegram_length(part) for part in lines) + max(len(lines) - 1, 0)


def fair_shares(sizes: Sequence[int], room: int, weights: Sequence[int] | None = None) -> list[int]:
    """Split `room` between fields of these sizes: the least needy first (size for weight),
    each taking all it needs up to its weighted part of what is left, so what a short field
    leaves goes to the long ones."""
    weights = weights or [1] * len(sizes)
    shares = [0] * len(sizes)
    left = max(room, 0)
    weight_left = sum(weights)
    for index in sorted(range(len(sizes)), key=lambda i: sizes[i] / weights[i]):
        share = min(sizes[index], left * weights[index] // weight_left)
        shares[index] = share
        left -= share
        weight_left -= weights[index]
    return shares


def _fit(field: AlertField, limit: int, more: Callable[[str, int], str]) -> str:
    if escaped_length(field.value) <= limit:
        return field.value
    if field.items:
        return fit_list(field.items, field.short or field.items, limit, more)
    return shorten(field.value, limit)


def fit_list(
    items: Sequence[str], short: Sequence[str], limit: int, more: Callable[[str, int], str]
) -> str:
    """The list in full if it fits; else its short forms ("1.1, 1.2"), as many as fit, with
    how many more there are ("1.1, 1.2, 3.1 and 12 more"); at least the count."""
    full = "; ".join(items)
    if escaped_length(full) <= limit:
        return full
    brief = ", ".join(short)
    if escaped_length(brief) <= limit:
        return brief
    best = more("", len(short)).strip()
    for shown in range(1, len(short)):
        candidate = more(", ".join(short[:shown]), len(short) - shown)
        if escaped_length(candidate) > limit:
            break
        best = candidate
    return best
