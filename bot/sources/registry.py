"""Every upstream in one table: its name, its label, how it is built, when it counts as stale.

Nothing outside `bot/sources/` spells a source's name: the composition root builds the enabled
sources by walking `SOURCES`, and `/status`, the metrics, the health checks and the CLI take
names and labels from here, so a third source is one module and one row.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from bot.models import SourceRun
from bot.sources import arxiv, huggingface
from bot.sources.arxiv_parse import SOURCE as ARXIV
from bot.sources.base import Source
from bot.sources.http import MemoryValidatorState, Pacer, RetryPolicy, Validators
from bot.sources.huggingface_parse import SOURCE as HUGGINGFACE

AfterStore = Callable[[str, bool], Awaitable[None]]
_VALIDATOR_PREFIX = "validators:"


class SourceState(Protocol):
    """The per-source key/value state a source keeps between runs (the store's `sources`)."""

    async def get_state(self, source: str, key: str) -> str | None: ...

    async def set_state(self, source: str, key: str, value: str) -> None: ...


class SourceSection(Protocol):
    """What every `[sources.<name>]` table has; a factory reads the rest of its own table."""

    @property
    def enabled(self) -> bool: ...

    @property
    def interval(self) -> timedelta: ...


@dataclass(frozen=True)
class SourceDeps:
    """What a factory may use: the shared HTTP client, the clock, retries, the stored state."""

    http: httpx.AsyncClient
    clock: Callable[[], datetime]
    retry: RetryPolicy
    state: SourceState
    spacing: float | None = None  # seconds between requests to a paced upstream; None: its own


@dataclass(frozen=True)
class Built:
    """A source, and what must run after each poll's papers are stored (or failed to be)."""

    source: Source
    after_store: AfterStore | None = None


# The factory receives its own `[sources.<name>]` dataclass, whose type bot.config defines
# (the config imports below this layer, so the type cannot be named here).
Factory = Callable[[Any, SourceDeps], Awaitable[Built]]
StaleRule = Callable[[Sequence[SourceRun], datetime], str | None]


@dataclass(frozen=True)
class SourceKind:
    """One upstream: `name` as stored and in `[sources.<name>]`, `label` as readers see it."""

    name: str
    label: str
    build: Factory
    stale: StaleRule


class ValidatorKeeper:
    """Persists HTTP validators, but only once the papers they vouch for are stored.

    Saving an ETag before the papers are safe would make the next poll a 304 and lose them.
    """

    def __init__(self, state: SourceState, source: str, memory: MemoryValidatorState) -> None:
        self._state = state
        self._source = source
        self._memory = memory

    async def after_store(self, source: str, stored: bool) -> None:
        if source != self._source:
            return
        if not stored:
            self._memory.by_url.clear()
            return
        for url, validators in self._memory.by_url.items():
            value = json.dumps({"etag": validators.etag, "last_modified": validators.last_modified})
            await self._state.set_state(source, _VALIDATOR_PREFIX + url, value)


async def load_validators(state: SourceState, source: str, urls: list[str]) -> MemoryValidatorState:
    """The validators kept for these URLs by earlier runs."""
    memory = MemoryValidatorState()
    for url in urls:
        raw = await state.get_state(source, _VALIDATOR_PREFIX + url)
        if raw:
            data = json.loads(raw)
            memory.set(
                url, Validators(etag=data.get("etag"), last_modified=data.get("last_modified"))
            )
    return memory


async def _huggingface(section: Any, deps: SourceDeps) -> Built:
    source = huggingface.HuggingFaceSource(
        deps.http, section.base_url, clock=deps.clock, retry=deps.retry
    )
    return Built(source)


async def _arxiv(section: Any, deps: SourceDeps) -> Built:
    listing = f"{section.rss_url.rstrip('/')}/{'+'.join(section.categories)}"
    memory = await load_validators(deps.state, ARXIV, [listing])
    spacing = arxiv.DEFAULT_SPACING if deps.spacing is None else deps.spacing
    source = arxiv.ArxivSource(
        deps.http, section.rss_url, section.api_url, section.categories,
        pacer=Pacer(spacing), validators_state=memory, clock=deps.clock, retry=deps.retry,
    )  # fmt: skip
    return Built(source, ValidatorKeeper(deps.state, ARXIV, memory).after_store)


# In the order the sources are polled, listed and shown.
SOURCES: tuple[SourceKind, ...] = (
    SourceKind(HUGGINGFACE, "Hugging Face", _huggingface, huggingface.stale_reason),
    SourceKind(ARXIV, "arXiv", _arxiv, arxiv.stale_reason),
)
BY_NAME = {kind.name: kind for kind in SOURCES}
NAMES = tuple(BY_NAME)
# What a feed may name in `sources`: every polled upstream (not the offline snapshot import).
FEED_SOURCES = NAMES


def label_of(name: str) -> str:
    """How readers see a source's name ("Hugging Face", not its stored name)."""
    kind = BY_NAME.get(name)
    return kind.label if kind is not None else name


def stale_reason(name: str, runs: Sequence[SourceRun], now: datetime) -> str | None:
    """The source's own stale rule; a source without one is never stale."""
    kind = BY_NAME.get(name)
    return kind.stale(runs, now) if kind is not None else None


def section_of(sources_config: object, kind: SourceKind) -> SourceSection:
    """The `[sources.<name>]` table of this source in the loaded configuration."""
    section: SourceSection = getattr(sources_config, kind.name)
    return section
