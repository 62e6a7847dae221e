"""The search index behind the store: what it holds, how it ranks, and the exact top-k cut.

Pure: no engine here. A `SearchIndex` answers searches with words (maybe with filters) for a
store, by relevance or newest first, and lists the matches for orders it cannot give (upvotes);
the store then reads the page's papers from its own tables (the database stays the truth).
The Tantivy implementation is `bot.store.tantivy_index`.

The ranking, in order: the title tier (how many of the query's title-evidence levels the title
meets: all its words, close together, as the phrase; see `bot.query.compile`), then within a
tier per-field BM25 with field boosts (title 10, authors 4, abstract 1, each field normalised
by its own length) times the recency factor of today's SQLite ranking, then the newer paper,
then the higher key. A result's score is ``tier + s / (1 + s)`` with ``s`` = BM25 x recency,
as the SQLite store reports it.

A phrase whose adjacent words each pair with a common word ("mixture of experts") is asked in
the abstract through its word pairs (`bot.store.tantivy_index.COMMON`): the same matches, and
the word phrase's BM25: the pair field has the abstract's length (a filler at every position
without a pair) and the pair phrase occurs as often as the word phrase, and a per-query boost
trades the pairs' idf sum for the words' (Tantivy's idf, whose N counts the deleted documents
segments still hold). Equal to float rounding (Tantivy's f32, ~1e-7 relative); the exhaustive
floor asks the same query, so it ranks the same.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.query.compile import CompiledQuery

# The recency factor: at most +10 % for a paper that appeared today, fading over ~6 months
# (bot/store/sqlite/search_sql.py RECENCY, the same formula).
RECENCY_BONUS = 0.1
RECENCY_DAYS = 180.0
RECENCY_MAX = 1.0 + RECENCY_BONUS
# The first candidate pool; it grows until the cut is proven (by POOL_GROWTH when the scores
# give no hint how far), unless recency alone settles the rest (see `exact_top`). One Tantivy
# pass costs about the same for 500 hits or 2,500 (at 1M a broad word scores its whole title
# tier either way), but each hit costs Python work: the recent band keeps pools small.
FIRST_POOL = 500


POOL_GROWTH = 4


def recency(now_seconds: float, appeared_seconds: float) -> float:
    """The recency factor of a paper that appeared at `appeared_seconds` (Unix time)."""
    days = max(0.0, now_seconds - appeared_seconds) / 86_400.0
    return 1.0 + RECENCY_BONUS / (1.0 + days / RECENCY_DAYS)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A match as the engine scored it: its key, BM25 score, and when it appeared (Unix time)."""

    pk: int
    bm25: float
    appeared: int


@dataclass(frozen=True, slots=True)
class Ranked:
    pk: int
    score: float  # tier + s / (1 + s)


@dataclass(frozen=True, slots=True)
class IndexPage:
    """One page of keys in rank order, and how many papers match in all (exact)."""

    total: int
    hits: tuple[Ranked, ...]


def order_key(now: float, candidate: Candidate) -> tuple[float, int, int]:
    """Sort key, best first when ascending: BM25 x recency, then newer, then higher key."""
    return (-candidate.bm25 * recency(now, candidate.appeared), -candidate.appeared, -candidate.pk)


# A match as a pool holds it, in the engine's BM25 order: (BM25, appeared, key).
Hit = tuple[float, int, int]
# `fetch(start, stop)`: the matches ranked `start` to `stop` by BM25 alone (fewer at the end).
Fetch = Callable[[int, int], Sequence[Hit]]
# A day of margin below the computed oldest appearance that could still reach the page, far
# more than the floating-point error of inverting the recency factor.
RECENT_MARGIN = 86_400


def recent_enough(now: float, beaten: float, ceiling: float) -> int | None:
    """The oldest appearance (Unix seconds) at which a match with BM25 at most `ceiling` can
    still score `beaten` after the re-rank: older ones stay strictly below it (a day of margin).
    None when every age can (recency alone cannot separate them)."""
    if ceiling <= 0.0 or beaten <= ceiling:
        return None
    factor = beaten / ceiling  # the recency a match would need, above 1
    days = RECENCY_DAYS * (RECENCY_BONUS / (factor - 1.0) - 1.0)  # recency(days) == factor
    return math.floor(now - max(days, 0.0) * 86_400.0) - RECENT_MARGIN


