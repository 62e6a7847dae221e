"""The composition root: the one place that reads the configuration and wires the parts.

Resources are opened here with `async with`, in order (store, HTTP client, sources), and
closed in reverse; everything below receives what it needs instead of building it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from bot import USER_AGENT
from bot.config import Config
from bot.metrics import Metrics
from bot.models import utcnow
from bot.services.poller import Poller
from bot.sources.arxiv import DEFAULT_SPACING, ArxivSource
from bot.sources.base import Source
from bot.sources.http import DEFAULT_RETRY, MemoryValidatorState, Pacer, RetryPolicy, Validators
from bot.sources.huggingface import HuggingFaceSource
from bot.store import open_store
from bot.store.interfaces import Database

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
_VALIDATOR_PREFIX = "validators:"


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


class ValidatorKeeper:
    """Persists arXiv's HTTP validators, but only once the papers they vouch for are stored.

    Saving an ETag before the papers are safe would make the next poll a 304 and lose them.
    """

    def __init__(self, store: Database, source: str, state: MemoryValidatorState) -> None:
        self._store = store
        self._source = source
        self._state = state

    async def after_store(self, source: str, stored: bool) -> None:
        if source != self._source:
            return
        if not stored:
            self._state.by_url.clear()
            return
        for url, validators in self._state.by_url.items():
            value = json.dumps({"etag": validators.etag, "last_modified": validators.last_modified})
            await self._store.sources.set_state(source, _VALIDATOR_PREFIX + url, value)


async def _load_validators(store: Database, source: str, urls: list[str]) -> MemoryValidatorState:
    state = MemoryValidatorState()
    for url in urls:
        raw = await store.sources.get_state(source, _VALIDATOR_PREFIX + url)
        if raw:
            data = json.loads(raw)
            state.set(
                url, Validators(etag=data.get("etag"), last_modified=data.get("last_modified"))
            )
    return state


@contextlib.asynccontextmanager
async def open_services(
    config: Config,
    *,
    clock: Clock = utcnow,
    transport: httpx.AsyncBaseTransport | None = None,
    arxiv_spacing: float = DEFAULT_SPACING,
    retry: RetryPolicy = DEFAULT_RETRY,
    metrics: Metrics | None = None,
) -> AsyncIterator[Services]:
    """Open the store and the HTTP client, build the enabled sources and the poller."""
    async with (
        open_store(config.database, clock=clock) as store,
        httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT},
            transport=transport,
            follow_redirects=True,
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
        ) as client,
    ):
        sources: list[Source] = []
        hf: HuggingFaceSource | None = None
        arxiv: ArxivSource | None = None
        keeper: ValidatorKeeper | None = None
        if config.sources.huggingface.enabled:
            hf = HuggingFaceSource(
                client, config.sources.huggingface.base_url, clock=clock, retry=retry
            )
            sources.append(hf)
        if config.sources.arxiv.enabled:
            ax = config.sources.arxiv
            listing = f"{ax.rss_url.rstrip('/')}/{'+'.join(ax.categories)}"
            state = await _load_validators(store, "arxiv", [listing])
            arxiv = ArxivSource(
                client, ax.rss_url, ax.api_url, ax.categories,
                pacer=Pacer(arxiv_spacing), validators_state=state, clock=clock, retry=retry,
            )  # fmt: skip
            sources.append(arxiv)
            keeper = ValidatorKeeper(store, arxiv.name, state)
        poller = Poller(
            store,
            sources,
            clock,
            after_store=keeper.after_store if keeper else None,
            metrics=metrics,
        )
        yield Services(config, store, client, poller, hf, arxiv, clock)
