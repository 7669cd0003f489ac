"""Shared, thread-safe state of the fake Bot API: chats, messages, updates, faults.

Everything here is guarded by one re-entrant lock wrapped in a condition variable, so the
server thread (which serves the bot) and test threads (which drive users and wait for
the bot) can both read and mutate it; every mutation wakes waiters.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

JSON = dict[str, Any]


class ApiError(Exception):
    """A Bot API error: rendered as ``{"ok": false, "error_code", "description"}``."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def envelope(self) -> JSON:
        """The JSON body Telegram would answer with."""
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass(frozen=True)
class SentFile:
    """A file known to the server: uploaded by the bot or sent by a test user."""

    file_id: str
    file_unique_id: str
    kind: str
    filename: str | None
    data: bytes
    mime_type: str | None
    caption: str | None = None

    @property
    def file_path(self) -> str:
        """The path served under ``base_file_url``."""
        return f"{self.kind}s/{self.file_unique_id}_{self.filename or 'file'}"


@dataclass(frozen=True)
class Button:
    """One inline keyboard button of a bot message."""

    label: str
    callback_data: str | None
    url: str | None


@dataclass(frozen=True)
class BotMessage:
    """Snapshot of a message the bot sent, in its current (possibly edited) state."""

    message_id: int
    chat_id: int
    text: str
    kind: str
    buttons: tuple[tuple[Button, ...], ...]
    entities: tuple[JSON, ...]
    history: tuple[str, ...]
    file: SentFile | None
    reply_to_message_id: int | None
    deleted: bool
    raw: JSON

    @property
    def labels(self) -> list[str]:
        """All inline button labels, row by row."""
        return [b.label for row in self.buttons for b in row]

    @property
    def caption(self) -> str | None:
        """The caption of a document or photo, if any."""
        return self.raw.get("caption")

    @property
    def edit_count(self) -> int:
        """How many times the text or keyboard was edited."""
        return len(self.history)

    def button(self, label: str) -> Button:
        """The button with that label, or an AssertionError listing the labels."""
        for row in self.buttons:
            for b in row:
                if b.label == label:
                    return b
        raise AssertionError(f"no button {label!r} on message {self.message_id}: {self.labels}")


@dataclass
class MessageRecord:
    """A stored message (bot's or user's) with its current Telegram JSON."""

    payload: JSON
    from_bot: bool
    seq: int
    file: SentFile | None = None
    history: list[str] = field(default_factory=list)
    deleted: bool = False

    def snapshot(self) -> BotMessage:
        """Freeze into a :class:`BotMessage`."""
        p = self.payload
        rows = (p.get("reply_markup") or {}).get("inline_keyboard", [])
        buttons = tuple(
            tuple(Button(b["text"], b.get("callback_data"), b.get("url")) for b in row)
            for row in rows
        )
        kind = "document" if "document" in p else "photo" if "photo" in p else "text"
        reply = p.get("reply_to_message")
        return BotMessage(
            message_id=p["message_id"],
            chat_id=p["chat"]["id"],
            text=str(p.get("text") or p.get("caption") or ""),
            kind=kind,
            buttons=buttons,
            entities=tuple(p.get("entities") or p.get("caption_entities") or ()),
            history=tuple(self.history),
            file=self.file,
            reply_to_message_id=reply["message_id"] if reply else None,
            deleted=self.deleted,
            raw=copy.deepcopy(p),
        )


@dataclass
class ChatRecord:
    """A chat the bot can talk in."""

    info: JSON
    messages: dict[int, MessageRecord] = field(default_factory=dict)
    next_message_id: int = 1
    actions: list[str] = field(default_factory=list)
    blocked: bool = False


@dataclass
class PendingUpdate:
    """An update not yet confirmed by the bot."""

    update: JSON
    duplicate: bool = False
    deliver_twice: bool = False
    sent_count: int = 0
    webhook_attempts: int = 0

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])


@dataclass
class CallbackRecord:
    """A callback query produced by a test user pressing a button."""

    query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created: float
    answered: bool = False
    text: str | None = None
    show_alert: bool = False


@dataclass(frozen=True)
class RequestRecord:
    """One request the bot made, with the HTTP status we answered: `time` when the answer
    went (a long poll's is its end), `received` when the request came in (the epoch clock)."""

    method: str
    time: float
    chat_id: int | str | None
    status: int
    params: JSON
    received: float = 0.0


@dataclass
class _Rule:
    method: str
    remaining: int
    status: int = 0
    retry_after: int = 0
    description: str | None = None
    seconds: float = 0.0
    chat_id: int | None = None  # only requests to this chat, when given


