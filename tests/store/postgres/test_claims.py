"""PostgreSQL's claims between publishers: exclusive per channel, taken over once expired, and
Discord's global budget shared by every process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.models import FeedSpec
from bot.store.postgres.database import PostgresDatabase, open_postgres
from tests.store.contract.support import NOW, FakeClock, paper

LEASE = timedelta(seconds=30)


@pytest.fixture
async def stores(postgres_url: str) -> AsyncIterator[tuple[PostgresDatabase, PostgresDatabase]]:
    """Two processes' worth of store: separate pools on one database."""
    clock = FakeClock()
    async with (
        open_postgres(postgres_url, clock=clock) as a,
        open_postgres(postgres_url, clock=clock) as b,
    ):
        yield a, b


async def feeds_on(db: PostgresDatabase, channels: list[int]) -> None:
    for n, channel in enumerate(channels):
        pid = f"2401.{n:05d}"
        await db.papers.upsert([paper(pid)])
        feed = await db.feeds.add(FeedSpec(name=f"f{n}", channel_id=channel, query="x"), guild_id=1)
        await db.outbox.queue([(feed.id, pid)])


async def test_a_channel_is_claimed_by_one_publisher_until_its_claim_expires(
    stores: tuple[PostgresDatabase, PostgresDatabase],
) -> None:
    a, b = stores
    await feeds_on(a, [10, 20])
    taken = await a.outbox.claim("a", NOW, NOW + LEASE, channels=1)
    assert [w.channel_id for w in taken] == [10]
    assert [w.channel_id for w in await b.outbox.claim("b", NOW, NOW + LEASE)] == [20]
    again = await b.outbox.claim("b", NOW, NOW + LEASE)  # its own channel again, never a's
    assert [w.channel_id for w in again] == [20]
    assert not await b.outbox.claim_channel("b", 10, NOW, NOW + LEASE)
    # a stops renewing (a crash): once its lease is over, b takes the channel and its work
    expired = NOW + LEASE + timedelta(seconds=1)
    assert [w.channel_id for w in await b.outbox.claim("b", expired, expired + LEASE)] == [10, 20]
    assert 10 not in await a.outbox.renew_claims("a", expired + LEASE)  # a learns it lost it


async def test_channels_a_row_limit_left_out_are_free_at_once(
    stores: tuple[PostgresDatabase, PostgresDatabase],
) -> None:
    a, b = stores
    await feeds_on(a, [10, 20, 30])
    (only,) = await a.outbox.claim("a", NOW, NOW + LEASE, limit=1)
    assert only.channel_id == 10
    assert [w.channel_id for w in await b.outbox.claim("b", NOW, NOW + LEASE)] == [20, 30]


async def test_concurrent_claims_never_share_a_channel(postgres_url: str) -> None:
    clock = FakeClock()
    channels = list(range(100, 140))
    async with open_postgres(postgres_url, clock=clock) as seed:
        await feeds_on(seed, channels)
    opened = [open_postgres(postgres_url, clock=clock) for _ in range(4)]
    dbs = [await o.__aenter__() for o in opened]
    try:
        results = await asyncio.gather(
            *(db.outbox.claim(f"p{i}", NOW, NOW + LEASE, channels=15) for i, db in enumerate(dbs))
        )
    finally:
        for o in opened:
            await o.__aexit__(None, None, None)
    claimed = [w.channel_id for work in results for w in work]
    assert len(claimed) == len(set(claimed))  # no channel in two publishers
    assert len(claimed) == min(40, 4 * 15)


async def test_the_global_budget_is_shared_by_every_process(postgres_url: str) -> None:
    """Four processes asking as fast as they can: together never more than burst + rate in any
    second, and close to the rate over the run."""
    rate, burst = 40.0, 5
    opened = [open_postgres(postgres_url) for _ in range(4)]
    dbs = [await o.__aenter__() for o in opened]
    grants: list[float] = []
    start = time.monotonic()

    async def spend(db: PostgresDatabase) -> None:
        while time.monotonic() - start < 1.5:
            wait = await db.rest_budget.take("discord", rate, burst)
            if wait:
                await asyncio.sleep(wait)
            else:
                grants.append(time.monotonic())

    try:
        await asyncio.gather(*(spend(db) for db in dbs))
    finally:
        for o in opened:
            await o.__aexit__(None, None, None)
    grants.sort()
    busiest = max(sum(1 for g in grants if t <= g < t + 1.0) for t in grants)
    assert busiest <= burst + rate + 1  # +1: the two clocks (server's, ours) differ slightly
    assert len(grants) >= 0.6 * (rate * 1.5 + burst)  # the processes did get the budget


async def test_a_notification_wakes_other_processes_not_its_own(
    stores: tuple[PostgresDatabase, PostgresDatabase],
) -> None:
    a, b = stores
    a_woke, b_woke = asyncio.Event(), asyncio.Event()
    await a.papers.upsert([paper("2401.00001")])
    feed = await a.feeds.add(FeedSpec(name="f", channel_id=1, query="x"), guild_id=1)
    async with a.watch_outbox(a_woke.set), b.watch_outbox(b_woke.set):
        await asyncio.wait_for(a_woke.wait(), 5)  # the first wake: anything queued meanwhile
        await asyncio.wait_for(b_woke.wait(), 5)
        a_woke.clear()
        b_woke.clear()
        async with a.transaction():
            await a.outbox.queue([(feed.id, "2401.00001")])
            await asyncio.sleep(0.2)
            assert not b_woke.is_set()  # not before the commit
        await asyncio.wait_for(b_woke.wait(), 5)
        await asyncio.sleep(0.2)
        assert not a_woke.is_set()  # a's own queueing wakes it without the database
        await a.outbox.queue([(feed.id, "2401.00001")])  # nothing new: no notification
        b_woke.clear()
        await asyncio.sleep(0.2)
        assert not b_woke.is_set()
