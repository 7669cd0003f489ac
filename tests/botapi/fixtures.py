"""pytest fixture: ``from botapi.fixtures import bot_api_server`` in a conftest or test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import BotApiServer


@pytest.fixture
def bot_api_server() -> Iterator[BotApiServer]:
    """A running :class:`BotApiServer`, stopped after the test."""
    with BotApiServer() as server:
        yield server