class Faults:
    """Inject failures and delays into the next requests, and read the request log."""

    def __init__(self, state: BotApiState) -> None:
        self._state = state

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        count: int = 1,
        description: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` (``"*"`` for any) with an error;
        with ``chat_id``, only calls addressed to that chat."""
        with self._state.cond:
            self._state.fail_rules.append(
                _Rule(method.lower(), count, status, retry_after, description, chat_id=chat_id)
            )

    def delay_next(self, method: str, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` calls of ``method`` for ``seconds`` before serving them."""
        with self._state.cond:
            self._state.delay_rules.append(_Rule(method.lower(), count, seconds=seconds))

    def deliver_twice(self) -> None:
        """Deliver the next update once more (same update_id) after its first delivery."""
        with self._state.cond:
            self._state.deliver_twice_next = True

    def clear(self) -> None:
        """Drop all pending fault rules."""
        with self._state.cond:
            self._state.fail_rules.clear()
            self._state.delay_rules.clear()
            self._state.deliver_twice_next = False

    def log(self, method: str | None = None) -> list[RequestRecord]:
        """Every request received (optionally of one method), oldest first."""
        with self._state.cond:
            return [
                r
                for r in self._state.requests
                if method is None or r.method.lower() == method.lower()
            ]

    def take_delay(self, method: str) -> float:
        """Consume a delay rule matching ``method``; 0.0 when none."""
        with self._state.cond:
            return self._take(self._state.delay_rules, method).seconds

    def take_failure(self, method: str, chat_id: object = None) -> ApiError | None:
        """Consume a failure rule matching ``method`` (and chat) and build its error."""
        with self._state.cond:
            rule = self._take(self._state.fail_rules, method, chat_id)
        if not rule.status:
            return None
        if rule.status == 429:
            return ApiError(
                429,
                rule.description or f"Too Many Requests: retry after {rule.retry_after}",
                {"retry_after": rule.retry_after},
            )
        default = {400: "Bad Request", 403: "Forbidden: bot was blocked by the user"}.get(
            rule.status, HTTPStatus(rule.status).phrase
        )
        return ApiError(rule.status, rule.description or default)

    @staticmethod
    def _take(rules: list[_Rule], method: str, chat_id: object = None) -> _Rule:
        for rule in rules:
            if rule.chat_id is not None and str(rule.chat_id) != str(chat_id):
                continue
            if rule.method in (method.lower(), "*"):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    rules.remove(rule)
                return rule
        return _Rule("", 0)


class BotApiState:
    """All mutable server state; guard every access with ``cond``."""

    def __init__(self, bot_user: JSON) -> None:
        self.cond = threading.Condition(threading.RLock())
        self.bot_user = bot_user
        self.chats: dict[int, ChatRecord] = {}
        self.pending: list[PendingUpdate] = []
        self.next_update_id = 100_000
        self.seq = 0
        self.callbacks: dict[str, CallbackRecord] = {}
        self.callback_ids = itertools.count(4_512_000_000_000_000_001)
        self.files: dict[str, SentFile] = {}
        self.file_counter = itertools.count(1)
        self.commands: dict[str, list[JSON]] = {}
        self.webhook: JSON = {"url": ""}
        self.allowed_updates: list[str] | None = None
        self.requests: list[RequestRecord] = []
        self.fail_rules: list[_Rule] = []
        self.delay_rules: list[_Rule] = []
        self.deliver_twice_next = False
        self.dropped_webhook_updates: list[JSON] = []
        self.listeners: list[Callable[[], None]] = []

    def touch(self) -> int:
        """Record a change: bump the sequence number and wake every waiter."""
        with self.cond:
            self.seq += 1
            self.cond.notify_all()
            return self.seq

    def chat(self, chat_id: int) -> ChatRecord:
        """The chat with that id (must exist)."""
        with self.cond:
            return self.chats[chat_id]

    def add_message(
        self, chat_id: int, payload: JSON, from_bot: bool, file: SentFile | None = None
    ) -> MessageRecord:
        """Store a message in a chat, assigning the chat's next message_id."""
        with self.cond:
            chat = self.chats[chat_id]
            payload["message_id"] = chat.next_message_id
            chat.next_message_id += 1
            record = MessageRecord(payload, from_bot, self.touch(), file)
            chat.messages[payload["message_id"]] = record
            return record

    def new_file(
        self, kind: str, filename: str | None, data: bytes, mime: str | None, caption: str | None
    ) -> SentFile:
        """Register file content and give it Telegram-looking identifiers."""
        with self.cond:
            n = next(self.file_counter)
            unique = f"AgAD{n:06d}"
            stored = SentFile(
                f"BQACAgQAAxk{kind[:3]}{n:08d}", unique, kind, filename, data, mime, caption
            )
            self.files[stored.file_id] = stored
            return stored

    def push_update(self, kind: str, obj: JSON) -> JSON:
        """Queue a new update of ``kind`` (e.g. ``"message"``); returns it."""
        with self.cond:
            if self.allowed_updates and kind not in self.allowed_updates:
                return {}
            update = {"update_id": self.next_update_id, kind: obj}
            self.next_update_id += 1
            twice, self.deliver_twice_next = self.deliver_twice_next, False
            self.pending.append(PendingUpdate(update, deliver_twice=twice))
            self.touch()
            listeners = list(self.listeners)
        for listener in listeners:
            listener()
        return copy.deepcopy(update)

    def mark_sent(self, entries: list[PendingUpdate]) -> None:
        """Note that ``entries`` were delivered; schedule the deliver-twice duplicates."""
        with self.cond:
            for entry in entries:
                entry.sent_count += 1
                if entry.deliver_twice and entry.sent_count == 1:
                    dup = PendingUpdate(copy.deepcopy(entry.update), duplicate=True)
                    self.pending.append(dup)
            self.touch()

    def confirm_below(self, offset: int) -> None:
        """Forget updates below ``offset`` (duplicates only once they were delivered)."""
        with self.cond:
            self.pending = [
                p
                for p in self.pending
                if p.update_id >= offset or (p.duplicate and p.sent_count == 0)
            ]

    def deliverable(self, offset: int | None, limit: int) -> list[PendingUpdate]:
        """Unconfirmed updates a getUpdates call with this offset would return."""
        with self.cond:
            allowed = self.allowed_updates
            out = [
                p
                for p in self.pending
                if (offset is None or p.update_id >= offset or (p.duplicate and p.sent_count == 0))
                and (not allowed or any(k in allowed for k in p.update if k != "update_id"))
            ]
            return out[:limit]

    def log_request(self, record: RequestRecord) -> None:
        """Append to the request log."""
        with self.cond:
            self.requests.append(record)
            self.touch()

    def wait_until(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        """Block until ``check()`` returns something truthy (evaluated under the lock)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                result = check()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
                self.cond.wait(remaining)
