"""Connection-bound liveness on the real PostgreSQL: a killed publisher stops counting toward
the fair shares as soon as the server drops its connection, not once its heartbeat is 30 s old;
a process whose connection cannot tell (another version, a partition) is judged by its beat."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from bench.presence_kill import start_beating
from bot import __version__
from bot.services.cluster import Heartbeat, Identity, cluster_status, live_publishers
from bot.store.postgres.cluster import PostgresPresence
from bot.store.postgres.database import PostgresDatabase, open_postgres


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[PostgresDatabase]:
    async with open_postgres(postgres_url) as database:
        yield database


def publisher(n: int) -> Identity:
    return Identity(f"h:{n}:x", "h", n, ("publisher",), "")


async def test_a_publisher_whose_connection_dropped_no_longer_counts_though_its_beat_is_fresh(
    db: PostgresDatabase,
) -> None:
    first, second = Heartbeat(db.cluster, publisher(1)), Heartbeat(db.cluster, publisher(2))
    await first.start()
    await second.start()
    try:
        assert await live_publishers(db.cluster) == 2
        # the second one dies without a word: its connection closes, its row stays
        assert second._task is not None and second._presence is not None
        second._task.cancel()
        await second._presence.release()
        found = {p.beat.id: p for p in await cluster_status(db.cluster)}
        assert not found["h:2:x"].silent and found["h:2:x"].beat.present is False
        assert await live_publishers(db.cluster) == 1
        # one that lost its connection but lives takes its lock again at its next beat
        await second.hold_presence()
        assert await live_publishers(db.cluster) == 2
    finally:
        await first.stop()
        await second.stop()


async def test_a_process_of_another_version_or_without_a_lock_is_judged_by_its_beat(
    db: PostgresDatabase,
) -> None:
    await db.cluster.beat("old:1:x", ("publisher",), "", "old", 1, "0.0.1")  # holds no lock
    await db.cluster.beat("new:1:x", ("all",), "", "new", 1, __version__)  # lock gone
    assert await live_publishers(db.cluster) == 1
    held = PostgresPresence(db.url, "new:1:x")
    await held.hold()
    try:
        assert await live_publishers(db.cluster) == 2
        await held.hold()  # holding again on a live connection changes nothing
        assert await live_publishers(db.cluster) == 2
    finally:
        await held.release()
    assert await live_publishers(db.cluster) == 1
    # the heartbeat's age still rules: a process silent for 30 s is gone whatever its lock
    await held.hold()
    try:
        assert await live_publishers(db.cluster, silent_after=timedelta(0)) == 0
    finally:
        await held.release()


async def test_a_sigkilled_publisher_gives_its_share_back_within_a_second(
    db: PostgresDatabase, postgres_url: str
) -> None:
    child = await start_beating(postgres_url, timeout=30)
    try:
        assert await live_publishers(db.cluster) == 1
        child.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await child.wait()
        while await live_publishers(db.cluster) != 0:
            assert time.monotonic() - killed < 5, "the killed publisher still counts"
            await asyncio.sleep(0.01)
        took = time.monotonic() - killed
        (status,) = await cluster_status(db.cluster)
        assert not status.silent  # its beat is fresh: the heartbeat alone would count it
        assert took < 1.0, took
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


async def test_the_presence_locks_are_visible_to_every_role(postgres_url: str) -> None:
    """The check reads pg_locks, which PostgreSQL lets every role read: no superuser needed."""
    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval(
            "SELECT has_table_privilege('public', 'pg_catalog.pg_locks', 'SELECT')"
        )
    finally:
        await conn.close()
