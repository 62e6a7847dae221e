"""One poll of a source: fetch → store → match → queue, in one transaction, then record the run."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.errors import PaperfeedError
from bot.models import SourceRun
from bot.services.library import Listed, keep_papers
from bot.sources.base import FetchResult, Source, warning_key
from bot.store.interfaces import Database

if TYPE_CHECKING:
    from bot.metrics import Metrics
    from bot.services.semantic import Semantic

log = logging.getLogger(__name__)
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
    error: str | None = None  # the source gave no usable listing (or storing it failed)
    warnings: tuple[str, ...] = ()  # items skipped or fields ignored: never a failure


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
        follows_on: bool = True,
        semantic: Semantic | None = None,
    ) -> None:
        self._store = store
        self._follows_on = follows_on  # [follows] enabled: false owes no DMs
        self.semantic = semantic  # embeds new papers before they are matched
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
        if result is not None:
            await self._log_new_warnings(name, report.warnings, finished)
        if self._metrics is not None:
            self._metrics.record_poll(
                name,
                (finished - started).total_seconds(),
                failed=report.error is not None,
                new=report.new,
                warnings=len(report.warnings),
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
                warnings=len(report.warnings),
            )
        )
        log.info(
            "poll %s: fetched=%d new=%d updated=%d queued=%d warnings=%d%s",
            name, report.fetched, report.new, report.updated, report.queued,
            len(report.warnings), f" error={report.error}" if report.error else "",
        )  # fmt: skip
        return report

    async def _log_new_warnings(self, name: str, warnings: Sequence[str], now: datetime) -> None:
        """Log each warning once per item and kind, not at every poll that meets it again.

        The seen-set is persisted (the store keeps the last poll's), so `paperfeed poll` run
        from cron is as quiet as the bot; a warning that goes away and comes back is logged again.
        """
        by_key = {warning_key(text): text for text in warnings}
        try:
            fresh = await self._store.sources.note_warnings(name, list(by_key), now)
        except PaperfeedError as exc:
            log.error("remembering the %s warnings failed: %s", name, exc)
            fresh = set(by_key)
        for key, text in by_key.items():
            if key in fresh:
                log.warning("%s: %s", name, text)

    async def _store_result(
        self, name: str, result: FetchResult, started: datetime
    ) -> tuple[PollReport, bool]:
        """Keep whatever parsed, even when part of the fetch failed; warnings never fail it.

        Papers a listing shows the first time it is read are backlog (bot.services.backlog);
        the others are news. A listing counts as read once the poll gave anything usable.
        """
        error = result.error
        # one per item and kind: the same item on two lists (today's and trending) warns once
        warnings = tuple({warning_key(w): w for w in result.warnings}.values())
        papers = result.all_papers
        listings = result.listings or {name: frozenset(p.id for p in papers)}
        usable = error is None or bool(papers)
        try:
            listed = Listed(name, listings, usable)
            kept = await keep_papers(
                self._store,
                papers,
                started,
                listed,
                follows_on=self._follows_on,
                semantic=self.semantic,
            )
        except PaperfeedError as exc:
            log.error("storing the %s poll failed: %s", name, exc)
            report = PollReport(name=name, fetched=len(papers), error=str(exc), warnings=warnings)
            return report, False
        if kept.backlog:
            log.debug("poll %s: %d paper(s) first listed before the bot looked: backlog",
                     name, kept.backlog)  # fmt: skip
        report = PollReport(
            name=name,
            fetched=len(papers),
            new=len(kept.upsert.new),
            updated=len(kept.upsert.updated),
            queued=kept.queued,
            error=error,
            warnings=warnings,
        )
        return report, True
