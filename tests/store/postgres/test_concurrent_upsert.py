"""Two writers (two pools, as two processes of a cluster) upserting the same new paper at once:
the second one's data lands in the same upsert, merged by the usual rules, not at the next poll."""

from __future__ import annotations

import asyncio

import asyncpg

from bot.models import Paper, UpsertResult
from bot.query import compile_query
from bot.store.postgres.database import PostgresDatabase, open_postgres
from tests.store.contract.support import paper

ARXIV = paper("2612.00001", "Racing writers", abstract="Both sources at once.", upvotes=None)
HF = Paper(
    id="2612.00001",
    title="Racing writers",
    upvotes=7,
    github_repo="https://github.com/x/race",
    ai_keywords=("race",),
    categories=("cs.DC",),
    sources=frozenset({"huggingface"}),
)


async def _blocked_on_a_lock(url: str) -> None:
    """Return once some session of the database waits for a row lock (B behind A's insert)."""
    conn = await asyncpg.connect(url)
    try:
        async with asyncio.timeout(20):
            while not await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ):
                await asyncio.sleep(0.01)  # polling the server's own state, not a timing guess
    finally:
        await conn.close()


async def _race(
    url: str, a: PostgresDatabase, b: PostgresDatabase, second: Paper = HF
) -> tuple[UpsertResult, ...]:
    """A inserts and holds its transaction open; B reads (no row yet), inserts, must wait for
    A; A commits; B finds A's row in its way and has to merge into it."""
    inserted, release = asyncio.Event(), asyncio.Event()

    async def writer_a() -> UpsertResult:
        async with a.transaction():
            result = await a.papers.upsert([ARXIV])
            inserted.set()
            await release.wait()
        return result

    task_a = asyncio.create_task(writer_a())
    await inserted.wait()
    task_b = asyncio.create_task(b.papers.upsert([second]))
    await _blocked_on_a_lock(url)
    release.set()
    return await task_a, await task_b


async def test_the_second_writer_of_a_new_paper_merges_into_the_first(postgres_url: str) -> None:
    async with open_postgres(postgres_url) as a, open_postgres(postgres_url) as b:
        first, second = await _race(postgres_url, a, b)
        assert first.new == ("2612.00001",)
        # Not new to the store (A inserted it), but a change feeds act on: a new source, votes.
        assert second.new == () and second.updated == ("2612.00001",)
        assert second.changed == ("2612.00001",) and second.unchanged == 0
        stored = await b.papers.get("2612.00001")
        assert stored is not None and await b.papers.count() == 1
        assert stored.sources == {"arxiv", "huggingface"}
        assert stored.upvotes == 7 and stored.github_repo == "https://github.com/x/race"
        assert stored.abstract == "Both sources at once."  # kept from arXiv
        assert stored.authors == ("Ada Lovelace", "Alan Turing")
        assert stored.categories == ("cs.DC",)  # the later writer's list wins, as in a merge
        hits = await a.papers.search(compile_query("cat:cs.DC racing"))
        assert [h.paper.id for h in hits.hits] == ["2612.00001"]
        assert (await a.papers.search(compile_query("cat:cs.LG"))).total == 0


async def test_a_raced_merge_indexes_the_merged_text(postgres_url: str) -> None:
    """B brings a new title and no abstract: the merged row's words are its title and A's
    abstract, text neither writer gave whole, and search finds it by both."""
    revised = Paper(id="2612.00001", title="Racing writers revised", sources=frozenset({"hf"}))
    async with open_postgres(postgres_url) as a, open_postgres(postgres_url) as b:
        _, second = await _race(postgres_url, a, b, revised)
        assert second.changed == ("2612.00001",)
        for text in ("revised", "sources", "revised sources"):
            assert (await a.papers.search(compile_query(text))).total == 1, text
        again = await asyncio.gather(a.papers.upsert([revised]), b.papers.upsert([revised]))
        assert all(r.new == () and r.changed == () and r.unchanged == 1 for r in again)
