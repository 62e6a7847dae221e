"""Source health with a "stale" flag: a source that answers but brings nothing new is noticed.

arXiv announces new papers Sunday to Thursday at 20:00 US Eastern, so new ids appear between
00:00 and 01:00 UTC Monday to Friday. A listing that still brings no unseen id hours after that,
although polls succeed, is stale (a stuck mirror or a cached feed). Hugging Face's daily list
fills gradually on weekdays; a whole weekday with no new paper from it is stale too. arXiv's
holidays are not known to the bot: a stale flag on a holiday is a false alarm, said as such.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta

from bot.models import SourceHealth, SourceRun
from bot.store.interfaces import Database

ARXIV_GRACE = timedelta(hours=6)  # after 00:00 UTC on an announcement day


async def source_health(store: Database, source: str, now: datetime) -> SourceHealth:
    """The recorded health of a source plus the stale judgement for `now`."""
    health = await store.sources.health(source)
    runs = await store.sources.runs(source, limit=500)
    reason = None
    if source == "arxiv":
        reason = _arxiv_stale(runs_since(runs, _midnight(now)), now)
    elif source == "huggingface":
        reason = _hf_stale(runs, now)
    return replace(health, stale=reason is not None, stale_reason=reason)


def runs_since(runs: list[SourceRun], since: datetime) -> list[SourceRun]:
    return [r for r in runs if r.finished_at >= since]


def _midnight(now: datetime) -> datetime:
    return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)


def _arxiv_stale(today: list[SourceRun], now: datetime) -> str | None:
    if now.weekday() >= 5 or now - _midnight(now) < ARXIV_GRACE:
        return None
    late_ok = [
        r for r in today if r.error is None and r.finished_at >= _midnight(now) + timedelta(hours=2)
    ]
    if late_ok and not any(r.new > 0 for r in today):
        return (
            f"no new arXiv ids today although {len(late_ok)} poll(s) succeeded after the "
            "announcement (a holiday, or a stale listing)"
        )
    return None


def _hf_stale(runs: list[SourceRun], now: datetime) -> str | None:
    yesterday = _midnight(now) - timedelta(days=1)
    if yesterday.weekday() >= 5:
        return None
    during = [r for r in runs if yesterday <= r.finished_at < _midnight(now)]
    ok = [r for r in during if r.error is None]
    if ok and not any(r.new > 0 for r in during):
        return f"Hugging Face brought no new paper all of {yesterday:%A %Y-%m-%d}"
    return None
