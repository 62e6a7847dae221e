"""Search through the repository: what matches, how it ranks, what it counts, how it pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.query.compile import compile_query
from bot.store.interfaces import Database
from tests.store.contract.support import NOW, paper


@pytest.fixture
async def corpus(db: Database) -> Database:
    await db.papers.upsert(
        [
            paper("2401.00001", "Causal discovery", categories=("cs.LG",), upvotes=3),
            paper(
                "2401.00002",
                "Graph networks",
                abstract="We study causal effects.",
                categories=("stat.ML", "cs.LG"),
                published=NOW - timedelta(days=3),
            ),
            paper("2401.00003", "Vision transformers", categories=("cs.CV",), upvotes=40),
            paper("2401.00004", "Old causal work", categories=("cs.AI",),
                  published=NOW - timedelta(days=400)),
        ]
    )  # fmt: skip
    return db


def ids(page: object) -> list[str]:
    return [hit.paper.id for hit in page.hits]  # type: ignore[attr-defined]


async def test_a_title_match_outranks_an_abstract_match(corpus: Database) -> None:
    page = await corpus.papers.search(compile_query("causal"))
    assert page.total == 3
    assert ids(page)[0] == "2401.00001"
    assert set(ids(page)) == {"2401.00001", "2401.00002", "2401.00004"}
    assert all(hit.score > 0 for hit in page.hits)


async def test_categories_filter_words_and_stand_alone(corpus: Database) -> None:
    assert ids(await corpus.papers.search(compile_query("causal cat:stat.ML"))) == ["2401.00002"]
    assert ids(await corpus.papers.search(compile_query("causal -cat:stat"))) == [
        "2401.00001",
        "2401.00004",
    ]
    only = await corpus.papers.search(compile_query("cat:cs.LG"), sort="recent")
    assert only.total == 2 and ids(only) == ["2401.00001", "2401.00002"]
    archive = await corpus.papers.search(compile_query("cat:cs"), sort="recent")
    assert archive.total == 4 and len(set(ids(archive))) == 4


async def test_since_and_hf_only_filter_and_sorts_order(corpus: Database) -> None:
    recent = await corpus.papers.search(compile_query("causal"), since=NOW - timedelta(days=30))
    assert sorted(ids(recent)) == ["2401.00001", "2401.00002"]
    hf = await corpus.papers.search(compile_query("cat:cs"), hf_only=True, sort="upvotes")
    assert ids(hf) == ["2401.00003", "2401.00001"]
    newest = await corpus.papers.search(compile_query("causal"), sort="recent")
    assert ids(newest) == ["2401.00001", "2401.00002", "2401.00004"]


async def test_pages_share_one_total_and_never_overlap(corpus: Database) -> None:
    query = compile_query("causal")
    first = await corpus.papers.search(query, limit=2)
    second = await corpus.papers.search(query, limit=2, offset=2)
    assert first.total == second.total == 3
    assert len(first.hits) == 2 and len(second.hits) == 1
    assert not set(ids(first)) & set(ids(second))


async def test_nothing_found_is_an_empty_page(corpus: Database) -> None:
    for text in ("quantum", "cat:q-bio.NC"):
        page = await corpus.papers.search(compile_query(text))
        assert page.total == 0 and page.hits == ()


async def test_categories_are_replaced_when_they_change(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001", categories=("cs.CV",))])
    await db.papers.upsert([paper("2401.00001", categories=("cs.CL", "cs.LG"))])
    hits_cv = await db.papers.search(compile_query("cat:cs.CV"))
    hits_cl = await db.papers.search(compile_query("cat:cs.CL"))
    assert hits_cv.total == 0 and hits_cl.total == 1


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    """Both backends' count cap and rank pool at 5, PostgreSQL's key windows at 3 keys."""
    from bot.store.postgres import papers as pg_papers
    from bot.store.sqlite import search_sql

    monkeypatch.setattr(search_sql, "COUNT_CAP", 5)
    monkeypatch.setattr(search_sql, "RANK_POOL", 5)
    monkeypatch.setattr(pg_papers, "RANK_POOL", 5)
    monkeypatch.setattr(pg_papers, "_FIRST_WINDOW", 3)
    return 5


@pytest.mark.parametrize("matches", [4, 5, 6, 11])
@pytest.mark.parametrize("sort", ["relevance", "recent"])
async def test_words_count_exactly_up_to_the_cap_then_say_more(
    db: Database, small_cap: int, matches: int, sort: str
) -> None:
    await db.papers.upsert(
        [paper(f"2401.{n:05d}", f"Causal study {n}" if n <= matches else f"Other {n}",
               categories=("cs.LG",), published=NOW - timedelta(days=n)) for n in range(1, 12)]
    )  # fmt: skip
    page = await db.papers.search(compile_query("causal"), limit=3, sort=sort)  # type: ignore[arg-type]
    assert len(page.hits) == 3
    index = getattr(db.papers, "index", None)
    if index is not None and (sort == "relevance" or hasattr(index, "search_recent")):
        # A search index ranks and counts every match (issue 19): no cap; in other orders
        # too when it answers them (the SQLite store's `SearchIndex`).
        assert (page.total, page.total_exact) == (matches, True)
    elif matches <= small_cap:
        assert (page.total, page.total_exact) == (matches, True)
    else:
        assert (page.total, page.total_exact) == (small_cap, False)
    # A page past the cap is still found and counted up to its own end.
    deep = await db.papers.search(compile_query("causal"), limit=3, offset=9, sort=sort)  # type: ignore[arg-type]
    assert len(deep.hits) == max(0, min(3, matches - 9))
    # Categories alone are always counted exactly.
    listing = await db.papers.search(compile_query("cat:cs.LG"), limit=3, sort=sort)  # type: ignore[arg-type]
    assert (listing.total, listing.total_exact) == (11, True)


async def test_with_no_index_build_under_way_searches_with_words_run_at_once(
    db: Database,
) -> None:
    await db.papers.upsert([paper("2501.00001", "Causal graphs")])
    assert await db.papers.search_index_built()
    page = await db.papers.search(compile_query("causal"))
    assert [h.paper.id for h in page.hits] == ["2501.00001"]
