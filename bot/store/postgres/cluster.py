"""Heartbeats and leases of a cluster's processes in PostgreSQL.

Every time here is the database's own clock (`now()`), so processes on machines whose clocks
disagree still agree on who is silent and when a lease runs out.

Presence: each process also holds a session advisory lock, keyed by its id, on a connection of
its own. The server drops that connection, and the lock with it, as soon as the process dies
(the kernel closes a killed process's sockets), so the others see a SIGKILLed process gone at
once rather than when its heartbeat has aged. A partitioned or frozen process keeps its lock
until the server notices (hours without TCP keepalives): the heartbeat's age stays the bound.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bot.models import Lease, ProcessBeat
from bot.secrets import DatabaseUrl
from bot.store.postgres.session import Sessions, describe

log = logging.getLogger(__name__)

# The advisory lock namespace of process presence ("pres" in ASCII); the second key is
# `presence_key(process id)`.
PRESENCE_LOCK = int.from_bytes(b"pres", "big")
_HELD_PRESENCE = (
    "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2 "
    "AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def presence_key(process_id: str) -> int:
    """The process's presence lock key: 31 bits of a hash of its id (a collision only makes
    two processes each look present while the other is, never absent)."""
    return int.from_bytes(hashlib.sha256(process_id.encode()).digest()[:4], "big") & 0x7FFFFFFF


class PostgresPresence:
    """This process's presence lock on a connection of its own, opened again when lost."""

    def __init__(self, url: DatabaseUrl, process_id: str) -> None:
        self._url = url
        self._key = presence_key(process_id)
        self._conn: asyncpg.Connection[Any] | None = None

    async def hold(self) -> None:
        """Make sure the lock is held, connecting again if the connection was lost; raises
        StoreError when the database cannot be reached."""
        if self._conn is not None and not self._conn.is_closed():
            return
        await self.release()
        try:
            conn = await asyncpg.connect(
                self._url.get(), timeout=10, server_settings={"application_name": "paperfeed"}
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise describe(exc, self._url) from None
        try:
            held = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)",
                                            PRESENCE_LOCK, self._key))  # fmt: skip
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
            raise describe(exc, self._url) from None
        self._conn = conn
        if not held:  # another process's id hashed alike: both simply look present
            log.info("presence lock %d is taken by another process", self._key)

    async def release(self) -> None:
        """Close the connection, which gives the lock up."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _beat(row: asyncpg.Record, present: bool | None = None) -> ProcessBeat:
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
        present=present,
    )


class PostgresCluster:
    """The ClusterStore on PostgreSQL: one row per process, one row per lease."""

    def __init__(self, sessions: Sessions) -> None:
        self._s = sessions

    def presence(self, process_id: str) -> PostgresPresence:
        """The lock that tells the other processes this one is connected."""
        return PostgresPresence(self._s.url, process_id)

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
        held = {int(r["objid"]) for r in await self._s.fetch(_HELD_PRESENCE, PRESENCE_LOCK)}
        return [_beat(r, presence_key(r["id"]) in held) for r in rows]

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
