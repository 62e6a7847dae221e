"""Bulk upserts put new papers in by COPY (papers.COPY_NEW_FROM): the rows, keys, categories and
words must be what the INSERT from arrays writes, and a paper another writer inserted first must
still be merged, not fail the batch."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import asyncpg
import pytest

from bot.models import Paper
from bot.query import compile_query
from bot.store.postgres import papers as pg_papers
from bot.store.postgres.database import open_postgres
from tests.store.contract.support import FakeClock, paper

pytestmark = pytest.mark.postgresql

MIXED = paper(
    "2612.00011",
    "Sparse mixture of experts",
    abstract="Routing tokens to experts, l'été.",
    authors=("Zoë Ångström", 'Bob "B" O\'Neil'),
    categories=("cs.LG", "CS.lg", "math.AP"),
    ai_keywords=("moe", "routing"),
    upvotes=3,
)
PLAIN = paper("2612.00012", "Optimal transport on graphs", categories=("math.OC",))
BARE = Paper(id="2612.00013", title="No abstract, no authors")


@pytest.fixture
def copy_from_two(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(pg_papers, "COPY_NEW_FROM", 2)
    yield


async def _stored(url: str, pid: str) -> tuple[object, ...]:
    """What the row holds as text, and its categories rows."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT p.authors::text, p.categories::text, p.ai_keywords::text, p.search::text, "
            "array(SELECT category FROM paper_categories c WHERE c.paper_pk = p.pk "
            "ORDER BY category) AS cats FROM papers p WHERE p.id = $1",
            pid,
        )
        assert row is not None
        return tuple(row)
    finally:
        await conn.close()


async def test_copied_papers_are_stored_as_inserted_ones(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = [MIXED, PLAIN, BARE]
    twins = [replace(p, id=p.id.replace("2612", "2611")) for p in batch]
    async with open_postgres(postgres_url, clock=FakeClock()) as pg:
        monkeypatch.setattr(pg_papers, "COPY_NEW_FROM", 2)
        copied = await pg.papers.upsert(batch)
        monkeypatch.setattr(pg_papers, "COPY_NEW_FROM", 10**9)
        inserted = await pg.papers.upsert(twins)
        assert copied.new == tuple(p.id for p in batch)
        assert inserted.new == tuple(p.id for p in twins)
        for p, twin in zip(batch, twins, strict=True):
            got, want = await pg.papers.get(p.id), await pg.papers.get(twin.id)
            assert got is not None and want is not None
            assert got == replace(want, id=p.id)
            assert await _stored(postgres_url, p.id) == await _stored(postgres_url, twin.id)
        assert await _stored(postgres_url, MIXED.id) == (
            '["Zoë Ångström", "Bob \\"B\\" O\'Neil"]',
            '["cs.LG", "CS.lg", "math.AP"]',
            '["moe", "routing"]',
            (await _stored(postgres_url, "2611.00011"))[3],
            ["cs.lg", "math.ap"],
        )
        # Keys follow the batch's order (newest-first walks rely on it), before the twins'.
        conn = await asyncpg.connect(postgres_url)
        try:
            keys = [r["id"] for r in await conn.fetch("SELECT id FROM papers ORDER BY pk")]
        finally:
            await conn.close()
        assert keys == [p.id for p in batch + twins]
        hits = await pg.papers.search(compile_query("cat:math.AP experts"))
        assert sorted(h.paper.id for h in hits.hits) == ["2611.00011", "2612.00011"]
        again = await pg.papers.upsert(batch)
        assert again.new == () and again.unchanged == 3


async def test_a_copy_meeting_another_writers_paper_merges_it(
    postgres_url: str, copy_from_two: None
) -> None:
    """A holds its new paper uncommitted; B's COPY of a batch holding it waits, fails once A
    commits, and B's batch goes in again the other way: the rest new, that one merged."""
    first = paper("2612.00021", "Racing copies", upvotes=None)
    later = Paper(id="2612.00021", title="Racing copies", upvotes=9, sources=frozenset({"hf"}))
    others = [paper("2612.00022", "Second"), paper("2612.00023", "Third")]
    holding, release = asyncio.Event(), asyncio.Event()
    async with open_postgres(postgres_url) as a, open_postgres(postgres_url) as b:

        async def writer_a() -> None:
            async with a.transaction():
                await a.papers.upsert([first])
                holding.set()
                await release.wait()

        task_a = asyncio.create_task(writer_a())
        await holding.wait()
        task_b = asyncio.create_task(b.papers.upsert([later, *others]))
        watcher = await asyncpg.connect(postgres_url)
        try:
            async with asyncio.timeout(20):
                while not await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ):
                    await asyncio.sleep(0.01)  # the server's own state, not a timing guess
        finally:
            await watcher.close()
        release.set()
        await task_a
        result = await task_b
        assert result.new == ("2612.00022", "2612.00023")
        assert result.updated == ("2612.00021",)
        stored = await b.papers.get("2612.00021")
        assert stored is not None and stored.upvotes == 9
        assert stored.sources == {"arxiv", "hf"}
        assert await b.papers.count() == 3
        conn = await asyncpg.connect(postgres_url)
        try:
            cats = await conn.fetchval("SELECT count(*) FROM paper_categories")
        finally:
            await conn.close()
        assert cats == 6  # cs.lg and cs.ai for each, once
