"""A running paperfeed bot against the loopback Discord, with a real store and scripted sources."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import Services
from bot.config import Config, DatabaseConfig, DiscordConfig
from bot.discord.client import PaperfeedBot
from bot.discord.runner import build_bot
from bot.models import Paper
from bot.services.poller import Poller
from bot.sources.base import FetchResult
from bot.store import Store, open_store
from tests.fakes.discord.fixtures import FAST_CLIENT_OPTIONS, BotStarter, StartedBot
from tests.fakes.discord.server import FakeDiscord

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class ScriptedSource:
    """A source whose next poll returns what the test put in `next`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.next = FetchResult()

    async def poll(self, now: datetime) -> FetchResult:
        return self.next


def make_paper(n: int, title: str, **kw: Any) -> Paper:
    base = Paper(
        id=f"2611.{n:05d}",
        title=title,
        abstract="We propose a method. It works well on the benchmarks we tried.",
        version=1,
        authors=("Rosa Delgado", "Amir Haddad"),
        categories=("cs.LG",),
        published=NOW - timedelta(hours=5),
        upvotes=12,
        num_comments=1,
        hf_submitted_at=NOW - timedelta(hours=2),
        sources=frozenset({"arxiv", "huggingface"}),
    )
    return replace(base, **kw)


@dataclass
class Harness:
    """Everything a story needs: the fake, the running bot, the store, the sources."""

    fake: FakeDiscord
    alerts_channel: int
    started: StartedBot[PaperfeedBot]
    store: Store
    hf: ScriptedSource
    clock: Callable[[], datetime]

    @property
    def bot(self) -> PaperfeedBot:
        return self.started.bot

    async def poll_and_deliver(self, papers: list[Paper]) -> None:
        """A poll brings these papers; then one delivery round runs."""
        self.hf.next = FetchResult(papers)
        await self.bot.services.poller.poll_source("huggingface")
        await self.bot.publisher.publish_due()


@pytest.fixture
async def harness(
    tmp_path: Path, discord_fake: FakeDiscord, start_bot: BotStarter
) -> AsyncIterator[Harness]:
    world = discord_fake.world
    assert world is not None
    alerts = await discord_fake.create_channel("paperfeed-alerts", notify=False)
    config = Config(
        discord=DiscordConfig(alerts_channel_id=alerts.id),
        database=DatabaseConfig(path=str(tmp_path / "p.sqlite3")),
    )
    clock = lambda: NOW  # noqa: E731
    async with open_store(config.database.path, clock=clock) as store, httpx.AsyncClient() as http:
        hf = ScriptedSource("huggingface")
        poller = Poller(store, [hf], clock)
        services = Services(config, store, http, poller, None, None, clock)
        started = await start_bot(
            discord_fake,
            lambda: build_bot(services, clock=clock, with_scheduler=False, **FAST_CLIENT_OPTIONS),
        )
        yield Harness(discord_fake, alerts.id, started, store, hf, clock)
        await started.stop()
