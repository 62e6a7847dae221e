"""Heartbeats and leases of a cluster's processes in PostgreSQL.

Every time here is the database's own clock (`now()`), so processes on machines whose clocks
disagree still agree on who is silent and when a lease runs out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg

from bot.models import Lease, ProcessBeat
from bot.store.postgres.session import Sessions


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _beat(row: asyncpg.Record) -> ProcessBeat:
    return ProcessBeat(
        id=row["id"],
        roles=tuple(r for r in row["roles"].split(",") if r),
        shards=row["shards"],
        host=row["host"],
        pid=row["pid"],
        version=row["version"],
        started_at=_utc(row["started_at"]),
        last_beat=_utc(row["last_beat"]),
        now=_utc(row["now"]),
        search=row["search"],
    )


class PostgresCluster:
    """The ClusterStore on PostgreSQL: one row per process, one row per lease."""

    def __init__(self, sessions: Sessions) -> None:
        self._s = sessions

    async def beat(
        self,
        process_id: str,
        roles: Sequence[str],
        shards: str,
        host: str,
        pid: int,
        version: str,
        search: Mapping[str, object] | None = None,
    ) -> None:
        await self._s.execute(
            "INSERT INTO cluster_processes (id, roles, shards, host, pid, version, started_at, "
            "last_beat, search) VALUES ($1, $2, $3, $4, $5, $6, now(), now(), $7) "
            "ON CONFLICT (id) DO UPDATE SET last_beat = now(), roles = EXCLUDED.roles, "
            "shards = EXCLUDED.shards, search = EXCLUDED.search",
            process_id, ",".join(roles), shards, host, pid, version, search,
        )  # fmt: skip

    async def processes(self) -> list[ProcessBeat]:
        rows = await self._s.fetch(
            "SELECT *, now() AS now FROM cluster_processes ORDER BY roles, host, pid"
        )
        return [_beat(r) for r in rows]

    async def forget(self, process_id: str) -> None:
        await self._s.execute("DELETE FROM cluster_processes WHERE id = $1", process_id)

    async def forget_silent(self, older_than: timedelta) -> int:
        status = await self._s.execute(
            "DELETE FROM cluster_processes WHERE last_beat < now() - $1::interval", older_than
        )
        return int(status.split()[-1])

    async def acquire(self, name: str, owner: str, ttl: timedelta) -> int | None:
        """Take or renew the lease; its epoch when `owner` holds it now, None when another does.

        A new owner (the lease was free or had run out) gets the next epoch; a renewal keeps it.
        """
        epoch = await self._s.fetchval(
            "INSERT INTO cluster_leases AS l (name, owner, epoch, expires_at) "
            "VALUES ($1, $2, 1, now() + $3::interval) "
            "ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, "
            "expires_at = EXCLUDED.expires_at, "
            "epoch = CASE WHEN l.owner = EXCLUDED.owner THEN l.epoch ELSE l.epoch + 1 END "
            "WHERE l.owner = EXCLUDED.owner OR l.expires_at < now() "
            "RETURNING epoch",
            name, owner, ttl,
        )  # fmt: skip
        return None if epoch is None else int(epoch)

    async def holds(self, name: str, owner: str, epoch: int) -> bool:
        """Whether `owner` still holds the lease in term `epoch` (checked before acting on it)."""
        return bool(
            await self._s.fetchval(
                "SELECT EXISTS (SELECT 1 FROM cluster_leases WHERE name = $1 AND owner = $2 "
                "AND epoch = $3 AND expires_at > now())",
                name,
                owner,
                epoch,
            )
        )

    async def release(self, name: str, owner: str) -> None:
        """Give the lease up (a clean stop): the next process may take it at once."""
        await self._s.execute(
            "UPDATE cluster_leases SET expires_at = now() - interval '1 second' "
            "WHERE name = $1 AND owner = $2",
            name, owner,
        )  # fmt: skip

    async def leases(self) -> list[Lease]:
        rows = await self._s.fetch("SELECT * FROM cluster_leases ORDER BY name")
        return [Lease(r["name"], r["owner"], int(r["epoch"]), _utc(r["expires_at"])) for r in rows]
