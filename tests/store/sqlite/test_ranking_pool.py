"""Title tiers with SQLite's rank pool narrowed: pages still follow the tiers exactly.

Only the newest `search_sql.RANK_POOL` matches are ranked; with a pool smaller than the matches,
the cut that skips candidates must still never skip one that belongs on the page. This is the
FTS5 path, which answers while the search index is built (or where Tantivy is missing): the
test takes the index away.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import open_store
from bot.store.sqlite import search_sql
from tests.store.contract.test_ranking import NOW, check_pages_follow_the_tiers


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
async def test_pages_follow_the_tiers_exactly_in_a_narrow_pool(
    tmp_path: Path, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def narrow(pool: int) -> None:
        monkeypatch.setattr(search_sql, "RANK_POOL", pool)

    async with open_store(str(tmp_path / "p.sqlite3"), clock=lambda: NOW) as store:
        store.papers.index = None
        await check_pages_follow_the_tiers(store, limit, 12, narrow)
