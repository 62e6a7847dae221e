"""The shared resources every front end opens: store, HTTP client, sources and services.

Resources are opened here with `async with`, in order (store, HTTP client, sources), and
closed in reverse; everything below receives what it needs instead of building it. The bot
itself is wired by the composition root, `bot.discord.runner`; the CLI uses this alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import httpx

from bot import USER_AGENT
from bot.clock import Clock, utcnow
from bot.config import Config, FollowsConfig, search_index_path
from bot.metrics import Metrics
from bot.services.feeds import FeedService
from bot.services.follows import FollowService, FollowSettings
from bot.services.library import Library
from bot.services.poller import Poller
from bot.services.semantic import Semantic, open_semantic
from bot.sources.arxiv import ArxivSource
from bot.sources.http import DEFAULT_RETRY, RetryPolicy
from bot.sources.huggingface import HuggingFaceSource
from bot.sources.registry import SOURCES, AfterStore, SourceDeps, section_of
from bot.store import IndexPlan, open_store
from bot.store.interfaces import Database

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What a command or the bot gets to work with; built only by `open_services`."""

    config: Config
    store: Database
    http: httpx.AsyncClient
    poller: Poller
    huggingface: HuggingFaceSource | None
    arxiv: ArxivSource | None
    clock: Clock
    # The embedding model and vector index, when the semantic extra is installed.
    semantic: Semantic | None = None
    # Set by whatever queues deliveries; the publisher waits on it (see bot.discord.runner).
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    feeds: FeedService = field(init=False)
    follows: FollowService = field(init=False)

    def __post_init__(self) -> None:
        self.feeds = FeedService(self.store, self.clock, self.wake.set, self.semantic)
        self.follows = FollowService(
            self.store, self.clock, follow_settings(self.config.follows), self.semantic
        )

    @property
    def library(self) -> Library:
        """The library over the sources enabled now (Hugging Face first, then arXiv)."""
        lookups = [s for s in (self.huggingface, self.arxiv) if s is not None]
        return Library(self.store, self.clock, self.wake.set, lookups, self.huggingface,
                       follows_on=self.config.follows.enabled, semantic=self.semantic)  # fmt: skip


def follow_settings(section: FollowsConfig) -> FollowSettings:
    """The `[follows]` keys as the follows service and the DM publisher take them."""
    return FollowSettings(
        enabled=section.enabled,
        max_per_user=section.max_per_user,
        default_time=section.default_time,
        daily_size=section.daily_size,
        instant_window=section.instant_window,
    )


def _each(hooks: list[AfterStore]) -> AfterStore | None:
    """One after-store hook that runs every source's own, in order."""
    if not hooks:
        return None

    async def run_all(source: str, stored: bool) -> None:
        for hook in hooks:
            await hook(source, stored)

    return run_all


def index_plan(config: Config, *, serving: bool = False) -> IndexPlan:
    """How this process uses the search index. On PostgreSQL a running process that answers
    searches (gateway, or every role) keeps one of its own; pollers and publishers none; a
    one-shot command borrows a built one if a free one exists. SQLite: always, beside the file."""
    path = search_index_path(config)
    if not serving:
        return IndexPlan(path, "oneshot")
    return IndexPlan(path, "serve" if config.cluster.has("gateway") else "off")


def open_command_store(
    config: Config, *, create: bool = True, bulk: bool = False
) -> contextlib.AbstractAsyncContextManager[Database]:
    """The configured store as a one-shot command opens it: its search index as `index_plan`
    gives it (a built one borrowed on PostgreSQL, `[search] index_path` honoured on SQLite);
    `bulk` (an import): a SQLite index is written by a helper process meanwhile."""
    plan = replace(index_plan(config), helper=bulk)
    return open_store(config.database, index=plan, create=create)


@contextlib.asynccontextmanager
async def open_services(
    config: Config,
    *,
    clock: Clock = utcnow,
    transport: httpx.AsyncBaseTransport | None = None,
    arxiv_spacing: float | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    metrics: Metrics | None = None,
    serving: bool = False,
) -> AsyncIterator[Services]:
    """Open the store and the HTTP client, build the enabled sources and the poller.

    `serving`: the long-running bot (`paperfeed run`), not a one-shot command.
    """
    index = index_plan(config, serving=serving)
    async with (
        open_store(config.database, clock=clock, index=index) as store,
        httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT},
            transport=transport,
            follow_redirects=True,
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
        ) as client,
    ):
        deps = SourceDeps(client, clock, retry, store.sources, spacing=arxiv_spacing)
        built = [
            await kind.build(section_of(config.sources, kind), deps)
            for kind in SOURCES
            if section_of(config.sources, kind).enabled
        ]
        sources = [b.source for b in built]
        hooks = [b.after_store for b in built if b.after_store is not None]
        # Installing the semantic extra is the opt-in: new papers are then embedded as polled.
        semantic = open_semantic(
            store,
            about_threshold=config.semantic.about_threshold,
            like_threshold=config.semantic.like_threshold,
        )
        poller = Poller(
            store,
            sources,
            clock,
            after_store=_each(hooks),
            metrics=metrics,
            follows_on=config.follows.enabled,
            semantic=semantic,
        )
        hf = next((s for s in sources if isinstance(s, HuggingFaceSource)), None)
        ax = next((s for s in sources if isinstance(s, ArxivSource)), None)
        yield Services(config, store, client, poller, hf, ax, clock, semantic)
