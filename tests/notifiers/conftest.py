"""Fixtures: real SMTP servers for the email tests (see smtp_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from notifiers.smtp_server import SmtpServer, check_password, serve


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An open relay: takes mail from anyone, no AUTH."""
    yield from serve()


@pytest.fixture
def smtp_auth_server() -> Iterator[SmtpServer]:
    """A server that takes mail only after AUTH as USER (offered over plain for the test)."""
    yield from serve(authenticator=check_password, auth_required=True, auth_require_tls=False)
