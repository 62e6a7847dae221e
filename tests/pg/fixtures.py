"""PostgreSQL for the tests: a fresh database per test, cloned from a migrated template.

The server is the one `tests/pg/start-postgres.sh` starts (its URL in
$PAPERFEED_TEST_POSTGRES_URL). Without it these tests are left out at collection and the run
ends with one line saying how many and how to run them (a skip per test would print a line per
test); under CI (CI=true) that would hide a broken set-up, so they run and fail instead, and a
configured server that does not answer is a failure everywhere.

Databases are made with `CREATE DATABASE ... TEMPLATE`, a file copy (tens of milliseconds),
from a template migrated once per session. The admin work runs on its own thread and event
loop, so these fixtures serve sync and async tests alike.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from bot.store.postgres.migrate import migrate

ENV_URL = "PAPERFEED_TEST_POSTGRES_URL"
HOW_TO_RUN = (
    'PostgreSQL tests need a server: run `eval "$(tests/pg/start-postgres.sh)"`, '
    f"or set ${ENV_URL}, then pytest again"
)
# Fixtures that need the server; a test using any of them is a PostgreSQL test, and so is one
# marked `postgresql` (a backend-parametrized test that asks for the server only when it runs).
SERVER_FIXTURES = frozenset(
    {"postgres_admin_url", "postgres_template", "postgres_url", "postgres_empty_url"}
)
T = TypeVar("T")
_names = itertools.count(1)
_left_out: list[int] = []


def _in_ci() -> bool:
    """CI says so with CI=true (as the Discord fake's schema layer reads it too)."""
    return os.environ.get("CI", "").lower() == "true"


def _server_expected() -> bool:
    return bool(os.environ.get(ENV_URL, "").strip()) or _in_ci()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a server (and outside CI), leave the PostgreSQL tests out, counting them."""
    if _server_expected():
        return
    kept, left = [], []
    for item in items:
        uses = set(getattr(item, "fixturenames", ()))
        needs = uses & SERVER_FIXTURES or item.get_closest_marker("postgresql") is not None
        (left if needs else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept
        _left_out.append(len(left))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _left_out:
        terminalreporter.write_line(f"{sum(_left_out)} PostgreSQL tests not run. {HOW_TO_RUN}")


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a private loop in a private thread."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        async def main() -> None:
            result.append(await make())

        try:
            asyncio.run(main())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="pg-admin")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def database_url(admin_url: str, dbname: str) -> str:
    """The admin URL pointed at another database."""
    parts = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


async def _admin(admin_url: str, *statements: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _migrate_database(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await migrate(conn)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The server's URL for creating databases; skips (fails under CI) without a server."""
    url = os.environ.get(ENV_URL, "").strip()
    if not url:
        if _in_ci():
            pytest.fail(f"${ENV_URL} is not set under CI: .ci/run must start PostgreSQL")
        pytest.skip(HOW_TO_RUN)
    try:
        run_sync(lambda: _admin(url, "SELECT 1"))
    except Exception as exc:  # any failure to reach the server configured for tests
        pytest.fail(f"PostgreSQL at ${ENV_URL} does not answer: {type(exc).__name__}: {exc}")
    return url


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url: str) -> Iterator[str]:
    """A database migrated once, from which each test's database is copied."""
    name = f"paperfeed_template_{os.getpid()}"
    run_sync(
        lambda: _admin(
            postgres_admin_url, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"
        )
    )
    run_sync(lambda: _migrate_database(database_url(postgres_admin_url, name)))
    yield name
    run_sync(lambda: _admin(postgres_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def fresh_database(admin_url: str, template: str) -> Iterator[str]:
    """A new database copied from `template`, yielded as a URL and dropped afterwards."""
    name = f"paperfeed_test_{os.getpid()}_{next(_names)}"
    run_sync(lambda: _admin(admin_url, f"CREATE DATABASE {name} TEMPLATE {template}"))
    try:
        yield database_url(admin_url, name)
    finally:
        run_sync(lambda: _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def postgres_url(postgres_admin_url: str, postgres_template: str) -> Iterator[str]:
    """The URL of a fresh database with the latest schema, dropped after the test."""
    yield from fresh_database(postgres_admin_url, postgres_template)


def backend_params() -> list[Any]:
    """Parameters for a backend-parametrized fixture: "sqlite", and "postgresql" marked so that
    it is left out like any PostgreSQL test when no server is configured."""
    return ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@pytest.fixture
def postgres_empty_url(postgres_admin_url: str) -> Iterator[str]:
    """The URL of a fresh, empty database (no schema at all), dropped after the test."""
    yield from fresh_database(postgres_admin_url, "template0")


def database_config(request: pytest.FixtureRequest, backend: str, sqlite_path: Path) -> Any:
    """The `[database]` configuration of a backend-parametrized test: the SQLite file at
    `sqlite_path`, or a fresh PostgreSQL database (requested only when the test runs on it)."""
    from bot.config import DatabaseConfig
    from bot.secrets import DatabaseUrl

    if backend == "postgresql":
        url = request.getfixturevalue("postgres_url")
        return DatabaseConfig(path=str(sqlite_path), url=DatabaseUrl(url))
    return DatabaseConfig(path=str(sqlite_path))


def open_backend(
    request: pytest.FixtureRequest, backend: str, sqlite_path: Path, clock: Any = None
) -> Any:
    """Open the store of a backend-parametrized test (see `database_config`)."""
    from bot.clock import utcnow
    from bot.store import open_store

    return open_store(database_config(request, backend, sqlite_path), clock=clock or utcnow)
