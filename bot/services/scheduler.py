"""The poll schedule: one APScheduler job per enabled source, staggered, never overlapping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.services.cluster import Leadership
from bot.services.poller import Poller

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollJob:
    source: str
    interval: timedelta
    first_delay: timedelta


def plan_jobs(intervals: dict[str, timedelta], first_delay: timedelta) -> list[PollJob]:
    """Stagger the first runs so the sources do not all fire together at start."""
    return [
        PollJob(source=name, interval=interval, first_delay=first_delay * (n + 1))
        for n, (name, interval) in enumerate(intervals.items())
    ]


class PollScheduler:
    """Owns an AsyncIOScheduler; start it inside the running loop (setup_hook), stop it on close."""

    def __init__(
        self,
        poller: Poller,
        jobs: Sequence[PollJob],
        jitter: float = 0.05,
        after_poll: Callable[[], None] | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        self._poller = poller
        # Several pollers on one database: only the lease holder polls (None: this one does).
        self.leadership = leadership
        self._after_poll = after_poll
        self._jobs = jobs
        self._jitter = jitter
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._polls: set[asyncio.Task[Any]] = set()  # polls running now
        self._stopping = False

    def start(self, now: datetime) -> None:
        for job in self._jobs:
            self._scheduler.add_job(
                self._run,
                "interval",
                args=[job.source],
                id=f"poll-{job.source}",
                seconds=int(job.interval.total_seconds()),
                start_date=now + job.first_delay - job.interval,
                jitter=max(1, int(job.interval.total_seconds() * self._jitter)),
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(job.interval.total_seconds()),
            )
        self._scheduler.start()

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def next_run(self, source: str) -> datetime | None:
        job = self._scheduler.get_job(f"poll-{source}")
        return job.next_run_time if job else None

    async def shutdown(self) -> None:
        """Stop scheduling (APScheduler applies it on the loop's next turn, so yield once), then
        cut a poll in flight short: it must end before the store closes and before this process
        gives up its poll lease, or another poller would poll alongside it. The next poll, here
        or elsewhere, fetches again; unique keys absorb what this one already stored."""
        self._stopping = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
            await asyncio.sleep(0)
        polls = list(self._polls)
        for task in polls:
            task.cancel()
        await asyncio.gather(*polls, return_exceptions=True)

    async def _run(self, source: str) -> None:
        """A job never lets an exception escape: the poller records failures itself."""
        task = asyncio.current_task()
        if task is None or self._stopping:
            return
        self._polls.add(task)
        try:
            await self._poll(source)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            log.info("poll of %s cut short by the shutdown", source)
        finally:
            self._polls.discard(task)

    async def _poll(self, source: str) -> None:
        """Poll `source` if this process may (it holds the source's lease, or there is none)."""
        leadership = self.leadership
        epoch = None
        if leadership is not None:
            if not await leadership.may_poll(source):
                log.debug("not polling %s: another process holds its lease", source)
                return
            epoch = leadership.epochs.get(source)
        try:
            report = await self._poller.poll_source(source)
        except Exception:
            log.exception("scheduled poll of %s failed unexpectedly", source)
            return
        # Harmless (unique keys absorb a double poll), but worth knowing: a pause or a
        # partition outlasted the lease.
        if (
            leadership is not None
            and epoch is not None
            and not await leadership.still_leads(source, epoch)
        ):
            log.warning("the lease to poll %s ran out during the poll (epoch %d)", source, epoch)
        if report.queued and self._after_poll is not None:
            self._after_poll()
