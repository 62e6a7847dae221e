"""The Tantivy search index of a SQLite store: same matches as FTS5, exact pages, crash safety."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.errors import SearchIndexBuilding
from bot.models import Paper
from bot.query.compile import CompiledQuery, compile_query
from bot.store import open_store, tantivy_index
from bot.store.common.tokens import TOKENIZE
from bot.store.search_index import IndexPage
from bot.store.sqlite import papers as sqlite_papers
from bot.store.sqlite.database import SqliteDatabase, index_directory
from bot.store.sqlite.database import open_store as open_sqlite
from bot.store.sqlite.fulltext import fulltext_kept
from bot.store.sqlite.search_sql import RANK_POOL
from bot.store.tantivy_index import STATE_FILE, TantivyIndex
from tests.store.contract.support import NOW, FakeClock

WORDS = [
    "causal",
    "graph",
    "network",
    "learning",
    "model",
    "diffusion",
    "transformer",
    "attention",
    "vision",
    "language",
    "robust",
    "sparse",
    "quantum",
    "test",
    "software",
    "survey",
    "deep",
    "neural",
    "random",
    "walk",
    "gpt-4",
    "café",
    "naïve",
]
CATEGORIES = ("cs.LG", "cs.CV", "cs.CL", "stat.ML", "math.PR", "quant-ph", "cs.SE")


def corpus(
    n: int,
    seed: int = 7,
    *,
    month: str = "2501",
    title_words: int = 7,
    abstract_words: int = 30,
    days: int = 900,
    undated: float = 0.0,
    upvotes: Sequence[int | None] = (None, None, 3, 40),
) -> list[Paper]:
    """Short texts from a small vocabulary: many matches, many equal scores, many dates (over
    `days`; a share `undated` with none: first seen at the clock's now)."""
    rng = random.Random(seed)
    papers = []
    for i in range(n):
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, title_words)))
        abstract = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, abstract_words)))
        dated = rng.random() >= undated if undated else True
        papers.append(
            Paper(
                id=f"{month}.{i:05d}",
                title=title.capitalize(),
                abstract=abstract,
                authors=(rng.choice(["Ada Smith", "Bo Nakamura", "Cy Müller", "Di Walker"]),),
                categories=tuple(rng.sample(CATEGORIES, rng.randint(1, 3))),
                published=NOW - timedelta(days=rng.randint(0, days)) if dated else None,
                upvotes=rng.choice(upvotes),
                sources=frozenset({"arxiv"}),
            )
        )
    return papers


QUERIES = [
    "causal",
    "causal graph",
    '"graph network"',
    "graph OR quantum",
    "(diffusion OR transformer) model",
    "causal -graph",
    "title:causal",
    "title:causal abstract:graph",
    "author:nakamura",
    "author:muller",
    "transform*",
    "gra*",
    "gpt-4",
    "cafe naive",
    "causal cat:cs.LG",
    "causal cat:cs",
    "model -cat:stat -cat:quant-ph",
    "network (cat:cs.CV OR cat:math.PR)",
    "deep neural -survey -test",
    "walker random walk",
]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    clock = FakeClock(NOW)
    async with open_store(str(tmp_path / "p.sqlite3"), clock=clock) as db:
        assert db.papers.index is not None and db.papers.index.ready
        await db.papers.upsert(corpus(400))
        yield db


async def fts5_ids(db: SqliteDatabase, text: str, **kw: object) -> tuple[int, set[str]]:
    """Every match through the FTS5 path (the index taken away for one call)."""
    index, db.papers.index = db.papers.index, None
    try:
        page = await db.papers.search(compile_query(text), limit=RANK_POOL, **kw)  # type: ignore[arg-type]
    finally:
        db.papers.index = index
    return page.total, {h.paper.id for h in page.hits}


def the_index(db: SqliteDatabase) -> TantivyIndex:
    assert isinstance(db.papers.index, TantivyIndex)
    return db.papers.index


