"""Options and fixtures of the reliability drills (issue #8).

`--kill-points=N` (or `$PAPERFEED_KILL_POINTS`) sets how many SIGKILLs the crash drill deals;
CI runs the default (5), the full drill is `pytest tests/reliability --kill-points=20`.
Set `$PAPERFEED_RELIABILITY_REPORT=path.jsonl` to collect each drill's figures.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.app import Services
from bot.config import Config, DatabaseConfig, DiscordConfig
from bot.discord.client import PaperfeedBot
from bot.discord.runner import build_bot
from bot.metrics import Metrics
from bot.models import FeedSpec, Paper
from bot.services.poller import Poller
from bot.store import open_store
from bot.store.interfaces import Database
from tests.fakes.discord import OpenAPIValidator, World
from tests.fakes.discord.fixtures import FAST_CLIENT_OPTIONS, BotStarter, StartedBot
from tests.fakes.discord.schema import openapi_validator_or_none
from tests.reliability.support import HoldingDiscord

DEFAULT_KILL_POINTS = 5


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kill-points",
        type=int,
        default=None,
        help=f"SIGKILLs in the crash drill (default ${{PAPERFEED_KILL_POINTS}} or {DEFAULT_KILL_POINTS})",
    )


@pytest.fixture
def kill_points(request: pytest.FixtureRequest) -> int:
    option = request.config.getoption("kill_points", default=None)
    if option is None:
        option = int(os.environ.get("PAPERFEED_KILL_POINTS", DEFAULT_KILL_POINTS))
    if option < 1:
        raise pytest.UsageError("--kill-points must be at least 1")
    return int(option)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any drill whose HTTP client aims anywhere but this machine."""
    original = httpx.AsyncHTTPTransport.handle_async_request

    async def guarded(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        if request.url.host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"a test tried to reach {request.url.host}")
        return await original(self, request)

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", guarded)


class MovableClock:
    """The bot's UTC clock: real time plus an offset a test moves (retries become due at once)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class LiveBot:
    """The product's bot (build_bot, as `paperfeed run` wires it, metrics included) connected to
    a HoldingDiscord, over a real store; the publisher is driven by the test."""

    fake: HoldingDiscord
    started: StartedBot[PaperfeedBot]
    store: Database
    clock: MovableClock
    alerts: int
    metrics: Metrics
    loop: asyncio.AbstractEventLoop  # for sync (hypothesis) tests: loop.run_until_complete(...)

    @property
    def bot(self) -> PaperfeedBot:
        return self.started.bot

    @property
    def world(self) -> World:
        assert self.fake.world is not None
        return self.fake.world

    async def feed(self, name: str, channel: int, *, guild: int | None = None) -> int:
        spec = FeedSpec(name=name, channel_id=channel, query="delivery", backfill=0)
        feed = await self.store.feeds.add(spec, guild_id=guild or self.world.guild.id)
        return feed.id

    async def owe(self, feed_ids: Sequence[int], papers: Sequence[Paper]) -> None:
        """Owe every paper to every feed, straight into the outbox."""
        await self.store.papers.upsert(papers)
        await self.store.outbox.queue([(f, p.id) for f in feed_ids for p in papers])

    async def deliver_all(self, *, rounds: int = 20, step: timedelta = timedelta(hours=2)) -> int:
        """Publish rounds, moving the clock past every backoff, until nothing is due; the count."""
        for n in range(1, rounds + 1):
            await self.bot.publisher.publish_due()
            if not await self.store.outbox.due(self.clock() + timedelta(days=30)):
                return n
            self.clock.offset += step
        raise AssertionError(f"deliveries still queued after {rounds} rounds")

    async def states(self, feed_id: int) -> dict[str, int]:
        return dict(
            Counter(d.state.value for d in await self.store.outbox.deliveries(feed_id=feed_id))
        )


def openapi_or_none() -> OpenAPIValidator | None:
    """Discord's spec checks every body, as in tests/discord (required in CI, see schema.py)."""
    return openapi_validator_or_none()


@pytest.fixture
async def live(tmp_path: Path, start_bot: BotStarter) -> AsyncIterator[LiveBot]:
    fake = await HoldingDiscord(message_rate=(50, 1.0), openapi=openapi_or_none()).start()
    try:
        alerts = await fake.create_channel("paperfeed-alerts", notify=False)
        config = Config(
            discord=DiscordConfig(alerts_channel_id=alerts.id),
            database=DatabaseConfig(path=str(tmp_path / "p.sqlite3")),
        )
        clock = MovableClock()
        metrics = Metrics()
        async with (
            open_store(config.database.path, clock=clock) as store,
            httpx.AsyncClient() as http,
        ):
            services = Services(config, store, http, Poller(store, [], clock), None, None, clock)
            started = await start_bot(
                fake,
                lambda: build_bot(
                    services, clock=clock, with_scheduler=False, metrics=metrics,
                    **FAST_CLIENT_OPTIONS,
                ),
            )  # fmt: skip
            try:
                loop = asyncio.get_running_loop()
                yield LiveBot(fake, started, store, clock, alerts.id, metrics, loop)
            finally:
                await started.stop()
    finally:
        hold = fake.current_hold
        if hold is not None:
            hold.release.set()
        await fake.close()
    fake.check_clean()
