"""The loopback Discord the Discord-side benchmarks run against, and what they share.

Fan-out, memory and interaction latency run the product against the fake Discord from
`tests/fakes/discord` with Discord's own limits (5 messages per 5 s per channel, 50 requests
per second), so the figures are what the rate limits allow on this machine, not what a remote
Discord's latency would add.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import DatabaseConfig
from bot.models import FeedSpec, Paper
from bot.store import open_store
from tests.fakes.discord.server import FakeDiscord

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MESSAGE_RATE = (5, 5.0)
GLOBAL_RATE = 50.0


def _paper(n: int) -> Paper:
    return Paper(id=f"2611.{n:05d}", title=f"Benchmark paper {n} on sparse attention",
                 abstract="We measure things. The results are reported.", authors=("A. Bench",),
                 categories=("cs.LG",), published=NOW - timedelta(hours=1), upvotes=n % 50,
                 sources=frozenset({"huggingface"}))  # fmt: skip


async def fill_outbox(
    db: str | DatabaseConfig, channel_ids: list[int], guild_id: int, deliveries: int
) -> None:
    """One feed per channel, papers owed round-robin, as one poll's matches would be (a SQLite
    path, or a configured database such as PostgreSQL)."""
    async with open_store(db, clock=lambda: NOW) as store:
        await store.papers.upsert(_paper(i) for i in range(deliveries))
        feeds = [
            await store.feeds.add(
                FeedSpec(name=f"f{i}", channel_id=c, query="attention"), guild_id=guild_id
            )
            for i, c in enumerate(channel_ids)
        ]
        await store.outbox.queue(
            (feeds[i % len(feeds)].id, f"2611.{i:05d}") for i in range(deliveries)
        )


async def fake_with_channels(count: int) -> tuple[FakeDiscord, list[int]]:
    """A started fake Discord with Discord's per-channel message limit and `count` channels."""
    fake = await FakeDiscord(openapi=None, message_rate=MESSAGE_RATE).start()
    channels = [(await fake.create_channel(f"feed-{i}", notify=False)).id for i in range(count)]
    return fake, channels
