"""Numbered `.sql` migrations, applied in one transaction, tracked in `PRAGMA user_version`."""

from __future__ import annotations

import logging
import sqlite3

import aiosqlite

from bot.errors import StoreError
from bot.store.common.migrations import Migration, shipped_migrations

log = logging.getLogger(__name__)


def available_migrations() -> list[Migration]:
    """Every migration shipped in bot/store/migrations, in order; gaps are a packaging bug."""
    return shipped_migrations("bot.store")


async def current_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: aiosqlite.Connection, target: int | None = None) -> int:
    """Bring the schema to `target` (default: latest) in one transaction; return the version."""
    migrations = available_migrations()
    latest = migrations[-1].version if migrations else 0
    target = latest if target is None else target
    version = await current_version(conn)
    if version > latest:
        raise StoreError(
            f"the database is at schema version {version}, newer than this paperfeed "
            f"understands ({latest}); upgrade paperfeed or use a backup"
        )
    pending = [m for m in migrations if version < m.version <= target]
    if not pending:
        return version
    try:
        await conn.execute("BEGIN IMMEDIATE")
        for migration in pending:
            log.debug("applying migration %s", migration.name)
            for statement in _statements(migration.sql):
                await conn.execute(statement)
        # PRAGMA cannot take a bound parameter; the value is our own integer.
        await conn.execute(f"PRAGMA user_version = {pending[-1].version:d}")
        await conn.commit()
    except sqlite3.Error as exc:
        await conn.rollback()
        raise StoreError(f"migration failed, database left at version {version}: {exc}") from exc
    if version > 0:  # a new database is not news; an upgraded one is worth one line
        log.info(
            "upgraded the database schema from version %d to %d (%s)",
            version,
            pending[-1].version,
            ", ".join(m.name for m in pending),
        )
    return pending[-1].version


def _statements(script: str) -> list[str]:
    """Split a script into complete statements (triggers contain semicolons of their own)."""
    out: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            out.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        out.append(buffer.strip())
    return out
