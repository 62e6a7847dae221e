"""The semantic service over a real store and the real model: embed, keep fresh, find related."""

from __future__ import annotations

import pytest

from bot.semantic import INSTALL_HINT, semantic_available

if not semantic_available():
    pytest.skip(INSTALL_HINT, allow_module_level=True)

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.errors import QueryError
from bot.services.library import keep_papers
from bot.services.semantic import Semantic
from bot.store import open_store
from bot.store.interfaces import Database
from tests.semantic.support import CountingEmbedder, real_papers

NOW = datetime(2026, 12, 1, tzinfo=UTC)
DDPM, LATENT_DIFFUSION = "2006.11239", "2112.10752"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_store(str(tmp_path / "papers.sqlite3")) as db:
        yield db


async def test_embed_stored_is_resumable_and_reports_progress(
    store: Database, real_embedder: Any
) -> None:
    await store.papers.upsert(real_papers())
    counting = CountingEmbedder(real_embedder)
    semantic = Semantic(store, counting)  # type: ignore[arg-type]
    model = await semantic.model_id()
    total = await store.vectors.count_missing(model)
    assert total == len(real_papers())

    seen: list[tuple[int, int]] = []

    def stop_after_first_batch(done: int, of: int) -> None:
        seen.append((done, of))
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await semantic.embed_stored(batch=10, progress=stop_after_first_batch)
    assert seen == [(0, total), (10, total)]
    assert await store.vectors.count(model) == 10  # the first batch was kept

    seen.clear()
    assert await semantic.embed_stored(batch=10, progress=lambda d, t: seen.append((d, t))) == (
        total - 10
    )
    assert seen[0] == (0, total - 10) and seen[-1] == (total - 10, total - 10)
    assert len(counting.texts) == total  # nothing was embedded twice
    assert await semantic.embed_stored() == 0
    assert await semantic.count() == total


async def test_related_papers_come_from_the_index_best_first(
    store: Database, real_embedder: Any
) -> None:
    await store.papers.upsert(real_papers())
    semantic = Semantic(store, real_embedder)
    await semantic.embed_stored()
    related = await semantic.related(DDPM, limit=3)
    assert related[0].paper.id == LATENT_DIFFUSION
    assert 0.7 < related[0].similarity <= 1.0
    assert [r.similarity for r in related] == sorted((r.similarity for r in related), reverse=True)
    assert DDPM not in {r.paper.id for r in related}


async def test_about_finds_a_paper_by_meaning(store: Database, real_embedder: Any) -> None:
    await store.papers.upsert(real_papers())
    semantic = Semantic(store, real_embedder)
    await semantic.embed_stored()
    hits = await semantic.about("generating images by gradually removing noise", limit=3)
    assert {h.paper.id for h in hits[:2]} <= {DDPM, LATENT_DIFFUSION, "2011.13456"}


async def test_an_unknown_paper_is_a_clear_error(store: Database, real_embedder: Any) -> None:
    semantic = Semantic(store, real_embedder)
    with pytest.raises(QueryError, match=r"like:2401\.99999: no such paper"):
        await semantic.related("2401.99999")


async def test_a_stored_paper_without_a_vector_is_embedded_when_asked(
    store: Database, real_embedder: Any
) -> None:
    await store.papers.upsert(real_papers())
    semantic = Semantic(store, real_embedder)
    # Only the asked paper gets a vector; the index finds nothing else yet.
    assert await semantic.related(DDPM) == []
    assert await store.vectors.count(await semantic.model_id()) == 1


async def test_new_papers_are_embedded_as_they_are_kept_and_seen_by_other_processes(
    store: Database, real_embedder: Any
) -> None:
    papers = real_papers()
    counting = CountingEmbedder(real_embedder)
    poller_side = Semantic(store, counting)  # type: ignore[arg-type]
    reader_side = Semantic(store, real_embedder)  # another process's index over the same store
    assert await reader_side.count() == 0

    await keep_papers(store, papers[:20], NOW, semantic=poller_side)
    assert len(counting.texts) == 20
    assert await reader_side.count() == 20  # caught up from the store, no restart

    # A poll that sees known papers again embeds only the new ones.
    await keep_papers(store, papers, NOW, semantic=poller_side)
    assert len(counting.texts) == len(papers)
    assert await reader_side.count() == len(papers)