def test_the_index_tokenizes_as_the_sqlite_store() -> None:
    sql = (Path(__file__).parents[3] / "bot/store/migrations/0001_initial.sql").read_text()
    assert f"tokenize = '{TOKENIZE}'" in sql


@pytest.mark.parametrize("text", QUERIES)
async def test_the_index_finds_what_fts5_finds(store: SqliteDatabase, text: str) -> None:
    page = await store.papers.search(compile_query(text), limit=500)
    total, expected = await fts5_ids(store, text)
    assert expected, text  # every query shape finds something in this corpus
    assert page.total == total == len(expected)
    assert {h.paper.id for h in page.hits} == expected
    since = NOW - timedelta(days=200)
    page = await store.papers.search(compile_query(text), limit=500, since=since, hf_only=True)
    total, expected = await fts5_ids(store, text, since=since, hf_only=True)
    assert page.total == total and {h.paper.id for h in page.hits} == expected


@pytest.mark.parametrize("text", QUERIES)
async def test_pages_are_the_exhaustive_ranking_in_a_tiny_pool(
    store: SqliteDatabase, text: str
) -> None:
    """A pool of 2 must widen until the cut is proven: every page equals the floor's."""
    index = the_index(store)
    query = compile_query(text)
    floor = index.search_now(
        query, now=NOW, limit=500, offset=0, since=None, hf_only=False, exhaustive=True
    )
    assert floor.total == len(floor.hits)
    scores = [h.score for h in floor.hits]
    assert scores == sorted(scores, reverse=True)
    for offset, limit in [(0, 10), (0, 1), (3, 4), (10, 10), (floor.total - 2, 5)]:
        page = index.search_now(
            query, now=NOW, limit=limit, offset=max(offset, 0), since=None, hf_only=False,
            first_pool=2,
        )  # fmt: skip
        assert page.total == floor.total
        assert page.hits == floor.hits[max(offset, 0) : max(offset, 0) + limit], (offset, limit)


async def test_a_paper_changed_or_deleted_behind_the_index_is_caught_up(
    store: SqliteDatabase,
) -> None:
    async with store.transaction():
        conn = store.connections.writer
        await conn.execute("UPDATE papers SET title = 'Zebra crossings' WHERE id = '2501.00001'")
        await conn.execute("DELETE FROM papers WHERE id = '2501.00002'")
    assert [h.paper.id for h in (await store.papers.search(compile_query("zebra"))).hits] == [
        "2501.00001"
    ]
    for text in QUERIES[:5]:
        page = await store.papers.search(compile_query(text), limit=500)
        assert "2501.00002" not in {h.paper.id for h in page.hits}
        assert page.total == (await fts5_ids(store, text))[0]
    # the applied log is pruned
    row = await store.connections.fetchone("SELECT count(*) FROM search_changes")
    assert row is not None and row[0] == 0


async def test_a_crash_before_the_index_commit_loses_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW)) as db:
        await db.papers.upsert(corpus(50))
        seq = the_index(db).seq
        db.papers.index = None  # the database commits; the index never hears of it
        await db.papers.upsert([corpus(60)[55]])
        async with db.transaction():
            await db.connections.writer.execute("DELETE FROM papers WHERE id = '2501.00003'")
    state = json.loads((index_directory(path) / STATE_FILE).read_text())
    assert state["seq"] == seq
    async with open_store(path, clock=FakeClock(NOW)) as db:
        index = the_index(db)
        assert index.seq > seq  # caught up at start
        for text in QUERIES:
            page = await db.papers.search(compile_query(text), limit=500)
            total, expected = await fts5_ids(db, text)
            assert page.total == total and {h.paper.id for h in page.hits} == expected


