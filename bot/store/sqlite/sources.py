"""Source runs and per-source state in SQLite: what each poll did, and ETags between polls."""

from __future__ import annotations

from datetime import datetime

from bot.models import Clock, SourceHealth, SourceRun, health_from_runs
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
                "INSERT INTO source_runs (source, started_at, finished_at, fetched, new, updated, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run.source, codec.ts(run.started_at), codec.ts(run.finished_at), run.fetched,
                 run.new, run.updated, run.error),
            )  # fmt: skip

    async def runs(self, source: str, limit: int = 50) -> list[SourceRun]:
        """The latest runs of a source, newest first."""
        rows = await self._conns.fetchall(
            "SELECT * FROM source_runs WHERE source = ? ORDER BY id DESC LIMIT ?", (source, limit)
        )
        return [
            SourceRun(
                source=r["source"],
                started_at=codec.parse_ts(r["started_at"]) or self._clock(),
                finished_at=codec.parse_ts(r["finished_at"]) or self._clock(),
                fetched=r["fetched"],
                new=r["new"],
                updated=r["updated"],
                error=r["error"],
            )
            for r in rows
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
