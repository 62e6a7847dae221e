"""The feeds gate: every front end (slash commands, CLI, config file) validates, creates,
changes and removes feeds here, with one set of limits and one set of rules."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import ConfigError, PaperfeedError, QueryError
from bot.models import Feed, FeedMode, FeedOrigin, FeedSpec, SearchHit, SearchPage
from bot.query.compile import compile_query
from bot.semantic.availability import INSTALL_HINT, semantic_available
from bot.services.matching import (
    RECENT_WINDOW,
    backfill_feed,
    check_like_papers,
    keep_passing,
    recent_matches,
)
from bot.sources.arxiv_categories import category_problem
from bot.sources.registry import FEED_SOURCES
from bot.store.interfaces import Database

if TYPE_CHECKING:
    from bot.services.semantic import Semantic

log = logging.getLogger(__name__)
PREVIEW_POOL = 500  # recent papers a like: / about: preview looks through

# The one set of feed limits (README "Feeds"): the config file, the CLI and /feed add all
# check these, through `validate`.
NAME_MAX = 64
MIN_UPVOTES_MAX = 1_000_000
BACKFILL_MAX = 50
DIGEST_SIZE_MAX = 25
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_LISTED_SOURCES = ", ".join(f'"{s}"' for s in FEED_SOURCES)
EXPECTED = {
    "name": f"expected a name of 1 to {NAME_MAX} characters",
    "sources": f"expected a list of {_LISTED_SOURCES}, at least one",
    "min_upvotes": f"expected a whole number from 0 to {MIN_UPVOTES_MAX}",
    "mode": 'expected "instant" or "digest"',
    "digest_time": 'expected a UTC time like "09:00"',
    "digest_size": f"expected a number from 1 to {DIGEST_SIZE_MAX}",
    "backfill": f"expected a number from 0 to {BACKFILL_MAX}",
}


class FeedSpecError(ConfigError):
    """A feed option outside the limits; `field` names it, `reason` says what was expected."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class FileManagedFeed(PaperfeedError):
    """A feed of the configuration file: only the file changes or removes it."""

    exit_code = 2


def _show(value: object) -> str:
    """A value as an error line quotes it: escaped, so it stays one line, and short."""
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _refuse(name: str, value: object) -> FeedSpecError:
    return FeedSpecError(name, f"{EXPECTED[name]}, got {_show(value)}")


def validate(spec: FeedSpec) -> FeedSpec:
    """The spec with its name trimmed, or the first option out of bounds as a FeedSpecError."""
    name = spec.name.strip() if isinstance(spec.name, str) else ""
    if not 1 <= len(name) <= NAME_MAX or not name.isprintable():
        raise _refuse("name", spec.name)
    try:
        compiled = compile_query(spec.query)
    except QueryError as exc:
        raise FeedSpecError("query", str(exc)) from None
    if compiled.is_semantic and not semantic_available():
        raise FeedSpecError("query", INSTALL_HINT)
    for code in spec.categories:
        problem = category_problem(code, archives=True)
        if problem is not None:
            raise FeedSpecError("categories", " ".join(problem.split()))
    if not spec.sources or any(s not in FEED_SOURCES for s in spec.sources):
        raise _refuse("sources", list(spec.sources))
    if not _whole(spec.min_upvotes, 0, MIN_UPVOTES_MAX):
        raise _refuse("min_upvotes", spec.min_upvotes)
    if not isinstance(spec.mode, FeedMode):
        raise _refuse("mode", spec.mode)
    if not isinstance(spec.digest_time, str) or not _TIME_OF_DAY.match(spec.digest_time):
        raise _refuse("digest_time", spec.digest_time)
    if not _whole(spec.digest_size, 1, DIGEST_SIZE_MAX):
        raise _refuse("digest_size", spec.digest_size)
    if not _whole(spec.backfill, 0, BACKFILL_MAX):
        raise _refuse("backfill", spec.backfill)
    return spec if name == spec.name else replace(spec, name=name)


async def create_feed(
    store: Database,
    spec: FeedSpec,
    *,
    guild_id: int | None,
    now: datetime,
    origin: FeedOrigin = FeedOrigin.DISCORD,
    semantic: Semantic | None = None,
) -> tuple[Feed, int]:
    """Store a feed and queue at most `backfill` of its recent matches (never the history)."""
    spec = validate(spec)
    try:
        await check_like_papers(store, compile_query(spec.query))
    except QueryError as exc:
        raise FeedSpecError("query", str(exc)) from None
    async with store.transaction():
        feed = await store.feeds.add(spec, guild_id=guild_id, origin=origin, backfill_used=0)
        matches = await backfill_feed(store, feed, now, semantic=semantic)
    queued = min(len(matches), spec.backfill)
    # DEBUG: each caller reports the result its own way (the CLI prints it, /feed add logs it),
    # so an INFO line here made `paperfeed feeds add` say everything twice.
    log.debug("feed %d (%s) created; %d recent match(es), %d queued", feed.id, feed.name,
              len(matches), queued)  # fmt: skip
    return feed, queued


async def sync_config_feeds(
    store: Database, specs: Sequence[FeedSpec], now: datetime, semantic: Semantic | None = None
) -> None:
    """Make the file-managed feeds equal [[feeds]]; new ones get their backfill."""
    specs = [validate(spec) for spec in specs]
    async with store.transaction():
        added, removed = await store.feeds.sync_config(specs)
        for feed in added:
            await backfill_feed(store, feed, now, semantic=semantic)
    for feed in added:
        log.info("config feed %r added", feed.name)
    for feed in removed:
        log.info("config feed %r removed (no longer in the configuration file)", feed.name)


