"""The test-side driver: a Telegram user who talks to the bot and reads its replies."""

from __future__ import annotations

import copy
import time
import zlib
from collections.abc import Callable
from typing import Any

from .state import BotApiState, BotMessage, CallbackRecord, ChatRecord, MessageRecord, SentFile

JSON = dict[str, Any]
Match = str | Callable[[BotMessage], bool]

# A valid 1x1 PNG, built rather than pasted, so photos sent by users decode as images.
_PNG = (
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    + zlib.crc32(b"IHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00").to_bytes(4, "big")
    + b"\x00\x00\x00\x00IEND"
    + zlib.crc32(b"IEND").to_bytes(4, "big")
)


class _ChatView:
    """Read-only view of what the bot did in one chat."""

    def __init__(self, state: BotApiState, chat: JSON) -> None:
        self.state = state
        self.chat_id: int = chat["id"]
        with state.cond:
            if self.chat_id not in state.chats:
                state.chats[self.chat_id] = ChatRecord(dict(chat))
                state.touch()

    def _bot_records(self) -> list[MessageRecord]:
        chat = self.state.chats[self.chat_id]
        return [r for _, r in sorted(chat.messages.items()) if r.from_bot and not r.deleted]

    def messages(self) -> list[BotMessage]:
        """Bot messages in this chat, oldest first, in their current (edited) state."""
        with self.state.cond:
            return [r.snapshot() for r in self._bot_records()]

    def last(self) -> BotMessage:
        """The newest bot message; AssertionError when the bot has said nothing."""
        messages = self.messages()
        if not messages:
            raise AssertionError(f"the bot has sent nothing to chat {self.chat_id}")
        return messages[-1]

    def wait_for(self, match: Match, timeout: float = 10.0, new_only: bool = False) -> BotMessage:
        """Wait until a bot message (or an edit) satisfies ``match`` and return it.

        ``match`` is a substring of the text/caption or a predicate on :class:`BotMessage`.
        The most recently sent or edited message is tried first. With ``new_only`` only
        messages sent or edited after this call count.
        """
        with self.state.cond:
            since = self.state.seq if new_only else 0

        def matches(message: BotMessage) -> bool:
            return match in message.text if isinstance(match, str) else bool(match(message))

        def check() -> BotMessage | None:
            records = sorted(
                (r for r in self._bot_records() if r.seq > since), key=lambda r: -r.seq
            )
            for record in records:
                snapshot = record.snapshot()
                if matches(snapshot):
                    return snapshot
            return None

        try:
            return self.state.wait_until(check, timeout, f"a bot message matching {match!r}")  # type: ignore[no-any-return]
        except AssertionError:
            texts = [m.text[:120] for m in self.messages()]
            raise AssertionError(
                f"no bot message matching {match!r} in chat {self.chat_id} within {timeout}s; "
                f"bot messages: {texts}"
            ) from None

    def wait_for_count(self, count: int, timeout: float = 10.0) -> list[BotMessage]:
        """Wait until the bot has sent at least ``count`` messages here; returns them all."""
        try:
            self.state.wait_until(
                lambda: len(self._bot_records()) >= count, timeout, f"{count} messages"
            )
        except AssertionError:
            texts = [m.text[:120] for m in self.messages()]
            raise AssertionError(
                f"expected {count} bot messages in chat {self.chat_id} within {timeout}s, "
                f"got {len(texts)}: {texts}"
            ) from None
        return self.messages()

    def files(self) -> list[SentFile]:
        """Documents and photos the bot sent here (filename, data, caption...)."""
        return [m.file for m in self.messages() if m.file is not None]

    def chat_actions(self) -> list[str]:
        """Actions sent with sendChatAction, in order."""
        with self.state.cond:
            return list(self.state.chats[self.chat_id].actions)


