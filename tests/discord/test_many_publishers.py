"""Three publishers (three pools, as three processes would have) drain one PostgreSQL outbox
into the loopback Discord: every delivery posted exactly once, each channel in order, no 429s;
a publisher that dies holding claims has its work taken over without a second post."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import httpx
import pytest

from bot.app import Services
from bot.config import Config, DatabaseConfig
from bot.discord.client import PaperfeedBot
from bot.discord.runner import build_bot, digest_body, paper_body
from bot.discord.target import DiscordTarget
from bot.models import DeliveryState, FeedSpec
from bot.secrets import DatabaseUrl
from bot.services.poller import Poller
from bot.services.publisher import Publisher, delivery_nonce, limiter_for
from bot.store import open_store
from bot.store.interfaces import Database
from tests.discord.conftest import Harness
from tests.factories import NOW, FakeClock, make_paper
from tests.fakes.discord.fixtures import FAST_CLIENT_OPTIONS, BotStarter, FakeFactory
from tests.fakes.discord.server import FakeDiscord

pytestmark = pytest.mark.postgresql
CHANNELS = 6
PAPERS = 8
ARXIV = re.compile(r"arXiv:(\d{4}\.\d{5})")


sent: dict[int, int] = {}  # deliveries each publisher sent


def counter(n: int) -> Callable[[str, float | None], None]:
    def count(outcome: str, _latency: float | None) -> None:
        if outcome == "sent":
            sent[n] = sent.get(n, 0) + 1

    return count


@contextlib.asynccontextmanager
async def cluster(
    url: str, fake: FakeDiscord, start_bot: BotStarter, clock: FakeClock, count: int
) -> AsyncIterator[tuple[Database, PaperfeedBot, list[Publisher]]]:
    """A bot that only lends its HTTP client, and `count` publishers with pools of their own."""
    config = Config(database=DatabaseConfig(url=DatabaseUrl(url)))
    async with contextlib.AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(config.database, clock=clock))
        http = await stack.enter_async_context(httpx.AsyncClient())
        services = Services(config, store, http, Poller(store, [], clock), None, None, clock)
        started = await start_bot(
            fake,
            lambda: build_bot(
                services, clock=clock, with_scheduler=False, background=False, **FAST_CLIENT_OPTIONS
            ),
        )
        stack.push_async_callback(started.stop)
        publishers = []
        sent.clear()
        for n in range(count):
            own = await stack.enter_async_context(open_store(config.database, clock=clock))
            publishers.append(Publisher(own, DiscordTarget(started.bot), paper_body, clock,
                                        build_digest=digest_body, limiter=limiter_for(own),
                                        name=f"publisher-{n}", max_channels=2,
                                        on_outcome=counter(n)))  # fmt: skip
        yield store, started.bot, publishers


async def owe(store: Database, fake: FakeDiscord) -> dict[int, list[str]]:
    """Feeds on fresh channels, two feeds sharing the first channel; what each channel is owed,
    in the order it was queued."""
    owed: dict[int, list[str]] = {}
    papers = [make_paper(n, title=f"Paper {n}") for n in range(1, PAPERS + 1)]
    await store.papers.upsert(papers)
    for c in range(CHANNELS):
        channel = await fake.create_channel(f"papers-{c}", notify=False)
        names = ["a", "b"] if c == 0 else ["a"]
        for name in names:
            feed = await store.feeds.add(
                FeedSpec(name=f"{name}{c}", channel_id=channel.id, query="x"), guild_id=1
            )
            await store.outbox.queue((feed.id, p.id) for p in papers)
        owed[channel.id] = [p.id for p in papers]
    return owed


def posted(fake: FakeDiscord, channel_id: int) -> list[str]:
    """The arXiv ids the channel received, in the order it received them."""
    ids = []
    for message in fake.messages(channel_id):
        footer = message.embeds[0].get("footer", {}).get("text", "")
        ids.extend(ARXIV.findall(footer))
    return ids


async def drain(store: Database, publishers: list[Publisher]) -> None:
    """All publishers at once, round after round, until nothing is queued or in flight."""

    async def run(publisher: Publisher) -> None:
        while await store.outbox.depth():
            report = await publisher.publish_due()
            if not report.more:
                await asyncio.sleep(0.05)  # the timer fallback, shortened

    await asyncio.wait_for(asyncio.gather(*(run(p) for p in publishers)), 60)


async def test_three_publishers_post_everything_once_in_order_without_429s(
    postgres_url: str, discord_fake_factory: FakeFactory, start_bot: BotStarter
) -> None:
    fake = await discord_fake_factory(message_rate=(5, 0.5))
    clock = FakeClock(NOW)
    async with cluster(postgres_url, fake, start_bot, clock, 3) as (store, _, publishers):
        owed = await owe(store, fake)
        await drain(store, publishers)
        for channel_id, papers in owed.items():
            assert posted(fake, channel_id) == papers  # once each, in order
        states = {d.state for d in await store.outbox.deliveries()}
        assert states == {DeliveryState.SENT, DeliveryState.SKIPPED}  # b0 skipped: a0 sent them
        assert fake.request_count(status=429) == 0
        assert sum(sent.values()) == CHANNELS * PAPERS
        assert len(sent) >= 2  # the work was shared


async def test_claims_of_a_dead_publisher_are_taken_over_without_a_second_post(
    postgres_url: str, discord_fake_factory: FakeFactory, start_bot: BotStarter
) -> None:
    fake = await discord_fake_factory(message_rate=(5, 0.5))
    clock = FakeClock(NOW)
    async with cluster(postgres_url, fake, start_bot, clock, 3) as (store, bot, publishers):
        owed = await owe(store, fake)
        victim = next(iter(owed))
        # a publisher claims the first channel, records its first attempt, posts, and dies
        work = await store.outbox.claim("dead", NOW, NOW + timedelta(seconds=30), channels=1)
        first = work[0]
        assert first.channel_id == victim
        nonce = delivery_nonce(first.delivery.feed_id, first.delivery.paper_id)
        await store.outbox.mark_sending([first.delivery.id], nonce, NOW)
        paper = await store.papers.get(first.delivery.paper_id)
        assert paper is not None
        await DiscordTarget(bot).send(victim, paper_body(paper, first.feed_name), nonce=nonce,
                                      title=paper.title)  # fmt: skip
        # while its claim lasts, the others leave that channel alone
        for publisher in publishers:
            await publisher.publish_due()
        assert posted(fake, victim) == [first.delivery.paper_id]
        # the claim expires: one of them takes the channel over and reconciles the attempt
        # by looking in the channel (its nonce alone would be forgotten after minutes)
        clock.advance(seconds=31)
        await drain(store, publishers)
        for channel_id, papers in owed.items():
            assert posted(fake, channel_id) == papers
        assert fake.request_count(status=429) == 0


@pytest.mark.parametrize("harness", ["postgresql"], indirect=True)
async def test_deliveries_queued_by_another_process_wake_the_publisher(
    harness: Harness, postgres_url: str
) -> None:
    """No poll here, no timer due: only the notification can start the round that posts it."""
    world = harness.fake.world
    assert world is not None
    async with open_store(DatabaseConfig(url=DatabaseUrl(postgres_url))) as other:
        await other.papers.upsert([make_paper(7, title="Queued elsewhere")])
        feed = await other.feeds.add(
            FeedSpec(name="elsewhere", channel_id=world.papers.id, query="x"), guild_id=1
        )
        await asyncio.sleep(0.5)  # the bot's first rounds (start-up) are over
        await other.outbox.queue([(feed.id, make_paper(7).id)])
    (message,) = await harness.fake.wait_for_messages(world.papers, 1, timeout=10)
    assert "Queued elsewhere" in message.embeds[0]["title"]