@pytest.mark.parametrize("damage", ["missing", "state", "schema", "files"])
async def test_a_missing_corrupt_or_foreign_index_is_rebuilt(tmp_path: Path, damage: str) -> None:
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW)) as db:
        await db.papers.upsert(corpus(80))
    directory = index_directory(path)
    if damage == "missing":
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()
    elif damage == "state":
        (directory / STATE_FILE).write_text("{not json")
    elif damage == "schema":
        (directory / STATE_FILE).write_text(json.dumps({"schema": 0, "seq": 10**9}))
    else:
        (directory / "meta.json").write_text("garbage")
    async with open_store(path, clock=FakeClock(NOW)) as db:
        index = the_index(db)
        assert index.ready
        assert "80 papers" in index.describe()
        for text in QUERIES[:6]:
            page = await db.papers.search(compile_query(text), limit=500)
            assert page.total == (await fts5_ids(db, text))[0]


async def test_a_large_database_searches_on_fts5_while_its_first_index_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that never had an index (FTS5 kept) answers on FTS5 while the index is built in
    the background; once it is in use, FTS5 is no longer kept."""
    path = str(tmp_path / "p.sqlite3")
    async with open_sqlite(path, clock=FakeClock(NOW), search_index=False) as db:
        await db.papers.upsert(corpus(40))
    monkeypatch.setattr(tantivy_index, "BUILD_INLINE_MAX", 10)
    async with open_store(path, clock=FakeClock(NOW)) as db:
        index = the_index(db)
        assert not index.ready and "building" in index.describe()
        assert "full text meanwhile" in index.describe()
        text = "causal graph"
        while_building = await db.papers.search(compile_query(text), limit=100)
        assert while_building.total > 0
        assert await fulltext_kept(db.connections)
        await index.wait_built()
        assert index.ready
        built = await db.papers.search(compile_query(text), limit=100)
        assert {h.paper.id for h in built.hits} == {h.paper.id for h in while_building.hits}
        for _ in range(100):  # the drop runs as soon as the build task has ended
            if not await fulltext_kept(db.connections):
                break
            await asyncio.sleep(0)
        assert not await fulltext_kept(db.connections)


async def test_a_lost_index_refuses_word_searches_until_it_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With FTS5 no longer kept, a missing index is rebuilt in the background and searches with
    words say so until it is done; searches by category alone still answer."""
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW)) as db:
        await db.papers.upsert(corpus(40))
        assert not await fulltext_kept(db.connections)
    shutil.rmtree(index_directory(path))
    monkeypatch.setattr(tantivy_index, "BUILD_INLINE_MAX", 10)
    async with open_store(path, clock=FakeClock(NOW)) as db:
        index = the_index(db)
        assert not index.ready and "wait for it" in index.describe()
        with pytest.raises(SearchIndexBuilding, match="being built"):
            await db.papers.search(compile_query("causal graph"), limit=100)
        by_category = await db.papers.search(compile_query("cat:cs.LG"), limit=100)
        assert by_category.total > 0
        # A recent window (a new feed's backfill) is answered by the matcher meanwhile.
        since = NOW - timedelta(days=200)
        window = await db.papers.search(
            compile_query("causal"), limit=100, since=since, sort="recent"
        )
        await index.wait_built()
        found = await db.papers.search(compile_query("causal graph"), limit=100)
        assert found.total > 0
        assert not await fulltext_kept(db.connections)
        total, ids = await fts5_ids(db, "causal", since=since, sort="recent")  # FTS5 made again
        assert 0 < window.total == total < 40
        assert {h.paper.id for h in window.hits} == ids
        dates = [h.paper.published for h in window.hits]
        assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]


async def test_a_batch_stored_in_a_transaction_is_indexed_when_it_commits(
    store: SqliteDatabase,
) -> None:
    """A poll stores its batch inside a transaction (with the deliveries it owes)."""
    index = the_index(store)
    before = index.seq
    new = Paper(id="2502.00001", title="Zebra crossings", sources=frozenset({"arxiv"}))
    async with store.transaction():
        await store.papers.upsert([new])
        assert index.seq == before  # nothing uncommitted reaches the index
    assert index.seq > before
    searcher_hits = index.search_now(
        compile_query("zebra"), now=NOW, limit=5, offset=0, since=None, hf_only=False
    )
    assert searcher_hits.total == 1


