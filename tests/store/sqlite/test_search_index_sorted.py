"""Word searches newest first and most upvoted first, answered by the Tantivy index (issue 19).

The FTS5 path (the index taken away for one call) is the reference: the same matches and totals,
the same sort keys at every place of a page; the papers sharing a sort key may come in another
order (the index breaks ties by its own relevance, then the key), so those are compared as sets.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.models import Paper, SearchHit, SearchPage, SortOrder
from bot.query.compile import compile_query
from bot.store import open_store
from bot.store.sqlite.database import SqliteDatabase
from bot.store.tantivy_index import TantivyIndex
from tests.store.contract.support import NOW, FakeClock
from tests.store.sqlite.test_search_index import QUERIES, corpus

MORE_QUERIES = [
    '"causal graph"',
    "title:causal -walk",
    "net*",
    "zyzzyva",  # a word no paper has: nothing
]
# (offset, limit) pages asked of every query; past the end too.
PAGES = [(0, 10), (0, 1), (4, 3), (7, 25), (55, 2), (500, 5)]
ALL = 1_000  # more than the corpus: one page holds every match
SORTS: tuple[SortOrder, ...] = ("recent", "upvotes")


def tied_corpus(n: int, seed: int = 19) -> list[Paper]:
    """A small vocabulary, and few dates: long runs of papers that appeared at the same second
    (a tenth have no date at all: first seen at the clock's now, as the papers of today are),
    and upvotes with ties, or none."""
    return corpus(
        n, seed, month="2502", title_words=6, abstract_words=25, days=30, undated=0.1,
        upvotes=(None, None, None, 0, 3, 3, 40),
    )  # fmt: skip


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    async with open_store(str(tmp_path / "p.sqlite3"), clock=FakeClock(NOW)) as db:
        assert db.papers.index is not None and db.papers.index.ready
        await db.papers.upsert(tied_corpus(400))
        yield db


def the_index(db: SqliteDatabase) -> TantivyIndex:
    assert isinstance(db.papers.index, TantivyIndex)
    return db.papers.index


async def fts5(db: SqliteDatabase, text: str, **kw: Any) -> SearchPage:
    """A page through the FTS5 path (the index taken away for one call)."""
    index, db.papers.index = db.papers.index, None
    try:
        return await db.papers.search(compile_query(text), **kw)
    finally:
        db.papers.index = index


def appeared(paper: Paper) -> datetime:
    found = paper.published or paper.first_seen
    assert found is not None
    return found


def sort_key(sort: SortOrder, paper: Paper) -> tuple[int, datetime]:
    """What the order sorts on (descending); papers with equal keys may come in any order."""
    if sort == "upvotes":
        return (paper.upvotes if paper.upvotes is not None else -1, appeared(paper))
    return (0, appeared(paper))


def runs(sort: SortOrder, papers: Sequence[Paper]) -> list[tuple[tuple[int, datetime], set[str]]]:
    """The papers grouped by equal sort keys, in order."""
    return [
        (key, {p.id for p in group})
        for key, group in itertools.groupby(papers, key=lambda p: sort_key(sort, p))
    ]


SEARCHES = [
    (text, filters)
    for text in QUERIES + MORE_QUERIES
    for filters in ({}, {"since": NOW - timedelta(days=12)}, {"hf_only": True})
]


@pytest.mark.parametrize("sort", ["recent", "upvotes"])
async def test_pages_match_the_fts5_order_up_to_ties(
    store: SqliteDatabase, sort: SortOrder
) -> None:
    found_some = 0
    for text, filters in SEARCHES:
        query = compile_query(text)
        whole = await store.papers.search(query, limit=ALL, sort=sort, **filters)
        reference = await fts5(store, text, limit=ALL, sort=sort, **filters)
        assert whole.total == reference.total == len(whole.hits), (text, filters)
        index_order = [h.paper for h in whole.hits]
        reference_order = [h.paper for h in reference.hits]
        # The same sort keys place by place, and the same papers under each key.
        assert runs(sort, index_order) == runs(sort, reference_order), (text, filters)
        keys = [sort_key(sort, p) for p in index_order]
        assert keys == sorted(keys, reverse=True)
        found_some += bool(whole.total)
        for offset, limit in PAGES:
            page = await store.papers.search(
                query, limit=limit, offset=offset, sort=sort, **filters
            )
            theirs = await fts5(store, text, limit=limit, offset=offset, sort=sort, **filters)
            assert page.total == theirs.total == whole.total
            # Pages are slices of the one order: no gap, no repeat, whatever their size.
            assert page.hits == whole.hits[offset : offset + limit], (text, filters, offset)
            assert [sort_key(sort, h.paper) for h in page.hits] == [
                sort_key(sort, h.paper) for h in theirs.hits
            ]
    assert found_some > len(SEARCHES) // 2


async def pk_of(db: SqliteDatabase) -> dict[str, int]:
    rows = await db.connections.fetchall("SELECT id, pk FROM papers")
    return {row["id"]: int(row["pk"]) for row in rows}


@pytest.mark.parametrize("text", ["causal", "graph OR quantum", '"graph network"', "title:causal"])
async def test_ties_in_time_go_by_the_index_relevance_then_the_key(
    store: SqliteDatabase, text: str
) -> None:
    """Within one second of appearance: the relevance search's score, higher first; the same
    scores, the higher key first. Each hit's score is the one the relevance search gives it."""
    index, query = the_index(store), compile_query(text)
    pks = await pk_of(store)
    page = await store.papers.search(query, limit=ALL, sort="recent")
    relevance = index.search_now(
        query, now=NOW, limit=ALL, offset=0, since=None, hf_only=False, exhaustive=True
    )
    scores = {hit.pk: hit.score for hit in relevance.hits}
    assert len(scores) == page.total
    order = [(appeared(h.paper), h.score, pks[h.paper.id]) for h in page.hits]
    assert order == sorted(order, reverse=True)
    assert all(h.score == scores[pks[h.paper.id]] for h in page.hits)
    # The corpus has ties to break: papers that share a second, some of them a score too.
    assert len({at for at, _, _ in order}) < len(order)
    if text == "causal":
        assert len({(at, score) for at, score, _ in order}) < len(order)
    # A first pool of 2 must grow until each tie is settled: the same pages.
    for offset, limit in [(0, 3), (2, 1), (5, 9), (11, 40)]:
        small = index.search_recent_now(
            query, now=NOW, limit=limit, offset=offset, since=None, hf_only=False, first_pool=2
        )
        assert small.total == page.total
        assert [hit.pk for hit in small.hits] == [
            pks[h.paper.id] for h in page.hits[offset : offset + limit]
        ]


async def test_paging_one_by_one_walks_the_whole_order(store: SqliteDatabase) -> None:
    """One paper a page, then three: inside a long run of one second, across its edges."""
    query = compile_query("causal OR graph")
    for sort in SORTS:
        whole = await store.papers.search(query, limit=ALL, sort=sort)
        for limit in (1, 3):
            walked: list[SearchHit] = []
            for offset in range(0, whole.total + limit, limit):
                page = await store.papers.search(query, limit=limit, offset=offset, sort=sort)
                assert page.total == whole.total
                walked += page.hits
            assert walked == list(whole.hits), (sort, limit)


async def test_upvoted_papers_come_first_then_the_newest(store: SqliteDatabase) -> None:
    page = await store.papers.search(compile_query("causal"), limit=ALL, sort="upvotes")
    upvoted = [h.paper for h in page.hits if h.paper.upvotes is not None]
    assert [h.paper for h in page.hits[: len(upvoted)]] == upvoted
    assert 0 < len(upvoted) < page.total
    rest = [appeared(h.paper) for h in page.hits[len(upvoted) :]]
    assert rest == sorted(rest, reverse=True)
    assert all(h.score > 0.0 for h in page.hits)  # relevance, for every hit


async def test_a_paper_deleted_behind_the_index_is_never_shown(
    store: SqliteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, query = the_index(store), compile_query("causal")
    before = {sort: await store.papers.search(query, limit=ALL, sort=sort) for sort in SORTS}
    upvoted = next(h.paper.id for h in before["upvotes"].hits if h.paper.upvotes is not None)
    newest = before["recent"].hits[0].paper.id

    async def stays_behind(*, lag: bool = False) -> int:
        return 0

    monkeypatch.setattr(index, "catch_up", stays_behind)  # the index still holds them
    async with store.transaction():
        for paper_id in {upvoted, newest}:
            await store.connections.writer.execute("DELETE FROM papers WHERE id = ?", (paper_id,))
    for sort, earlier in before.items():
        page = await store.papers.search(query, limit=ALL, sort=sort)
        shown = [h.paper.id for h in page.hits]
        assert upvoted not in shown and newest not in shown
        assert shown == [h.paper.id for h in earlier.hits if h.paper.id not in {upvoted, newest}]
        first = await store.papers.search(query, limit=5, sort=sort)
        assert upvoted not in {h.paper.id for h in first.hits}
        assert newest not in {h.paper.id for h in first.hits}


async def test_a_title_match_beats_a_stronger_author_match_of_the_same_second(
    tmp_path: Path,
) -> None:
    """The title tier first, as the relevance order has it, even when the BM25 says otherwise:
    a word once in a very long title scores less than an author of that name."""
    day = timedelta(days=1)
    long_title = "Causal " + " ".join(f"filler{n}" for n in range(60))
    papers = [
        Paper(id="2503.00001", title="Causal newest", published=NOW),
        Paper(id="2503.00002", title=long_title, published=NOW - day),
        Paper(id="2503.00003", title="Other", authors=("Causal",), published=NOW - day),
        Paper(id="2503.00004", title="Causal oldest", published=NOW - 2 * day),
    ]
    async with open_store(str(tmp_path / "p.sqlite3"), clock=FakeClock(NOW)) as db:
        await db.papers.upsert(papers)
        query = compile_query("causal")
        page = await db.papers.search(query, limit=10, sort="recent")
        assert [h.paper.id for h in page.hits] == [p.id for p in papers]  # a run between two
        title, author = page.hits[1].score, page.hits[2].score  # tier + squashed BM25 x recency
        assert title > 1.0 > author
        assert title - 1.0 < author  # the same recency: the author's BM25 is the higher
        inside = await db.papers.search(query, limit=2, offset=1, sort="recent")
        assert inside.hits == page.hits[1:3]  # the run alone
