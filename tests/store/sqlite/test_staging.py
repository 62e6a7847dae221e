"""An upsert stages its rows many to a statement: every row lands once, in the batch's order."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store.sqlite import papers as sqlite_papers
from bot.store.sqlite.database import open_store
from tests.factories import make_paper


@pytest.mark.parametrize("count", [1, 399, 400, 401, sqlite_papers.BULK_MIN + 323])
async def test_every_paper_is_stored_once_in_order_with_its_categories(
    tmp_path: Path, count: int
) -> None:
    papers = [
        make_paper(n, title=f"Staged {n}", categories=("cs.LG", f"math.{'AP' if n % 2 else 'CO'}"))
        for n in range(1, count + 1)
    ]
    async with open_store(str(tmp_path / "s.sqlite3"), search_index=False) as store:
        result = await store.papers.upsert(papers)
        assert len(result.new) == count
        rows = await store.connections.fetchall("SELECT id, title FROM papers ORDER BY pk")
        assert [(r["id"], r["title"]) for r in rows] == [(p.id, p.title) for p in papers]
        (pairs,) = await store.connections.fetchone("SELECT count(*) FROM paper_categories")
        assert pairs == 2 * count
        # Upserting them again changes nothing and stages nothing twice.
        again = await store.papers.upsert(papers)
        assert again.new == () and again.changed == ()
        (stored,) = await store.connections.fetchone("SELECT count(*) FROM papers")
        assert stored == count
