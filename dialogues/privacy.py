"""The privacy words, put together from what is true of this installation.

`/privacy` and `concernbot privacy` say what is stored, where, encrypted how, for how long
and who can read it. Each of those depends on a setting (the database, where its key is
kept, the retention periods, how the team is reached), so the words are chosen and filled
from `PrivacyFacts`, which the composition root reads from the settings; the words
themselves are content (prompts.toml `[privacy]`).
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogues.prompts import Prompts


@dataclass(frozen=True)
class PrivacyFacts:
    """What the privacy words depend on."""

    closed_months: int
    draft_days: int
    warn_days: int
    postgresql: bool  # else the embedded SQLite file
    key_in_settings: bool  # CONCERNBOT_SECRET_KEY; else the key file beside the database
    team_chat: bool
    team_email: bool
    sealed: tuple[str, ...]  # "table.column" of every encrypted column
    terminal: bool = False


def default_facts(prompts: Prompts) -> PrivacyFacts:
    """A default installation's: the embedded database and its key file, no team channel,
    the default periods; every column the content names is taken to be sealed."""
    return PrivacyFacts(12, 30, 3, False, False, False, False, tuple(prompts.privacy_fields))


class UnnamedColumn(LookupError):
    """An encrypted column has no words in prompts.toml [privacy.fields]."""


def _listed(parts: list[str]) -> str:
    if len(parts) < 2:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def sealed_fields(prompts: Prompts, sealed: tuple[str, ...]) -> str:
    """The encrypted columns as the words name them, in the order of the content file."""
    missing = [name for name in sealed if name not in prompts.privacy_fields]
    if missing:
        raise UnnamedColumn(", ".join(missing))
    chosen = [words for name, words in prompts.privacy_fields.items() if name in sealed]
    text = _listed(chosen)
    return text[:1].upper() + text[1:]


def privacy_words(prompts: Prompts, facts: PrivacyFacts) -> str:
    """The whole privacy statement for these facts."""
    words = prompts.privacy
    if facts.team_chat and facts.team_email:
        how = words["how_both"]
    elif facts.team_chat:
        how = words["how_chat"]
    elif facts.team_email:
        how = words["how_email"]
    else:
        how = words["how_none"]
    lines = [
        words["heading"],
        words["where_postgresql" if facts.postgresql else "where_sqlite"],
        words["sealed"].format(fields=sealed_fields(prompts, facts.sealed)),
        words["key_setting" if facts.key_in_settings else "key_file"],
        words["drafts"].format(draft_days=facts.draft_days, warn_days=facts.warn_days),
        words["pathway"],
        words["submitted"],
        words["retention"].format(months=facts.closed_months),
        words["readers"].format(how=how),
        words["forget_terminal" if facts.terminal else "forget_telegram"],
        words["logs"],
        words["details"],
    ]
    return "\n".join(lines)