async def test_changed_categories_and_upvotes_reach_the_filters(store: SqliteDatabase) -> None:
    new = Paper(
        id="2502.00001", title="Zebra crossings", categories=("cs.CV",), published=NOW,
        sources=frozenset({"arxiv"}),
    )  # fmt: skip
    await store.papers.upsert([new])
    assert (await store.papers.search(compile_query("zebra cat:cs.CV"))).total == 1
    assert (await store.papers.search(compile_query("zebra"), hf_only=True)).total == 0
    await store.papers.upsert([replace(new, categories=("math.PR",), upvotes=5)])
    assert (await store.papers.search(compile_query("zebra cat:cs.CV"))).total == 0
    assert (await store.papers.search(compile_query("zebra cat:math"))).total == 1
    assert (await store.papers.search(compile_query("zebra"), hf_only=True)).total == 1


async def test_a_second_process_reads_the_index_the_first_one_writes(tmp_path: Path) -> None:
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW)) as first:
        await first.papers.upsert(corpus(30))  # the first store now holds the writer
        async with open_store(path, clock=FakeClock(NOW)) as second:
            assert the_index(second).ready
            zebra = Paper(id="2502.00001", title="Zebra crossings", sources=frozenset({"arxiv"}))
            await first.papers.upsert([zebra])
            page = await second.papers.search(compile_query("zebra"))
            assert [h.paper.id for h in page.hits] == ["2502.00001"]
            await second.papers.upsert([replace(zebra, id="2502.00002")])  # its own write
            assert (await first.papers.search(compile_query("zebra"))).total == 2


async def test_an_older_copy_of_the_database_rebuilds_the_index(tmp_path: Path) -> None:
    """A backup restored over the file: the index must not keep papers the copy lacks."""
    path = tmp_path / "p.sqlite3"
    async with open_store(str(path), clock=FakeClock(NOW)) as db:
        await db.papers.upsert(corpus(30))
        await db.backup(tmp_path / "backup.sqlite3")
        zebra = Paper(id="2502.00001", title="Zebra crossings", sources=frozenset({"arxiv"}))
        await db.papers.upsert([zebra])
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    (tmp_path / "backup.sqlite3").replace(path)
    async with open_store(str(path), clock=FakeClock(NOW)) as db:
        page = await db.papers.search(compile_query("zebra"))
        assert page.total == 0 and page.hits == ()


async def test_an_index_that_cannot_open_leaves_searches_on_fts5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: TantivyIndex, **kw: object) -> None:
        raise ValueError("no space left on device")

    monkeypatch.setattr(TantivyIndex, "open", broken)
    async with open_store(str(tmp_path / "p.sqlite3"), clock=FakeClock(NOW)) as db:
        assert db.papers.index is None
        await db.papers.upsert(corpus(20))
        total, _ = await fts5_ids(db, "causal")
        assert (await db.papers.search(compile_query("causal"))).total == total > 0


async def test_without_tantivy_searches_run_on_fts5_and_say_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.store.sqlite import database

    monkeypatch.setattr(database, "TANTIVY", False)
    monkeypatch.setattr(database, "_said_no_engine", False)
    for name in ("a", "b"):
        async with open_store(str(tmp_path / f"{name}.sqlite3"), clock=FakeClock(NOW)) as db:
            assert db.papers.index is None
            await db.papers.upsert(corpus(20))
            assert (await db.papers.search(compile_query("causal"))).total > 0
    said = [r for r in caplog.records if "tantivy package is not installed" in r.getMessage()]
    assert len(said) == 1
    assert not index_directory(str(tmp_path / "a.sqlite3")).exists()


async def _recorded(path: str) -> int:
    return int(json.loads((index_directory(path) / STATE_FILE).read_text())["seq"])


