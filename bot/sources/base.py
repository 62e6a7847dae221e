"""What every source hands back, so the poller can treat arXiv and Hugging Face alike."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.errors import SourceError, SourceUnavailable
from bot.models import Paper, merge_papers

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FetchResult:
    """Papers from one fetch, plus what went wrong without stopping it.

    `error` is set when a request failed outright (the papers are what came before it);
    `problems` lists everything skipped or degraded, including `error`.
    """

    papers: list[Paper] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    not_modified: bool = False
    # arXiv replacements (announce type replace / replace-cross): papers carrying the new
    # version and the metadata the listing gave; upsert them like any other paper.
    replaced: list[Paper] = field(default_factory=list)
    # The listings this fetch read (a source's own, or one per arXiv category), each with the
    # ids it showed: what a listing shows the first time the bot sees it is backlog, not news.
    # Empty means one listing named after the source, holding every paper.
    listings: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def warnings(self) -> list[str]:
        """What was skipped or ignored without costing the listing: never a failure."""
        return [p for p in self.problems if p != self.error]

    @property
    def all_papers(self) -> list[Paper]:
        """New papers and version updates together, for a store upsert."""
        return [*self.papers, *self.replaced]


class Source(Protocol):
    """One upstream the poller runs on a schedule."""

    @property
    def name(self) -> str: ...

    async def poll(self, now: datetime) -> FetchResult:
        """Fetch what is new; never raises for upstream failures (they land in `error`)."""
        ...


# Where a problem was met (page, batch, position, day): changes from poll to poll.
_PLACE = re.compile(r"\b(?:page|batch|item|entry) \d+(?:/\d+)?|\b(?:date|week|month|sort)=\S+")


def warning_key(text: str) -> str:
    """A warning without where it was met: the same item and kind give the same key every poll."""
    return " ".join(_PLACE.sub("", text).split())


def merge_by_id(*batches: Iterable[Paper]) -> list[Paper]:
    """One paper per id, in first-seen order, later observations merged into earlier ones."""
    merged: dict[str, Paper] = {}
    for batch in batches:
        for paper in batch:
            known = merged.get(paper.id)
            merged[paper.id] = paper if known is None else merge_papers(known, paper)
    return list(merged.values())


class ResultBuilder:
    """Collects a multi-request fetch as it goes, so a late failure keeps the early pages."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.error: str | None = None
        self.unavailable = False  # the upstream is down: further requests would only wait
        self._papers: list[Paper] = []
        self._replaced: list[Paper] = []
        self._problems: list[str] = []
        self._notes: list[str] = []
        self._listings: dict[str, set[str]] = {}

    def add(
        self, papers: Iterable[Paper], problems: Iterable[str] = (), *, where: str = ""
    ) -> None:
        self._papers.extend(papers)
        self.note(problems, where=where)

    def add_replaced(self, papers: Iterable[Paper]) -> None:
        self._replaced.extend(papers)

    def listed(self, listing: str, ids: Iterable[str] = ()) -> None:
        """Record that `listing` was read and showed these ids (it may show none)."""
        self._listings.setdefault(listing, set()).update(ids)

    def note(self, problems: Iterable[str], *, where: str = "") -> None:
        """Record problems that degraded the fetch without failing it."""
        for problem in problems:
            text = f"{where}: {problem}" if where else problem
            self._problems.append(text)
            self._notes.append(text)

    def fail(self, exc: SourceError, *, where: str = "") -> None:
        """Record a failed request; the first failure is the one the health record shows."""
        message = f"{where}: {exc.reason}" if where else exc.reason
        self._problems.append(message)
        if self.error is None:
            self.error = message
        if isinstance(exc, SourceUnavailable):
            self.unavailable = True

    def degrade(self, exc: SourceError, *, where: str = "") -> None:
        """Record a failed optional request (e.g. enrichment): a problem, not the fetch's error."""
        self._problems.append(f"{where}: {exc.reason}" if where else exc.reason)
        if isinstance(exc, SourceUnavailable):
            self.unavailable = True

    def build(self, *, not_modified: bool = False) -> FetchResult:
        if self._notes:  # the poller logs each warning once; this is for other callers
            log.debug(
                "%s: %d problem(s) while reading the response; first: %s",
                self.source,
                len(self._notes),
                self._notes[0],
            )
        return FetchResult(
            papers=merge_by_id(self._papers),
            problems=list(self._problems),
            error=self.error,
            not_modified=not_modified,
            replaced=merge_by_id(self._replaced),
            listings={name: frozenset(ids) for name, ids in self._listings.items()},
        )
