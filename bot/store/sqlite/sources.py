"""Source runs and per-source state in SQLite: what each poll did, the listings it has read,
its last poll's warnings, and ETags between polls."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.clock import Clock
from bot.models import SourceHealth, SourceRun, health_from_runs
from bot.store.common import codec as common
from bot.store.sqlite import codec
from bot.store.sqlite.connection import Connections


class SqliteSources:
    """The SourceLog on SQLite."""

    def __init__(self, conns: Connections, clock: Clock) -> None:
        self._conns = conns
        self._clock = clock

    async def record_run(self, run: SourceRun) -> None:
        async with self._conns.transaction():
            await self._conns.writer.execute(
                "INSERT INTO source_runs (source, started_at, finished_at, fetched, new, updated, "
                "error, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run.source, codec.ts(run.started_at), codec.ts(run.finished_at), run.fetched,
                 run.new, run.updated, run.error, run.warnings),
            )  # fmt: skip

    async def runs(self, source: str, limit: int = 50) -> list[SourceRun]:
        """The latest runs of a source, newest first."""
        rows = await self._conns.fetchall(
            "SELECT * FROM source_runs WHERE source = ? ORDER BY id DESC LIMIT ?", (source, limit)
        )
        return [
            common.source_run_from_values(r, time=codec.parse_ts, clock=self._clock) for r in rows
        ]

    async def health(self, source: str) -> SourceHealth:
        """Last success, last error and the run of failures since, from the recorded runs."""
        return health_from_runs(source, await self.runs(source, limit=200))

    async def last_new_paper_at(self, source: str) -> datetime | None:
        """When a run of this source last brought an unseen id (for the stale check)."""
        row = await self._conns.fetchone(
            "SELECT max(finished_at) FROM source_runs WHERE source = ? AND new > 0", (source,)
        )
        return codec.parse_ts(row[0]) if row and row[0] else None

    async def seen_listings(self, source: str, listings: Sequence[str]) -> set[str]:
        """Which of a source's listings the bot has read before (all, after an upgrade)."""
        rows = await self._conns.fetchall(
            "SELECT listing FROM listings_seen WHERE listing IN (SELECT value FROM json_each(?))",
            (json.dumps([*listings, f"{source}/*"]),),
        )
        seen = {str(r["listing"]) for r in rows}
        return set(listings) if f"{source}/*" in seen else seen

    async def mark_listings_seen(self, source: str, listings: Sequence[str], now: datetime) -> None:
        """Remember listings as read; the upgrade's wildcard gives way to their names."""
        async with self._conns.transaction():
            conn = self._conns.writer
            await conn.executemany(
                "INSERT OR IGNORE INTO listings_seen (listing, seen_at) VALUES (?, ?)",
                [(listing, codec.ts(now)) for listing in listings],
            )
            await conn.execute("DELETE FROM listings_seen WHERE listing = ?", (f"{source}/*",))

    async def note_warnings(self, source: str, keys: Sequence[str], now: datetime) -> set[str]:
        """Keep this poll's warnings; return those the previous poll did not have."""
        async with self._conns.transaction():
            rows = await self._conns.fetchall(
                "SELECT key FROM source_warnings WHERE source = ?", (source,)
            )
            known = {str(r["key"]) for r in rows}
            conn = self._conns.writer
            await conn.execute(
                "DELETE FROM source_warnings WHERE source = ? AND key NOT IN "
                "(SELECT value FROM json_each(?))",
                (source, json.dumps(list(keys))),
            )
            await conn.executemany(
                "INSERT OR IGNORE INTO source_warnings (source, key, seen_at) VALUES (?, ?, ?)",
                [(source, key, codec.ts(now)) for key in keys],
            )
        return set(keys) - known

    async def get_state(self, source: str, key: str) -> str | None:
        row = await self._conns.fetchone(
            "SELECT value FROM source_state WHERE source = ? AND key = ?", (source, key)
        )
        return str(row[0]) if row else None

    async def set_state(self, source: str, key: str, value: str) -> None:
        async with self._conns.transaction():
            await self._conns.writer.execute(
                "INSERT INTO source_state (source, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (source, key) DO UPDATE SET value = excluded.value",
                (source, key, value),
            )
