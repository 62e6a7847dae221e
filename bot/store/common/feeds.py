"""Feed logic above the SQL: the same on every backend, over the FeedRepository's own methods."""

from __future__ import annotations

from collections.abc import Sequence

from bot.models import Feed, FeedOrigin, FeedSpec
from bot.store.interfaces import FeedRepository


async def sync_config(
    feeds: FeedRepository, specs: Sequence[FeedSpec]
) -> tuple[list[Feed], list[Feed]]:
    """Make the file-managed feeds equal the config's [[feeds]]; return (added, removed)."""
    current = {f.name: f for f in await feeds.list() if f.origin is FeedOrigin.CONFIG}
    wanted = {s.name: s for s in specs}
    added: list[Feed] = []
    removed = [f for name, f in current.items() if name not in wanted]
    for feed in removed:
        await feeds.remove(feed.id)
    for name, spec in wanted.items():
        if name in current:
            if current[name].spec != spec:
                await feeds.update(current[name].id, spec, current[name].guild_id)
        else:
            added.append(
                await feeds.add(spec, guild_id=None, origin=FeedOrigin.CONFIG, backfill_used=0)
            )
    return added, removed