async def test_an_import_batch_lags_until_close_and_a_search_commits_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "BULK_MIN", 100)  # these batches count as an import's
    path = str(tmp_path / "p.sqlite3")
    papers = corpus(600)
    async with open_store(path, clock=FakeClock(NOW)) as db:
        await db.papers.upsert(papers[:300])
        await db.papers.upsert(papers[300:500])
        index = the_index(db)
        assert index.seq == 500 and await _recorded(path) == 0  # applied, not committed
        row = await db.connections.fetchone("SELECT count(*) FROM search_changes")
        assert row is not None and row[0] == 500  # the log stays until the commit
        # A search (no lag) commits what the import applied, then answers from it.
        for text in QUERIES[:5]:
            page = await db.papers.search(compile_query(text), limit=500)
            total, expected = await fts5_ids(db, text)
            assert page.total == total and {h.paper.id for h in page.hits} == expected
        assert await _recorded(path) == 500
        await db.papers.upsert(papers[500:])
        assert await _recorded(path) == 500
    assert await _recorded(path) == 600  # close commits and records the rest
    async with open_store(path, clock=FakeClock(NOW)) as db:
        row = await db.connections.fetchone("SELECT count(*) FROM search_changes")
        assert row is not None and row[0] == 0
        for text in QUERIES:
            page = await db.papers.search(compile_query(text), limit=600)
            total, expected = await fts5_ids(db, text)
            assert page.total == total and {h.paper.id for h in page.hits} == expected


async def test_an_import_commits_its_index_every_bulk_commit_papers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "BULK_MIN", 100)
    monkeypatch.setattr(tantivy_index, "BULK_COMMIT", 250)
    path = str(tmp_path / "p.sqlite3")
    papers = corpus(500)
    async with open_store(path, clock=FakeClock(NOW)) as db:
        await db.papers.upsert(papers[:200])
        assert await _recorded(path) == 0
        await db.papers.upsert(papers[200:400])  # 400 >= 250: committed, log pruned
        assert await _recorded(path) == 400
        row = await db.connections.fetchone("SELECT count(*) FROM search_changes")
        assert row is not None and row[0] == 0
        db.papers.index = None  # a crash: the index never hears of the last batch
        await db.papers.upsert(papers[400:])
    async with open_store(path, clock=FakeClock(NOW)) as db:
        assert the_index(db).seq == 500  # caught up from the log at start
        page = await db.papers.search(compile_query("causal"), limit=500)
        assert page.total == (await fts5_ids(db, "causal"))[0]


async def test_a_key_used_again_after_a_delete_replaces_the_old_document(tmp_path: Path) -> None:
    """New keys skip the delete before their add; a reused one (SQLite reuses the top rowid
    after a delete) must not, or the index would hold the deleted paper's words too."""
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW)) as db:
        await db.papers.upsert([replace(corpus(1)[0], id="2501.00001", title="Zebra stripes")])
        async with db.transaction():
            await db.connections.writer.execute("DELETE FROM papers WHERE id = '2501.00001'")
            await db.papers.upsert([replace(corpus(1)[0], id="2501.00002", title="Lion manes")])
        row = await db.connections.fetchone("SELECT pk FROM papers WHERE id = '2501.00002'")
        assert row is not None and row[0] == 1  # the same key
        assert (await db.papers.search(compile_query("zebra"))).total == 0
        assert (await db.papers.search(compile_query("lion"))).total == 1
    async with open_store(path, clock=FakeClock(NOW)) as db:  # a fresh process asks the index
        async with db.transaction():
            await db.connections.writer.execute("DELETE FROM papers WHERE id = '2501.00002'")
            await db.papers.upsert([replace(corpus(1)[0], id="2501.00003", title="Tiger tails")])
        assert (await db.papers.search(compile_query("lion"))).total == 0
        assert (await db.papers.search(compile_query("tiger"))).total == 1


