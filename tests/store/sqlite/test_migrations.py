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


async def test_0004_treats_an_upgraded_install_s_sources_as_seen(tmp_path: Path) -> None:
    """Sources that fetched before the upgrade have seen everything ("<source>/*"); feeds that
    exist had their backfill at creation; runs so far had no warnings."""
    path = tmp_path / "v3.sqlite3"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await migrate(conn, target=3)
        await conn.execute(
            "INSERT INTO source_runs (source, started_at, finished_at, fetched, new) VALUES "
            "('huggingface', '2026-11-24T12:00:00Z', '2026-11-24T12:00:00Z', 30, 30), "
            "('huggingface', '2026-11-25T12:00:00Z', '2026-11-25T12:00:00Z', 30, 0), "
            "('arxiv', '2026-11-24T12:00:00Z', '2026-11-24T12:00:00Z', 0, 0)"
        )
        await conn.execute(
            "INSERT INTO feeds (name, channel_id, query, backfill, created_at) "
            "VALUES ('old', 1, 'causal', 3, '2026-11-01T00:00:00Z')"
        )
        assert await migrate(conn, target=4) == 4
        async with conn.execute("SELECT listing, seen_at FROM listings_seen") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [
                ("huggingface/*", "2026-11-24T12:00:00Z")  # arXiv never fetched anything
            ]
        async with conn.execute("SELECT backfill, backfill_used FROM feeds") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [(3, 3)]
        async with conn.execute("SELECT DISTINCT warnings FROM source_runs") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [(0,)]
    async with open_store(str(path)) as store:
        assert await store.sources.seen_listings("huggingface", ["huggingface"]) == {"huggingface"}
        assert await store.sources.seen_listings("arxiv", ["arxiv/cs.LG"]) == set()
        assert await store.feeds.backfill_left() == {}


async def test_fts5_keeps_a_batch_of_new_terms_in_memory(tmp_path: Path) -> None:
    # Migration 0010: FTS5 writes an import batch as one segment, not a dozen (then merged).
    path = str(tmp_path / "h.sqlite3")
    async with open_store(path):
        pass
    with sqlite3.connect(path) as raw:
        found = raw.execute("SELECT v FROM papers_fts_config WHERE k = 'hashsize'").fetchone()
    assert found == (33554432,)
