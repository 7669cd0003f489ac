"""Tests of the fake Bot API server, driven by a real python-telegram-bot over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

try:  # tests/ is not a package today; keep working if it becomes one
    from tests.botapi import BotApiServer
except ImportError:
    from botapi import BotApiServer

USER_ID = 5551001
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def _keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def _seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def _raw(server: BotApiServer, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    """Call the server without PTB, to see Telegram's exact envelope."""
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{server.base_url}{server.token}/{method}", json=params)
    return response.status_code, response.json()


@pytest.fixture
def server() -> Iterator[BotApiServer]:
    with BotApiServer(webhook_backoff=0.05) as running:
        yield running


@pytest.fixture
async def bot(server: BotApiServer) -> AsyncIterator[Bot]:
    async with Bot(server.token, base_url=server.base_url, base_file_url=server.base_file_url) as b:
        yield b


# -- sending and editing ---------------------------------------------------------------------


async def test_send_message_is_visible_to_the_user(server: BotApiServer, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "concern_test_bot" and me.is_bot
    alice = server.private_chat(user_id=USER_ID, first_name="Alice")
    sent = await bot.send_message(USER_ID, "Hello", reply_markup=_keyboard([("Yes", "y")]))
    last = alice.last()
    assert (last.message_id, last.text, last.labels) == (sent.message_id, "Hello", ["Yes"])
    assert sent.from_user is not None and sent.from_user.id == me.id
    assert sent.chat.type == "private"


async def test_edit_updates_text_and_drops_keyboard_when_omitted(
    server: BotApiServer, bot: Bot
) -> None:
    alice = server.private_chat(user_id=USER_ID)
    sent = await bot.send_message(USER_ID, "Pick", reply_markup=_keyboard([("A", "a")]))
    edited = await bot.edit_message_text("Picked A", chat_id=USER_ID, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "Picked A" and edited.edit_date is not None
    view = alice.last()
    assert (view.text, view.labels, view.history) == ("Picked A", [], ("Pick",))
    await bot.edit_message_reply_markup(
        USER_ID, sent.message_id, reply_markup=_keyboard([("Undo", "u")])
    )
    assert alice.last().labels == ["Undo"]


async def test_edit_errors_match_telegram(server: BotApiServer, bot: Bot) -> None:
    server.private_chat(user_id=USER_ID)
    markup = _keyboard([("A", "a")])
    sent = await bot.send_message(USER_ID, "Same", reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified: specified new message"):
        await bot.edit_message_text("Same", USER_ID, sent.message_id, reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)^message to edit not found$"):
        await bot.edit_message_text("X", USER_ID, sent.message_id + 50)
    with pytest.raises(BadRequest, match=r"(?i)^chat not found$"):
        await bot.send_message(999, "nobody here")
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(USER_ID, sent.message_id, reply_markup=markup)


async def test_text_limits_count_characters_after_entity_parsing(
    server: BotApiServer, bot: Bot
) -> None:
    alice = server.private_chat(user_id=USER_ID)
    await bot.send_message(USER_ID, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    assert len(alice.last().text) == 4096
    with pytest.raises(BadRequest, match=r"(?i)^message is too long$"):
        await bot.send_message(USER_ID, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)^message text is empty$"):
        await bot.send_message(USER_ID, "   ")
    with pytest.raises(BadRequest, match=r"(?i)^message caption is too long$"):
        await bot.send_document(USER_ID, b"data", filename="a.txt", caption="c" * 1025)
    assert len(alice.messages()) == 1


async def test_keyboard_validation(server: BotApiServer, bot: Bot) -> None:
    server.private_chat(user_id=USER_ID)
    await bot.send_message(USER_ID, "ok", reply_markup=_keyboard([("é", "é" * 32)]))  # 64 bytes
    with pytest.raises(BadRequest, match=r"(?i)^button_data_invalid$"):
        await bot.send_message(USER_ID, "no", reply_markup=_keyboard([("é", "é" * 33)]))
    with pytest.raises(BadRequest, match=r"(?i)too many buttons"):
        await bot.send_message(
            USER_ID, "no", reply_markup=_keyboard([(str(i), str(i)) for i in range(9)])
        )
    with pytest.raises(BadRequest, match=r"(?i)text buttons are unallowed in the inline keyboard"):
        await bot.send_message(
            USER_ID, "no", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("t")]])
        )
    with pytest.raises(BadRequest, match=r"(?i)^button_text_invalid$"):
        await bot.send_message(USER_ID, "no", reply_markup=_keyboard([(" ", "d")]))


# -- formatting ------------------------------------------------------------------------------


async def test_html_entities_are_parsed_to_plain_text(server: BotApiServer, bot: Bot) -> None:
    alice = server.private_chat(user_id=USER_ID)
    html = (
        '\N{GRINNING FACE} <b>bold</b> <a href="https://nhs.uk/?a=1&amp;b=2">link</a> '
        "1 &lt; 2 &#33; <tg-spoiler>s</tg-spoiler> <blockquote expandable>q</blockquote>"
    )
    sent = await bot.send_message(USER_ID, html, parse_mode="HTML")
    assert sent.text == "\N{GRINNING FACE} bold link 1 < 2 ! s q"
    kinds = {(e.type, e.offset, e.length) for e in sent.entities}
    assert {("bold", 3, 4), ("text_link", 8, 4), ("spoiler", 21, 1)} <= kinds
    assert ("expandable_blockquote", 23, 1) in kinds
    assert sent.entities[1].url == "https://nhs.uk/?a=1&b=2"
    assert alice.last().text == sent.text


@pytest.mark.parametrize(
    ("html", "detail"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("Q&A session", 'Unescaped "&" not forming an entity at byte offset 1'),
        ("</b>", "Unexpected end tag at byte offset 0"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_malformed_html_is_rejected(
    server: BotApiServer, bot: Bot, html: str, detail: str
) -> None:
    alice = server.private_chat(user_id=USER_ID)
    with pytest.raises(BadRequest, match=r"(?i)^can't parse entities: "):
        await bot.send_message(USER_ID, html, parse_mode="HTML")
    status, body = await _raw(server, "sendMessage", chat_id=USER_ID, text=html, parse_mode="HTML")
    assert (status, body["description"]) == (400, f"Bad Request: can't parse entities: {detail}")
    assert alice.messages() == []
    assert server.requests("sendMessage")[-1].status == 400


async def test_markdown_v2_reserved_characters(server: BotApiServer, bot: Bot) -> None:
    server.private_chat(user_id=USER_ID)
    sent = await bot.send_message(USER_ID, "Hello *world*\\!", parse_mode="MarkdownV2")
    assert sent.text == "Hello world!" and sent.entities[0].type == "bold"
    with pytest.raises(BadRequest, match=r"(?i)character '.' is reserved"):
        await bot.send_message(USER_ID, "Thanks.", parse_mode="MarkdownV2")


# -- faults and the request log ----------------------------------------------------------------


async def test_429_surfaces_as_retry_after(server: BotApiServer, bot: Bot) -> None:
    alice = server.private_chat(user_id=USER_ID)
    server.faults.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER_ID, "first try")
    assert _seconds(caught.value) == 3
    await bot.send_message(USER_ID, "second try")
    assert [m.text for m in alice.messages()] == ["second try"]
    log = server.faults.log("sendMessage")
    assert [(r.status, r.chat_id) for r in log] == [(429, USER_ID), (200, USER_ID)]


async def test_500_count_and_delay(server: BotApiServer, bot: Bot) -> None:
    server.private_chat(user_id=USER_ID)
    server.faults.fail_next("sendChatAction", status=500, count=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_chat_action(USER_ID, "typing")
    assert await bot.send_chat_action(USER_ID, "typing") is True
    assert [r.status for r in server.requests("sendChatAction")] == [500, 500, 200]
    server.faults.delay_next("getMe", 0.4)
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.4


async def test_wrong_token_and_unknown_method(server: BotApiServer) -> None:
    async with httpx.AsyncClient() as client:
        bad = await client.post(f"{server.base_url}{server.token}x/getMe")
        unknown = await client.post(f"{server.base_url}{server.token}/sendDice", json={})
    assert (bad.status_code, bad.json()) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert (unknown.status_code, unknown.json()["description"]) == (404, "Not Found")
    wrong = Bot(server.token + "x", base_url=server.base_url)
    with pytest.raises(InvalidToken):
        await wrong.initialize()
    await wrong.shutdown()
    assert [r.status for r in server.requests()] == [401, 404, 401]


# -- updates -----------------------------------------------------------------------------------


async def test_long_poll_returns_early_when_the_user_sends(server: BotApiServer, bot: Bot) -> None:
    alice = server.private_chat(user_id=USER_ID)
    threading.Timer(0.3, alice.send, args=("/start now",)).start()
    started = time.monotonic()
    updates = await bot.get_updates(timeout=8)
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 3
    message = updates[0].message
    assert message is not None and message.text == "/start now"
    assert message.entities[0].type == "bot_command" and message.entities[0].length == 6
    started = time.monotonic()
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=1) == ()
    assert time.monotonic() - started >= 0.9


async def test_offset_confirms_and_unconfirmed_updates_are_redelivered(
    server: BotApiServer, bot: Bot
) -> None:
    alice = server.private_chat(user_id=USER_ID)
    first, second = alice.send("one"), alice.send("two")
    assert second["update_id"] == first["update_id"] + 1
    got = await bot.get_updates()
    assert [u.update_id for u in got] == [first["update_id"], second["update_id"]]
    async with Bot(server.token, base_url=server.base_url) as restarted:
        again = await restarted.get_updates()
        assert [u.update_id for u in again] == [u.update_id for u in got]
        assert await restarted.get_updates(offset=second["update_id"]) != ()
        assert len(server.pending_updates()) == 1
        assert await restarted.get_updates(offset=second["update_id"] + 1) == ()
    assert server.pending_updates() == []


async def test_deliver_twice_repeats_the_update_id(server: BotApiServer, bot: Bot) -> None:
    alice = server.private_chat(user_id=USER_ID)
    server.faults.deliver_twice()
    update = alice.send("hello")
    first = await bot.get_updates()
    second = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.update_id for u in first] == [update["update_id"]]
    assert [u.update_id for u in second] == [update["update_id"]]
    assert await bot.get_updates(offset=update["update_id"] + 1) == ()


async def test_second_poller_terminates_the_first(server: BotApiServer, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.3)
    async with Bot(server.token, base_url=server.base_url) as other:
        assert await other.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_press_produces_a_callback_query(server: BotApiServer, bot: Bot) -> None:
    alice = server.private_chat(user_id=USER_ID, username="alice")
    old = await bot.send_message(USER_ID, "Old", reply_markup=_keyboard([("Stale", "stale")]))
    new = await bot.send_message(
        USER_ID, "New", reply_markup=_keyboard([("Yes", "y"), ("No", "n")])
    )
    query_id = alice.press("No")
    stale_id = alice.press("Stale", message_id=old.message_id)
    with pytest.raises(AssertionError, match=r"\['Yes', 'No'\]"):
        alice.press("Maybe")
    updates = await bot.get_updates()
    queries = [u.callback_query for u in updates if u.callback_query]
    assert [(q.id, q.data) for q in queries] == [(query_id, "n"), (stale_id, "stale")]
    assert queries[0].message is not None and queries[0].message.message_id == new.message_id
    assert queries[0].from_user.username == "alice"
    assert await queries[0].answer("Noted") is True
    with pytest.raises(BadRequest, match=r"(?i)query is too old and response timeout expired"):
        await queries[0].answer("again")
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await bot.answer_callback_query("123", text="unknown")
    assert alice.callback_answers() == ["Noted"]


async def test_user_media_and_edits_parse_as_ptb_updates(server: BotApiServer, bot: Bot) -> None:
    alice = server.private_chat(user_id=USER_ID)
    alice.send("typo")
    alice.send_photo(caption="pic")
    alice.send_sticker()
    alice.send_voice(duration=4)
    alice.send_document(filename="log.pdf", data=b"%PDF-1.7 abc")
    alice.send_location(52.2, 0.12)
    alice.edit_last_sent("fixed")
    updates = await bot.get_updates()
    messages = [u.effective_message for u in updates]
    assert all(m is not None for m in messages)
    photo, sticker, voice, doc, location, edit = messages[1:]
    assert photo is not None and photo.photo and photo.caption == "pic"
    assert sticker is not None and sticker.sticker is not None
    assert voice is not None and voice.voice is not None and voice.voice.duration == 4
    assert location is not None and location.location is not None
    assert edit is not None and updates[-1].edited_message is not None and edit.text == "fixed"
    assert doc is not None and doc.document is not None
    file = await bot.get_file(doc.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.7 abc"


async def test_documents_and_photos_are_readable(server: BotApiServer, bot: Bot) -> None:
    alice = server.private_chat(user_id=USER_ID)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (3).to_bytes(4, "big") * 2 + b"\x08\x02"
    await bot.send_document(USER_ID, b"report body", filename="report.txt", caption="Your copy")
    photo = await bot.send_photo(USER_ID, png, caption="chart")
    assert (photo.photo[-1].width, photo.photo[-1].height) == (3, 3)
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await bot.send_photo(USER_ID, b"not an image")
    files = alice.files()
    assert (files[0].filename, files[0].data, files[0].caption) == (
        "report.txt",
        b"report body",
        "Your copy",
    )
    assert files[1].data == png and alice.last().caption == "chart"


async def test_commands_chat_and_actions(server: BotApiServer, bot: Bot) -> None:
    alice = server.private_chat(user_id=USER_ID, first_name="Alice")
    assert await bot.set_my_commands([("start", "Begin"), ("help", "How it works")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([("Bad-Name", "x")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    chat = await bot.get_chat(USER_ID)
    assert (chat.id, chat.first_name, chat.type) == (USER_ID, "Alice", "private")
    await bot.send_chat_action(USER_ID, "upload_document")
    assert alice.chat_actions() == ["upload_document"]
    alice.block_bot()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER_ID, "hello?")


def test_wait_for_reports_what_the_bot_did_say(server: BotApiServer) -> None:
    alice = server.private_chat(user_id=USER_ID)
    with pytest.raises(AssertionError, match=r"bot messages: \[\]"):
        alice.wait_for("anything", timeout=0.2)


# -- a real Application: polling, groups, webhook ---------------------------------------------


async def test_application_polling_conversation(server: BotApiServer) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_html(
            "<b>Welcome</b> &amp; hello", reply_markup=_keyboard([("Go", "go"), ("Stop", "stop")])
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer(f"got {query.data}")
        await query.edit_message_text(f"Pressed {query.data}")

    app = (
        Application.builder()
        .token(server.token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    alice = server.private_chat(user_id=USER_ID)
    group = server.group_chat(-100200, "Trainees")
    sam = group.member(USER_ID + 1, first_name="Sam")
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=2))
        try:
            alice.send("/start")
            welcome = await asyncio.to_thread(alice.wait_for, "Welcome & hello", 5)
            assert welcome.labels == ["Go", "Stop"] and welcome.entities[0]["type"] == "bold"
            alice.press("Go")
            edited = await asyncio.to_thread(alice.wait_for, "Pressed go", 5)
            assert edited.message_id == welcome.message_id and edited.labels == []
            assert await asyncio.to_thread(alice.wait_for_callback_answers, 1, 5) == ["got go"]
            sam.send("/start")
            in_group = await asyncio.to_thread(group.wait_for, "Welcome", 5)
            assert in_group.chat_id == -100200 and in_group.reply_to_message_id is not None
        finally:
            await app.updater.stop()
            await app.stop()
    assert server.pending_updates() == []


class _Receiver(BaseHTTPRequestHandler):
    """A tiny webhook endpoint: fails the first ``fail_first`` posts, 403s a bad secret."""

    received: list[tuple[str | None, dict[str, Any]]]
    fail_first = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        secret = self.headers.get("X-Telegram-Bot-Api-Secret-Token")
        self.received.append((secret, body))
        status = 500 if len(self.received) <= self.fail_first else 200
        if secret != "s3cret_token":
            status = 403
        self.send_response(status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Recv", (_Receiver,), {"received": [], "fail_first": 1})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", handler
    httpd.shutdown()
    httpd.server_close()


async def test_webhook_delivery_with_secret_and_retry(
    server: BotApiServer, bot: Bot, receiver: tuple[str, type[_Receiver]]
) -> None:
    url, handler = receiver
    alice = server.private_chat(user_id=USER_ID)
    assert await bot.set_webhook(url, secret_token="s3cret_token", allowed_updates=["message"])
    info = await bot.get_webhook_info()
    assert info.url == url and info.allowed_updates == ("message",)
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    update = alice.send("via webhook")
    server.state.wait_until(lambda: len(handler.received) >= 2, 5, "webhook retry")
    assert [(s, b["update_id"]) for s, b in handler.received] == [
        ("s3cret_token", update["update_id"]),
        ("s3cret_token", update["update_id"]),
    ]
    assert handler.received[0][1]["message"]["text"] == "via webhook"
    server.state.wait_until(lambda: not server.pending_updates(), 5, "confirmation")
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert server.post_raw_to_webhook(update) == 403
    assert server.post_raw_to_webhook(update, secret="s3cret_token") == 200
    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()
