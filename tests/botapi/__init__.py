"""A strict fake Telegram Bot API for tests, served over HTTP on 127.0.0.1.

Usage::

    with BotApiServer() as server:
        bot = telegram.Bot(server.token, base_url=server.base_url)
        alice = server.private_chat(user_id=1001, first_name="Alice")
        alice.send("/start")
        reply = alice.wait_for("Welcome")
        alice.press("Yes")
        server.faults.fail_next("sendMessage", status=429, retry_after=1)
"""

from .server import DEFAULT_TOKEN, BotApiServer
from .state import ApiError, BotMessage, Button, Faults, RequestRecord, SentFile
from .user import ChatUser, GroupChat

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "BotApiServer",
    "BotMessage",
    "Button",
    "ChatUser",
    "Faults",
    "GroupChat",
    "RequestRecord",
    "SentFile",
    "bot_api_server",
]


def __getattr__(name: str) -> object:
    # The pytest fixture is imported lazily so the package works without pytest loaded.
    if name == "bot_api_server":
        from .fixtures import bot_api_server

        return bot_api_server
    raise AttributeError(name)
