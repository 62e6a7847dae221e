"""A publisher that stalls past its lease loses its channel to another and stops sending there
(PostgreSQL: claims only exclude between processes there)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.models import FeedSpec
from bot.services.publisher import Posted, Publisher, RateLimiter
from bot.store.postgres.database import open_postgres
from tests.factories import make_paper
from tests.services.test_publisher import FakeTarget, body, no_sleep

pytestmark = pytest.mark.postgresql


class StallingTarget(FakeTarget):
    """The first send hangs until the test lets it go (a stalled process)."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = asyncio.Event()
        self.go_on = asyncio.Event()

    async def send(
        self, channel_id: int, body: dict[str, Any], *, nonce: str, title: str
    ) -> Posted:
        if not self.stalled.is_set():
            self.stalled.set()
            await self.go_on.wait()
        return await super().send(channel_id, body, nonce=nonce, title=title)


async def test_a_stalled_publisher_stops_sending_to_a_channel_taken_over(postgres_url: str) -> None:
    clock = lambda: datetime.now(UTC)  # noqa: E731 - the keeper renews on real time
    async with open_postgres(postgres_url) as a_store, open_postgres(postgres_url) as b_store:
        papers = [make_paper(n) for n in (1, 2, 3)]
        await a_store.papers.upsert(papers)
        feed = await a_store.feeds.add(FeedSpec(name="f", channel_id=10, query="x"), guild_id=1)
        await a_store.outbox.queue((feed.id, p.id) for p in papers)
        target = StallingTarget()
        stalled = Publisher(a_store, target, body, clock, limiter=RateLimiter(sleep=no_sleep),
                            name="a", lease=timedelta(seconds=0.6))  # fmt: skip
        round_ = asyncio.create_task(stalled.publish_due())
        await asyncio.wait_for(target.stalled.wait(), 5)
        # another publisher finds the claim expired (as if `a` had missed its renewals)
        later = datetime.now(UTC) + timedelta(minutes=5)
        assert await b_store.outbox.claim_channel("b", 10, later, later + timedelta(minutes=1))

        async def learnt() -> None:  # a's keeper renews (every 0.2 s) and finds channel 10 gone
            while 10 not in stalled._lost:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(learnt(), 10)
        target.go_on.set()
        report = await asyncio.wait_for(round_, 5)
    assert report.sent == 1  # the send in flight finishes; nothing more goes to channel 10
    assert len(target.posts[10]) == 1
