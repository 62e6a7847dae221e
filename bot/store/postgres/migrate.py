"""Numbered `.sql` migrations for PostgreSQL, applied in one transaction under an advisory lock.

Two processes starting together both wait for the lock; the second then finds the schema
current and applies nothing. Applied versions are rows of `schema_migrations`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from bot.errors import StoreError
from bot.store.common.migrations import Migration, shipped_migrations

if TYPE_CHECKING:  # the stubs make these generic; the runtime classes are not subscriptable
    from asyncpg.pool import PoolConnectionProxy

    # A connection of its own or one lent by a pool: both run statements alike.
    Connection: TypeAlias = asyncpg.Connection[Any] | PoolConnectionProxy[Any]

log = logging.getLogger(__name__)
# The advisory lock every paperfeed migrator takes: "paperfee" in ASCII, a fixed 64-bit key
# nothing else is likely to use. Transaction-level, so it is released by COMMIT or ROLLBACK
# and never outlives a crashed migrator's connection.
MIGRATION_LOCK = 0x7061706572666565

_CREATE_TRACKING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def available_migrations() -> list[Migration]:
    """Every migration shipped in bot/store/postgres/migrations, in order; gaps are a packaging bug."""
    return shipped_migrations("bot.store.postgres")


async def current_version(conn: Connection) -> int:
    """The schema version (0 for an empty database)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))


async def migrate(conn: Connection, target: int | None = None) -> int:
    """Bring the schema to `target` (default: latest) in one transaction; return the version."""
    migrations = available_migrations()
    latest = migrations[-1].version if migrations else 0
    target = latest if target is None else target
    try:
        async with conn.transaction():
            # Whoever comes second waits here, then sees the first one's work.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            # Building indexes on a large table may take longer than any statement should.
            await conn.execute("SET LOCAL statement_timeout = 0")
            await conn.execute(_CREATE_TRACKING)
            version = await current_version(conn)
            if version > latest:
                raise StoreError(
                    f"the database is at schema version {version}, newer than this paperfeed "
                    f"understands ({latest}); upgrade paperfeed"
                )
            pending = [m for m in migrations if version < m.version <= target]
            for migration in pending:
                log.info("applying migration %s", migration.name)
                await conn.execute(migration.sql)  # a script: simple protocol, no parameters
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
    except asyncpg.PostgresError as exc:
        raise StoreError(f"migration failed, database left as it was: {exc}") from exc
    return pending[-1].version if pending else version
