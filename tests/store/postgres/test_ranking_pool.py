"""Title tiers with PostgreSQL's rank pool narrowed and walked in small windows of keys.

The pool (the newest matches) is gathered window by window; with windows smaller than the
pool, pages must still follow the tiers exactly as on SQLite.
"""

from __future__ import annotations

import pytest

from bot.store.postgres import papers as pg_papers
from bot.store.postgres.database import open_postgres
from tests.store.contract.test_ranking import NOW, check_pages_follow_the_tiers

pytestmark = pytest.mark.postgresql


@pytest.mark.parametrize("window", [1, 2, 5])
@pytest.mark.parametrize("limit", [1, 3])
async def test_pages_follow_the_tiers_with_a_narrow_pool_in_small_windows(
    postgres_url: str, limit: int, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_papers, "_FIRST_WINDOW", window)

    def narrow(pool: int) -> None:
        monkeypatch.setattr(pg_papers, "RANK_POOL", pool)

    async with open_postgres(postgres_url, clock=lambda: NOW) as store:
        await check_pages_follow_the_tiers(store, limit, 12, narrow)
