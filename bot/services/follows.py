"""The personal follows gate: every front end (slash commands, CLI) makes, lists, pauses and
removes a member's follows here, with one set of limits and one privacy rule: a member only ever
reaches their own follows (every call is keyed by the member's user id)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Protocol

from bot.clock import Clock
from bot.errors import FollowError, QueryError
from bot.models import DeliveryState, Follow, FollowMode, Paper
from bot.query.compile import compile_query
from bot.semantic.availability import INSTALL_HINT, semantic_available
from bot.services.matching import (
    RECENT_WINDOW,
    check_like_papers,
    keep_passing,
    match_waiting,
    recent_matches,
)
from bot.services.publisher import Body, Posted
from bot.store.interfaces import Database, KeptItem

if TYPE_CHECKING:
    from bot.services.semantic import Semantic

log = logging.getLogger(__name__)

NAME_MAX = 48
MIN_UPVOTES_MAX = 1_000_000
PREVIEW_POOL = 200
DMS_CLOSED = "DMs closed"
# Told at the member's next command after Discord refused a DM (issue 16 §5).
DMS_CLOSED_NOTICE = (
    "I could not DM you: your DMs are closed to me, so your follows are paused. To get them, "
    "allow direct messages from this server's members (Server name → Privacy Settings → "
    "Direct Messages), then resume your follows in /following."
)
# Why DM items waiting when the bot starts with `[follows] enabled = false` were dropped.
FOLLOWS_OFF = "follows were switched off"
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_AUTHOR_ONLY = re.compile(r'^author:"([^"]+)"$')


class DirectMessenger(Protocol):
    """What the DM publisher needs from Discord; the Discord layer implements it."""

    async def send_dm(self, user_id: int, body: Body, *, nonce: str) -> Posted: ...

    async def find_dm(self, user_id: int, nonce: str) -> Posted | None: ...


@dataclass(frozen=True)
class FollowSettings:
    """The `[follows]` keys the service enforces (the runner builds it from the config)."""

    enabled: bool = True
    max_per_user: int = 20
    default_time: str = "08:00"
    daily_size: int = 10
    instant_window: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class FollowPreview:
    """What /follow answers: the follow, what it would have matched lately, the first DM."""

    follow: Follow
    week_count: int
    best: tuple[Paper, ...]  # up to 3
    first_dm_at: datetime


def follow_name(query: str) -> str:
    """A short name a member recognises: the author of an author follow, else the query."""
    text = " ".join(query.split())
    author = _AUTHOR_ONLY.match(text)
    if author:
        text = author.group(1).strip()
    return text if len(text) <= NAME_MAX else text[: NAME_MAX - 1].rstrip() + "…"


def next_daily(now: datetime, hhmm: str, last_daily_on: str | None) -> datetime:
    """When a daily DM at `hhmm` UTC next goes, given the day of the member's last one."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    today = datetime.combine(now.date(), time(hour, minute), tzinfo=now.tzinfo)
    if last_daily_on == now.date().isoformat() or today < now.replace(second=0, microsecond=0):
        return today + timedelta(days=1)
    return today


