"""One poll of a source: fetch → store → match → queue, in one transaction, then record the run."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import PaperfeedError
from bot.models import SourceRun
from bot.services.matching import queue_matches
from bot.sources.base import FetchResult, Source
from bot.store.interfaces import Database

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
# Told whether a source's batch reached the database, so what the source remembers between
# polls (HTTP validators) is kept only once the papers are safe.
AfterStore = Callable[[str, bool], Awaitable[None]]


@dataclass(frozen=True)
class PollReport:
    """What one source's poll did, as `paperfeed poll` prints it."""

    name: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    queued: int = 0
    error: str | None = None


class Poller:
    """Polls sources into the store; a failing source never stops the others."""

    def __init__(
        self,
        store: Database,
        sources: Sequence[Source],
        clock: Clock,
        *,
        after_store: AfterStore | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self.sources = {s.name: s for s in sources}
        self._clock = clock
        self._after_store = after_store
        self._metrics = metrics

    async def poll_all(self, names: Sequence[str] | None = None) -> list[PollReport]:
        wanted = [n for n in self.sources if not names or n in names]
        return [await self.poll_source(name) for name in wanted]

    async def poll_source(self, name: str) -> PollReport:
        """Never raises: every failure becomes the run's recorded error."""
        source = self.sources[name]
        started = self._clock()
        result: FetchResult | None = None
        error: str | None = None
        try:
            result = await source.poll(started)
        except PaperfeedError as exc:
            error = str(exc)
            log.warning("poll of %s failed: %s", name, error)
        except Exception as exc:  # a bug must not stop the schedule; record it and go on
            log.exception("poll of %s crashed", name)
            error = f"internal error: {type(exc).__name__}: {exc}"
        report = PollReport(name=name, error=error)
        if result is not None:
            report, stored = await self._store_result(name, result, started)
            if self._after_store is not None:
                await self._after_store(name, stored)
        finished = self._clock()
        if self._metrics is not None:
            self._metrics.record_poll(
                name,
                (finished - started).total_seconds(),
                failed=report.error is not None,
                new=report.new,
            )
        await self._store.sources.record_run(
            SourceRun(
                source=name,
                started_at=started,
                finished_at=finished,
                fetched=report.fetched,
                new=report.new,
                updated=report.updated,
                error=report.error,
            )
        )
        log.info(
            "poll %s: fetched=%d new=%d updated=%d queued=%d%s",
            name, report.fetched, report.new, report.updated, report.queued,
            f" error={report.error}" if report.error else "",
        )  # fmt: skip
        return report

    async def _store_result(
        self, name: str, result: FetchResult, started: datetime
    ) -> tuple[PollReport, bool]:
        """Keep whatever parsed, even when part of the fetch failed."""
        error = result.error
        if result.problems and error is None:
            shown = "; ".join(result.problems[:3])
            more = f" (+{len(result.problems) - 3} more)" if len(result.problems) > 3 else ""
            error = f"{len(result.problems)} problem(s): {shown}{more}"
        papers = result.all_papers
        try:
            async with self._store.transaction():
                upsert = await self._store.papers.upsert(papers)
                queued = await queue_matches(self._store, [*upsert.new, *upsert.updated], started)
        except PaperfeedError as exc:
            log.error("storing the %s poll failed: %s", name, exc)
            return PollReport(name=name, fetched=len(papers), error=str(exc)), False
        report = PollReport(
            name=name,
            fetched=len(papers),
            new=len(upsert.new),
            updated=len(upsert.updated),
            queued=queued,
            error=error,
        )
        return report, True
