"""The library gate: keep papers (store, match, queue), look one up, search, trending.

The poller and the reader commands keep papers through `keep_papers`, so a paper fetched for a
reader is owed to feeds exactly as a polled one is; front ends parse, call and render.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

import httpx

from bot.errors import PaperfeedError, SemanticUnavailable
from bot.models import Paper, SearchHit, SearchPage, SortOrder, UpsertResult
from bot.query.compile import CompiledQuery
from bot.semantic.availability import INSTALL_HINT
from bot.services.backlog import serve_backlog, split_backlog
from bot.services.matching import keep_passing, queue_matches
from bot.sources.base import FetchResult
from bot.sources.huggingface import Period
from bot.sources.registry import label_of
from bot.store.interfaces import Database
from bot.store.matcher import BatchMatcher

if TYPE_CHECKING:
    from bot.services.semantic import Semantic

log = logging.getLogger(__name__)
T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Listed:
    """Where polled papers were listed, to tell news from backlog (bot.services.backlog)."""

    source: str
    listings: Mapping[str, frozenset[str]]
    mark_seen: bool  # the poll gave something usable: its listings count as read


@dataclass(frozen=True)
class Kept:
    upsert: UpsertResult
    queued: int
    backlog: int = 0


async def _vectors(semantic: Semantic | None, papers: Sequence[Paper]) -> list[tuple[str, bytes]]:
    """The new papers' vectors, or none when the model fails: papers are never lost to it
    (`paperfeed embed` fills the gap later)."""
    if semantic is None or not papers:
        return []
    try:
        return await semantic.vectors_for(papers)
    except Exception:  # the model or its files broke: keep polling without vectors
        log.exception("embedding %d paper(s) failed; they are stored without vectors", len(papers))
        return []


async def keep_papers(
    store: Database,
    papers: Sequence[Paper],
    now: datetime,
    listed: Listed | None = None,
    *,
    follows_on: bool = True,
    semantic: Semantic | None = None,
) -> Kept:
    """Store papers and queue what feeds are owed, in one transaction.

    Without `listed` every new or changed paper is news (a reader's look-up); with it, papers a
    listing shows for the first time are backlog, served within each feed's backfill. With
    `semantic`, papers without a vector are embedded first (outside the transaction, on a
    thread), and their vectors stored with them, before matching.
    """
    vectors = await _vectors(semantic, papers)
    async with store.transaction():
        upsert = await store.papers.upsert(papers)
        if vectors and semantic is not None:
            await semantic.save(vectors)
        fresh = dict(vectors)
        changed = [*upsert.new, *upsert.updated]
        if listed is None:
            queued = await queue_matches(
                store, changed, now, follows_on=follows_on, semantic=semantic, fresh=fresh
            )
            return Kept(upsert, queued)
        seen = await store.sources.seen_listings(listed.source, list(listed.listings))
        news, backlog = split_backlog(changed, listed.listings, seen)
        queued = await queue_matches(
            store, news, now, follows_on=follows_on, semantic=semantic, fresh=fresh
        )
        queued += await serve_backlog(store, backlog, now, semantic, fresh)
        if listed.mark_seen:
            await store.sources.mark_listings_seen(listed.source, list(listed.listings), now)
    return Kept(upsert, queued, len(backlog))


class UpstreamPapers(Protocol):
    """A source with its own search and period lists (Hugging Face's, today)."""

    @property
    def name(self) -> str: ...

    async def search(self, query: str, limit: int = 10) -> list[Paper]: ...

    async def fetch_period(self, period: Period, now: datetime) -> FetchResult: ...


@dataclass
class Asked:
    """What an upstream call brought (kept already), or how it failed: "timeout" or "error"."""

    papers: list[Paper]
    failure: Literal["timeout", "error"] | None = None


class PaperLookup(Protocol):
    """A source that can find one paper by id."""

    @property
    def name(self) -> str: ...

    async def lookup(self, paper_id: str) -> Paper | None: ...


@dataclass
class LookUp:
    """What asking upstream found: the paper, or which sources failed and which were asked."""

    paper: Paper | None
    asked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# A search with like: / about: ranks at most this many papers that pass the rest of the query;
# with nothing else, it shows the SEMANTIC_ALONE most similar papers (of the SEMANTIC_RECENT
# newest, within --since).
SEMANTIC_POOL = 1000
SEMANTIC_ALONE = 50
SEMANTIC_RECENT = 20_000
RRF_K = 60  # reciprocal rank fusion's constant: ranks past the first few count about equally


def fused_order(
    papers: Sequence[Paper], similarity: Mapping[str, float], *, keywords: bool
) -> list[Paper]:
    """Papers (given in keyword order) by similarity, or, with keywords, by reciprocal rank
    fusion of both rankings: 1/(k + keyword rank) + 1/(k + similarity rank). Papers without a
    vector keep only their keyword rank."""
    by_meaning = sorted(
        (p for p in papers if p.id in similarity), key=lambda p: (-similarity[p.id], p.id)
    )
    if not keywords:
        return by_meaning + [p for p in papers if p.id not in similarity]
    meaning_rank = {p.id: n for n, p in enumerate(by_meaning, 1)}
    fused = {
        p.id: 1 / (RRF_K + n) + (1 / (RRF_K + meaning_rank[p.id]) if p.id in meaning_rank else 0.0)
        for n, p in enumerate(papers, 1)
    }
    return sorted(papers, key=lambda p: (-fused[p.id], p.id))


def _resorted(hits: list[SearchHit], sort: SortOrder) -> list[SearchHit]:
    if sort == "upvotes":
        return sorted(hits, key=lambda h: -(h.paper.upvotes or 0))
    return sorted(
        hits, key=lambda h: h.paper.published or h.paper.first_seen or _EPOCH, reverse=True
    )


def _matching(papers: Sequence[Paper], compiled: CompiledQuery) -> frozenset[str]:
    """Ids of the papers the query matches, with the engine feeds and search use."""
    with BatchMatcher(papers) as matcher:
        return frozenset(matcher.match(compiled))


class Library:
    """The paper use cases as one object, over the store and the sources that look papers up."""

    def __init__(
        self,
        store: Database,
        clock: Callable[[], datetime],
        wake: Callable[[], None] = lambda: None,
        lookups: Sequence[PaperLookup] = (),
        upstream: UpstreamPapers | None = None,
        *,
        follows_on: bool = True,
        semantic: Semantic | None = None,
    ) -> None:
        self._store = store
        self._follows_on = follows_on  # [follows] enabled: false owes no DMs
        self.semantic = semantic
        self._clock = clock
        self._wake = wake  # deliveries were queued: the publisher should look now
        self.lookups = tuple(lookups)
        self.upstream = upstream

    async def keep(self, papers: Sequence[Paper]) -> int:
        """Store papers fetched for a reader, and owe them to feeds as a poll would have."""
        if not papers:
            return 0
        kept = await keep_papers(
            self._store,
            papers,
            self._clock(),
            follows_on=self._follows_on,
            semantic=self.semantic,
        )
        log.info("stored %d paper(s) fetched for a reader (%d new, %d queued for feeds)",
                 len(papers), len(kept.upsert.new), kept.queued)  # fmt: skip
        if kept.queued:
            self._wake()
        return kept.queued

    async def get(self, paper_id: str) -> Paper | None:
        return await self._store.papers.get(paper_id)

    async def look_up(self, paper_id: str, timeout: float) -> LookUp:
        """Ask each look-up source in turn for a paper the store lacks; keep the first found."""
        outcome = LookUp(None)
        for source in self.lookups:
            label = label_of(source.name)
            outcome.asked.append(label)
            try:
                found = await asyncio.wait_for(source.lookup(paper_id), timeout)
            except TimeoutError:
                log.warning("%s lookup of %s took over %.0f s", label, paper_id, timeout)
                outcome.problems.append(f"{label} did not answer in time")
                continue
            except (PaperfeedError, httpx.HTTPError) as exc:
                log.warning("%s lookup of %s failed: %s", label, paper_id, exc)
                outcome.problems.append(f"{label} is not answering right now")
                continue
            if found is not None:
                await self.keep([found])
                outcome.paper = await self.get(found.id) or found
                return outcome
        return outcome

    async def search(
        self,
        compiled: CompiledQuery,
        *,
        page: int = 0,
        per_page: int = 5,
        since: datetime | None = None,
        sort: SortOrder = "relevance",
    ) -> SearchPage:
        """One page of results from the local store (what ranking tests exercise).

        A query with like: / about: ranks by meaning instead (`semantic_search`)."""
        if compiled.is_semantic:
            ranked = await self.semantic_search(compiled, since=since, sort=sort)
            start = page * per_page
            return SearchPage(
                total=ranked.total,
                hits=ranked.hits[start : start + per_page],
                total_exact=ranked.total_exact,
            )
        return await self._store.papers.search(
            compiled, limit=per_page, offset=page * per_page, since=since, sort=sort
        )

    async def semantic_search(
        self,
        compiled: CompiledQuery,
        *,
        since: datetime | None = None,
        sort: SortOrder = "relevance",
    ) -> SearchPage:
        """Every result of a like: / about: query, best first, each with its similarity.

        In a search the thresholds do not apply: the papers that pass the rest of the query
        (up to SEMANTIC_POOL of them) are ranked by similarity, fused with the keyword ranking by
        reciprocal rank fusion when the query has words; with nothing else, the SEMANTIC_ALONE
        most similar papers. `sort` other than relevance keeps its order (similarity shown).
        """
        semantic = self.semantic
        if semantic is None:
            raise SemanticUnavailable(INSTALL_HINT)
        if not compiled.has_rest:
            allowed = None
            if since is not None:
                recent = await self._store.papers.recent(since, limit=SEMANTIC_RECENT)
                allowed = [p.id for p in recent]
            best = await semantic.most_similar(compiled, SEMANTIC_ALONE, allowed)
            papers = {p.id: p for p in await self._store.papers.get_many([i for i, _ in best])}
            hits = [SearchHit(papers[i], s, s) for i, s in best if i in papers]
            if sort != "relevance":
                hits = _resorted(hits, sort)
            return SearchPage(total=len(hits), hits=tuple(hits))
        rest = compiled.without_semantic()
        found = await self._store.papers.search(rest, limit=SEMANTIC_POOL, since=since, sort=sort)
        candidates = [h.paper for h in found.hits if h.paper.id not in compiled.like]
        scored = await semantic.similarities(compiled, [p.id for p in candidates])
        similarity = {i: score for i, (score, _) in scored.items()}
        if sort == "relevance":
            candidates = fused_order(candidates, similarity, keywords=rest.fts is not None)
        ranked = tuple(
            SearchHit(p, similarity.get(p.id, -1.0), similarity.get(p.id)) for p in candidates
        )
        exact = found.total_exact and found.total <= SEMANTIC_POOL
        return SearchPage(total=len(ranked), hits=ranked, total_exact=exact)

    async def trending(
        self, since: datetime, compiled: CompiledQuery | None, *, pool: int
    ) -> list[Paper]:
        """The most upvoted papers since then, best first, that the query (if any) matches."""
        candidates = await self._store.papers.top(since, limit=pool)
        if compiled is not None and candidates:
            if compiled.is_semantic and self.semantic is None:
                raise SemanticUnavailable(INSTALL_HINT)
            matched = await asyncio.to_thread(_matching, candidates, compiled)
            candidates = [p for p in candidates if p.id in matched]
            # like: / about: filter the list as in a feed: by their thresholds.
            candidates = await keep_passing(self.semantic, compiled, candidates)
        return candidates

    async def search_upstream(self, words: str, limit: int, timeout: float) -> Asked:
        """The upstream's own search for these words, kept; a failure is said, not raised."""
        if self.upstream is None:
            return Asked([])
        what = f"{label_of(self.upstream.name)} search for {words!r}"
        papers = await _ask(self.upstream.search(words, limit), timeout, what)
        if isinstance(papers, Asked):
            return papers
        await self.keep(papers)
        return Asked(papers)

    async def refresh_period(self, period: Period, now: datetime, timeout: float) -> Asked:
        """Fetch the upstream's list of the period into the store; a failure is said."""
        if self.upstream is None:
            return Asked([])
        what = f"{label_of(self.upstream.name)} {period} list"
        result = await _ask(self.upstream.fetch_period(period, now), timeout, what)
        if isinstance(result, Asked):
            return result
        await self.keep(result.all_papers)
        if result.error and not result.papers:
            return Asked(result.all_papers, "error")
        return Asked(result.all_papers)


async def _ask(call: Awaitable[T], timeout: float, what: str) -> T | Asked:
    """An upstream call within `timeout`; a failure is logged once and answered as an `Asked`."""
    try:
        return await asyncio.wait_for(call, timeout)
    except TimeoutError:
        log.warning("%s took over %.0f s; answered without it", what, timeout)
        return Asked([], "timeout")
    except (PaperfeedError, httpx.HTTPError) as exc:
        log.warning("%s failed: %s", what, exc)
        return Asked([], "error")
