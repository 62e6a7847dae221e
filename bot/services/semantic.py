"""Meaning-based matching: vectors for stored papers, related papers, and text → papers.

One `Semantic` per process owns the embedding model and an in-memory vector index. The index
is filled from the store's vectors and caught up (`written_after`) before every question, so
vectors written by a poll, `paperfeed embed` or another process are found without a restart.
Embedding runs on a worker thread: the event loop never waits on the model. Building one needs
the ``semantic`` extra (`SemanticUnavailable` with the install line otherwise); this module
itself imports without it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import QueryError
from bot.models import Paper, merge_papers
from bot.query.compile import CompiledQuery
from bot.semantic.availability import require_semantic
from bot.store.common.upsert import merge_batch
from bot.store.interfaces import Database

if TYPE_CHECKING:
    from bot.semantic.model import Embedder, Matrix
    from bot.semantic.vectors import Vector, VectorIndex

log = logging.getLogger(__name__)

EMBED_BATCH = 32  # papers embedded and committed together by `paperfeed embed`
LOAD_PAGE = 20_000  # vectors read from the store per query while catching up
GAP_PATIENCE = 600.0  # seconds a skipped seq is looked for again (a commit still to come)
MAX_GAPS = 10_000  # skipped seqs remembered at most (rolled-back writes leave gaps for good)
RECENT_SEQS = 1_000  # how far below the newest seq a skipped one may still be in flight
TEXT_CACHE = 256  # about:"..." texts whose vectors are kept (a poll matches the same feeds)
# Defaults of [semantic]: measured on real abstracts, see docs/semantic.md.
ABOUT_THRESHOLD = 0.40
LIKE_THRESHOLD = 0.60


@dataclass(frozen=True)
class Similar:
    """A stored paper and its cosine similarity to what was asked."""

    paper: Paper
    similarity: float


class Semantic:
    """The embedding model and the vector index of one process, over one store."""

    def __init__(
        self,
        store: Database,
        embedder: Embedder | None = None,
        *,
        about_threshold: float = ABOUT_THRESHOLD,
        like_threshold: float = LIKE_THRESHOLD,
    ) -> None:
        require_semantic()
        self._store = store
        # Built on first use: a command that never asks (a publisher, `paperfeed feeds list`)
        # pays neither the numpy import nor the vocabulary load.
        self._given_embedder = embedder
        self._built_index: VectorIndex | None = None  # NumpyIndex today, behind the protocol
        self._seq = 0  # the last store seq the index has seen
        self._gaps: dict[int, float] = {}  # seqs skipped on the way → when first missed
        self._model: str | None = None
        self._lock = asyncio.Lock()
        self.about_threshold = about_threshold
        self.like_threshold = like_threshold
        self._texts: OrderedDict[str, Vector] = OrderedDict()

    @property
    def _embedder(self) -> Embedder:
        if self._given_embedder is None:
            from bot.semantic.model import OnnxEmbedder

            self._given_embedder = OnnxEmbedder()
        return self._given_embedder

    @property
    def _index(self) -> VectorIndex:
        if self._built_index is None:
            from bot.semantic.vectors import NumpyIndex

            self._built_index = NumpyIndex(self._embedder.dim)
        return self._built_index

    async def model_id(self) -> str:
        """The model's name and weights (loading the model, on a thread, the first time)."""
        if self._model is None:
            self._model = await asyncio.to_thread(lambda: self._embedder.model_id)
        return self._model

    async def embed(self, texts: Sequence[str]) -> Matrix:
        """Unit vectors for texts, computed on a worker thread."""
        return await asyncio.to_thread(self._embedder.embed, list(texts))

    # -- vectors for papers ------------------------------------------------------------------

    async def vectors_for(self, papers: Sequence[Paper]) -> list[tuple[str, bytes]]:
        """Vectors of the papers that have none of this model yet, or whose title or abstract
        the papers bring change (the rest are skipped), for the text they will be stored with.

        Meant for before the transaction that stores the papers: the model works while no
        database lock is held; `save` then writes the result inside it, after the upsert that
        drops the vectors of changed text.
        """
        from bot.semantic.model import paper_text
        from bot.semantic.vectors import to_blob

        if not papers:
            return []
        model = await self.model_id()
        batch = merge_batch(papers)
        have = await self._store.vectors.have(model, list(batch))
        stored = {p.id: p for p in await self._store.papers.get_many(list(batch))}
        todo = []
        for paper in batch.values():
            old = stored.get(paper.id)
            text = paper if old is None else merge_papers(old, paper)  # as the upsert stores it
            if paper.id not in have or (
                old is not None and (text.title, text.abstract) != (old.title, old.abstract)
            ):
                todo.append(text)
        if not todo:
            return []
        matrix = await self.embed([paper_text(p.title, p.abstract) for p in todo])
        return [(p.id, to_blob(row)) for p, row in zip(todo, matrix, strict=True) if row.any()]

    async def save(self, vectors: Sequence[tuple[str, bytes]]) -> int:
        """Store vectors (joining the caller's transaction when one is open)."""
        if not vectors:
            return 0
        return await self._store.vectors.put(await self.model_id(), vectors)

    async def embed_stored(
        self,
        *,
        since: datetime | None = None,
        batch: int = EMBED_BATCH,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Embed every stored paper that lacks a vector of this model (appeared since `since`),
        newest first; each batch is committed, so an interrupted run continues where it stopped.
        `progress(done, total)` is told after each batch. Returns how many were embedded."""
        from bot.semantic.model import paper_text
        from bot.semantic.vectors import to_blob

        model = await self.model_id()
        total = await self._store.vectors.count_missing(model, since=since)
        done = 0
        if progress is not None:
            progress(done, total)
        skipped: set[str] = set()  # papers with no text to embed: never asked for twice
        while True:
            rows = await self._store.vectors.missing(model, since=since, limit=batch + len(skipped))
            rows = [r for r in rows if r[0] not in skipped][:batch]
            if not rows:
                break
            matrix = await self.embed([paper_text(title, abstract) for _, title, abstract in rows])
            pairs = []
            for (paper_id, _, _), row in zip(rows, matrix, strict=True):
                if row.any():
                    pairs.append((paper_id, to_blob(row)))
                else:
                    skipped.add(paper_id)
            await self._store.vectors.put(model, pairs)
            done += len(rows)
            if progress is not None:
                progress(done, max(total, done))
        return done - len(skipped)

    # -- the index ---------------------------------------------------------------------------

    async def refresh(self) -> int:
        """Read the vectors written since the last look into the index; how many came.

        Seqs are handed out in write order but may commit out of order (a poll and `paperfeed
        embed` at once, on PostgreSQL): a number skipped on the way is remembered and asked for
        again at each refresh for GAP_PATIENCE seconds, long after any transaction ends.
        """
        from bot.semantic.vectors import from_blob

        async with self._lock:
            model = await self.model_id()
            dim = self._index.dim
            added = 0
            now = time.monotonic()
            self._gaps = {s: t for s, t in self._gaps.items() if now - t < GAP_PATIENCE}
            if self._gaps:
                late = await self._store.vectors.written_in(model, sorted(self._gaps))
                if late:
                    self._index.add_many(
                        [i for _, i, _ in late], [from_blob(b, dim) for _, _, b in late]
                    )
                    added += len(late)
                for seq, _, _ in late:
                    self._gaps.pop(seq, None)
            while True:
                rows = await self._store.vectors.written_after(model, self._seq, LOAD_PAGE)
                if not rows:
                    return added
                # Only recent numbers can still commit; older holes are deleted rows (a paper
                # re-embedded) or rolled-back writes.
                recent = max(self._seq, rows[-1][0] - RECENT_SEQS) + 1
                expected = self._seq + 1
                for seq, _, _ in rows:
                    for missing in range(max(expected, recent), seq):
                        self._gaps[missing] = now
                    expected = seq + 1
                while len(self._gaps) > MAX_GAPS:
                    self._gaps.pop(next(iter(self._gaps)))
                self._index.add_many(
                    [i for _, i, _ in rows], [from_blob(b, dim) for _, _, b in rows]
                )
                self._seq = rows[-1][0]
                added += len(rows)
                if len(rows) < LOAD_PAGE:
                    return added

    async def count(self) -> int:
        """Papers with a vector in the index (after catching up)."""
        await self.refresh()
        return len(self._index)

    async def vector_of(self, paper_id: str) -> Vector:
        """A stored paper's vector, embedding it now if it has none; QueryError if unknown.

        Never catches the index up: this runs inside a poll's transaction too, and the index
        must only take committed vectors (a rolled-back seq would be reused and skipped).
        """
        from bot.semantic.vectors import from_blob

        if paper_id in self._index:
            return self._index.vector(paper_id)
        stored = await self._store.vectors.get(await self.model_id(), [paper_id])
        if paper_id in stored:
            return from_blob(stored[paper_id], self._index.dim)
        paper = await self._store.papers.get(paper_id)
        if paper is None:
            raise QueryError(
                f"like:{paper_id}: no such paper in the database (look it up with /paper first)"
            )
        pairs = await self.vectors_for([paper])
        if not pairs:
            raise QueryError(f"like:{paper_id}: the paper has no text to compare")
        await self.save(pairs)
        return from_blob(pairs[0][1], self._index.dim)

    async def text_vector(self, text: str) -> Vector:
        """The vector of a free text (an about:"..." query); QueryError when it has no words."""
        cached = self._texts.get(text)
        if cached is not None:
            self._texts.move_to_end(text)
            return cached
        row = (await self.embed([text]))[0]
        if not row.any():
            raise QueryError(f'about:"{text}": nothing to compare (no words)')
        vector: Vector = row
        self._texts[text] = vector
        while len(self._texts) > TEXT_CACHE:
            self._texts.popitem(last=False)
        return vector

    # -- queries with like: and about: ---------------------------------------------------------

    async def query_vectors(self, query: CompiledQuery) -> list[tuple[Vector, float]]:
        """Each like: / about: of a query as (vector, the threshold a feed applies to it)."""
        out = [(await self.vector_of(i), self.like_threshold) for i in query.like]
        out += [(await self.text_vector(t), self.about_threshold) for t in query.about]
        return out

    async def paper_vectors(
        self, paper_ids: Sequence[str], fresh: Mapping[str, bytes] | None = None
    ) -> dict[str, Vector]:
        """The vectors of these papers: from `fresh` (just embedded, maybe not yet committed),
        else the store (read in the caller's transaction). Papers without one are left out."""
        from bot.semantic.vectors import from_blob

        fresh = fresh or {}
        blobs = {i: fresh[i] for i in paper_ids if i in fresh}
        rest = [i for i in paper_ids if i not in blobs]
        if rest:
            blobs.update(await self._store.vectors.get(await self.model_id(), rest))
        return {i: from_blob(b, self._index.dim) for i, b in blobs.items()}

    async def similarities(
        self,
        query: CompiledQuery,
        paper_ids: Sequence[str],
        fresh: Mapping[str, bytes] | None = None,
    ) -> dict[str, tuple[float, bool]]:
        """Each paper's similarity to the query (the mean over its like: / about:) and whether
        it reaches every threshold; papers without a vector are left out."""
        wanted = await self.query_vectors(query)
        vectors = await self.paper_vectors(paper_ids, fresh)
        out: dict[str, tuple[float, bool]] = {}
        for paper_id, vector in vectors.items():
            cosines = [(float(vector @ q), threshold) for q, threshold in wanted]
            mean = sum(c for c, _ in cosines) / len(cosines)
            out[paper_id] = (mean, all(c >= t for c, t in cosines))
        return out

    async def passing(
        self,
        query: CompiledQuery,
        paper_ids: Sequence[str],
        fresh: Mapping[str, bytes] | None = None,
    ) -> set[str]:
        """The papers a feed or follow with this query takes: every like: / about: reaches its
        threshold. A like: of an unknown paper passes nothing."""
        try:
            found = await self.similarities(query, paper_ids, fresh)
        except QueryError as exc:
            log.warning("query %s matches nothing: %s", query, exc)
            return set()
        return {paper_id for paper_id, (_, ok) in found.items() if ok}

    async def most_similar(
        self, query: CompiledQuery, limit: int, allowed: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """The papers closest to a query's like: / about: (mean cosine), best first; the like:
        papers themselves are left out."""
        import numpy as np

        wanted = await self.query_vectors(query)
        mean: Vector = np.mean([q for q, _ in wanted], axis=0).astype(np.float32)
        if not mean.any():
            return []
        hits = await self.nearest(mean, limit, allowed=allowed, exclude=set(query.like))
        scored = await self.similarities(query, [i for i, _ in hits])
        return sorted(
            ((i, scored[i][0]) for i, _ in hits if i in scored), key=lambda h: (-h[1], h[0])
        )

    async def nearest(
        self,
        vector: Vector,
        limit: int,
        *,
        allowed: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[tuple[str, float]]:
        """The stored papers most similar to a vector, as (id, cosine), best first."""
        await self.refresh()
        return await asyncio.to_thread(self._index.top_k, vector, limit, allowed, exclude)

    def similarity(self, vector: Vector, paper_ids: Sequence[str]) -> dict[str, float]:
        """Cosine of each indexed paper to a vector (papers not in the index are left out)."""
        out = {}
        for paper_id in paper_ids:
            if paper_id in self._index:
                out[paper_id] = float(self._index.vector(paper_id) @ vector)
        return out

    async def related(self, paper_id: str, limit: int = 10) -> list[Similar]:
        """The stored papers most similar to one paper, itself left out."""
        await self.refresh()
        vector = await self.vector_of(paper_id)
        hits = await self.nearest(vector, limit, exclude={paper_id})
        return await self._papers(hits)

    async def about(self, text: str, limit: int = 10) -> list[Similar]:
        """The stored papers closest in meaning to a text."""
        hits = await self.nearest(await self.text_vector(text), limit)
        return await self._papers(hits)

    async def _papers(self, hits: Sequence[tuple[str, float]]) -> list[Similar]:
        papers = {p.id: p for p in await self._store.papers.get_many([i for i, _ in hits])}
        return [Similar(papers[i], score) for i, score in hits if i in papers]


def open_semantic(
    store: Database,
    embedder: Embedder | None = None,
    *,
    about_threshold: float = ABOUT_THRESHOLD,
    like_threshold: float = LIKE_THRESHOLD,
) -> Semantic | None:
    """A `Semantic` when the extra is installed, else None (the bot runs without it)."""
    from bot.semantic.availability import semantic_available

    if embedder is None and not semantic_available():
        return None
    return Semantic(store, embedder, about_threshold=about_threshold, like_threshold=like_threshold)
