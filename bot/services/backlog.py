"""Backlog versus news: what a listing shows the first time the bot reads it is not news.

A fresh install's first poll, a newly configured arXiv category and a source switched on later
all show papers that were listed before the bot looked. Those are backlog: a feed takes at most
its `backfill` most recent of them, and that budget is shared with what the feed got when it was
created and counted over all sources together (`feeds.backfill_used`). So a feed made on an
empty install gets its backfill from the first polls, one made later got it at creation and
takes no more, and `backfill = 0` means only what is new from now on. Listings are remembered in
the store once a poll gave a usable one; a poll that failed outright has seen nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.models import Paper
from bot.services.matching import appeared_at, compile_feeds, match_batch, semantic_passing
from bot.store.interfaces import Database

if TYPE_CHECKING:
    from bot.services.semantic import Semantic

_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


def split_backlog(
    changed: Sequence[str], listings: Mapping[str, frozenset[str]], seen: set[str]
) -> tuple[list[str], list[str]]:
    """(news, backlog): a paper is news when a listing that showed it had been seen before.

    A paper that no listing names is taken as shown by all of them.
    """
    news: list[str] = []
    backlog: list[str] = []
    for paper_id in changed:
        shown_in = [name for name, ids in listings.items() if paper_id in ids] or list(listings)
        (news if any(name in seen for name in shown_in) else backlog).append(paper_id)
    return news, backlog


async def serve_backlog(
    store: Database,
    paper_ids: Sequence[str],
    now: datetime,
    semantic: Semantic | None = None,
    fresh: Mapping[str, bytes] | None = None,
) -> int:
    """Queue to each feed with backfill left its most recent backlog matches, within it."""
    if not paper_ids:
        return 0
    left = await store.feeds.backfill_left()
    if not left:
        return 0
    feeds = compile_feeds([f for f in await store.feeds.list(active_only=True) if f.id in left])
    papers = await store.papers.get_many(paper_ids)
    passing = await semantic_passing(semantic, [c for _, c in feeds], [p.id for p in papers], fresh)
    pairs = await asyncio.to_thread(match_batch, feeds, papers, now, passing)
    by_id = {p.id: p for p in papers}
    wanted: dict[int, list[Paper]] = {}
    for feed_id, paper_id in pairs:
        wanted.setdefault(feed_id, []).append(by_id[paper_id])
    queued = 0
    for feed_id, matches in wanted.items():
        newest = sorted(matches, key=lambda p: (appeared_at(p) or _LONG_AGO, p.id), reverse=True)
        chosen = newest[: left[feed_id]]
        # oldest first, so a channel reads in order
        count = await store.outbox.queue((feed_id, p.id) for p in reversed(chosen))
        await store.feeds.use_backfill(feed_id, count)
        queued += count
    return queued
