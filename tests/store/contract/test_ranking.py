"""Relevance on real papers: a title holding every query word beats one holding some of them.

Backend-neutral; the same pages with SQLite's rank pool narrowed are in
tests/store/sqlite/test_ranking_pool.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.models import Paper
from bot.query.compile import compile_query
from bot.services.importer import import_lines
from bot.store.interfaces import Database
from tests.store.contract.support import FakeClock

# Real arXiv metadata (CC0): the papers of the recorded arXiv API responses, and well-known
# ML papers with their exact titles and the opening sentences of their abstracts.
REAL = Path(__file__).parents[2] / "fixtures" / "real_papers.jsonl"
NOW = datetime(2026, 4, 12, tzinfo=UTC)


@pytest.fixture
def at_now(clock: FakeClock) -> FakeClock:
    clock.now = NOW
    return clock


@pytest.fixture
async def real(db: Database, at_now: FakeClock) -> Database:
    report = await import_lines(db, REAL.read_text("utf-8").splitlines())
    assert report.new == 26 and report.bad == 0
    return db


async def ranked(store: Database, text: str, limit: int = 10, offset: int = 0) -> list[str]:
    page = await store.papers.search(compile_query(text), limit=limit, offset=offset)
    return [hit.paper.id for hit in page.hits]


@pytest.mark.parametrize(
    ("query", "first"),
    [
        # "Study Paper on Test Case generation for GUI Based Testing" has only "testing" in its
        # title but "software" five times in its abstract; the title with both comes first.
        ("software testing", ["2302.03287"]),
        # BERT's title has "language" only ("a new language representation model" in the
        # abstract); both titles with the two words come first.
        ("language models", ["2001.08361|2106.09685", "2001.08361|2106.09685", "1810.04805"]),
        # the phrase in the title beats the words apart ("Deep Residual Learning"), which beats
        # one word in the title and the other in the abstract
        ("deep learning", ["2202.12139", "1512.03385", "1409.3215"]),
        ("test generation", ["2204.08348", "1202.4527"]),
        ('"test case" generation', ["1202.4527"]),
        ("neural networks", ["1409.3215"]),
        ("automated testing", ["2204.08348", "1812.11470"]),
        ("image synthesis", ["2112.10752"]),
        ("diffusion models", ["2006.11239|2112.10752", "2006.11239|2112.10752"]),
        ("random walks", ["1605.08386"]),
        ("quantum language", ["quant-ph/0201082"]),
        ("hot jupiters transit", ["astro-ph/0601001"]),
        ("web testing survey", ["2503.05378"]),
        ("test case prioritisation", ["2405.13786"]),
        ("(diffusion OR probabilistic) models", ["2006.11239", "2112.10752"]),
        ("testing -gui", ["2202.12139"]),
    ],
)
async def test_titles_holding_every_word_rank_first_on_real_papers(
    real: Database, query: str, first: list[str]
) -> None:
    got = await ranked(real, query)
    for position, wanted in enumerate(first):
        assert got[position] in wanted.split("|"), (query, got)


async def test_a_title_with_every_word_beats_any_abstract(real: Database) -> None:
    """The abstract-heavy paper gets many more mentions; the titles still decide."""
    heavy = Paper(
        id="2604.00001",
        title="Education for practitioners",  # neither word in the title
        abstract=" ".join(["Software testing of software for testing software."] * 30),
        published=NOW - timedelta(days=1),
        sources=frozenset({"arxiv"}),
    )
    half = replace(heavy, id="2604.00002", title="Software practice at scale")  # one word
    await real.papers.upsert([heavy, half])
    got = await ranked(real, "software testing")
    assert got[0] == "2302.03287"
    assert got.index("2604.00002") > 0 and got.index("2604.00001") > got.index("2604.00002")


async def test_words_close_together_in_a_title_beat_words_far_apart(
    db: Database, at_now: FakeClock
) -> None:
    def paper(pid: str, title: str) -> Paper:
        return Paper(id=pid, title=title, abstract="A study.", sources=frozenset({"arxiv"}))

    await db.papers.upsert(
        [
            # shorter titles score higher in bm25; nearness must outweigh that
            paper("2604.00001", "Causal inference without any discovery"),  # far apart
            paper("2604.00002", "Discovery of causal structure in time series"),  # close
            paper("2604.00003", "Scalable causal discovery for large time series data"),
            paper("2604.00004", "Causal effects"),
        ]
    )
    got = await ranked(db, "causal discovery")
    assert got == ["2604.00003", "2604.00002", "2604.00001"]


def tiered_papers() -> list[Paper]:
    """30 matches of "graph networks" in four kinds of title, older the higher the number."""
    papers = []
    for n in range(30):
        title = ["Graph networks", "Graph learning", "Networks on graphs", "Learning"][n % 4]
        papers.append(
            Paper(
                id=f"2604.{n:05d}",
                title=f"{title} {n}",
                abstract=" ".join(["graph networks"] * (30 - n)) + " for learning.",
                published=NOW - timedelta(days=n * 20),
                sources=frozenset({"arxiv"}),
            )
        )
    return papers


async def check_pages_follow_the_tiers(
    store: Database, limit: int, pool: int | None, narrow_pool: Callable[[int], None]
) -> None:
    """Page through "graph networks" and compare with the whole ranking. With `pool`,
    `narrow_pool(pool)` (a backend's knob) then bounds the ranked matches to the newest ones."""
    papers = tiered_papers()
    await store.papers.upsert(papers)
    whole = await store.papers.search(compile_query("graph networks"), limit=30)
    if pool is not None:  # only the newest matches are ranked, tiers still exact in them
        narrow_pool(pool)
    pages: list[str] = []
    for offset in range(0, 30, limit):
        if pool is not None and offset + limit > pool:
            break  # a deeper page widens the pool to reach it
        pages += await ranked(store, "graph networks", limit=limit, offset=offset)
    newest = {p.id for p in papers[-(pool or 30) :]}
    expected = [h.paper.id for h in whole.hits if h.paper.id in newest]
    assert pages == expected[: len(pages)] and len(pages) >= (pool or 30) - limit + 1
    scores = [h.score for h in whole.hits]
    assert scores == sorted(scores, reverse=True)
    tiers = [int(s) for s in scores]
    # the phrase (0, 4, ...), then both words close but reversed (2, 6, ...), then the rest
    assert tiers == sorted(tiers, reverse=True) and tiers[0] == 3 and tiers[-1] == 0
    assert [int(h.paper.id[-2:]) % 4 for h in whole.hits[:8]] == [0] * 8


def _unbounded(pool: int) -> None:
    raise AssertionError("the contract ranks every match")


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
async def test_pages_follow_the_tiers_exactly(db: Database, at_now: FakeClock, limit: int) -> None:
    """The cut that skips candidates must never skip one that belongs on the page."""
    await check_pages_follow_the_tiers(db, limit, None, _unbounded)


async def test_recent_and_upvote_orders_ignore_title_tiers(real: Database) -> None:
    page = await real.papers.search(compile_query("software testing"), sort="recent")
    published = [h.paper.published for h in page.hits]
    assert published == sorted(published, key=lambda d: d or NOW, reverse=True)
