"""Feeds in SQLite: one row per feed, its spec in columns, names unique within a guild."""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from typing import Any

from bot.clock import Clock
from bot.errors import DuplicateFeedName
from bot.models import Feed, FeedOrigin, FeedSpec
from bot.store.common import feeds as common
from bot.store.sqlite import codec
from bot.store.sqlite.connection import Connections


class SqliteFeeds:
    """The FeedRepository on SQLite."""

    def __init__(self, conns: Connections, clock: Clock) -> None:
        self._conns = conns
        self._clock = clock

    async def add(
        self,
        spec: FeedSpec,
        *,
        guild_id: int | None,
        origin: FeedOrigin = FeedOrigin.DISCORD,
        backfill_used: int | None = None,
    ) -> Feed:
        """Store a new feed; a name already used in the guild raises DuplicateFeedName.

        `backfill_used` defaults to all of it: a feed added without its backfill takes no
        backlog later either (`feeds import --no-backfill`).
        """
        used = spec.backfill if backfill_used is None else backfill_used
        async with self._conns.transaction():
            # Checked under the write lock, so no other writer can take the name in between;
            # the feeds_name unique index stays the last word.
            if await self.find(spec.name, guild_id) is not None:
                raise DuplicateFeedName(spec.name)
            cur = await self._conns.writer.execute(
                "INSERT INTO feeds (name, guild_id, channel_id, query, categories, sources, "
                "min_upvotes, mode, digest_time, digest_size, backfill, origin, created_at, "
                "backfill_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*_spec_values(spec, guild_id), origin.value, codec.ts(self._clock()), used),
            )
            feed = await self.get(int(cur.lastrowid or 0))
        assert feed is not None
        return feed

    async def update(self, feed_id: int, spec: FeedSpec, guild_id: int | None) -> None:
        async with self._conns.transaction():
            await self._conns.writer.execute(
                "UPDATE feeds SET name = ?, guild_id = ?, channel_id = ?, query = ?, categories = ?, "
                "sources = ?, min_upvotes = ?, mode = ?, digest_time = ?, digest_size = ?, "
                "backfill = ? WHERE id = ?",
                (*_spec_values(spec, guild_id), feed_id),
            )

    async def get(self, feed_id: int) -> Feed | None:
        row = await self._conns.fetchone("SELECT * FROM feeds WHERE id = ?", (feed_id,))
        return codec.feed_from_row(row) if row else None

    async def find(self, name: str, guild_id: int | None) -> Feed | None:
        """A feed by name within one guild (None = config feeds not yet bound to a guild)."""
        row = await self._conns.fetchone(
            "SELECT * FROM feeds WHERE name = ? AND coalesce(guild_id, 0) = ?",
            (name, guild_id or 0),
        )
        return codec.feed_from_row(row) if row else None

    async def list(self, *, guild_id: int | None = None, active_only: bool = False) -> list[Feed]:
        sql = "SELECT * FROM feeds"
        clauses: list[str] = []
        params: list[Any] = []
        if guild_id is not None:
            clauses.append("guild_id = ?")
            params.append(guild_id)
        if active_only:
            clauses.append("paused = 0")
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        rows = await self._conns.fetchall(sql + " ORDER BY id", params)
        return [codec.feed_from_row(r) for r in rows]

    async def remove(self, feed_id: int) -> bool:
        async with self._conns.transaction():
            cur = await self._conns.writer.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))
            return (cur.rowcount or 0) > 0

    async def set_paused(self, feed_id: int, paused: bool, reason: str | None = None) -> None:
        async with self._conns.transaction():
            await self._conns.writer.execute(
                "UPDATE feeds SET paused = ?, pause_reason = ? WHERE id = ?",
                (int(paused), reason if paused else None, feed_id),
            )

    async def bind_guild(self, feed_id: int, guild_id: int) -> None:
        """Record the guild of a config feed once Discord tells us where its channel lives."""
        async with self._conns.transaction():
            await self._conns.writer.execute(
                "UPDATE feeds SET guild_id = ? WHERE id = ? AND guild_id IS NULL",
                (guild_id, feed_id),
            )

    async def sync_config(
        self, specs: Sequence[FeedSpec]
    ) -> tuple[builtins.list[Feed], builtins.list[Feed]]:
        """Make the file-managed feeds equal the config's [[feeds]]; return (added, removed)."""
        return await common.sync_config(self, specs)

    async def backfill_left(self) -> dict[int, int]:
        """Active feeds that may still take old papers (backlog), with how many."""
        rows = await self._conns.fetchall(
            "SELECT id, backfill - backfill_used AS left FROM feeds "
            "WHERE paused = 0 AND backfill > backfill_used"
        )
        return {int(r["id"]): int(r["left"]) for r in rows}

    async def use_backfill(self, feed_id: int, count: int) -> None:
        """Count old papers queued to a feed against its `backfill`."""
        if count <= 0:
            return
        async with self._conns.transaction():
            await self._conns.writer.execute(
                "UPDATE feeds SET backfill_used = backfill_used + ? WHERE id = ?", (count, feed_id)
            )


def _spec_values(spec: FeedSpec, guild_id: int | None) -> tuple[Any, ...]:
    return (
        spec.name,
        guild_id,
        spec.channel_id,
        spec.query,
        json.dumps(list(spec.categories)),
        json.dumps(list(spec.sources)),
        spec.min_upvotes,
        spec.mode.value,
        spec.digest_time,
        spec.digest_size,
        spec.backfill,
    )
