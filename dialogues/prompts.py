"""The words of the bot: prompts.toml loaded into typed, validated records.

Code refers to texts by key only. `MESSAGES` below is the contract: every key the code
uses, with the placeholders it fills in. The loader checks the file against it, so a
Quality team that removes a key or mistypes a placeholder hears about it at start-up,
with the file and key named, rather than from a learner mid-concern.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dialogues.catalogue import ContentError

FILE = "prompts.toml"
STEP_KINDS = frozenset({"choice", "multi", "text", "info"})

MESSAGES: Mapping[str, frozenset[str]] = {
    key: frozenset(placeholders.split()) if placeholders else frozenset()
    for key, placeholders in {
        "welcome": "",
        "welcome_pathway": "",
        "commands": "",
        "choice_hint": "",
        "multi_hint": "",
        "console_choice_hint": "",
        "console_multi_hint": "",
        "console_text_hint": "",
        "console_typed_hint": "",
        "help_choice": "",
        "help_multi": "",
        "which": "answer",
        "too_many_fit": "answer",
        "console_not_saved": "reason seconds",
        "console_not_saved_stop": "reason resume",
        "invalid_choice": "answer hint",
        "nothing_typed": "hint",
        "invalid_multi_empty": "",
        "too_short": "min",
        "too_long": "length max",
        "invalid_contact": "",
        "unsupported_input": "",
        "not_a_command": "command commands",
        "skip": "",
        "done": "",
        "selected": "chosen",
        "current_answer": "answer",
        "nothing": "",
        "skipped": "",
        "back_at_start": "",
        "paused": "resume",
        "resumed": "count",
        "nothing_to_resume": "start",
        "start_hint": "",
        "cancel_confirm": "",
        "cancel_yes": "",
        "cancel_no": "",
        "cancelled": "start",
        "kept": "",
        "in_progress": "count",
        "in_progress_continue": "",
        "in_progress_restart": "",
        "help_general": "",
        "finished": "reference start",
        "finished_pathway": "start",
        "edit_prefix": "title",
        "review_line": "title answer",
        "review_from_story": "",
        "keep": "",
        "score": "likelihood impact score symbol band explanation",
        "explain_line": "label description",
        "story_line": "heading reasons",
        "story_none": "",
        "organisation_unknown": "answer",
        "name_needs_contact": "",
        "name_needs_name": "",
        "advice_university": "university",
        "submitted": "reference",
        "submitted_anonymous": "reference",
        "queued": "",
        "queued_waiting": "email reference",
        "queued_waiting_anonymous": "email reference",
        "queued_by_choice_no": "email",
        "not_queued": "",
        "advice_heading": "level",
        "advice_why": "",
        "advice_act_now": "",
        "advice_act_now_not_local": "email",
        "advice_act_now_learner": "",
        "advice_alert_now": "email",
        "advice_alert_now_not_local": "email pathway",
        "advice_alert_now_above": "email pathway",
        "advice_team_expects": "email",
        "pathway_answered": "",
        "concern_still_paused": "resume",
        "score_unknown": "",
        "stale_button": "",
        "answer_first": "",
        "asked_again": "question",
        "no_conversation": "start",
        "press_again": "",
        "press_answered": "",
        "repeated_answer": "question",
    }.items()
}

STEP_PLACEHOLDERS: Mapping[str, frozenset[str]] = {
    "story_check": frozenset({"items"}),
    "privacy_check": frozenset({"findings"}),
}


@dataclass(frozen=True)
class StepText:
    """One question's words and shape, as the content file gives them."""

    name: str
    kind: str
    title: str
    prompt: str
    help: str
    choices: tuple[tuple[str, str], ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    min: int = 0
    max: int = 0
    optional: bool = False

    def choice_label(self, key: str) -> str:
        return dict(self.choices)[key]

    def label(self, key: str) -> str:
        return self.labels[key]


COMMANDS = (
    "start",
    "new",
    "pathway",
    "resume",
    "back",
    "pause",
    "cancel",
    "status",
    "privacy",
    "forgetme",
    "withdraw",
    "help",
)
# A concern's statuses, and "waiting": queued while the team has no channel to receive it.
STATUSES = (
    "recorded", "queued", "waiting", "received", "under_review", "with_provider", "closed",
    "withdrawn",
)  # fmt: skip


def _contract(spec: Mapping[str, str]) -> Mapping[str, frozenset[str]]:
    return {key: frozenset(names.split()) for key, names in spec.items()}


ALERT_PLACEHOLDERS = _contract({"content_version": "version", "content_version_now": "version now"})
TEAM = _contract({
    "acknowledge": "", "under_review": "", "with_provider": "", "close": "", "assign": "",
    "ask": "", "note": "", "history": "", "back": "", "outcome_resolved": "",
    "outcome_action_plan": "", "outcome_escalated": "", "outcome_no_action": "",
    "card_footer": "status acknowledged assigned", "nobody": "", "not_yet": "", "refused": "",
    "done": "", "ask_prompt": "reference", "note_prompt": "reference", "asked": "reference",
    "noted": "reference", "answer_from_reporter": "reference text", "queue_heading": "",
    "queue_line": "symbol reference age organisation status assigned", "queue_empty": "",
    "queue_page": "page pages first last total", "queue_previous": "", "queue_next": "",
    "case_unknown": "reference", "case_usage": "", "not_a_reference": "typed",
    "history_heading": "reference", "history_empty": "reference",
    "age_minutes": "minutes", "age_hours": "hours", "age_days": "days", "age_new": "",
    "history_line": "at action actor", "note_line": "at author text",
    "reminder": "reference band hours", "stats_caption": "count", "help": "",
    "email_subject": "reference band organisation", "email_intro": "", "already_closed": "",
    "assign_usage": "", "assigned": "reference name", "card_more": "shown count",
    "action_unavailable": "", "relay_part": "part parts",
    "undelivered": "what reference why", "undelivered_subject": "what reference",
    "what_team_alert": "", "what_team_email": "", "what_team_message": "",
    "what_reporter_message": "", "why_too_long": "", "why_markup": "",
    "why_chat_not_found": "", "why_chat_moved": "", "why_blocked": "", "why_kicked": "",
    "why_telegram_refused": "", "why_mail_refused": "", "why_gave_up": "attempts error",
})  # fmt: skip
REPORTER = _contract({
    "status_changed": "reference status", "closed": "reference outcome",
    "question": "reference text", "answer_sent": "reference",
})  # fmt: skip
ALERT = (
    "title", "reference", "received", "learner_group", "university", "organisation", "site",
    "programme", "standards", "topics", "description", "started", "frequency", "affected",
    "danger_now",
    "patient_risk", "likelihood", "impact", "score", "controls", "further_actions", "told",
    "told_outcome", "barrier", "advice", "identity", "reporter", "status", "anonymous",
    "not_given", "footer", "content_version", "content_version_now", "shortened",
)  # fmt: skip
CHANNEL: Mapping[str, frozenset[str]] = {
    "status_heading": frozenset(),
    "status_line": frozenset({"reference", "date", "status"}),
    "status_none": frozenset({"start"}),
    "group_private_only": frozenset({"link"}),
    "edited_ignored": frozenset(),
    "error": frozenset(),
    "numbered_choices": frozenset(),
    "slow_down": frozenset(),
    "chosen": frozenset({"choice"}),
}

# The privacy words' parts (`dialogues.privacy` puts them together from the settings).
PRIVACY = _contract({
    "heading": "", "where_sqlite": "", "where_postgresql": "", "sealed": "fields",
    "key_file": "", "key_setting": "", "drafts": "draft_days warn_days", "pathway": "",
    "submitted": "", "retention": "months", "readers": "how", "how_chat": "", "how_email": "",
    "how_both": "", "how_none": "", "forget_telegram": "", "forget_terminal": "", "logs": "",
    "details": "",
})  # fmt: skip
KEEPING = _contract({
    "forget_preview": "drafts concerns", "forget_confirm_telegram": "",
    "forget_confirm_terminal": "", "forget_nothing": "",
    "forget_done": "drafts concerns references", "forget_done_drafts": "drafts",
    "forget_kept": "", "withdraw_usage": "", "withdraw_done": "reference",
    "withdraw_done_told": "reference", "withdraw_unknown": "reference",
    "withdraw_already": "reference",
    "withdraw_too_late": "reference status", "draft_warning": "idle date resume",
    "tidy_done": "anonymised expired warned", "keep_done": "reference",
    "keep_unknown": "reference", "team_withdrawn": "reference", "team_keep_usage": "",
    "not_a_reference": "typed", "withdraw_not_reference": "typed",
})  # fmt: skip

# The terminal's own words. Those of TERMINAL_WORDS replace the message of the same key in a
# terminal, where Telegram's name commands it does not have (/new, /pathway); {chat} is the
# command that starts a chat there, as the learner can type it. The rest are its own.
TERMINAL_WORDS: Mapping[str, frozenset[str]] = {
    "start_hint": frozenset({"chat"}),
    "pathway_answered": frozenset({"chat"}),
}
TERMINAL: Mapping[str, frozenset[str]] = {
    **TERMINAL_WORDS,
    "data_folder": frozenset({"folder"}),
    "key_made": frozenset({"file"}),
    "in_progress": frozenset({"count", "resume"}),
}


@dataclass(frozen=True)
class Prompts:
    steps: Mapping[str, StepText]
    messages: Mapping[str, str]
    reasons: Mapping[str, str]
    commands: Mapping[str, str] = field(default_factory=dict)
    statuses: Mapping[str, str] = field(default_factory=dict)
    alert: Mapping[str, str] = field(default_factory=dict)
    team: Mapping[str, str] = field(default_factory=dict)
    reporter: Mapping[str, str] = field(default_factory=dict)
    terminal: Mapping[str, str] = field(default_factory=dict)
    privacy: Mapping[str, str] = field(default_factory=dict)
    privacy_fields: Mapping[str, str] = field(default_factory=dict)
    keeping: Mapping[str, str] = field(default_factory=dict)

    def keeping_say(self, key: str, **values: object) -> str:
        return self.keeping[key].format(**values)

    def for_terminal(self, chat: str) -> Prompts:
        """These prompts as a terminal shows them: its own words where Telegram's name a
        command it does not have. `chat` is how the learner starts a chat there."""
        words = {key: _fill(self.terminal[key], "chat", chat) for key in TERMINAL_WORDS}
        return replace(self, messages=MappingProxyType({**self.messages, **words}))

    def terminal_say(self, key: str, **values: object) -> str:
        return self.terminal[key].format(**values)

    def team_say(self, key: str, **values: object) -> str:
        return self.team[key].format(**values)

    def reporter_say(self, key: str, **values: object) -> str:
        return self.reporter[key].format(**values)

    def step(self, name: str) -> StepText:
        return self.steps[name]

    def say(self, key: str, **values: object) -> str:
        return self.messages[key].format(**values)


def _fill(text: str, name: str, value: str) -> str:
    """`text` with {name} filled in, every other placeholder kept for `say` to fill."""

    def escaped(part: str) -> str:
        return part.replace("{", "{{").replace("}", "}}")

    parts = []
    for literal, field_name, _, _ in string.Formatter().parse(text):
        parts.append(escaped(literal))
        if field_name is not None:
            parts.append(escaped(value) if field_name == name else f"{{{field_name}}}")
    return "".join(parts)


_STEP_FIELDS = frozenset({"kind", "title", "prompt", "help", "choices", "min", "max", "optional"})


def _placeholders(text: str, key: str) -> set[str]:
    """The names in {braces}; anything format() could trip over at run time is refused."""
    try:
        fields = [f for f in string.Formatter().parse(text) if f[1] is not None]
    except ValueError as error:  # an unbalanced brace
        raise ContentError(FILE, key, f"malformed placeholder: {error}") from error
    for _, name, spec, conversion in fields:
        if not name or not name.isidentifier() or spec or conversion:
            raise ContentError(FILE, key, "a placeholder is a plain {name}, e.g. {reference}")
    return {name for _, name, _, _ in fields if name}


def _check_placeholders(text: str, allowed: frozenset[str], key: str) -> None:
    unknown = _placeholders(text, key) - allowed
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ContentError(FILE, key, f"unknown placeholder {{{names}}}")


def _text(table: Mapping[str, Any], field: str, path: str) -> str:
    value = table.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ContentError(FILE, f"{path}.{field}", "missing or not text")
    return value


def _step(name: str, table: Mapping[str, Any]) -> StepText:
    path = f"steps.{name}"
    kind = _text(table, "kind", path)
    if kind not in STEP_KINDS:
        raise ContentError(FILE, f"{path}.kind", f"must be one of {sorted(STEP_KINDS)}")
    raw_choices = table.get("choices", {})
    if not isinstance(raw_choices, dict):
        raise ContentError(FILE, f"{path}.choices", "must be a table of key = label")
    choices = tuple((key, _text(raw_choices, key, f"{path}.choices")) for key in raw_choices)
    labels = {
        key: _text(table, key, path)
        for key, value in table.items()
        if key not in _STEP_FIELDS and isinstance(value, str)
    }
    limits = {key: table.get(key, 0) for key in ("min", "max")}
    for key, value in limits.items():
        if not isinstance(value, int) or value < 0:
            raise ContentError(FILE, f"{path}.{key}", "must be a whole number")
    if kind == "text" and not 0 < limits["min"] <= limits["max"]:
        raise ContentError(FILE, f"{path}.max", "a text step needs 0 < min <= max")
    prompt = _text(table, "prompt", path)
    _check_placeholders(prompt, STEP_PLACEHOLDERS.get(name, frozenset()), f"{path}.prompt")
    return StepText(
        name=name,
        kind=kind,
        title=_text(table, "title", path),
        prompt=prompt,
        help=_text(table, "help", path),
        choices=choices,
        labels=MappingProxyType(labels),
        min=limits["min"],
        max=limits["max"],
        optional=bool(table.get("optional", False)),
    )


def _table(
    data: Mapping[str, Any], name: str, contract: Mapping[str, frozenset[str]]
) -> dict[str, str]:
    """A table of texts, each checked against the placeholders the code fills in."""
    table = data.get(name, {})
    texts = {}
    for key, allowed in contract.items():
        text = _text(table, key, name)
        _check_placeholders(text, allowed, f"{name}.{key}")
        texts[key] = text
    return texts


def load_prompts(directory: Path) -> Prompts:
    """Read and check prompts.toml; raise ContentError naming the key at fault."""
    path = directory / FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ContentError(FILE, "(file)", "not found") from error
    except tomllib.TOMLDecodeError as error:
        raise ContentError(FILE, "(syntax)", str(error)) from error
    steps_table = data.get("steps")
    if not isinstance(steps_table, dict):
        raise ContentError(FILE, "steps", "missing")
    steps = {name: _step(name, table) for name, table in steps_table.items()}
    messages_table = data.get("messages", {})
    messages = {}
    for key, allowed in MESSAGES.items():
        text = _text(messages_table, key, "messages")
        _check_placeholders(text, allowed, f"messages.{key}")
        messages[key] = text
    for key, allowed in CHANNEL.items():
        text = _text(data.get("channel", {}), key, "channel")
        _check_placeholders(text, allowed, f"channel.{key}")
        messages[key] = text
    reasons_table = data.get("reasons", {})
    reasons = {key: _text(reasons_table, key, "reasons") for key in reasons_table}
    commands = {key: _text(data.get("commands", {}), key, "commands") for key in COMMANDS}
    statuses = {key: _text(data.get("statuses", {}), key, "statuses") for key in STATUSES}
    alert = _table(data, "alert", {key: ALERT_PLACEHOLDERS.get(key, frozenset()) for key in ALERT})
    team = _table(data, "team", TEAM)
    reporter = _table(data, "reporter", REPORTER)
    terminal = _table(
        data,
        "terminal",
        {key: allowed | MESSAGES.get(key, frozenset()) for key, allowed in TERMINAL.items()},
    )
    privacy_table = data.get("privacy", {})
    fields = privacy_table.get("fields", {}) if isinstance(privacy_table, dict) else {}
    privacy_fields = {name: _text(fields, name, "privacy.fields") for name in fields}
    return Prompts(
        MappingProxyType(steps),
        MappingProxyType(messages),
        MappingProxyType(reasons),
        MappingProxyType(commands),
        MappingProxyType(statuses),
        MappingProxyType(alert),
        MappingProxyType(team),
        MappingProxyType(reporter),
        MappingProxyType(terminal),
        MappingProxyType(_table(data, "privacy", PRIVACY)),
        MappingProxyType(privacy_fields),
        MappingProxyType(_table(data, "keeping", KEEPING)),
    )
