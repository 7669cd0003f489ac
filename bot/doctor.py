"""`concernbot doctor`: what the outbox holds, and what could not be delivered.

Counts the items still to go, those waiting for a channel that is not set up (an email with
no SMTP settings, say: they go once it is), and lists every item that failed for good, with
its reference and the error class, never anything of the concern itself.

Alerts for the Quality team filed while no team channel (team chat, or SMTP with a team
address) was set up are kept as one `team_waiting` item each; it names how many. Once a
channel is set up, the running bot hands each on to the team's channels, once; until it
has run, doctor counts them as still to go. The bot's start-up log says the same.
"""

from __future__ import annotations

from collections.abc import Collection

from bot.notifiers.senders import EMAIL_KINDS, TELEGRAM_KINDS
from bot.settings import Settings
from bot.triage import WAITING
from storage.repositories import DEAD, PENDING, Storage

LISTED = 50  # failures listed in full; the count covers them all


def sendable_kinds(settings: Settings) -> frozenset[str]:
    """The outbox kinds the running bot would send with these settings (as it wires them)."""
    kinds: set[str] = set()
    if settings.team_chat_id is not None:
        kinds.update(TELEGRAM_KINDS)
    if settings.smtp_url is not None and settings.team_email:
        kinds.update(EMAIL_KINDS)
    if kinds:
        kinds.add(WAITING)  # the bot hands these on to whichever team channel it has
    if settings.telegram_token is not None:
        kinds.add("draft_warning")  # to the learner: no team channel needed
    return frozenset(kinds)


def outbox_report(storage: Storage, sendable: Collection[str]) -> tuple[list[str], bool]:
    """The lines to print, and whether all is well (nothing failed for good)."""
    with storage.reading() as uow:
        counts = uow.outbox.counts()
        failed = uow.outbox.dead(LISTED)
    pending = sum(n for (kind, status), n in counts.items() if status == PENDING)
    waiting = {
        kind: n
        for (kind, status), n in sorted(counts.items())
        if status == PENDING and kind not in sendable
    }
    dead = sum(n for (_, status), n in counts.items() if status == DEAD)
    lines = [
        f"outbox: {pending - sum(waiting.values())} pending, "
        f"{sum(waiting.values())} waiting for a channel, {dead} failed permanently"
    ]
    for kind, n in waiting.items():
        if kind == WAITING:
            lines.append(
                f"  waiting: {n} alert(s) for the Quality team, saved while no team channel "
                "is set up: they go to the team once one is (see the README)"
            )
        else:
            lines.append(f"  waiting: {n} {kind} (no channel for it is set up: see the README)")
    handing_on = counts.get((WAITING, PENDING), 0) if WAITING in sendable else 0
    if handing_on:
        lines.append(
            f"  pending: {handing_on} alert(s) for the Quality team, saved before a team "
            "channel was set up: the bot hands them on when it runs"
        )
    for item in failed:
        tries = "try" if item.attempts == 1 else "tries"
        lines.append(
            f"  failed: {item.reference or '-'} {item.kind} {item.last_error} "
            f"({item.attempts} {tries})"
        )
    if dead > len(failed):
        lines.append(f"  ... and {dead - len(failed)} more")
    return lines, dead == 0