async def test_a_cancelled_catch_up_keeps_the_index_locked_until_its_thread_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search abandoned mid catch-up must not let another use of the writer start while a
    thread still holds it (Tantivy: "Already borrowed"); the next catch-up applies the rest."""
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW)) as db:
        index = the_index(db)
        await db.papers.upsert(corpus(20))
        started, release = threading.Event(), threading.Event()
        replace_docs = TantivyIndex._replace

        def slow_replace(self: TantivyIndex, *args: Any) -> None:
            started.set()
            release.wait(30)
            replace_docs(self, *args)

        monkeypatch.setattr(TantivyIndex, "_replace", slow_replace)
        db.papers.index = None  # the write commits; the index does not hear of it yet
        await db.papers.upsert([replace(corpus(20)[3], title="Zebra crossings")])
        db.papers.index = index
        task = asyncio.create_task(index.catch_up())
        assert await asyncio.to_thread(started.wait, 30)
        task.cancel()
        await asyncio.sleep(0)  # the cancellation is delivered to the catch-up
        assert index._lock.locked() and not task.done()  # still waiting for its thread
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not index._lock.locked()
        monkeypatch.setattr(TantivyIndex, "_replace", replace_docs)
        await index.catch_up()  # the writer is usable: the change is applied and committed
        hits = (await db.papers.search(compile_query("zebra"))).hits
        assert [h.paper.id for h in hits] == [corpus(20)[3].id]


PHRASES = [
    '"graph network"',
    '"causal graph" -survey',
    '"random walk" cat:cs.LG',
    "author:nakamura",
]


@pytest.mark.parametrize("text", PHRASES)
@pytest.mark.parametrize("tier_max", [2_500, 3])  # 3: the titles are too many to list
async def test_a_phrase_ranked_by_the_counting_pass_pages_as_the_floor(
    store: SqliteDatabase, monkeypatch: pytest.MonkeyPatch, text: str, tier_max: int
) -> None:
    """The counting pass's best, kept when in the listed title tier, give the floor's pages
    with any pool, also when the listing finds too many titles and the tier gets its pass."""
    monkeypatch.setattr(tantivy_index, "TOP_TIER_MAX", tier_max)
    index = the_index(store)
    query = compile_query(text)
    floor = index.search_now(
        query, now=NOW, limit=500, offset=0, since=None, hf_only=False, exhaustive=True
    )
    assert floor.total >= 3
    windows = [(0, 10), (0, 1), (3, 4), (10, 10), (floor.total - 2, 5)]
    assert_windows_of_the_floor(index, query, floor, (1, 2, 5, 50, 500), windows)


def assert_windows_of_the_floor(
    index: TantivyIndex,
    query: CompiledQuery,
    floor: IndexPage,
    pools: Sequence[int],
    windows: Sequence[tuple[int, int]],
) -> None:
    """Each (offset, limit) window, with each first pool, is the floor's slice, total exact."""
    for pool in pools:
        for offset, limit in windows:
            page = index.search_now(
                query, now=NOW, limit=limit, offset=offset, since=None, hf_only=False,
                first_pool=pool,
            )  # fmt: skip
            assert page.total == floor.total
            assert page.hits == floor.hits[offset : offset + limit], (pool, offset, limit)


async def test_a_phrase_with_few_titles_needs_no_pass_of_its_own(
    store: SqliteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counting pass ranked every match (400 papers, a pool of 500): the title tier and
    the rest are answered from it, without another ranking pass."""
    index = the_index(store)
    passes: list[int] = []
    ranked = tantivy_index._hits

    def counted(*args: Any) -> Any:
        passes.append(1)
        return ranked(*args)

    monkeypatch.setattr(tantivy_index, "_hits", counted)
    query = compile_query('"graph network"')
    page = index.search_now(query, now=NOW, limit=10, offset=0, since=None, hf_only=False)
    assert len(page.hits) == 10 and passes == []
    monkeypatch.setattr(tantivy_index, "PHRASE_BOUND_MAX", 0)  # not listed: the tier's own pass
    assert index.search_now(query, now=NOW, limit=10, offset=0, since=None, hf_only=False) == page
    assert passes != []
