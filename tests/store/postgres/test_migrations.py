"""PostgreSQL migrations: numbered, applied once under a lock, refused when too new."""

from __future__ import annotations

import asyncio
import logging
import socket

import asyncpg
import pytest

from bot.errors import StoreError
from bot.secrets import DatabaseUrl
from bot.store.postgres import open_pool
from bot.store.postgres.migrate import available_migrations, current_version, migrate

TABLES = {"papers", "paper_categories", "feeds", "deliveries", "source_runs", "source_state"}


def test_migrations_are_numbered_without_gaps_and_commented() -> None:
    migrations = available_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    for m in migrations:
        assert m.sql.lstrip().startswith("--"), f"{m.name} needs a header comment"


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in rows}


async def test_from_empty_to_latest_and_again(postgres_empty_url: str) -> None:
    conn = await asyncpg.connect(postgres_empty_url)
    try:
        assert await current_version(conn) == 0
        latest = available_migrations()[-1].version
        assert await migrate(conn) == latest
        assert TABLES | {"schema_migrations"} <= await _tables(conn)
        assert await migrate(conn) == latest  # nothing left to do
        rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == list(range(1, latest + 1))
    finally:
        await conn.close()


async def test_concurrent_migrators_migrate_once(
    postgres_empty_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Four processes starting at once: the lock serialises them, one applies, three wait."""
    caplog.set_level(logging.INFO, logger="bot.store.postgres.migrate")
    conns = [await asyncpg.connect(postgres_empty_url) for _ in range(4)]
    try:
        versions = await asyncio.gather(*(migrate(c) for c in conns))
        latest = available_migrations()[-1].version
        assert versions == [latest] * 4
        applied = [r for r in caplog.records if r.getMessage().startswith("applying migration")]
        assert len(applied) == latest
        count = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
        assert count == latest
    finally:
        for c in conns:
            await c.close()


async def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
        with pytest.raises(StoreError, match="newer than this paperfeed understands"):
            await migrate(conn)
    finally:
        await conn.close()


async def test_pool_sets_timeouts_and_a_slow_statement_fails_alone(postgres_url: str) -> None:
    async with open_pool(postgres_url, statement_timeout=0.2) as pool:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW statement_timeout") == "200ms"
            assert await conn.fetchval("SHOW application_name") == "paperfeed"
            with pytest.raises(asyncpg.QueryCanceledError):
                await conn.execute("SELECT pg_sleep(2)")
            assert await conn.fetchval("SELECT 1") == 1  # the connection is still good
        assert await pool.fetchval("SELECT '[1, 2]'::jsonb") == [1, 2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    url = DatabaseUrl(f"postgresql://pf:SECRET-PW@127.0.0.1:{_closed_port()}/pf")
    with pytest.raises(StoreError) as info:
        async with open_pool(url):
            pass
    text = str(info.value)
    assert text.startswith("cannot connect to PostgreSQL at postgresql://pf:***@127.0.0.1:")
    assert "SECRET-PW" not in text and "\n" not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


async def test_a_wrong_password_is_one_line_without_it(postgres_url: str) -> None:
    """Trust authentication ignores passwords, so ask for a database that does not exist."""
    url = DatabaseUrl(postgres_url.replace("@", ":SECRET-PW@", 1) + "_missing")
    with pytest.raises(StoreError) as info:
        async with open_pool(url):
            pass
    assert "does not exist" in str(info.value)
    assert "SECRET-PW" not in str(info.value)