class ChatUser(_ChatView):
    """A user who sends messages and presses buttons in one chat (private or group)."""

    def __init__(self, state: BotApiState, user: JSON, chat: JSON, *_: Any) -> None:
        super().__init__(state, chat)
        self.user = dict(user)
        self.user_id: int = user["id"]
        self._chat_json = dict(chat)

    # -- sending -------------------------------------------------------------------------

    def _send(self, body: JSON, kind: str = "message") -> JSON:
        payload: JSON = {
            "message_id": 0,
            "from": dict(self.user),
            "chat": dict(self._chat_json),
            "date": int(time.time()),
            **body,
        }
        self.state.add_message(self.chat_id, payload, from_bot=False)
        return self.state.push_update(kind, copy.deepcopy(payload))

    def _file(self, kind: str, filename: str | None, data: bytes, mime: str | None) -> JSON:
        stored = self.state.new_file(kind, filename, data, mime, None)
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(data),
        }

    def send(self, text: str) -> JSON:
        """Send a text message; a leading ``/command`` carries a bot_command entity."""
        body: JSON = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            body["entities"] = [
                {
                    "type": "bot_command",
                    "offset": 0,
                    "length": len(command.encode("utf-16-le")) // 2,
                }
            ]
        return self._send(body)

    def send_many(self, texts: list[str]) -> list[JSON]:
        """Send several text messages at once: all are queued before the bot can fetch any
        (as a client pasting or a script would)."""
        with self.state.cond:
            return [self.send(text) for text in texts]

    def reply(self, message_id: int, text: str) -> JSON:
        """Send text as a reply to one of the bot's messages (Telegram's swipe-to-reply)."""
        with self.state.cond:
            record = next(r for r in self._bot_records() if r.payload["message_id"] == message_id)
            original = copy.deepcopy(record.payload)
        return self._send({"text": text, "reply_to_message": original})

    def send_photo(self, data: bytes = _PNG, caption: str | None = None) -> JSON:
        """Send a photo (a 1x1 PNG unless ``data`` is given)."""
        body: JSON = {
            "photo": [{**self._file("photo", None, data, "image/png"), "width": 1, "height": 1}]
        }
        if caption:
            body["caption"] = caption
        return self._send(body)

    def send_sticker(self, emoji: str = "\N{THUMBS UP SIGN}") -> JSON:
        """Send a static sticker."""
        sticker = {
            **self._file("sticker", None, b"RIFF\x00\x00\x00\x00WEBP", "image/webp"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._send({"sticker": sticker})

    def send_voice(self, duration: int = 3, data: bytes = b"OggS\x00voice") -> JSON:
        """Send a voice note."""
        voice = {
            **self._file("voice", None, data, "audio/ogg"),
            "duration": duration,
            "mime_type": "audio/ogg",
        }
        return self._send({"voice": voice})

    def send_document(
        self,
        filename: str = "evidence.pdf",
        data: bytes = b"%PDF-1.4\n% test\n",
        mime_type: str = "application/pdf",
        caption: str | None = None,
    ) -> JSON:
        """Send a document the bot can fetch with getFile."""
        document = {
            **self._file("document", filename, data, mime_type),
            "file_name": filename,
            "mime_type": mime_type,
        }
        body: JSON = {"document": document}
        if caption:
            body["caption"] = caption
        return self._send(body)

    def send_location(self, latitude: float = 51.5072, longitude: float = -0.1276) -> JSON:
        """Share a location."""
        return self._send({"location": {"latitude": latitude, "longitude": longitude}})

    def edit_last_sent(self, text: str) -> JSON:
        """Edit this user's newest text message; produces an edited_message update."""
        with self.state.cond:
            chat = self.state.chats[self.chat_id]
            mine = [
                r
                for _, r in sorted(chat.messages.items())
                if not r.from_bot
                and r.payload["from"]["id"] == self.user_id
                and "text" in r.payload
            ]
            if not mine:
                raise AssertionError(f"user {self.user_id} has sent no text message to edit")
            record = mine[-1]
            record.history.append(record.payload["text"])
            record.payload["text"] = text
            record.payload["edit_date"] = int(time.time())
            record.seq = self.state.touch()
            payload = copy.deepcopy(record.payload)
        return self.state.push_update("edited_message", payload)

    # -- buttons -------------------------------------------------------------------------

    def press(self, label: str, message_id: int | None = None) -> str:
        """Press an inline button; returns the callback query id.

        Uses the newest bot message that has an inline keyboard, or ``message_id``.
        """
        with self.state.cond:
            records = [r for r in self._bot_records() if r.payload.get("reply_markup")]
            if message_id is not None:
                records = [r for r in records if r.payload["message_id"] == message_id]
            if not records:
                where = f"message {message_id}" if message_id is not None else "any bot message"
                raise AssertionError(f"no inline keyboard on {where} in chat {self.chat_id}")
            record = records[-1]
            snapshot = record.snapshot()
            button = snapshot.button(label)
            if button.callback_data is None:
                raise AssertionError(f"button {label!r} has no callback_data (url={button.url})")
            query_id = str(next(self.state.callback_ids))
            self.state.callbacks[query_id] = CallbackRecord(
                query_id,
                self.user_id,
                self.chat_id,
                snapshot.message_id,
                button.callback_data,
                time.monotonic(),
            )
            query = {
                "id": query_id,
                "from": dict(self.user),
                "message": copy.deepcopy(record.payload),
                "chat_instance": str(abs(self.chat_id) * 7919 + 104729),
                "data": button.callback_data,
            }
        self.state.push_update("callback_query", query)
        return query_id

    def press_raw(self, message_id: int, data: str) -> str:
        """A press carrying `data` on a bot message, buttons shown or not (an old client, or a
        forged press); returns the callback query id."""
        with self.state.cond:
            record = next(r for r in self._bot_records() if r.payload["message_id"] == message_id)
            query_id = str(next(self.state.callback_ids))
            self.state.callbacks[query_id] = CallbackRecord(
                query_id, self.user_id, self.chat_id, message_id, data, time.monotonic()
            )
            query = {
                "id": query_id,
                "from": dict(self.user),
                "message": copy.deepcopy(record.payload),
                "chat_instance": str(abs(self.chat_id) * 7919 + 104729),
                "data": data,
            }
        self.state.push_update("callback_query", query)
        return query_id

    def callback_answers(self) -> list[str | None]:
        """answerCallbackQuery texts for this user's presses in this chat, in press order."""
        with self.state.cond:
            return [
                q.text
                for q in self.state.callbacks.values()
                if q.user_id == self.user_id and q.chat_id == self.chat_id and q.answered
            ]

    def wait_for_callback_answers(self, count: int = 1, timeout: float = 10.0) -> list[str | None]:
        """Wait until ``count`` of this user's presses were answered; returns the texts."""
        self.state.wait_until(
            lambda: len(self.callback_answers()) >= count, timeout, f"{count} callback answers"
        )
        return self.callback_answers()

    def block_bot(self, blocked: bool = True) -> None:
        """Block (or unblock) the bot: sends then fail with 403 like Telegram."""
        with self.state.cond:
            self.state.chats[self.chat_id].blocked = blocked
            self.state.touch()


class GroupChat(_ChatView):
    """A group chat; ``member()`` gives a user who speaks in it."""

    def __init__(self, state: BotApiState, chat: JSON, *_: Any) -> None:
        super().__init__(state, chat)
        self._chat_json = dict(chat)

    def member(
        self, user_id: int, first_name: str = "Sam", username: str | None = None
    ) -> ChatUser:
        """A member of this group, sending into the group."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username is not None:
            user["username"] = username
        return ChatUser(self.state, user, self._chat_json)
