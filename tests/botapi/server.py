"""A strict fake Telegram Bot API served over real HTTP on the loopback.

The server runs tornado on its own event loop in a background thread, so both sync and
async tests can use it. Point python-telegram-bot at it with
``Bot(token, base_url=server.base_url, base_file_url=server.base_file_url)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from types import TracebackType
from typing import Any

import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web

from .methods import Methods
from .params import Params, parse_request
from .state import ApiError, BotApiState, Faults, PendingUpdate, RequestRecord
from .user import ChatUser, GroupChat

JSON = dict[str, Any]
GET_UPDATES_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
TERMINATED_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
DEFAULT_TOKEN = "7000000001:AAFakeTokenForConcernbotTests_0123456"


def _queue_of(update: JSON) -> object:
    """The chat an update belongs to (Telegram's delivery queue), or the update itself."""
    for key, value in update.items():
        if key == "update_id" or not isinstance(value, dict):
            continue
        chat = value.get("chat") or (value.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return ("chat", chat["id"])
    return ("update", update.get("update_id"))


class _JsonHandler(tornado.web.RequestHandler):
    """Base handler answering with Telegram's JSON envelope."""

    def reply(self, status: int, body: JSON) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, ensure_ascii=False))


class _NotFound(_JsonHandler):
    """Anything outside ``/bot<token>/<method>`` and ``/file/bot<token>/<path>``."""

    def prepare(self) -> None:
        self.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})


class _ApiHandler(_JsonHandler):
    """``/bot<token>/<method>``: GET or POST with query, form, multipart or JSON."""

    def initialize(self, server: BotApiServer) -> None:
        self.server = server

    async def get(self, token: str, method: str) -> None:
        status, body = await self.server._handle(token, method, self.request)
        self.reply(status, body)

    async def post(self, token: str, method: str) -> None:
        await self.get(token, method)


class _FileHandler(_JsonHandler):
    """``/file/bot<token>/<file_path>``: file downloads after getFile."""

    def initialize(self, server: BotApiServer) -> None:
        self.server = server

    def get(self, token: str, path: str) -> None:
        with self.server.state.cond:
            found = [f for f in self.server.state.files.values() if f.file_path == path]
        if token != self.server.token or not found:
            self.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        self.set_header("Content-Type", found[0].mime_type or "application/octet-stream")
        self.finish(found[0].data)


