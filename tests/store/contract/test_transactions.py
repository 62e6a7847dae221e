"""Transactions: all or nothing, writes of other tasks kept apart, reads never see uncommitted rows."""

from __future__ import annotations

import asyncio

import pytest

from bot.models import DeliveryState, FeedSpec
from bot.store.interfaces import Database
from tests.store.contract.support import NOW, paper


class Rollback(Exception):
    pass


async def test_a_failed_batch_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(Rollback):
        async with db.transaction():
            await db.papers.upsert([paper("2401.00001")])
            raise Rollback
    assert await db.papers.count() == 0


async def test_nested_transactions_commit_together(db: Database) -> None:
    async with db.transaction():
        await db.papers.upsert([paper("2401.00001")])
        async with db.transaction():
            feed = await db.feeds.add(FeedSpec(name="f", channel_id=1, query="x"), guild_id=1)
            await db.outbox.queue([(feed.id, "2401.00001")])
        assert await db.outbox.depth() == 1  # the task sees its own writes
    assert await db.papers.count() == 1 and await db.outbox.depth() == 1


async def test_a_write_from_another_task_never_joins_an_open_transaction(db: Database) -> None:
    """A delivery recorded while a poll's transaction is open survives that poll's rollback."""
    await db.papers.upsert([paper("2401.00001")])
    feed = await db.feeds.add(FeedSpec(name="f", channel_id=1, query="x"), guild_id=1)
    await db.outbox.queue([(feed.id, "2401.00001")])
    (delivery,) = await db.outbox.deliveries(feed_id=feed.id)
    inside = asyncio.Event()
    release = asyncio.Event()

    async def failing_poll() -> None:
        with pytest.raises(Rollback):
            async with db.transaction():
                await db.papers.upsert([paper("2401.00002")])
                inside.set()
                await release.wait()
                raise Rollback

    poll = asyncio.create_task(failing_poll())
    await inside.wait()
    sent = asyncio.create_task(db.outbox.mark_sent([delivery.id], 99, NOW))
    await asyncio.sleep(0)  # let the publisher's write try to start while the poll holds on
    release.set()
    await asyncio.gather(poll, sent)
    (after,) = await db.outbox.deliveries(feed_id=feed.id)
    assert after.state is DeliveryState.SENT and after.message_id == 99
    assert await db.papers.get("2401.00002") is None


async def test_a_reader_never_sees_another_tasks_uncommitted_rows(db: Database) -> None:
    """The publisher must not post a delivery that a poll queued and then rolled back."""
    await db.papers.upsert([paper("2401.00001")])
    feed = await db.feeds.add(FeedSpec(name="f", channel_id=1, query="x"), guild_id=1)
    inside = asyncio.Event()
    release = asyncio.Event()

    async def failing_poll() -> None:
        with pytest.raises(Rollback):
            async with db.transaction():
                await db.outbox.queue([(feed.id, "2401.00001")])
                assert len(await db.outbox.due(NOW)) == 1  # its own write, visible to itself
                inside.set()
                await release.wait()
                raise Rollback

    poll = asyncio.create_task(failing_poll())
    await inside.wait()
    # The publisher reads while the poll's transaction is open. A backend may answer at once
    # (from the last commit) or wait for the transaction to end; either way it must not see
    # the uncommitted delivery.
    publisher = asyncio.create_task(db.outbox.due(NOW))
    depth = asyncio.create_task(db.outbox.depth())
    await asyncio.wait({publisher, depth}, timeout=0.3)
    release.set()
    await poll
    assert await publisher == [] and await depth == 0
    assert await db.outbox.due(NOW) == []
