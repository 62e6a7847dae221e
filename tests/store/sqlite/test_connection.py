"""SQLite's read discipline: a file's readers never wait for the writer; `:memory:` readers do."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.models import FeedSpec
from bot.store import open_store
from tests.store.contract.support import NOW, paper


class Rollback(Exception):
    pass


@pytest.mark.parametrize("where", ["file", "memory"])
async def test_a_read_during_another_tasks_transaction(tmp_path: Path, where: str) -> None:
    path = ":memory:" if where == "memory" else str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=lambda: NOW) as db:
        await db.papers.upsert([paper("2401.00001")])
        feed = await db.feeds.add(FeedSpec(name="f", channel_id=1, query="x"), guild_id=1)
        inside, release = asyncio.Event(), asyncio.Event()

        async def poll() -> None:
            with pytest.raises(Rollback):
                async with db.transaction():
                    await db.outbox.queue([(feed.id, "2401.00001")])
                    await db.papers.upsert([paper("2401.00002")])
                    inside.set()
                    await release.wait()
                    raise Rollback

        task = asyncio.create_task(poll())
        await inside.wait()
        reader = asyncio.create_task(db.outbox.due(NOW))
        done, _ = await asyncio.wait({reader}, timeout=0.5)
        if where == "file":
            # the query-only connection answers at once, with the last commit
            assert done and reader.result() == []
            assert await db.papers.count() == 1
        else:
            assert not done  # one connection: the read waits for the transaction to end
        release.set()
        await task
        assert await reader == []


async def test_writes_outside_a_transaction_are_refused(tmp_path: Path) -> None:
    async with open_store(str(tmp_path / "p.sqlite3")) as db:
        with pytest.raises(RuntimeError, match="outside the task's transaction"):
            db.connections.writer  # noqa: B018
        async with db.transaction():
            assert db.connections.writer is db.connections.each()[0]


async def test_the_reader_connection_cannot_write(tmp_path: Path) -> None:
    import sqlite3

    async with open_store(str(tmp_path / "p.sqlite3")) as db:
        _, reader = db.connections.each()
        # Read first: opening changed the schema (FTS5's triggers dropped beside the index),
        # and a statement that is the reader's first since then fails before writing anyway.
        await reader.execute("SELECT count(*) FROM papers")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await reader.execute("DELETE FROM papers")
