"""Source health with a "stale" flag: a source that answers but brings nothing new is noticed.

What "stale" means differs by upstream (arXiv announces once a day, Hugging Face's list fills
through the day): each source states its own rule, found through `bot.sources.registry`.
"""

from __future__ import annotations

from dataclasses import replace
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
