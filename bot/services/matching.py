"""Which feeds want which papers: the same compiled query as search, plus the feed's own rules."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.errors import QueryError
from bot.models import Feed, Follow, FollowMode, Paper
from bot.query.compile import CompiledQuery, compile_query
from bot.store.interfaces import Database
from bot.store.matcher import BatchMatcher

if TYPE_CHECKING:
    from bot.services.semantic import Semantic

log = logging.getLogger(__name__)

# like: / about: of a query → the papers of the batch that reach every threshold.
SemanticKey = tuple[tuple[str, ...], tuple[str, ...]]
Passing = Mapping[SemanticKey, frozenset[str]]

# A paper is still news for this long after it appeared; later changes never queue it.
RECENT_WINDOW = timedelta(days=7)


def appeared_at(paper: Paper) -> datetime | None:
    """When the paper became news: on Hugging Face's daily list, else on arXiv, else to us."""
    return paper.hf_submitted_at or paper.published or paper.first_seen


def is_recent(paper: Paper, now: datetime) -> bool:
    appeared = appeared_at(paper)
    return appeared is None or now - appeared <= RECENT_WINDOW


def category_fits(wanted: Sequence[str], categories: Sequence[str]) -> bool:
    """Empty means any; `cs` means the whole archive; case does not matter."""
    if not wanted:
        return True
    have = {c.lower() for c in categories}
    archives = {c.split(".", 1)[0] for c in have}
    return any(w.lower() in have or ("." not in w and w.lower() in archives) for w in wanted)


def feed_accepts(feed: Feed, paper: Paper) -> bool:
    """The feed's rules beyond its query: sources, categories, upvotes."""
    spec = feed.spec
    if not set(spec.sources) & paper.sources:
        return False
    if not category_fits(spec.categories, paper.categories):
        return False
    return not (spec.min_upvotes > 0 and (paper.upvotes or 0) < spec.min_upvotes)


# (user id, paper id, follow id, mode, relevance): one paper owed to one member by DM.
DmMatch = tuple[int, str, int, FollowMode, int]


def compile_follows(follows: Sequence[Follow]) -> list[tuple[Follow, CompiledQuery]]:
    """Compile each follow's query once; one whose stored query no longer parses is skipped."""
    cache: dict[str, CompiledQuery] = {}
    out: list[tuple[Follow, CompiledQuery]] = []
    for follow in follows:
        if follow.query not in cache:
            try:
                cache[follow.query] = compile_query(follow.query)
            except QueryError as exc:
                log.warning("follow %d has an unusable query: %s", follow.id, exc)
                continue
        out.append((follow, cache[follow.query]))
    return out


def semantic_key(compiled: CompiledQuery) -> SemanticKey:
    return compiled.like, compiled.about


def matched(matcher: BatchMatcher, compiled: CompiledQuery, passing: Passing) -> tuple[str, ...]:
    """The batch's papers a query matches: words and categories by the matcher, like: and
    about: by the precomputed similarities (none when they could not be computed)."""
    ids = matcher.match(compiled)
    if not compiled.is_semantic:
        return ids
    ok = passing.get(semantic_key(compiled), frozenset())
    return tuple(i for i in ids if i in ok)


async def semantic_passing(
    semantic: Semantic | None,
    queries: Sequence[CompiledQuery],
    paper_ids: Sequence[str],
    fresh: Mapping[str, bytes] | None = None,
) -> dict[SemanticKey, frozenset[str]]:
    """For each distinct like: / about: among the queries, the papers that reach its thresholds;
    without the semantic extra such queries match nothing."""
    out: dict[SemanticKey, frozenset[str]] = {}
    for compiled in queries:
        key = semantic_key(compiled)
        if not compiled.is_semantic or key in out:
            continue
        if semantic is None:
            log.warning("query %s needs the semantic extra; it matches nothing", compiled)
            out[key] = frozenset()
        else:
            out[key] = frozenset(await semantic.passing(compiled, paper_ids, fresh))
    return out


async def check_like_papers(store: Database, compiled: CompiledQuery) -> None:
    """A like: must name a paper the bot has: QueryError naming the first one it lacks."""
    if not compiled.like:
        return
    known = {p.id for p in await store.papers.get_many(list(compiled.like))}
    for paper_id in compiled.like:
        if paper_id not in known:
            raise QueryError(
                f"like:{paper_id}: no such paper in the database (look it up with /paper first)"
            )


async def recent_matches(
    store: Database, compiled: CompiledQuery, since: datetime, limit: int
) -> list[Paper]:
    """Newest first, the papers since a time that the query's words and categories match
    (like: / about: not applied: see `keep_passing`); all recent papers when it has neither."""
    if not compiled.has_rest:
        return await store.papers.recent(since, limit)
    page = await store.papers.search(
        compiled.without_semantic(), limit=limit, since=since, sort="recent"
    )
    return [h.paper for h in page.hits]


async def keep_passing(
    semantic: Semantic | None, compiled: CompiledQuery, papers: Sequence[Paper]
) -> list[Paper]:
    """The papers that pass a query's like: / about: thresholds (all of them for a query
    without; none without the extra)."""
    if not compiled.is_semantic:
        return list(papers)
    passing = await semantic_passing(semantic, [compiled], [p.id for p in papers])
    ok = passing[semantic_key(compiled)]
    return [p for p in papers if p.id in ok]


