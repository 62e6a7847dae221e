"""The `db` fixture: every contract test runs once per backend, through the interfaces only.

A backend is an id and a factory opening an empty, migrated `Database` driven by a clock;
adding PostgreSQL is one more entry in BACKENDS.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.models import Clock
from bot.store import open_store
from bot.store.interfaces import Database
from tests.store.contract.support import FakeClock

Factory = Callable[[Path, Clock], contextlib.AbstractAsyncContextManager[Database]]


def sqlite(tmp_path: Path, clock: Clock) -> contextlib.AbstractAsyncContextManager[Database]:
    return open_store(str(tmp_path / "db" / "papers.sqlite3"), clock=clock)


BACKENDS: dict[str, Factory] = {"sqlite": sqlite}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=sorted(BACKENDS))
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Database]:
    async with BACKENDS[request.param](tmp_path, clock) as database:
        yield database
