"""Title tiers with PostgreSQL's rank pool narrowed and walked in small windows of keys.

The pool (the newest matches) is gathered window by window; with windows smaller than the
pool, pages must still follow the tiers exactly as on SQLite.
"""

from __future__ import annotations

import asyncpg
import pytest

from bot.models import Paper
from bot.query.compile import compile_query
from bot.store.postgres import papers as pg_papers
from bot.store.postgres.database import open_postgres
from bot.store.postgres.session import Session
from tests.factories import make_paper
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


def _corpus() -> list[Paper]:
    """240 papers in arrival order: half about a "framework", a third in cs.CV, a fifth in cs.LG."""
    papers = []
    for n in range(1, 241):
        words = "a framework for things" if n % 2 else "a study of things"
        cats = [c for c, every in (("cs.CV", 3), ("cs.LG", 5)) if n % every == 0] or ["math.AP"]
        papers.append(make_paper(n, title=f"Paper {n}: {words}", categories=tuple(cats),
                                 abstract=f"We study {words}, number {n}."))  # fmt: skip
    return papers


@pytest.mark.parametrize(
    ("text", "led"),
    [
        ("framework cat:cs.CV", True),  # cs.CV: 1/3 of the papers, 1/6 match: it leads
        ("framework cat:cs.CV -cat:cs.LG", True),
        ("framework cat:math.AP", False),  # 8/15 of the papers, 4/15 match: the words lead
        ("framework cat:cs", None),
        ("study cat:cs.CV cat:cs.LG", None),
    ],
)
async def test_windows_led_by_a_category_find_what_one_window_finds(
    postgres_url: str, text: str, led: bool | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A category sparser than the words leads the later windows: the pages stay the same."""
    query = compile_query(text)
    async with open_postgres(postgres_url, clock=lambda: NOW) as store:
        await store.papers.upsert(_corpus())
        monkeypatch.setattr(pg_papers, "RANK_POOL", 25)
        want = await store.papers.search(query, limit=20)  # one window holds every paper
        monkeypatch.setattr(pg_papers, "_FIRST_WINDOW", 12)
        statements: list[str] = []
        fetch = Session.fetch

        async def spy(self: Session, sql: str, *args: object) -> list[asyncpg.Record]:
            statements.append(sql)
            return await fetch(self, sql, *args)

        monkeypatch.setattr(Session, "fetch", spy)
        got = await store.papers.search(query, limit=20)
    assert want.hits
    assert (got.total, got.total_exact) == (want.total, want.total_exact)
    assert [(h.paper.id, h.score) for h in got.hits] == [(h.paper.id, h.score) for h in want.hits]
    if led is not None:
        assert any("ANY(ARRAY(SELECT pc.paper_pk" in sql for sql in statements) == led
