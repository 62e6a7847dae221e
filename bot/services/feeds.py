"""Feed lifecycle shared by the CLI and Discord: create with a bounded backfill, sync the file."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from bot.models import Feed, FeedOrigin, FeedSpec
from bot.services.matching import backfill_feed
from bot.store import Store

log = logging.getLogger(__name__)


async def create_feed(
    store: Store,
    spec: FeedSpec,
    *,
    guild_id: int | None,
    now: datetime,
    origin: FeedOrigin = FeedOrigin.DISCORD,
) -> tuple[Feed, int]:
    """Store a feed and queue at most `backfill` of its recent matches (never the history)."""
    async with store.transaction():
        feed = await store.add_feed(spec, guild_id=guild_id, origin=origin, backfill_used=0)
        matches = await backfill_feed(store, feed, now)
    queued = min(len(matches), spec.backfill)
    log.info("feed %d (%s) created; %d recent match(es), %d queued", feed.id, feed.name,
             len(matches), queued)  # fmt: skip
    return feed, queued


async def sync_config_feeds(store: Store, specs: Sequence[FeedSpec], now: datetime) -> None:
    """Make the file-managed feeds equal [[feeds]]; new ones get their backfill."""
    async with store.transaction():
        added, removed = await store.sync_config_feeds(specs)
        for feed in added:
            await backfill_feed(store, feed, now)
    for feed in added:
        log.info("config feed %r added", feed.name)
    for feed in removed:
        log.info("config feed %r removed (no longer in the configuration file)", feed.name)