class FollowService:
    """Members' personal follows, over the store; front ends parse, call and render."""

    def __init__(
        self,
        store: Database,
        clock: Clock,
        settings: FollowSettings | None = None,
        semantic: Semantic | None = None,
    ):
        self._store = store
        self._clock = clock
        self.settings = settings or FollowSettings()
        self.semantic = semantic  # like: / about: in a new follow's preview

    def _check_enabled(self) -> None:
        if not self.settings.enabled:
            raise FollowError("personal follows are turned off on this bot")

    async def follow(
        self,
        user_id: int,
        query: str,
        *,
        mode: str = "daily",
        time: str | None = None,
        min_upvotes: int = 0,
    ) -> FollowPreview:
        """Make a follow: QueryError for a bad query, FollowError for a limit or a bad option."""
        self._check_enabled()
        query = " ".join(query.split())
        compiled = compile_query(query)  # QueryError: the same one line as /search
        if compiled.is_semantic and not semantic_available():
            raise QueryError(INSTALL_HINT)
        await check_like_papers(self._store, compiled)
        if mode not in ("daily", "instant"):
            raise FollowError(f'mode must be "daily" or "instant", not {mode[:20]!r}')
        follow_mode: FollowMode = "daily" if mode == "daily" else "instant"
        at = (time or self.settings.default_time).strip()
        if not _TIME_OF_DAY.match(at):
            raise FollowError(f'time must be a UTC time like "08:00", not {at[:20]!r}')
        if isinstance(min_upvotes, bool) or not 0 <= min_upvotes <= MIN_UPVOTES_MAX:
            raise FollowError(f"min_upvotes must be from 0 to {MIN_UPVOTES_MAX}")
        mine = await self._store.follows.list(user_id=user_id)
        for existing in mine:
            if existing.query == query:
                raise FollowError(f'you already follow this as "{existing.name}"')
        if len(mine) >= self.settings.max_per_user:
            raise FollowError(
                f"you have {len(mine)} follows, the most allowed here; /unfollow one first"
            )
        name = _unique_name(follow_name(query), {f.name for f in mine})
        now = self._clock()
        had_daily = any(f.mode == "daily" for f in mine)
        async with self._store.transaction():
            follow = await self._store.follows.add(
                user_id, name, query, mode=follow_mode, time=at, min_upvotes=min_upvotes
            )
            last = await self._store.follows.last_daily(user_id)
            if follow_mode == "daily" and not had_daily and now.strftime("%H:%M") >= at:
                # A first daily follow made after its time starts tomorrow, not this minute.
                last = now.date().isoformat()
                await self._store.follows.set_last_daily([user_id], last)
        log.info("member %d follows %r (%s)", user_id, name, follow_mode)
        if compiled.is_semantic:  # like: / about: filter as the follow will: by the thresholds
            found = await recent_matches(self._store, compiled, now - RECENT_WINDOW, PREVIEW_POOL)
            hits = await keep_passing(self.semantic, compiled, found)
            hits = [p for p in hits if (p.upvotes or 0) >= min_upvotes]
            count = len(hits)
        else:
            page = await self._store.papers.search(
                compiled, limit=PREVIEW_POOL, since=now - RECENT_WINDOW, sort="relevance"
            )
            hits = [h.paper for h in page.hits if (h.paper.upvotes or 0) >= min_upvotes]
            count = page.total if min_upvotes == 0 else len(hits)
        best = tuple(sorted(hits, key=lambda p: -(p.upvotes or 0))[:3])
        return FollowPreview(follow, count, best, await self._first_dm(user_id, follow, last))

    async def _first_dm(self, user_id: int, follow: Follow, last: str | None) -> datetime:
        now = self._clock()
        if follow.mode == "instant":
            return now + self.settings.instant_window
        times = [
            f.time
            for f in await self._store.follows.list(user_id=user_id, active_only=True)
            if f.mode == "daily"
        ]
        return next_daily(now, min(times, default=follow.time), last)

    async def following(self, user_id: int) -> list[Follow]:
        """The member's own follows, in the order they were made."""
        return await self._store.follows.list(user_id=user_id)

    async def _own(self, user_id: int, name: str) -> Follow:
        follow = await self._store.follows.find(user_id, name)
        if follow is None:
            raise FollowError(f'you have no follow named "{name[:NAME_MAX]}"; see /following')
        return follow

    async def set_paused(self, user_id: int, name: str, paused: bool) -> Follow:
        """Pause or resume one of the member's follows (resuming clears "DMs closed"); what it
        queued goes unless another of the member's active follows matches it too."""
        follow = await self._own(user_id, name)
        keep = await self._still_wanted(follow) if paused else []
        reason = "paused by you" if paused else None
        await self._store.follows.set_paused(follow.id, paused, reason, keep=keep)
        updated = await self._store.follows.get(follow.id)
        assert updated is not None
        return updated

    async def unfollow(self, user_id: int, name: str) -> bool:
        """Remove one of the member's follows; False when they have none of that name."""
        follow = await self._store.follows.find(user_id, name)
        if follow is None:
            return False
        return await self._store.follows.remove(follow.id, keep=await self._still_wanted(follow))

    async def _still_wanted(self, follow: Follow) -> list[KeptItem]:
        """The follow's unplanned DM items that the member's other active follows match, each
        with the follow, mode and relevance the fan-out would have given it without this one."""
        others = [
            f
            for f in await self._store.follows.list(user_id=follow.user_id, active_only=True)
            if f.id != follow.id
        ]
        if not others:
            return []
        queued = await self._store.dms.items(user_id=follow.user_id, states=[DeliveryState.QUEUED])
        waiting = [i for i in queued if i.follow_id == follow.id and i.nonce is None]
        if not waiting:
            return []
        papers = await self._store.papers.get_many([i.paper_id for i in waiting])
        owed = {m[1]: m for m in await match_waiting(others, papers, self.semantic)}
        kept: list[KeptItem] = []
        for item in waiting:
            match = owed.get(item.paper_id)
            if match is not None:
                _, _, follow_id, mode, relevance = match
                kept.append((item.id, follow_id, mode, relevance))
        if kept:
            log.info("%d DM item(s) of follow %d stay owed by other follows", len(kept), follow.id)
        return kept

    async def forget(self, user_id: int) -> int:
        """/unfollow all: the member's follows, pending DMs and notices; returns the follows."""
        removed = await self._store.follows.forget(user_id)
        log.info("forgot member %d (%d follow(s))", user_id, removed)
        return removed

    async def drop_if_off(self) -> int:
        """With follows switched off, drop every DM still waiting, so switching them back on
        (days later, maybe) starts fresh instead of sending a stale queue; 0 when on."""
        if self.settings.enabled:
            return 0
        dropped = await self._store.dms.drop_waiting(FOLLOWS_OFF)
        if dropped:
            log.info("follows are switched off: dropped %d DM item(s) still waiting", dropped)
        return dropped

    async def take_notice(self, user_id: int) -> str | None:
        """The pending "DMs closed" notice, once: read and cleared."""
        return await self._store.follows.take_notice(user_id)


def _unique_name(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base} ({n})" in taken:
        n += 1
    return f"{base} ({n})"
