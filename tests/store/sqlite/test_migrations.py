"""Migrations: from empty and from each earlier version to the latest, in one transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from bot.errors import StoreError
from bot.store import open_store
from bot.store.sqlite.migrate import available_migrations, current_version, migrate


def test_migrations_are_numbered_without_gaps_and_commented() -> None:
    migrations = available_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    for m in migrations:
        assert m.sql.lstrip().startswith("--"), f"{m.name} needs a header comment"


async def test_from_empty_to_latest(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "a.sqlite3") as conn:
        version = await migrate(conn)
        assert version == available_migrations()[-1].version
        assert await current_version(conn) == version
        async with conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
            tables = {r[0] for r in await cur.fetchall()}
    assert {"papers", "papers_fts", "feeds", "deliveries", "source_runs"} <= tables


@pytest.mark.parametrize("start", range(0, len(available_migrations())))
async def test_from_each_earlier_version(tmp_path: Path, start: int) -> None:
    path = tmp_path / f"v{start}.sqlite3"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await migrate(conn, target=start)
        assert await current_version(conn) == start
        assert await migrate(conn) == available_migrations()[-1].version
    async with open_store(str(path)) as store:
        assert await store.integrity_check() == "ok"


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 999")
    with pytest.raises(StoreError, match="newer than this paperfeed"):
        async with open_store(str(path)):
            pass


async def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    path = str(tmp_path / "x.sqlite3")
    async with open_store(path):
        pass
    async with open_store(path) as store:
        assert await store.papers.count() == 0
