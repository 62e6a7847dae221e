"""`paperfeed import`: stream a JSON-lines snapshot into the store in batches, constant memory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from bot.models import Paper
from bot.sources.snapshot import SnapshotLineError, parse_snapshot_line
from bot.store.interfaces import Database

log = logging.getLogger(__name__)
BATCH_SIZE = 10_000
MAX_REPORTED_PROBLEMS = 20
# While a batch is being stored, parsing hands control back this often (in lines) so the
# store's next statement starts without waiting for the whole next batch to be parsed.
_YIELD_EVERY = 25
# Batches handed to the store at once: one being written, the next being prepared.
IN_FLIGHT = 2


@dataclass
class ImportReport:
    """Counts for the user, and the first few bad lines with their numbers."""

    lines: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return self.new + self.updated + self.unchanged


ProgressCallback = Callable[[ImportReport], None]


async def import_lines(
    store: Database,
    lines: Iterable[str],
    *,
    batch_size: int = BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Parse and upsert line by line; a bad line is reported with its number and skipped.

    Parsing overlaps with storing: SQLite does the heavy part (full-text indexing) in the
    store's own thread without holding the GIL, PostgreSQL in its own process, so with two
    cores both stay busy. Up to IN_FLIGHT batches are handed to the store at once, so a store
    that prepares a batch before its transaction (PostgreSQL: lexemes) does so while the one
    before is written; upserts keep their order, and progress is reported after each batch.
    """
    with _no_cycle_collection():
        return await _import(store, lines, batch_size, progress)


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cyclic GC off for the import, as it was after: an import's objects (parsed JSON,
    papers, rows) hold no cycles and are freed by their counts, yet with 10^5-10^6 of them alive the
    collector kept scanning them: ~15 % of the main thread's CPU at 100k papers."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def _import(
    store: Database,
    lines: Iterable[str],
    batch_size: int,
    progress: ProgressCallback | None,
) -> ImportReport:
    report = ImportReport()
    batch: list[Paper] = []
    storing: deque[asyncio.Task[None]] = deque()
    try:
        for number, line in enumerate(lines, 1):
            report.lines = number
            if storing and number % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if not line or line.isspace():  # as `not line.strip()`, without copying the line
                continue
            try:
                batch.append(parse_snapshot_line(line))
            except SnapshotLineError as exc:
                report.bad += 1
                if len(report.problems) < MAX_REPORTED_PROBLEMS:
                    report.problems.append(f"line {number}: {exc}")
                log.debug("skipping line %d: %s", number, exc)
            if len(batch) >= batch_size:
                while len(storing) >= IN_FLIGHT or (storing and storing[0].done()):
                    await _finish(storing.popleft(), progress, report)
                storing.append(asyncio.ensure_future(_flush(store, batch, report)))
                batch = []
        while storing:
            await _finish(storing.popleft(), progress, report)
        await _flush(store, batch, report)
    finally:
        for task in storing:  # parsing or an earlier batch failed: stop storing too
            task.cancel()
        for task in storing:
            with contextlib.suppress(BaseException):
                await task
    if progress:
        progress(report)
    return report


async def _finish(
    storing: asyncio.Task[None], progress: ProgressCallback | None, report: ImportReport
) -> None:
    """Wait for a batch being stored (its errors surface here), then report progress."""
    await storing
    if progress:
        progress(report)


async def _flush(store: Database, batch: list[Paper], report: ImportReport) -> None:
    if not batch:
        return
    result = await store.papers.upsert(batch)
    report.new += len(result.new)
    # Any stored change counts for the import (a corrected title is an update), not only the
    # changes feeds act on; a paper repeated within the batch was merged, so it is unchanged.
    report.updated += len(result.changed)
    report.unchanged += len(batch) - len(result.new) - len(result.changed)
    batch.clear()
