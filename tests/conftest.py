"""Shared fixtures: the PostgreSQL server the tests may use.

PostgreSQL comes from CONCERNBOT_TEST_POSTGRES_URL. Unset, its tests skip, unless CI is
"true", where a missing variable or a server that cannot be reached fails the run. Each
PostgreSQL test gets a fresh schema (search_path set on connect) that is dropped after it.

No test touches the real user data folder (the embedded database's default): for the whole
run, it and CONCERNBOT_DATA_DIR point into pytest's temporary folder, for the tests and for
every process they start; a test that needs its own sets its own.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

POSTGRES_ENV = "CONCERNBOT_TEST_POSTGRES_URL"


@pytest.fixture(scope="session", autouse=True)
def no_real_data_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("user-data")))
    patch.setenv("CONCERNBOT_DATA_DIR", str(tmp_path_factory.mktemp("concernbot-data")))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The server URL, checked once per run; skipped or failed as the module docstring says."""
    url = os.environ.get(POSTGRES_ENV)
    in_ci = os.environ.get("CI") == "true"
    if not url:
        if in_ci:
            pytest.fail(f"CI=true but {POSTGRES_ENV} is not set")
        pytest.skip(f"{POSTGRES_ENV} is not set")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        # The variable was set on purpose, so a dead server is an error, in CI or not.
        pytest.fail(f"{POSTGRES_ENV} is set but the server cannot be reached: {error}")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose connections all work in a new, empty schema of their own."""
    with new_schema(postgres_server) as url:
        yield url


@pytest.fixture(scope="module")
def module_postgres_url(postgres_server: str) -> Iterator[str]:
    """As `postgres_url`, shared by a module's tests (e.g. processes started once for all)."""
    with new_schema(postgres_server) as url:
        yield url


@contextlib.contextmanager
def new_schema(postgres_server: str) -> Iterator[str]:
    """A URL whose connections all work in a new, empty schema, dropped after."""
    schema = f"test_{uuid.uuid4().hex}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_server).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a gap, not a pass: fail the run if anything skipped."""
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter:
            reporter.write_line(
                f"CI=true: {skipped} test(s) skipped; nothing may skip in CI", red=True
            )
