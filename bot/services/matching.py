"""Which feeds want which papers: the same compiled query as search, plus the feed's own rules."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
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


def compile_follows(
    follows: Sequence[Follow], cache: dict[str, CompiledQuery] | None = None
) -> list[tuple[Follow, CompiledQuery]]:
    """Compile each follow's query once; one whose stored query no longer parses is skipped.

    A `cache` shared with compile_feeds compiles a query that feeds and follows share once.
    """
    cache = {} if cache is None else cache
    out: list[tuple[Follow, CompiledQuery]] = []
    for follow in follows:
        if follow.query not in cache:
            try:
                cache[follow.query] = compile_query(follow.query, ranking=False)
            except QueryError as exc:
                log.warning("follow %d has an unusable query: %s", follow.id, exc)
                continue
        out.append((follow, cache[follow.query]))
    return out


def semantic_key(compiled: CompiledQuery) -> SemanticKey:
    return compiled.like, compiled.about


def semantic_rows(
    matcher: BatchMatcher, compiled: CompiledQuery, passing: Passing | None
) -> frozenset[int]:
    """The batch rows a query matches: words and categories by the matcher, like: and about:
    by the precomputed similarities (none when they could not be computed)."""
    rows = matcher.rows(compiled)
    if not compiled.is_semantic or not rows:
        return rows
    ok = (passing or {}).get(semantic_key(compiled), frozenset())
    ids = matcher.paper_ids
    return frozenset(r for r in rows if ids[r] in ok)


def might_be_semantic(query: str) -> bool:
    """A cheap look for like: / about: before compiling (the matching pass compiles later)."""
    lowered = query.lower()
    return "like:" in lowered or "about:" in lowered


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
    upvotes: Sequence[int],
    passing: Passing | None = None,
) -> list[DmMatch]:
    """Each paper once per member, however many of their follows match it: an instant follow's
    match wins (it is sent soonest), and relevance counts the member's follows that matched.

    Items come in the order the follows and the batch give them; `upvotes` is by matcher row.
    """
    ids = matcher.paper_ids
    counts = Counter(f.user_id for f, _ in follows)
    if len(set(ids)) < len(ids):  # a paper twice in the batch: merge everyone's, as always
        counts = Counter({user: 2 for user in counts})
    several = {user for user, n in counts.items() if n > 1}
    out: list[DmMatch] = []
    at: dict[tuple[int, str], int] = {}  # where a member with several follows has each paper
    for follow, compiled in follows:
        rows = semantic_rows(matcher, compiled, passing)
        if not rows:
            continue
        floor = follow.min_upvotes
        ordered = sorted(rows if floor <= 0 else [r for r in rows if upvotes[r] >= floor])
        user, fid, mode = follow.user_id, follow.id, follow.mode
        if user not in several:
            out += [(user, ids[r], fid, mode, 1) for r in ordered]
            continue
        for row in ordered:
            key = (user, ids[row])
            slot = at.get(key)
            if slot is None:
                at[key] = len(out)
                out.append((user, key[1], fid, mode, 1))
                continue
            _, paper_id, seen_id, seen_mode, relevance = out[slot]
            if mode == "instant" and seen_mode != "instant":
                seen_id, seen_mode = fid, mode
            out[slot] = (user, paper_id, seen_id, seen_mode, relevance + 1)
    return out


async def match_waiting(
    follows: Sequence[Follow], papers: Sequence[Paper], semantic: Semantic | None = None
) -> list[DmMatch]:
    """What the follow fan-out queues for these papers from these follows (one member's), by the
    same pass (match_follows), but with no recency cut: the papers already wait in the DM queue,
    so they were news when they matched."""
    if not follows or not papers:
        return []
    passing = await _semantic_pass(semantic, (), follows, papers, None)
    return await asyncio.to_thread(_match_waiting, follows, papers, passing)


def _match_waiting(
    follows: Sequence[Follow], papers: Sequence[Paper], passing: Passing
) -> list[DmMatch]:
    upvotes = [p.upvotes or 0 for p in papers]
    with BatchMatcher(papers) as matcher:
        return match_follows(compile_follows(follows), matcher, upvotes, passing)


def compile_feeds(
    feeds: Sequence[Feed], cache: dict[str, CompiledQuery] | None = None
) -> list[tuple[Feed, CompiledQuery]]:
    """Compile each feed's query once; a feed whose stored query no longer parses is skipped."""
    cache = {} if cache is None else cache
    out: list[tuple[Feed, CompiledQuery]] = []
    for feed in feeds:
        query = feed.spec.query
        if query not in cache:
            try:
                cache[query] = compile_query(query, ranking=False)
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
    upvotes = [p.upvotes or 0 for p in recent]
    with BatchMatcher(recent) as matcher:
        pairs = _match_feeds(feeds, matcher, recent, upvotes, passing)
        dms = match_follows(follows, matcher, upvotes, passing) if follows else []
    return pairs, dms


def _match_feeds(
    feeds: Sequence[tuple[Feed, CompiledQuery]],
    matcher: BatchMatcher,
    recent: Sequence[Paper],
    upvotes: Sequence[int],
    passing: Passing | None = None,
) -> list[tuple[int, str]]:
    """feed_accepts as row sets: sources and categories once per distinct value, not per pair."""
    ids = matcher.paper_ids
    by_sources: dict[tuple[str, ...], frozenset[int]] = {}
    pairs: list[tuple[int, str]] = []
    for feed, compiled in feeds:
        rows = semantic_rows(matcher, compiled, passing)
        if not rows:
            continue
        spec = feed.spec
        key = tuple(spec.sources)
        sources = by_sources.get(key)
        if sources is None:
            wanted = set(key)
            sources = frozenset(r for r, p in enumerate(recent) if wanted & p.sources)
            by_sources[key] = sources
        rows = rows & sources
        if spec.categories:
            rows = rows & matcher.rows_in(spec.categories)
        floor = spec.min_upvotes
        ordered = sorted(rows if floor <= 0 else [r for r in rows if upvotes[r] >= floor])
        fid = feed.id
        pairs += [(fid, ids[r]) for r in ordered]
    return pairs


async def queue_matches(
    store: Database,
    paper_ids: Sequence[str],
    now: datetime,
    *,
    follows_on: bool = True,
    semantic: Semantic | None = None,
    fresh: Mapping[str, bytes] | None = None,
) -> int:
    """Match the given (new or changed) papers against every active feed and personal follow,
    and queue them: posts to feeds' channels, DMs to members.

    `follows_on=False` (``[follows] enabled = false``) matches feeds only: no DM is owed.
    `fresh` holds vectors embedded for this batch: like: and about: compare the papers against
    their thresholds before the matching pass (which compiles everything else on its thread).
    """
    if not paper_ids:
        return 0
    feeds = await store.feeds.list(active_only=True)
    follows = await store.follows.list(active_only=True) if follows_on else []
    if not feeds and not follows:
        return 0
    papers = await store.papers.get_many(paper_ids)
    passing = await _semantic_pass(semantic, feeds, follows, papers, fresh)
    pairs, dms = await asyncio.to_thread(_match_pass, feeds, follows, papers, now, passing)
    return await store.outbox.queue(pairs) + await store.dms.queue(dms)


async def _semantic_pass(
    semantic: Semantic | None,
    feeds: Sequence[Feed],
    follows: Sequence[Follow],
    papers: Sequence[Paper],
    fresh: Mapping[str, bytes] | None,
) -> dict[SemanticKey, frozenset[str]]:
    """like: / about: of the feeds and follows that have them, against this batch."""
    texts = {f.spec.query for f in feeds} | {f.query for f in follows}
    queries = []
    for text in sorted(t for t in texts if might_be_semantic(t)):
        try:
            queries.append(compile_query(text, ranking=False))
        except QueryError:
            continue  # the matching pass logs it
    return await semantic_passing(semantic, queries, [p.id for p in papers], fresh)


def _match_pass(
    feeds: Sequence[Feed],
    follows: Sequence[Follow],
    papers: Sequence[Paper],
    now: datetime,
    passing: Passing | None = None,
) -> tuple[list[tuple[int, str]], list[DmMatch]]:
    """Compile and match off the event loop: compiling is half the pass's CPU."""
    compiled: dict[str, CompiledQuery] = {}  # a query feeds and follows share: compiled once
    return match_everything(
        compile_feeds(feeds, compiled), compile_follows(follows, compiled), papers, now, passing
    )


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