def exact_top(
    fetch: Fetch,
    *,
    now: float,
    wanted: int,
    first_pool: int = FIRST_POOL,
    since: Callable[[int], Fetch] | None = None,
) -> tuple[list[Candidate], int | None]:
    """The `wanted` best candidates by BM25 x recency, proven exact; and how many match in all
    when the last pool held every match (None when it did not).

    `fetch(start, stop)` answers the matches ranked `start` to `stop` by BM25 alone (fewer at
    the end), so a wider pool fetches only what it adds. A match outside the pool has BM25 at
    most the pool's last one, so at most that times RECENCY_MAX after the re-rank: when the
    pool's `wanted`-th best already beats that strictly, nothing outside can reach the page.

    Otherwise, with `since` (`since(t)` fetches the matches that appeared at `t` or later),
    only the recent matches outside the pool can still reach the page: their recency must make
    up the BM25 they lack (`recent_enough`). Their own best are found the same way and merged
    with the pool: one cheap pass over a few recent matches where the BM25 scores are close
    and recency decides (at 1M, the broad words' title tier), instead of a pool of thousands.

    Without `since`, or when recency alone cannot separate them, the pool grows and the step
    repeats: to where the BM25 scores, falling as they have so far, would cross the bound (at
    least doubling), which only decides how much is fetched, never what is returned. Only the
    page becomes `Candidate` objects: the pool stays plain tuples ordered as `order_key` orders
    (the same arithmetic, so the same floats).
    """
    if wanted <= 0:
        return [], None
    pool = max(first_pool, wanted)
    found: list[Hit] = []
    keys: list[tuple[float, int, int, float]] = []
    bonus, days, most = RECENCY_BONUS, RECENCY_DAYS, RECENCY_MAX
    while True:
        more = fetch(len(found), pool)
        found += more
        keys += [
            (-(b * (1.0 + bonus / (1.0 + max(0.0, now - at) / 86_400.0 / days))), -at, -pk, b)
            for b, at, pk in more
        ]
        best = heapq.nsmallest(wanted, keys)
        page = [Candidate(-pk, b, -at) for _, at, pk, b in best]
        if len(found) < pool:
            return page, len(found)  # every match was in the pool
        needed = -best[wanted - 1][0] / most  # BM25 a match outside must beat
        last = found[-1][0]
        if last < needed:
            return page, None
        if since is not None:
            cutoff = recent_enough(now, -best[wanted - 1][0], last)
            if cutoff is not None:
                fetch_recent = since(cutoff)
                recent, _ = exact_top(fetch_recent, now=now, wanted=wanted, first_pool=first_pool)
                return _merged(page, recent, now, wanted), None
        top = found[0][0]
        guess = pool * (top - needed) / (top - last) if top > last else pool * POOL_GROWTH
        pool = max(pool * 2, int(guess * 1.25) + 1)


def _merged(
    page: list[Candidate], more: list[Candidate], now: float, wanted: int
) -> list[Candidate]:
    """The `wanted` best of two candidate lists that may share matches."""
    unique = {c.pk: c for c in (*page, *more)}
    return heapq.nsmallest(wanted, unique.values(), key=lambda c: order_key(now, c))


def squash(tier: int, candidate: Candidate, now: float) -> float:
    """The reported score: the tier, plus BM25 x recency squashed below 1."""
    s = candidate.bm25 * recency(now, candidate.appeared)
    return tier + (s / (1.0 + s) if math.isfinite(s) else 1.0)


class SearchIndex(Protocol):
    """A full-text index over the papers, kept in step with the database it was built from."""

    @property
    def ready(self) -> bool:
        """Whether searches can use it (False while it is built or when it failed)."""
        ...

    def describe(self) -> str:
        """One line for /status and logs: the engine, its state and how many papers it holds."""
        ...

    async def wait_built(self) -> None:
        """Until a build under way has ended, however it ended (at once when none runs)."""
        ...

    async def catch_up(self, *, lag: bool = False) -> int:
        """Apply the database's changes made since the index last read them; how many.

        `lag`: an import's batch; the index may keep it uncommitted for a while."""
        ...

    async def search(
        self,
        query: CompiledQuery,
        *,
        now: datetime,
        limit: int,
        offset: int,
        since: datetime | None,
        hf_only: bool,
    ) -> IndexPage:
        """A relevance page for a query with words (see the module docstring for the order)."""
        ...

    async def search_recent(
        self,
        query: CompiledQuery,
        *,
        now: datetime,
        limit: int,
        offset: int,
        since: datetime | None,
        hf_only: bool,
        hf: bool | None = None,
    ) -> IndexPage:
        """A page newest first: by appearance, then by relevance (the score `search` reports,
        which is the hit's score), then the higher key; exact total. `hf`: only the matches
        Hugging Face knows (True) or only the others (False)."""
        ...

    async def matching_keys(
        self,
        query: CompiledQuery,
        *,
        since: datetime | None,
        hf_only: bool,
        hf: bool | None = None,
    ) -> list[int]:
        """Every match's key, in no promised order (`hf` as in `search_recent`): for orders
        the index cannot give (upvotes), which the database then sorts."""
        ...

    async def relevance(
        self,
        query: CompiledQuery,
        pks: Sequence[int],
        *,
        now: datetime,
        since: datetime | None,
        hf_only: bool,
    ) -> dict[int, float]:
        """The relevance score `search` would report for each of these keys that matches."""
        ...

    async def close(self) -> None: ...