async def test_a_paper_whose_text_changes_is_embedded_again_in_the_same_poll(
    store: Database, real_embedder: Any
) -> None:
    from dataclasses import replace

    from bot.semantic.model import paper_text

    papers = real_papers()[:3]
    counting = CountingEmbedder(real_embedder)
    semantic = Semantic(store, counting)  # type: ignore[arg-type]
    await keep_papers(store, papers, NOW, semantic=semantic)
    model = await semantic.model_id()
    before = await store.vectors.get(model, [p.id for p in papers])
    counting.texts.clear()

    retitled = replace(papers[0], title="Baking sourdough bread with wild yeast")
    votes_only = replace(papers[1], upvotes=99, abstract="")  # stored abstract kept: same text
    await keep_papers(store, [retitled, votes_only, papers[2]], NOW, semantic=semantic)
    assert counting.texts == [paper_text(retitled.title, papers[0].abstract)]
    after = await store.vectors.get(model, [p.id for p in papers])
    assert after[papers[0].id] != before[papers[0].id]
    assert {k: v for k, v in after.items() if k != papers[0].id} == {
        k: v for k, v in before.items() if k != papers[0].id
    }
    assert await store.vectors.count_missing(model) == 0
    # Seen again unchanged: nothing to embed.
    await keep_papers(store, [retitled], NOW, semantic=semantic)
    assert len(counting.texts) == 1


async def test_a_broken_model_never_loses_papers(store: Database, real_embedder: Any) -> None:
    class Broken(CountingEmbedder):
        def embed(self, texts: Any) -> object:
            raise RuntimeError("onnxruntime fell over")

    semantic = Semantic(store, Broken(real_embedder))  # type: ignore[arg-type]
    kept = await keep_papers(store, real_papers()[:3], NOW, semantic=semantic)
    assert len(kept.upsert.new) == 3
    assert await store.vectors.count(await semantic.model_id()) == 0


class _FakeEmbedder:
    model_id = "fake@1"
    dim = 384

    def embed(self, texts: Any) -> Any:
        raise AssertionError("not used")


class _Uncommitted:
    """The store's vectors, with some seqs not visible yet (another writer's open transaction)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.hidden: set[int] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def written_after(self, model: str, seq: int, limit: int = 10_000) -> Any:
        rows = await self.inner.written_after(model, seq, limit)
        return [r for r in rows if r[0] not in self.hidden]

    async def written_in(self, model: str, seqs: Any) -> Any:
        return [r for r in await self.inner.written_in(model, seqs) if r[0] not in self.hidden]


class _Store:
    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.vectors = _Uncommitted(inner.vectors)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_vector_committed_after_a_later_one_is_still_found(store: Database) -> None:
    """Seqs are given in write order but may commit out of order (two writers on PostgreSQL):
    the index asks again for a number it skipped."""
    import numpy as np

    from bot.semantic.vectors import to_blob

    papers = real_papers()[:3]
    await store.papers.upsert(papers)
    rng = np.random.default_rng(1)
    await store.vectors.put("fake@1", [(p.id, to_blob(rng.standard_normal(384))) for p in papers])
    seqs = [s for s, _, _ in await store.vectors.written_after("fake@1", 0)]
    view = _Store(store)
    view.vectors.hidden = {seqs[1]}  # the middle one's transaction has not committed yet
    semantic = Semantic(view, _FakeEmbedder())  # type: ignore[arg-type]
    assert await semantic.refresh() == 2
    assert await semantic.refresh() == 0  # still in flight
    view.vectors.hidden.clear()  # it commits
    assert await semantic.refresh() == 1
    assert await semantic.count() == 3