@dataclass
class ImportOutcome:
    """What `import_feeds` did, feed by feed (names as the file spells them)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    queued: int = 0


def _same_feed(existing: Sequence[Feed], spec: FeedSpec, guild_id: int | None) -> Feed | None:
    """The stored feed an imported table stands for: the same name in the guild, else the same
    channel and query (a channel belongs to one guild, so a channel match needs no guild)."""
    for feed in existing:
        if feed.name == spec.name and (feed.guild_id or 0) == (guild_id or 0):
            return feed
    for feed in existing:
        if feed.channel_id == spec.channel_id and feed.spec.query == spec.query:
            return feed
    return None


def _guild_of_channel(existing: Sequence[Feed], channel_id: int) -> int | None:
    """The guild a channel belongs to, as the feeds already posting there know it."""
    return next((f.guild_id for f in existing if f.channel_id == channel_id and f.guild_id), None)


async def import_feeds(
    store: Database,
    specs: Sequence[FeedSpec],
    *,
    guild_id: int | None,
    now: datetime,
    backfill: bool = True,
    semantic: Semantic | None = None,
) -> ImportOutcome:
    """Create or update feeds from `[[feeds]]` tables, idempotently, in one transaction.

    A table that names the same channel and query, or the same name in the guild, as a stored
    feed updates that feed (or leaves it alone when nothing changed): importing an export twice,
    with or without a guild, never duplicates a feed. Without `guild_id`, a feed's guild is taken
    from the feeds already posting to its channel. Feeds of the configuration file are skipped.
    """
    outcome = ImportOutcome()
    specs = [validate(spec) for spec in specs]
    async with store.transaction():
        for spec in specs:
            existing = await store.feeds.list()
            guild = guild_id or _guild_of_channel(existing, spec.channel_id)
            match = _same_feed(existing, spec, guild)
            if match is None:
                if backfill:
                    created = await create_feed(
                        store, spec, guild_id=guild, now=now, semantic=semantic
                    )
                    outcome.queued += created[1]
                else:
                    await store.feeds.add(spec, guild_id=guild)
                outcome.created.append(spec.name)
            elif match.origin is FeedOrigin.CONFIG:
                reason = "managed by the configuration file"
                outcome.skipped.append({"name": spec.name, "reason": reason})
            elif match.spec == spec:
                outcome.unchanged.append(spec.name)
            else:
                await store.feeds.update(match.id, spec, match.guild_id or guild)
                outcome.updated.append(spec.name)
    return outcome


class FeedService:
    """The feed use cases as one object, so a front end parses, calls and renders, no more."""

    def __init__(
        self,
        store: Database,
        clock: Callable[[], datetime],
        wake: Callable[[], None] = lambda: None,
        semantic: Semantic | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._wake = wake  # deliveries were queued: the publisher should look now
        self.semantic = semantic  # like: / about: in a new feed's backfill

    validate = staticmethod(validate)

    async def create(
        self, spec: FeedSpec, *, guild_id: int | None, origin: FeedOrigin = FeedOrigin.DISCORD
    ) -> tuple[Feed, int]:
        """Validate, store, queue the backfill; the queued count is returned."""
        feed, queued = await create_feed(
            self._store,
            spec,
            guild_id=guild_id,
            now=self._clock(),
            origin=origin,
            semantic=self.semantic,
        )
        if queued:
            self._wake()
        return feed, queued

    async def list(self, guild_id: int | None = None) -> list[Feed]:
        return await self._store.feeds.list(guild_id=guild_id)

    async def get(self, feed_id: int) -> Feed | None:
        return await self._store.feeds.get(feed_id)

    async def find(self, name: str, guild_id: int) -> Feed | None:
        return await self._store.feeds.find(name, guild_id)

    async def remove(self, feed: Feed) -> None:
        """Remove a feed made in Discord or the CLI; the file's feeds are the file's to remove."""
        if feed.origin is FeedOrigin.CONFIG:
            raise FileManagedFeed(f'feed "{feed.name}" comes from the configuration file')
        await self._store.feeds.remove(feed.id)

    async def pause(self, feed: Feed, reason: str) -> bool:
        """Stop posting (matches are still kept); False if it was already paused."""
        if feed.paused:
            return False
        await self._store.feeds.set_paused(feed.id, True, reason)
        return True

    async def resume(self, feed: Feed) -> bool:
        """Post again, starting with what it owes; False if it was not paused."""
        if not feed.paused:
            return False
        await self._store.feeds.set_paused(feed.id, False)
        self._wake()
        return True

    async def preview(self, query: str, *, limit: int = 5) -> SearchPage:
        """What a query matched in the recent window, newest first, without saving anything."""
        since = self._clock() - RECENT_WINDOW
        compiled = compile_query(query)
        if not compiled.is_semantic:
            return await self._store.papers.search(
                compiled, limit=limit, since=since, sort="recent"
            )
        # like: / about: filter as a feed would: the recent papers that reach the thresholds.
        found = await recent_matches(self._store, compiled, since, PREVIEW_POOL)
        kept = await keep_passing(self.semantic, compiled, found)
        hits = tuple(SearchHit(p, 0.0) for p in kept)
        return SearchPage(total=len(hits), hits=hits[:limit], total_exact=len(found) < PREVIEW_POOL)

    async def import_specs(
        self, specs: Sequence[FeedSpec], *, guild_id: int | None, backfill: bool = True
    ) -> ImportOutcome:
        outcome = await import_feeds(
            self._store,
            specs,
            guild_id=guild_id,
            now=self._clock(),
            backfill=backfill,
            semantic=self.semantic,
        )
        if outcome.queued:
            self._wake()
        return outcome

    async def sync_config(self, specs: Sequence[FeedSpec]) -> None:
        await sync_config_feeds(self._store, specs, self._clock(), self.semantic)
