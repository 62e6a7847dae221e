"""Source health with a "stale" flag: a source that answers but brings nothing new is noticed.

What "stale" means differs by upstream (arXiv announces once a day, Hugging Face's list fills
through the day): each source states its own rule, found through `bot.sources.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.models import SourceHealth
from bot.sources.registry import stale_reason
from bot.store.interfaces import Database


async def source_health(store: Database, source: str, now: datetime) -> SourceHealth:
    """The recorded health of a source plus the stale judgement for `now`."""
    health = await store.sources.health(source)
    runs = await store.sources.runs(source, limit=500)
    reason = stale_reason(source, runs, now)
    return replace(health, stale=reason is not None, stale_reason=reason)


@dataclass(frozen=True)
class FollowCounts:
    """Personal follows at a glance, for /status, `paperfeed follows list` and /metrics."""

    follows: int = 0
    paused: int = 0
    members: int = 0
    dms_sent: int = 0  # DM messages sent since the time asked
    dms_refused: int = 0  # DMs a member's closed DMs refused, ever
    waiting: int = 0  # papers waiting to go by DM


async def follow_counts(store: Database, since: datetime) -> FollowCounts:
    """Follows, members, DMs sent since `since`, DMs refused and papers waiting."""
    follows = await store.follows.counts()
    dms = await store.dms.counts(since)
    return FollowCounts(
        follows=follows["follows"],
        paused=follows["follows"] - follows["active"],
        members=follows["members"],
        dms_sent=dms["sent"],
        dms_refused=dms["refused"],
        waiting=dms["waiting"],
    )
