"""Source runs and per-source state in PostgreSQL: what each poll did, the listings it has
read, its last poll's warnings, and ETags between polls."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.clock import Clock
from bot.models import SourceHealth, SourceRun, health_from_runs
from bot.store.common import codec as common
from bot.store.postgres import codec
from bot.store.postgres.session import Session, Sessions


class PostgresSources:
    """The SourceLog on PostgreSQL."""

    def __init__(self, sessions: Sessions, clock: Clock) -> None:
        self._s = sessions
        self._clock = clock

    async def record_run(self, run: SourceRun) -> None:
        await self._s.execute(
            "INSERT INTO source_runs (source, started_at, finished_at, fetched, new, updated, "
            "error, warnings) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            run.source, codec.ts(run.started_at), codec.ts(run.finished_at), run.fetched,
            run.new, run.updated, run.error, run.warnings,
        )  # fmt: skip

    async def runs(self, source: str, limit: int = 50) -> list[SourceRun]:
        """The latest runs of a source, newest first."""
        rows = await self._s.fetch(
            "SELECT * FROM source_runs WHERE source = $1 ORDER BY id DESC LIMIT $2", source, limit
        )
        return [common.source_run_from_values(r, time=codec.utc, clock=self._clock) for r in rows]

    async def health(self, source: str) -> SourceHealth:
        """Last success, last error and the run of failures since, from the recorded runs."""
        return health_from_runs(source, await self.runs(source, limit=200))

    async def last_new_paper_at(self, source: str) -> datetime | None:
        """When a run of this source last brought an unseen id (for the stale check)."""
        value = await self._s.fetchval(
            "SELECT max(finished_at) FROM source_runs WHERE source = $1 AND new > 0", source
        )
        return codec.utc(value)

    async def seen_listings(self, source: str, listings: Sequence[str]) -> set[str]:
        """Which of a source's listings the bot has read before (all, after an upgrade)."""
        rows = await self._s.fetch(
            "SELECT listing FROM listings_seen WHERE listing = ANY($1::text[])",
            [*listings, f"{source}/*"],
        )
        seen = {str(r["listing"]) for r in rows}
        return set(listings) if f"{source}/*" in seen else seen

    async def mark_listings_seen(self, source: str, listings: Sequence[str], now: datetime) -> None:
        """Remember listings as read; the upgrade's wildcard gives way to their names."""

        async def mark(session: Session) -> None:
            await session.execute(
                "INSERT INTO listings_seen (listing, seen_at) SELECT unnest($1::text[]), $2 "
                "ON CONFLICT (listing) DO NOTHING",
                list(listings),
                codec.ts(now),
            )
            await session.execute("DELETE FROM listings_seen WHERE listing = $1", f"{source}/*")

        await self._s.write(mark)

    async def note_warnings(self, source: str, keys: Sequence[str], now: datetime) -> set[str]:
        """Keep this poll's warnings; return those the previous poll did not have."""

        async def note(session: Session) -> set[str]:
            rows = await session.fetch(
                "SELECT key FROM source_warnings WHERE source = $1 FOR UPDATE", source
            )
            known = {str(r["key"]) for r in rows}
            await session.execute(
                "DELETE FROM source_warnings WHERE source = $1 AND NOT (key = ANY($2::text[]))",
                source,
                list(keys),
            )
            await session.execute(
                "INSERT INTO source_warnings (source, key, seen_at) "
                "SELECT $1, unnest($2::text[]), $3 ON CONFLICT (source, key) DO NOTHING",
                source,
                list(keys),
                codec.ts(now),
            )
            return set(keys) - known

        return await self._s.write(note)

    async def get_state(self, source: str, key: str) -> str | None:
        value = await self._s.fetchval(
            "SELECT value FROM source_state WHERE source = $1 AND key = $2", source, key
        )
        return str(value) if value is not None else None

    async def set_state(self, source: str, key: str, value: str) -> None:
        await self._s.execute(
            "INSERT INTO source_state (source, key, value) VALUES ($1, $2, $3) "
            "ON CONFLICT (source, key) DO UPDATE SET value = excluded.value",
            source,
            key,
            value,
        )
