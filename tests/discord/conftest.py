"""A running paperfeed bot against the loopback Discord, with a real store and scripted sources."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import Services
from bot.config import Config, DiscordConfig
from bot.discord.client import PaperfeedBot
from bot.discord.runner import build_bot
from bot.models import Paper
from bot.services.poller import Poller
from bot.sources.arxiv import ArxivSource
from bot.sources.base import FetchResult
from bot.sources.http import NO_RETRY, Pacer
from bot.sources.huggingface import HuggingFaceSource
from bot.store import open_store
from bot.store.interfaces import Database
from tests import factories
from tests.factories import NOW
from tests.fakes.discord.fixtures import FAST_CLIENT_OPTIONS, BotStarter, StartedBot
from tests.fakes.discord.server import FakeDiscord
from tests.pg.fixtures import database_config


class ScriptedSource:
    """A source whose next poll returns what the test put in `next`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.next = FetchResult()

    async def poll(self, now: datetime) -> FetchResult:
        return self.next


def make_paper(n: int, title: str, **kw: Any) -> Paper:
    """Paper n as both sources list it, with a few upvotes: what a feed usually posts."""
    listed = {
        "abstract": "We propose a method. It works well on the benchmarks we tried.",
        "authors": ("Rosa Delgado", "Amir Haddad"),
        "published": NOW - timedelta(hours=5),
        "upvotes": 12,
        "num_comments": 1,
        "hf_submitted_at": NOW - timedelta(hours=2),
        "sources": factories.BOTH,
    }
    return factories.make_paper(n, **{"title": title, **listed, **kw})


@dataclass
class Harness:
    """Everything a story needs: the fake, the running bot, the store, the sources."""

    fake: FakeDiscord
    alerts_channel: int
    started: StartedBot[PaperfeedBot]
    store: Database
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
    request: pytest.FixtureRequest,
    tmp_path: Path,
    discord_fake: FakeDiscord,
    start_bot: BotStarter,
) -> AsyncIterator[Harness]:
    """The bot on SQLite; on PostgreSQL too for tests parametrized with
    `@pytest.mark.parametrize("harness", backend_params(), indirect=True)`."""
    world = discord_fake.world
    assert world is not None
    alerts = await discord_fake.create_channel("paperfeed-alerts", notify=False)
    backend = getattr(request, "param", "sqlite")
    config = Config(
        discord=DiscordConfig(alerts_channel_id=alerts.id),
        database=database_config(request, backend, tmp_path / "p.sqlite3"),
    )
    clock = lambda: NOW  # noqa: E731
    async with open_store(config.database, clock=clock) as store, httpx.AsyncClient() as http:
        hf = ScriptedSource("huggingface")
        # a bot that has been running: what the stories' polls bring is news, not backlog
        await store.sources.mark_listings_seen("huggingface", ["huggingface"], NOW)
        poller = Poller(store, [hf], clock)
        services = Services(config, store, http, poller, None, None, clock)
        started = await start_bot(
            discord_fake,
            lambda: build_bot(services, clock=clock, with_scheduler=False, **FAST_CLIENT_OPTIONS),
        )
        yield Harness(discord_fake, alerts.id, started, store, hf, clock)
        await started.stop()


# -- scripted upstreams for the reader commands ------------------------------------------------

HF_BASE = "https://hf.test"
ARXIV_API = "https://export.arxiv.test/api/query"
REMOTE_TIMEOUT_IN_TESTS = 0.5  # seconds a remote step may take before the bot answers without it


@dataclass
class Upstream:
    """Hugging Face and arXiv answers by URL path, over httpx.MockTransport (nothing leaves the process)."""

    routes: dict[str, tuple[int, str]] = field(default_factory=dict)
    hanging: set[str] = field(default_factory=set)
    seen: list[httpx.Request] = field(default_factory=list)

    def answer(self, path: str, status: int, body: object) -> None:
        """Answer `path` with this status and body (a str, or anything JSON)."""
        self.routes[path] = (status, body if isinstance(body, str) else json.dumps(body))

    def hang(self, path: str) -> None:
        """Never answer `path` (the bot's own timeout must end the wait)."""
        self.hanging.add(path)

    def asked(self, path: str) -> int:
        return sum(1 for r in self.seen if r.url.path == path)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path
        if path in self.hanging:
            await asyncio.sleep(3600)
        status, body = self.routes.get(path, (404, '{"error": "Not found"}'))
        kind = "application/atom+xml" if body.lstrip().startswith("<") else "application/json"
        return httpx.Response(status, text=body, headers={"content-type": kind})


def reader_cog(h: Harness) -> Any:
    """The running bot's ReaderCog (for its timeouts and its memory of recent queries)."""
    cog = h.bot.get_cog("ReaderCog")
    assert cog is not None
    return cog


@pytest.fixture
async def upstream(harness: Harness) -> AsyncIterator[Upstream]:
    """Real Hugging Face and arXiv sources on the harness's bot, answering from an `Upstream`."""
    up = Upstream()
    services = harness.bot.services
    async with httpx.AsyncClient(transport=httpx.MockTransport(up.handle)) as client:
        services.huggingface = HuggingFaceSource(
            client, HF_BASE, retry=NO_RETRY, clock=harness.clock
        )
        services.arxiv = ArxivSource(
            client, "https://rss.arxiv.test/rss", ARXIV_API, ["cs.LG"],
            pacer=Pacer(0), retry=NO_RETRY, clock=harness.clock,
        )  # fmt: skip
        reader_cog(harness).remote_timeout = REMOTE_TIMEOUT_IN_TESTS
        try:
            yield up
        finally:
            services.huggingface = None
            services.arxiv = None
