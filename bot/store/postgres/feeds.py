"""Feeds in PostgreSQL: one row per feed, names unique within a guild (the index decides)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import asyncpg

from bot.clock import Clock
from bot.errors import DuplicateFeedName, StoreError
from bot.models import Feed, FeedOrigin, FeedSpec
from bot.store.common import feeds as common
from bot.store.postgres import codec
from bot.store.postgres.session import Session, Sessions

_SPEC_SET = (
    "name = $1, guild_id = $2, channel_id = $3, query = $4, categories = $5, sources = $6, "
    "min_upvotes = $7, mode = $8, digest_time = $9, digest_size = $10, backfill = $11"
)


class PostgresFeeds:
    """The FeedRepository on PostgreSQL."""

    def __init__(self, sessions: Sessions, clock: Clock) -> None:
        self._s = sessions
        self._clock = clock

    async def add(
        self,
        spec: FeedSpec,
        *,
        guild_id: int | None,
        origin: FeedOrigin = FeedOrigin.DISCORD,
        backfill_used: int | None = None,
    ) -> Feed:
        """Store a new feed; a name already used in the guild raises DuplicateFeedName."""
        used = spec.backfill if backfill_used is None else backfill_used

        async def insert(session: Session) -> Feed:
            # The feeds_name unique index decides between two processes adding at once.
            async with session.conn.transaction():  # a savepoint: a clash spoils nothing else
                try:
                    row = await session.fetchrow(
                        "INSERT INTO feeds (name, guild_id, channel_id, query, categories, "
                        "sources, min_upvotes, mode, digest_time, digest_size, backfill, origin, "
                        "created_at, backfill_used) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                        "$10, $11, $12, $13, $14) RETURNING *",
                        *codec.spec_values(spec, guild_id),
                        origin.value,
                        codec.ts(self._clock()),
                        used,
                    )
                except StoreError as exc:
                    if isinstance(exc.__cause__, asyncpg.UniqueViolationError):
                        raise DuplicateFeedName(spec.name) from None
                    raise
            assert row is not None
            return codec.feed_from_row(row)

        return await self._s.write(insert)

    async def update(self, feed_id: int, spec: FeedSpec, guild_id: int | None) -> None:
        await self._s.execute(
            f"UPDATE feeds SET {_SPEC_SET} WHERE id = $12",
            *codec.spec_values(spec, guild_id),
            feed_id,
        )

    async def get(self, feed_id: int) -> Feed | None:
        row = await self._s.fetchrow("SELECT * FROM feeds WHERE id = $1", feed_id)
        return codec.feed_from_row(row) if row else None

    async def find(self, name: str, guild_id: int | None) -> Feed | None:
        """A feed by name within one guild (None = config feeds not yet bound to a guild)."""
        row = await self._s.fetchrow(
            "SELECT * FROM feeds WHERE name = $1 AND coalesce(guild_id, 0) = $2",
            name,
            guild_id or 0,
        )
        return codec.feed_from_row(row) if row else None

    async def list(self, *, guild_id: int | None = None, active_only: bool = False) -> list[Feed]:
        clauses: list[str] = []
        params: list[Any] = []
        if guild_id is not None:
            params.append(guild_id)
            clauses.append(f"guild_id = ${len(params)}")
        if active_only:
            clauses.append("NOT paused")
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = await self._s.fetch(f"SELECT * FROM feeds{where} ORDER BY id", *params)
        return [codec.feed_from_row(r) for r in rows]

    async def remove(self, feed_id: int) -> bool:
        status = await self._s.execute("DELETE FROM feeds WHERE id = $1", feed_id)
        return status != "DELETE 0"

    async def set_paused(self, feed_id: int, paused: bool, reason: str | None = None) -> None:
        await self._s.execute(
            "UPDATE feeds SET paused = $1, pause_reason = $2 WHERE id = $3",
            paused,
            reason if paused else None,
            feed_id,
        )

    async def bind_guild(self, feed_id: int, guild_id: int) -> None:
        """Record the guild of a config feed once Discord tells us where its channel lives."""
        await self._s.execute(
            "UPDATE feeds SET guild_id = $1 WHERE id = $2 AND guild_id IS NULL", guild_id, feed_id
        )

    async def sync_config(
        self, specs: Sequence[FeedSpec]
    ) -> tuple[builtins.list[Feed], builtins.list[Feed]]:
        """Make the file-managed feeds equal the config's [[feeds]]; return (added, removed)."""
        return await common.sync_config(self, specs)

    async def backfill_left(self) -> dict[int, int]:
        """Active feeds that may still take old papers (backlog), with how many."""
        rows = await self._s.fetch(
            "SELECT id, backfill - backfill_used AS left FROM feeds "
            "WHERE NOT paused AND backfill > backfill_used"
        )
        return {int(r["id"]): int(r["left"]) for r in rows}

    async def use_backfill(self, feed_id: int, count: int) -> None:
        """Count old papers queued to a feed against its `backfill`."""
        if count <= 0:
            return
        await self._s.execute(
            "UPDATE feeds SET backfill_used = backfill_used + $1 WHERE id = $2", count, feed_id
        )
