"""Feed lifecycle shared by the CLI and Discord: create with a bounded backfill, sync the file."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.models import Feed, FeedOrigin, FeedSpec
from bot.services.matching import backfill_feed
from bot.store.interfaces import Database

log = logging.getLogger(__name__)


async def create_feed(
    store: Database,
    spec: FeedSpec,
    *,
    guild_id: int | None,
    now: datetime,
    origin: FeedOrigin = FeedOrigin.DISCORD,
) -> tuple[Feed, int]:
    """Store a feed and queue at most `backfill` of its recent matches (never the history)."""
    async with store.transaction():
        feed = await store.feeds.add(spec, guild_id=guild_id, origin=origin, backfill_used=0)
        matches = await backfill_feed(store, feed, now)
    queued = min(len(matches), spec.backfill)
    # DEBUG: each caller reports the result its own way (the CLI prints it, /feed add logs it),
    # so an INFO line here made `paperfeed feeds add` say everything twice.
    log.debug("feed %d (%s) created; %d recent match(es), %d queued", feed.id, feed.name,
              len(matches), queued)  # fmt: skip
    return feed, queued


async def sync_config_feeds(store: Database, specs: Sequence[FeedSpec], now: datetime) -> None:
    """Make the file-managed feeds equal [[feeds]]; new ones get their backfill."""
    async with store.transaction():
        added, removed = await store.feeds.sync_config(specs)
        for feed in added:
            await backfill_feed(store, feed, now)
    for feed in added:
        log.info("config feed %r added", feed.name)
    for feed in removed:
        log.info("config feed %r removed (no longer in the configuration file)", feed.name)


@dataclass
class ImportOutcome:
    """What `import_feeds` did, feed by feed (names as the file spells them)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    queued: int = 0


def _same_feed(existing: Sequence[Feed], spec: FeedSpec, guild_id: int | None) -> Feed | None:
    """The stored feed an imported table stands for: the same name in the guild, else the same
    channel and query (a channel belongs to one guild, so a channel match needs no guild)."""
    for feed in existing:
        if feed.name == spec.name and (feed.guild_id or 0) == (guild_id or 0):
            return feed
    for feed in existing:
        if feed.channel_id == spec.channel_id and feed.spec.query == spec.query:
            return feed
    return None


def _guild_of_channel(existing: Sequence[Feed], channel_id: int) -> int | None:
    """The guild a channel belongs to, as the feeds already posting there know it."""
    return next((f.guild_id for f in existing if f.channel_id == channel_id and f.guild_id), None)


async def import_feeds(
    store: Database,
    specs: Sequence[FeedSpec],
    *,
    guild_id: int | None,
    now: datetime,
    backfill: bool = True,
) -> ImportOutcome:
    """Create or update feeds from `[[feeds]]` tables, idempotently, in one transaction.

    A table that names the same channel and query, or the same name in the guild, as a stored
    feed updates that feed (or leaves it alone when nothing changed): importing an export twice,
    with or without a guild, never duplicates a feed. Without `guild_id`, a feed's guild is taken
    from the feeds already posting to its channel. Feeds of the configuration file are skipped.
    """
    outcome = ImportOutcome()
    async with store.transaction():
        for spec in specs:
            existing = await store.feeds.list()
            guild = guild_id or _guild_of_channel(existing, spec.channel_id)
            match = _same_feed(existing, spec, guild)
            if match is None:
                if backfill:
                    outcome.queued += (await create_feed(store, spec, guild_id=guild, now=now))[1]
                else:
                    await store.feeds.add(spec, guild_id=guild)
                outcome.created.append(spec.name)
            elif match.origin is FeedOrigin.CONFIG:
                reason = "managed by the configuration file"
                outcome.skipped.append({"name": spec.name, "reason": reason})
            elif match.spec == spec:
                outcome.unchanged.append(spec.name)
            else:
                await store.feeds.update(match.id, spec, match.guild_id or guild)
                outcome.updated.append(spec.name)
    return outcome
