"""like: and about: with the real model: searches rank by meaning, feeds filter by thresholds."""

from __future__ import annotations

import pytest

from bot.semantic import INSTALL_HINT, semantic_available

if not semantic_available():
    pytest.skip(INSTALL_HINT, allow_module_level=True)

import functools
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.cli import main
from bot.errors import QueryError
from bot.models import Paper
from bot.query.compile import compile_query
from bot.services.library import Library, keep_papers
from bot.services.semantic import Semantic
from bot.store import open_store
from bot.store.interfaces import Database
from tests.factories import make_feed_spec
from tests.semantic.support import FIXTURE, real_papers

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
DDPM, LATENT_DIFFUSION, SDE = "2006.11239", "2112.10752", "2011.13456"
HOT_JUPITERS = "astro-ph/0601001"
GUI_TESTING, GUI_REVIEW = "1202.4527", "1812.11470"


@functools.cache
def recent_papers() -> tuple[Paper, ...]:
    """The real papers as if they had just appeared (feeds only take recent papers)."""
    both = frozenset({"arxiv", "huggingface"})
    return tuple(
        replace(p, published=NOW - timedelta(hours=3), sources=both) for p in real_papers()
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_store(str(tmp_path / "p.sqlite3"), clock=lambda: NOW) as db:
        yield db


@pytest.fixture
async def library(store: Database, real_embedder: Any) -> Library:
    semantic = Semantic(store, real_embedder)
    await store.papers.upsert(real_papers())
    await semantic.embed_stored()
    return Library(store, lambda: NOW, semantic=semantic)


async def test_about_alone_returns_the_most_similar_papers(library: Library) -> None:
    page = await library.search(compile_query('about:"gas giants orbiting near their suns"'))
    assert page.hits[0].paper.id == HOT_JUPITERS
    assert page.hits[0].similarity is not None and page.hits[0].similarity > 0.4
    sims = [h.similarity or 0 for h in page.hits]
    assert sims == sorted(sims, reverse=True) and len(page.hits) == 5
    assert page.total == 26  # every paper is ranked (at most 50)
    second = await library.search(
        compile_query('about:"gas giants orbiting near their suns"'), page=1
    )
    assert {h.paper.id for h in second.hits}.isdisjoint({h.paper.id for h in page.hits})


async def test_like_with_words_fuses_both_rankings(library: Library) -> None:
    compiled = compile_query(f"testing like:{GUI_TESTING}")
    page = await library.search(compiled, per_page=20)
    ids = [h.paper.id for h in page.hits]
    assert GUI_TESTING not in ids  # the paper itself is not "like" itself
    keyword_only = await library.search(compile_query("testing"), per_page=20)
    by_words = [h.paper.id for h in keyword_only.hits]
    assert set(ids) == set(by_words) - {GUI_TESTING}
    # The GUI-testing review (cosine 0.65) climbs from near the bottom by keywords into the top
    # three; the best by keywords, on testing deep learning models (cosine 0.2), falls. The
    # keyword order itself is the search engine's (Tantivy's BM25 or FTS5's), not asserted.
    kw = [i for i in by_words if i != GUI_TESTING]
    assert kw.index(GUI_REVIEW) - ids.index(GUI_REVIEW) >= 4 and ids.index(GUI_REVIEW) <= 2
    assert kw.index("2202.12139") == 0 and ids.index("2202.12139") >= 3
    assert all(h.similarity is not None for h in page.hits)


async def test_categories_and_about_rank_by_similarity_below_the_threshold_too(
    library: Library,
) -> None:
    page = await library.search(compile_query('cat:cs.LG about:"tiny planets"'), per_page=50)
    assert page.hits and all("cs.LG" in h.paper.categories for h in page.hits)
    sims = [h.similarity or 0 for h in page.hits]
    assert sims == sorted(sims, reverse=True)
    assert max(sims) < 0.40  # nothing in cs.LG is about planets: still ranked, best first


async def test_like_of_an_unknown_paper_is_a_clear_error(library: Library) -> None:
    with pytest.raises(QueryError, match=r"like:2401\.99999: no such paper"):
        await library.search(compile_query("like:2401.99999"))


async def test_feeds_filter_by_the_thresholds(store: Database, real_embedder: Any) -> None:
    semantic = Semantic(store, real_embedder, about_threshold=0.40, like_threshold=0.60)
    await store.papers.upsert([p for p in recent_papers() if p.id == DDPM])
    await semantic.embed_stored()
    planets = await store.feeds.add(
        make_feed_spec("planets", query='about:"gas giants orbiting near their suns"'),
        guild_id=1,
    )
    like_ddpm = await store.feeds.add(make_feed_spec("ddpm", query=f"like:{DDPM}"), guild_id=1)
    words = await store.feeds.add(
        make_feed_spec("words", query="gas giants orbiting near their suns"), guild_id=1
    )
    kept = await keep_papers(store, list(recent_papers()), NOW, semantic=semantic)
    assert kept.queued == 2
    owed = {(d.feed_id, d.paper_id) for d in await store.outbox.deliveries()}
    # DDPM ↔ Latent Diffusion 0.81 passes 0.60; the score-based SDE paper (0.44) does not.
    assert owed == {(planets.id, HOT_JUPITERS), (like_ddpm.id, LATENT_DIFFUSION)}
    assert not any(f == words.id for f, _ in owed)  # the same words as keywords find nothing


def test_search_prints_the_similarity(cli_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(FIXTURE)]) == 0
    assert main(["embed"]) == 0
    capsys.readouterr()
    assert main(["search", 'about:"gas giants orbiting near their suns"', "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "Frequency of Hot Jupiters" in out.splitlines()[1]
    assert ", similarity 0.4" in out.splitlines()[2]
    assert main(["search", "testing", f"like:{GUI_TESTING}", "--json", "--limit", "1"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert "similarity" in doc["results"][0]


async def test_a_feed_or_follow_like_an_unknown_paper_is_refused(store: Database) -> None:
    from bot.errors import QueryError as Refused
    from bot.services.feeds import FeedSpecError, create_feed
    from bot.services.follows import FollowService

    spec = make_feed_spec("odd", query="like:2401.99999")
    with pytest.raises(FeedSpecError, match=r"query: like:2401\.99999: no such paper"):
        await create_feed(store, spec, guild_id=1, now=NOW)
    with pytest.raises(Refused, match=r"like:2401\.99999: no such paper"):
        await FollowService(store, lambda: NOW).follow(7, "diffusion like:2401.99999")
    assert await store.feeds.list() == [] and await store.follows.list() == []


async def test_a_new_about_feed_takes_only_passing_papers_as_backfill(
    store: Database, real_embedder: Any
) -> None:
    from bot.services.feeds import FeedService

    semantic = Semantic(store, real_embedder)
    await store.papers.upsert(list(recent_papers()))
    await semantic.embed_stored()
    feeds = FeedService(store, lambda: NOW, semantic=semantic)
    spec = make_feed_spec("planets", query='about:"gas giants orbiting near their suns"')
    feed, queued = await feeds.create(replace(spec, backfill=5), guild_id=1)
    assert queued == 1
    assert [d.paper_id for d in await store.outbox.deliveries(feed_id=feed.id)] == [HOT_JUPITERS]
    preview = await feeds.preview('about:"gas giants orbiting near their suns"')
    assert [h.paper.id for h in preview.hits] == [HOT_JUPITERS] and preview.total == 1
