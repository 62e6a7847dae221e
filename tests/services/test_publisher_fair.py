"""Publishers sharing one outbox take fair shares of the channels with work, so a crash stalls
only a share; a lone publisher still claims up to its maximum (PostgreSQL: claims only exclude
between processes there)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.errors import StoreError
from bot.models import FeedSpec
from bot.services.publisher import Posted, Publisher, RateLimiter, fair_share
from bot.store.interfaces import Database
from bot.store.postgres.database import open_postgres
from tests.factories import make_paper
from tests.services.test_publisher import FakeTarget, body, no_sleep


def clock() -> datetime:  # the claims keeper renews on real time
    return datetime.now(UTC)


class HeldTarget(FakeTarget):
    """Every send waits until the test lets them go: what a publisher holds stays visible."""

    def __init__(self, go_on: asyncio.Event) -> None:
        super().__init__()
        self.go_on = go_on
        self.waiting = 0

    async def send(
        self, channel_id: int, body: dict[str, Any], *, nonce: str, title: str
    ) -> Posted:
        self.waiting += 1
        await self.go_on.wait()
        return await super().send(channel_id, body, nonce=nonce, title=title)


def peers(n: int) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        return n

    return count


@contextlib.asynccontextmanager
async def stores(url: str, count: int) -> AsyncIterator[list[Database]]:
    """One pool per publisher, as separate processes would have."""
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(open_postgres(url)) for _ in range(count)]


async def owe(store: Database, channels: int) -> None:
    """One paper owed to each of `channels` channels."""
    papers = [make_paper(n) for n in range(1, channels + 1)]
    await store.papers.upsert(papers)
    for n, paper in enumerate(papers):
        feed = await store.feeds.add(
            FeedSpec(name=f"f{n}", channel_id=100 + n, query="x"), guild_id=1
        )
        await store.outbox.queue([(feed.id, paper.id)])


async def until(condition: Callable[[], bool]) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), 10)


def publisher(store: Database, target: FakeTarget, n: int, **kw: Any) -> Publisher:
    return Publisher(store, target, body, clock, limiter=RateLimiter(sleep=no_sleep),
                     name=f"p{n}", **kw)  # fmt: skip


def test_a_fair_share_splits_the_channels_evenly_above_a_floor() -> None:
    assert fair_share(40, 3) == 14
    assert fair_share(30, 3) == 10
    assert fair_share(6, 3) == 4  # the floor: a small queue is not trickled out
    assert fair_share(40, 1) == 40
    assert fair_share(0, 0) == 4


@pytest.mark.postgresql
async def test_three_live_publishers_each_hold_no_more_than_a_fair_share(
    postgres_url: str,
) -> None:
    async with stores(postgres_url, 3) as dbs:
        await owe(dbs[0], 30)
        go_on = asyncio.Event()
        targets = [HeldTarget(go_on) for _ in dbs]
        publishers = [
            publisher(db, t, n, peers=peers(3))
            for n, (db, t) in enumerate(zip(dbs, targets, strict=True))
        ]
        rounds = [asyncio.create_task(p.publish_due()) for p in publishers]
        await until(lambda: sum(t.waiting for t in targets) == 30)
        # before this change the first to claim took all 30 (its maximum is 64)
        assert [t.waiting for t in targets] == [10, 10, 10]
        go_on.set()
        reports = await asyncio.wait_for(asyncio.gather(*rounds), 10)
    assert sum(r.sent for r in reports) == 30
    posted = [c for t in targets for c, posts in t.posts.items() for _ in posts]
    assert sorted(posted) == list(range(100, 130))  # every channel once, by one publisher


@pytest.mark.postgresql
async def test_a_share_held_still_drains_everything_in_one_round(postgres_url: str) -> None:
    async with stores(postgres_url, 1) as (db,):
        await owe(db, 30)
        go_on = asyncio.Event()
        target = HeldTarget(go_on)
        # the other two publishers it counts are silent: it never holds more than its share,
        # yet takes the next channel whenever one is done
        round_ = asyncio.create_task(publisher(db, target, 0, peers=peers(3)).publish_due())
        await until(lambda: target.waiting >= 10)
        # its workers are all waiting, so the round waits on them: no claim is still coming
        assert target.waiting == 10
        go_on.set()
        report = await asyncio.wait_for(round_, 10)
    assert report.sent == 30


@pytest.mark.postgresql
@pytest.mark.parametrize(("maximum", "held"), [(64, 30), (20, 20)])
async def test_a_lone_publisher_claims_up_to_its_maximum(
    postgres_url: str, maximum: int, held: int
) -> None:
    async with stores(postgres_url, 1) as (db,):
        await owe(db, 30)
        go_on = asyncio.Event()
        target = HeldTarget(go_on)
        alone = publisher(db, target, 0, peers=peers(1), max_channels=maximum)
        round_ = asyncio.create_task(alone.publish_due())
        await until(lambda: target.waiting == held)
        go_on.set()
        report = await asyncio.wait_for(round_, 10)
    assert report.sent == 30


@pytest.mark.postgresql
async def test_a_failed_count_of_publishers_leaves_the_claims_unbounded(
    postgres_url: str,
) -> None:
    async def broken() -> int:
        raise StoreError("down")

    async with stores(postgres_url, 1) as (db,):
        await owe(db, 12)
        go_on = asyncio.Event()
        target = HeldTarget(go_on)
        round_ = asyncio.create_task(publisher(db, target, 0, peers=broken).publish_due())
        await until(lambda: target.waiting == 12)
        go_on.set()
        assert (await asyncio.wait_for(round_, 10)).sent == 12
