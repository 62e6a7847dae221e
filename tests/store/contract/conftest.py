"""The `db` fixture: every contract test runs once per backend, through the interfaces only.

A backend is an id and a factory opening an empty, migrated `Database` driven by a clock.
PostgreSQL's database is a fresh copy of the migrated template (tests/pg/fixtures.py); without
a test server those runs are left out with one line, as every PostgreSQL test is.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.clock import Clock
from bot.store import open_store
from bot.store.interfaces import Database
from bot.store.postgres.database import open_postgres
from tests.pg.fixtures import backend_params
from tests.store.contract.support import FakeClock

Factory = Callable[
    [pytest.FixtureRequest, Path, Clock], contextlib.AbstractAsyncContextManager[Database]
]


def sqlite(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> contextlib.AbstractAsyncContextManager[Database]:
    return open_store(str(tmp_path / "db" / "papers.sqlite3"), clock=clock)


def postgresql(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> contextlib.AbstractAsyncContextManager[Database]:
    return open_postgres(request.getfixturevalue("postgres_url"), clock=clock)


BACKENDS: dict[str, Factory] = {"sqlite": sqlite, "postgresql": postgresql}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=backend_params())
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Database]:
    async with BACKENDS[request.param](request, tmp_path, clock) as database:
        yield database