class BotApiServer:
    """The fake Bot API. Use as a context manager (or ``start()``/``stop()``)."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "concern_test_bot",
        bot_first_name: str = "Concern Test Bot",
        strict_html_ampersand: bool = True,
        callback_query_timeout: float = 15.0,
        webhook_attempts: int = 4,
        webhook_backoff: float = 0.1,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.state = BotApiState(
            {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": bot_first_name,
                "username": bot_username,
            }
        )
        self.faults = Faults(self.state)
        self.methods = Methods(self.state, strict_html_ampersand)
        self.methods.callback_timeout = callback_query_timeout
        self.webhook_attempts = webhook_attempts
        self.webhook_backoff = webhook_backoff
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stopping = False
        self._wake_event: asyncio.Event | None = None
        self._stop_event: asyncio.Event | None = None
        self._poll_generation = 0

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> BotApiServer:
        """Bind 127.0.0.1 on a free port and serve in a background thread."""
        self._thread = threading.Thread(target=self._run, name="botapi-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake Bot API server did not start within 10 s")
        if self._startup_error is not None:
            raise RuntimeError("fake Bot API server failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        """Stop serving (pending long polls return) and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._stopping = True
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._request_stop)
        thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> BotApiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _request_stop(self) -> None:
        self._wake()
        if self._stop_event is not None:
            self._stop_event.set()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        app = tornado.web.Application(
            [
                (r"/bot([^/]*)/([A-Za-z0-9_]+)/?", _ApiHandler, {"server": self}),
                (r"/file/bot([^/]*)/(.+)", _FileHandler, {"server": self}),
            ],
            default_handler_class=_NotFound,
            log_function=lambda handler: None,
        )
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        self.port = sockets[0].getsockname()[1]
        http = tornado.httpserver.HTTPServer(app, max_body_size=60 * 1024 * 1024)
        http.add_sockets(sockets)
        self._wake_event, self._stop_event = asyncio.Event(), asyncio.Event()
        with self.state.cond:
            self.state.listeners.append(self._threadsafe_wake)
        worker = asyncio.create_task(self._webhook_worker())
        self._ready.set()
        await self._stop_event.wait()
        http.stop()
        worker.cancel()
        await asyncio.sleep(0.05)  # let woken long polls answer
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(http.close_all_connections(), 2)

    def _threadsafe_wake(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        event, self._wake_event = self._wake_event, asyncio.Event()
        if event is not None:
            event.set()

    # -- URLs ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``Bot(base_url=...)``: the token is appended by python-telegram-bot."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``Bot(base_file_url=...)``."""
        return f"{self.url}/file/bot"

    # -- request handling ----------------------------------------------------------------

    async def _handle(
        self, token: str, method: str, request: tornado.httputil.HTTPServerRequest
    ) -> tuple[int, JSON]:
        params = Params({}, {})
        received = time.time()
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            params = parse_request(request)
            delay = self.faults.take_delay(method)
            if delay:
                await asyncio.sleep(delay)
            fault = self.faults.take_failure(method, params.chat_id())
            if fault is not None:
                raise fault
            if method.lower() == "getupdates":
                result: Any = await self._get_updates(params)
            elif self.methods.has(method):
                result = self.methods.call(method, params)
                self._wake()  # e.g. setWebhook: let the webhook worker look again
            else:
                raise ApiError(404, "Not Found")
            status, body = 200, {"ok": True, "result": result}
        except ApiError as error:
            status, body = error.code, error.envelope()
        logged = {k: v for k, v in params.values.items() if k not in params.files}
        self.state.log_request(
            RequestRecord(method, time.time(), params.chat_id(), status, logged, received)
        )
        return status, copy.deepcopy(body)

    async def _get_updates(self, params: Params) -> list[JSON]:
        state = self.state
        offset = params.integer("offset")
        limit = min(max(params.integer("limit") or 100, 1), 100)
        timeout = max(params.integer("timeout") or 0, 0)
        allowed = params.parsed("allowed_updates", "Bad Request: can't parse allowed updates")
        with state.cond:
            if state.webhook["url"]:
                raise ApiError(409, GET_UPDATES_CONFLICT)
            if allowed is not None:
                state.allowed_updates = list(allowed)
            if offset is not None and offset < 0:
                state.pending = state.pending[offset:]
                offset = None
            elif offset is not None:
                state.confirm_below(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._wake_event
            if generation != self._poll_generation:
                raise ApiError(409, TERMINATED_CONFLICT)
            if state.webhook["url"]:
                raise ApiError(409, GET_UPDATES_CONFLICT)
            entries = state.deliverable(offset, limit)
            remaining = deadline - loop.time()
            if entries or self._stopping or remaining <= 0 or event is None:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
        state.mark_sent(entries)
        return [copy.deepcopy(e.update) for e in entries]

    # -- webhook delivery ----------------------------------------------------------------

    async def _webhook_worker(self) -> None:
        """Deliver as Telegram's webhook does: one update at a time per chat, in order, and
        up to ``max_connections`` chats at once, so a slow chat holds up no other."""
        client = tornado.httpclient.AsyncHTTPClient(force_instance=True, max_clients=100)
        busy: dict[object, asyncio.Task[None]] = {}  # chat (queue) -> its delivery
        while not self._stopping:
            event = self._wake_event
            with self.state.cond:
                hook = dict(self.state.webhook)
                entries = (
                    self.state.deliverable(None, len(self.state.pending)) if hook["url"] else []
                )
            for entry in entries:
                queue = _queue_of(entry.update)
                if queue in busy:
                    continue  # this chat's earlier update is on its way (or waiting to retry)
                if len(busy) >= int(hook.get("max_connections") or 40):
                    break
                task = asyncio.create_task(self._deliver(client, hook, entry))
                busy[queue] = task
                task.add_done_callback(lambda _, queue=queue: (busy.pop(queue), self._wake()))
            if event is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), 1.0)
        for task in busy.values():
            task.cancel()
        client.close()

    async def _deliver(
        self, client: tornado.httpclient.AsyncHTTPClient, hook: JSON, entry: PendingUpdate
    ) -> None:
        headers = {"Content-Type": "application/json"}
        if hook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        try:
            response = await client.fetch(
                hook["url"],
                method="POST",
                headers=headers,
                body=json.dumps(entry.update),
                request_timeout=10,
                raise_error=False,
            )
            code, error = response.code, f"{response.code} {response.reason}"
            if code == 599:
                error = f"Connection failed: {response.error}"
        except OSError as failure:  # refused before any response: the bot is down
            code, error = 599, f"Connection failed: {failure}"
        with self.state.cond:
            if 200 <= code < 300:
                self.state.mark_sent([entry])
                self.state.pending = [p for p in self.state.pending if p is not entry]
                return
            if code != 599:
                error = f"Wrong response from the webhook: {error}"
            self.state.webhook.update(last_error_date=int(time.time()), last_error_message=error)
            entry.webhook_attempts += 1
            attempts = entry.webhook_attempts
            if attempts >= self.webhook_attempts:
                self.state.pending = [p for p in self.state.pending if p is not entry]
                self.state.dropped_webhook_updates.append(copy.deepcopy(entry.update))
            self.state.touch()
        if attempts < self.webhook_attempts:
            await asyncio.sleep(self.webhook_backoff * 2 ** (attempts - 1))

    def post_raw_to_webhook(self, update: JSON, secret: str | None = None) -> int:
        """POST ``update`` to the registered webhook ourselves; returns the HTTP status."""
        with self.state.cond:
            url = self.state.webhook["url"]
        if not url:
            raise AssertionError("no webhook is set")
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        request = urllib.request.Request(
            url, data=json.dumps(update).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    # -- test-side API -------------------------------------------------------------------

    def private_chat(
        self,
        user_id: int,
        first_name: str = "Alex",
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "en",
    ) -> ChatUser:
        """A user in a private chat with the bot (the chat id equals the user id)."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: JSON = {"id": user_id, "first_name": first_name, "type": "private"}
        for key, value in (("last_name", last_name), ("username", username)):
            if value is not None:
                user[key] = chat[key] = value
        if language_code:
            user["language_code"] = language_code
        return ChatUser(self.state, user, chat, self.methods)

    def group_chat(self, chat_id: int, title: str, chat_type: str = "group") -> GroupChat:
        """A group (or ``chat_type="supergroup"``) with the bot in it."""
        return GroupChat(
            self.state, {"id": chat_id, "title": title, "type": chat_type}, self.methods
        )

    def requests(self, method: str | None = None) -> list[RequestRecord]:
        """The request log (see :meth:`Faults.log`)."""
        return self.faults.log(method)

    def wait_for_request(
        self, method: str, count: int = 1, timeout: float = 10.0
    ) -> list[RequestRecord]:
        """Wait until ``method`` was requested at least ``count`` times; returns those."""
        return list(
            self.state.wait_until(
                lambda: (lambda r: r if len(r) >= count else None)(self.faults.log(method)),
                timeout,
                f"{count} x {method}",
            )
        )

    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by the bot."""
        with self.state.cond:
            return [copy.deepcopy(p.update) for p in self.state.pending]

    def webhook(self) -> JSON:
        """The current webhook registration (url, secret_token, last error...)."""
        with self.state.cond:
            return dict(self.state.webhook)

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """What setMyCommands stored for that scope and language."""
        params = Params({"scope": scope, "language_code": language_code}, {})
        return self.methods.call("getMyCommands", params)  # type: ignore[no-any-return]