def match_follows(
    follows: Sequence[tuple[Follow, CompiledQuery]],
    matcher: BatchMatcher,
    by_id: dict[str, Paper],
    passing: Passing | None = None,
) -> list[DmMatch]:
    """Each paper once per member, however many of their follows match it: an instant follow's
    match wins (it is sent soonest), and relevance counts the member's follows that matched."""
    found: dict[tuple[int, str], tuple[Follow, int]] = {}
    for follow, compiled in follows:
        for paper_id in matched(matcher, compiled, passing or {}):
            if follow.min_upvotes > 0 and (by_id[paper_id].upvotes or 0) < follow.min_upvotes:
                continue
            key = (follow.user_id, paper_id)
            seen = found.get(key)
            if seen is None:
                found[key] = (follow, 1)
            else:
                best = follow if follow.mode == "instant" and seen[0].mode != "instant" else seen[0]
                found[key] = (best, seen[1] + 1)
    return [
        (user_id, paper_id, follow.id, follow.mode, relevance)
        for (user_id, paper_id), (follow, relevance) in found.items()
    ]


def compile_feeds(feeds: Sequence[Feed]) -> list[tuple[Feed, CompiledQuery]]:
    """Compile each feed's query once; a feed whose stored query no longer parses is skipped."""
    cache: dict[str, CompiledQuery] = {}
    out: list[tuple[Feed, CompiledQuery]] = []
    for feed in feeds:
        query = feed.spec.query
        if query not in cache:
            try:
                cache[query] = compile_query(query)
            except QueryError as exc:
                log.warning("feed %d (%s) has an unusable query: %s", feed.id, feed.name, exc)
                continue
        out.append((feed, cache[query]))
    return out


def match_batch(
    feeds: Sequence[tuple[Feed, CompiledQuery]],
    papers: Sequence[Paper],
    now: datetime,
    passing: Passing | None = None,
) -> list[tuple[int, str]]:
    """(feed id, paper id) pairs owed, evaluating every feed against this batch only."""
    return match_everything(feeds, (), papers, now, passing)[0]


def match_everything(
    feeds: Sequence[tuple[Feed, CompiledQuery]],
    follows: Sequence[tuple[Follow, CompiledQuery]],
    papers: Sequence[Paper],
    now: datetime,
    passing: Passing | None = None,
) -> tuple[list[tuple[int, str]], list[DmMatch]]:
    """Feeds and personal follows in one pass over one index of the batch: (feed pairs, DMs)."""
    recent = [p for p in papers if is_recent(p, now)]
    if not recent or not (feeds or follows):
        return [], []
    by_id = {p.id: p for p in recent}
    pairs: list[tuple[int, str]] = []
    with BatchMatcher(recent) as matcher:
        for feed, compiled in feeds:
            for paper_id in matched(matcher, compiled, passing or {}):
                if feed_accepts(feed, by_id[paper_id]):
                    pairs.append((feed.id, paper_id))
        dms = match_follows(follows, matcher, by_id, passing) if follows else []
    return pairs, dms


async def queue_matches(
    store: Database,
    paper_ids: Sequence[str],
    now: datetime,
    semantic: Semantic | None = None,
    fresh: Mapping[str, bytes] | None = None,
) -> int:
    """Match the given (new or changed) papers against every active feed and personal follow,
    and queue them: posts to feeds' channels, DMs to members. `fresh` holds vectors embedded
    for this batch (like: and about: compare them against their thresholds)."""
    if not paper_ids:
        return 0
    feeds = compile_feeds(await store.feeds.list(active_only=True))
    follows = compile_follows(await store.follows.list(active_only=True))
    if not feeds and not follows:
        return 0
    papers = await store.papers.get_many(paper_ids)
    queries = [c for _, c in feeds] + [c for _, c in follows]
    passing = await semantic_passing(semantic, queries, [p.id for p in papers], fresh)
    pairs, dms = await asyncio.to_thread(match_everything, feeds, follows, papers, now, passing)
    return await store.outbox.queue(pairs) + await store.dms.queue(dms)


async def backfill_feed(
    store: Database,
    feed: Feed,
    now: datetime,
    *,
    queue: bool = True,
    semantic: Semantic | None = None,
) -> list[Paper]:
    """What a new feed would have matched in the last week; queue its `backfill` most recent.

    What it queues counts against its `backfill`, so backlog from a later first poll of a
    listing only fills what is left (bot.services.backlog).
    """
    compiled = compile_query(feed.spec.query)
    found = await recent_matches(store, compiled, now - RECENT_WINDOW, 200)
    matches = [p for p in found if feed_accepts(feed, p)]
    matches = await keep_passing(semantic, compiled, matches)
    chosen = matches[: feed.spec.backfill]
    if queue and chosen:
        count = await store.outbox.queue((feed.id, p.id) for p in reversed(chosen))
        await store.feeds.use_backfill(feed.id, count)
    return matches
