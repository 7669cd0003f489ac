"""Synchronous Bot API method handlers (everything except the long-polling getUpdates)."""

from __future__ import annotations

import json
import mimetypes
import re
import time
from typing import Any

from .keyboards import validate_reply_markup
from .markup import parse_text
from .params import Params, image_size
from .state import ApiError, BotApiState, ChatRecord, MessageRecord, SentFile

JSON = dict[str, Any]
MAX_TEXT = 4096
MAX_CAPTION = 1024
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}


class Methods:
    """The method table: ``call(name, params)`` dispatches to ``m_<lowercase name>``."""

    def __init__(self, state: BotApiState, strict_ampersand: bool) -> None:
        self.state = state
        self.strict_ampersand = strict_ampersand

    def has(self, name: str) -> bool:
        return hasattr(self, "m_" + name.lower())

    def call(self, name: str, params: Params) -> Any:
        with self.state.cond:
            return getattr(self, "m_" + name.lower())(params)

    # -- helpers -------------------------------------------------------------------------

    def _chat(self, params: Params) -> ChatRecord:
        chat_id = params.chat_id()
        if chat_id is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        for chat in self.state.chats.values():
            if chat.info["id"] == chat_id or (
                isinstance(chat_id, str) and chat.info.get("username") == chat_id[1:]
            ):
                if chat.blocked:
                    raise ApiError(403, "Forbidden: bot was blocked by the user")
                return chat
        raise ApiError(400, "Bad Request: chat not found")

    def _own_message(self, chat: ChatRecord, params: Params, verb: str) -> MessageRecord:
        if params.has("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        message_id = params.integer("message_id")
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        record = chat.messages.get(message_id)
        if record is None or record.deleted:
            raise ApiError(400, f"Bad Request: message to {verb} not found")
        if not record.from_bot:
            raise ApiError(400, f"Bad Request: message can't be {verb}ed")
        return record

    def _formatted(self, params: Params, field: str, limit: int) -> tuple[str, list[JSON]]:
        raw = params.text(field)
        text, entities = parse_text(
            raw, params.text("parse_mode"), strict_ampersand=self.strict_ampersand
        )
        explicit = params.parsed(
            f"{'caption_' if field == 'caption' else ''}entities",
            "Bad Request: can't parse entities JSON object",
        )
        if explicit and not params.has("parse_mode"):
            entities = list(explicit)
        if len(text) > limit:
            what = "message caption" if field == "caption" else "message"
            raise ApiError(400, f"Bad Request: {what} is too long")
        return text, entities

    def _new_bot_message(
        self, chat: ChatRecord, params: Params, body: JSON, file: SentFile | None = None
    ) -> JSON:
        markup = validate_reply_markup(
            params.parsed(
                "reply_markup", "Bad Request: can't parse reply keyboard markup JSON object"
            )
        )
        reply = params.parsed(
            "reply_parameters", "Bad Request: can't parse reply parameters JSON object"
        )
        if reply is None and params.has("reply_to_message_id"):
            reply = {"message_id": params.integer("reply_to_message_id")}
        payload: JSON = {
            "message_id": 0,
            "from": dict(self.state.bot_user),
            "chat": dict(chat.info),
            "date": int(time.time()),
        }
        if reply:
            target = chat.messages.get(int(reply.get("message_id", 0)))
            if target is not None and not target.deleted:
                payload["reply_to_message"] = {
                    k: v for k, v in target.payload.items() if k != "reply_to_message"
                }
            elif not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
        payload.update(body)
        if markup:
            payload["reply_markup"] = markup
        record = self.state.add_message(chat.info["id"], payload, True, file)
        return record.payload

    def _edit(
        self, record: MessageRecord, text: str | None, entities: list[JSON], params: Params
    ) -> JSON:
        markup = validate_reply_markup(
            params.parsed(
                "reply_markup", "Bad Request: can't parse reply keyboard markup JSON object"
            ),
            inline_only=True,
        )
        p = record.payload
        old = (p.get("text"), p.get("entities", []), p.get("reply_markup"))
        new = (
            text if text is not None else p.get("text"),
            entities if text is not None else p.get("entities", []),
            markup,
        )
        if old == new:
            raise ApiError(400, NOT_MODIFIED)
        record.history.append(str(p.get("text") or p.get("caption") or ""))
        if text is not None:
            p["text"] = text
            p.pop("entities", None)
            if entities:
                p["entities"] = entities
        p.pop("reply_markup", None)
        if markup:
            p["reply_markup"] = markup
        p["edit_date"] = int(time.time())
        record.seq = self.state.touch()
        return p

    def _input_file(self, params: Params, field: str) -> tuple[str | None, bytes, str | None]:
        upload = params.files.get(field)
        value = params.text(field)
        if upload is None and value and value.startswith("attach://"):
            upload = params.files.get(value[len("attach://") :])
        if upload is not None:
            if not upload.data:
                raise ApiError(400, "Bad Request: file must be non-empty")
            return upload.filename, upload.data, upload.content_type
        if not value:
            raise ApiError(400, f"Bad Request: there is no {field} in the request")
        known = self.state.files.get(value)
        if known is not None:
            return known.filename, known.data, known.mime_type
        if re.match(r"^https?://", value):
            return value.rsplit("/", 1)[-1] or None, b"", None
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    # -- methods -------------------------------------------------------------------------

    def m_getme(self, params: Params) -> JSON:
        return {
            **self.state.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def m_sendmessage(self, params: Params) -> JSON:
        chat = self._chat(params)
        if not (params.text("text") or "").strip():
            raise ApiError(400, "Bad Request: message text is empty")
        text, entities = self._formatted(params, "text", MAX_TEXT)
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        body: JSON = {"text": text}
        if entities:
            body["entities"] = entities
        return self._new_bot_message(chat, params, body)

    def m_editmessagetext(self, params: Params) -> JSON:
        chat = self._chat(params)
        record = self._own_message(chat, params, "edit")
        if "text" not in record.payload:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = self._formatted(params, "text", MAX_TEXT)
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        return self._edit(record, text, entities, params)

    def m_editmessagereplymarkup(self, params: Params) -> JSON:
        chat = self._chat(params)
        return self._edit(self._own_message(chat, params, "edit"), None, [], params)

    def m_deletemessage(self, params: Params) -> bool:
        chat = self._chat(params)
        record = chat.messages.get(params.integer("message_id") or 0)
        if record is None or record.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        record.deleted = True
        record.seq = self.state.touch()
        return True

    def m_answercallbackquery(self, params: Params) -> bool:
        query = self.state.callbacks.get(params.text("callback_query_id") or "")
        too_old = time.monotonic() - query.created > self.callback_timeout if query else True
        if query is None or query.answered or too_old:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        text = params.text("text")
        if text is not None and len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answered, query.text, query.show_alert = True, text, params.flag("show_alert")
        self.state.touch()
        return True

    callback_timeout = 15.0

    def _scope_key(self, params: Params) -> str:
        scope = params.parsed("scope", "Bad Request: can't parse BotCommandScope JSON object")
        return (
            json.dumps(scope or {"type": "default"}, sort_keys=True)
            + "|"
            + (params.text("language_code") or "")
        )

    def m_setmycommands(self, params: Params) -> bool:
        commands = params.parsed("commands", "Bad Request: can't parse commands JSON object")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(
                400,
                "Bad Request: BOT_COMMANDS_TOO_MUCH"
                if isinstance(commands, list)
                else "Bad Request: commands are empty",
            )
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name.lstrip("/")):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.state.commands[self._scope_key(params)] = [
            {"command": c["command"].lstrip("/"), "description": c["description"]} for c in commands
        ]
        self.state.touch()
        return True

    def m_getmycommands(self, params: Params) -> list[JSON]:
        return list(self.state.commands.get(self._scope_key(params), []))

    def m_deletemycommands(self, params: Params) -> bool:
        self.state.commands.pop(self._scope_key(params), None)
        self.state.touch()
        return True

    def m_sendchataction(self, params: Params) -> bool:
        chat = self._chat(params)
        action = params.text("action")
        if action not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        chat.actions.append(action)
        self.state.touch()
        return True

    def m_getchat(self, params: Params) -> JSON:
        chat = self._chat(params)
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return {
            **chat.info,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    def _send_file(self, params: Params, kind: str) -> JSON:
        chat = self._chat(params)
        filename, data, mime = self._input_file(params, kind)
        caption, entities = self._formatted(params, "caption", MAX_CAPTION)
        body: JSON = {}
        if kind == "photo":
            size = image_size(data) if data else (800, 600)
            if size is None:
                raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
            stored = self.state.new_file(
                "photo", filename, data, mime or "image/jpeg", caption or None
            )
            width, height = size
            body["photo"] = [
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": len(data),
                    "width": width,
                    "height": height,
                }
            ]
        else:
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(filename or "")[0] or "application/octet-stream"
            stored = self.state.new_file("document", filename, data, mime, caption or None)
            body["document"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(data),
                "mime_type": mime,
            }
            if filename:
                body["document"]["file_name"] = filename
        if caption:
            body["caption"] = caption
            if entities:
                body["caption_entities"] = entities
        return self._new_bot_message(chat, params, body, stored)

    def m_senddocument(self, params: Params) -> JSON:
        return self._send_file(params, "document")

    def m_sendphoto(self, params: Params) -> JSON:
        return self._send_file(params, "photo")

    def m_getfile(self, params: Params) -> JSON:
        stored = self.state.files.get(params.text("file_id") or "")
        if stored is None:
            raise ApiError(400, "Bad Request: wrong file_id or the file is temporarily unavailable")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    def m_setwebhook(self, params: Params) -> bool:
        url = params.text("url") or ""
        if url and not re.match(r"^https?://[^/\s]+", url):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.text("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        allowed = params.parsed(
            "allowed_updates", "Bad Request: can't parse allowed updates JSON object"
        )
        if params.flag("drop_pending_updates"):
            self.state.pending.clear()
        self.state.webhook = {
            "url": url,
            "secret_token": secret if url else None,
            "max_connections": params.integer("max_connections") or 40,
        }
        if allowed is not None:
            self.state.allowed_updates = list(allowed)
        self.state.touch()
        return True

    def m_deletewebhook(self, params: Params) -> bool:
        if params.flag("drop_pending_updates"):
            self.state.pending.clear()
        self.state.webhook = {"url": ""}
        self.state.touch()
        return True

    def m_getwebhookinfo(self, params: Params) -> JSON:
        hook = self.state.webhook
        info: JSON = {
            "url": hook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self.state.pending),
        }
        if hook["url"]:
            info["max_connections"] = hook.get("max_connections", 40)
            info["ip_address"] = "127.0.0.1"
            if self.state.allowed_updates is not None:
                info["allowed_updates"] = list(self.state.allowed_updates)
            for key in ("last_error_date", "last_error_message"):
                if key in hook:
                    info[key] = hook[key]
        return info
