"""The backend contract's search and ranking tests once more on PostgreSQL, answered by the
process's local search index (bot/store/postgres/local_index.py) instead of the full text: the
same papers, the same order, the same totals as the contract asks of every store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store.index_slots import IndexPlan
from bot.store.interfaces import Database
from bot.store.postgres.database import open_postgres
from tests.store.contract.support import FakeClock
from tests.store.contract.test_ranking import *  # noqa: F403 - the tests, collected again here
from tests.store.contract.test_search import *  # noqa: F403

pytestmark = pytest.mark.postgresql


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def db(postgres_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Database]:
    plan = IndexPlan(tmp_path / "search-index", "serve")
    async with open_postgres(postgres_url, clock=clock, index=plan) as database:
        assert database.papers.index is not None and database.papers.index.ready
        yield database
