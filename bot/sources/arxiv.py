"""arXiv: the daily RSS listing, filled in from the query API, all at arXiv's pace.

arXiv asks for one request every three seconds on one connection, across everything that
talks to it; every request here goes through one fetcher that shares one :class:`Pacer`.
The listing lacks submission times, primary categories and comments, so its ids are looked
up in the query API in batches; that enrichment is best-effort and never costs the listing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

import httpx

from bot.errors import PaperIdError, SourceError, SourceResponseError
from bot.models import Paper, merge_papers, parse_paper_id
from bot.sources.arxiv_parse import (
    SOURCE,
    ApiPage,
    api_error_message,
    parse_api_feed,
    parse_listing,
)
from bot.sources.base import FetchResult, ResultBuilder
from bot.sources.http import (
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    Fetcher,
    Pacer,
    RetryPolicy,
    Sleep,
    ValidatorState,
)

log = logging.getLogger(__name__)

MAX_BATCH = 100  # ids per query-API request
DEFAULT_SPACING = 3.0  # seconds between requests (arXiv API terms of use)
_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.1"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ArxivSource:
    """Reads the arXiv RSS listing for some categories and the query API by id."""

    name = SOURCE

    def __init__(
        self,
        client: httpx.AsyncClient,
        rss_url: str,
        api_url: str,
        categories: Sequence[str],
        pacer: Pacer | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        validators_state: ValidatorState | None = None,
        *,
        batch_size: int = MAX_BATCH,
        clock: Callable[[], datetime] = _utc_now,
        sleep: Sleep = asyncio.sleep,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not categories:
            raise ValueError("ArxivSource needs at least one category")
        self.categories = tuple(categories)
        self.listing_url = f"{rss_url.rstrip('/')}/{'+'.join(categories)}"
        self.api_url = api_url
        self.pacer = pacer if pacer is not None else Pacer(DEFAULT_SPACING)
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self._fetcher = Fetcher(
            client,
            SOURCE,
            retry=retry,
            pacer=self.pacer,
            validators=validators_state,
            accept=_ACCEPT,
            timeout=timeout,
            sleep=sleep,
            wall_clock=clock,
            rand=rand,
        )

    async def poll(self, now: datetime) -> FetchResult:
        """The listing is the news; `now` does not change what arXiv serves."""
        return await self.fetch_listing()

    async def fetch_listing(self) -> FetchResult:
        """Today's announcements: new and cross-listed papers, and replaced versions."""
        run = ResultBuilder(SOURCE)
        try:
            fetched = await self._fetcher.get(self.listing_url, conditional=True)
        except SourceError as exc:  # the fetcher has logged it
            run.fail(exc, where="listing")
            return run.build()
        if fetched.not_modified:
            log.debug("%s: listing unchanged since the last poll", SOURCE)
            self._listed(run, [])
            return run.build(not_modified=True)
        try:
            listing = parse_listing(fetched.body)
        except SourceResponseError as exc:
            log.warning("%s: unusable listing from %s: %s", SOURCE, self.listing_url, exc.reason)
            run.fail(exc, where="listing")
            return run.build()
        if not listing.complete:
            # a body cut short or broken is a failed request, like a failed page: the entries
            # that arrived whole are kept, the rest of the listing is missing
            reason = listing.problems[0] if listing.problems else "feed is malformed or cut short"
            log.warning("%s: incomplete listing from %s: %s", SOURCE, self.listing_url, reason)
            run.fail(SourceResponseError(SOURCE, reason), where="listing")
            run.note(listing.problems[1:], where="listing")
        else:
            run.note(listing.problems, where="listing")
        details = await self._details(run, [p.id for p in (*listing.papers, *listing.replaced)])
        run.add(_filled(listing.papers, details))
        run.add_replaced(_filled(listing.replaced, details))
        self._listed(run, [*listing.papers, *listing.replaced])
        if listing.complete:
            self._fetcher.remember(self.listing_url, fetched)
        return run.build()

    def _listed(self, run: ResultBuilder, papers: Sequence[Paper]) -> None:
        """One listing per category (a newly configured one starts as backlog); a paper whose
        categories name none of them is counted in all."""
        for category in self.categories:
            run.listed(f"{SOURCE}/{category}")
        for paper in papers:
            fits = [c for c in self.categories if _in_category(c, paper.categories)]
            for category in fits or self.categories:
                run.listed(f"{SOURCE}/{category}", [paper.id])

    async def fetch_by_ids(self, ids: Iterable[str]) -> FetchResult:
        """Papers by id (a version suffix asks for that version), from the query API."""
        run = ResultBuilder(SOURCE)
        wanted: list[str] = []
        for raw in ids:
            try:
                ref = parse_paper_id(raw)
            except PaperIdError as exc:
                run.note([str(exc)])
                continue
            wanted.append(f"{ref.id}v{ref.version}" if ref.version else ref.id)
        papers = await self._batches(run, list(dict.fromkeys(wanted)), where="id_list")
        run.add(papers)
        return run.build()

    async def lookup(self, paper_id: str) -> Paper | None:
        """One paper by id or URL; None when arXiv has no such paper."""
        ref = parse_paper_id(paper_id)
        page = await self._query([f"{ref.id}v{ref.version}" if ref.version else ref.id])
        return next((p for p in page.papers if p.id == ref.id), None)

    async def _details(self, run: ResultBuilder, ids: list[str]) -> dict[str, Paper]:
        """What the API knows about the listed ids; a failure is noted, never fatal."""
        unique = list(dict.fromkeys(ids))
        papers = await self._batches(run, unique, where="enrichment", fatal=False)
        return {p.id: p for p in papers}

    async def _batches(
        self, run: ResultBuilder, ids: list[str], *, where: str, fatal: bool = True
    ) -> list[Paper]:
        """Query the API for `ids`, at most `batch_size` a request; a batch failure costs itself."""
        papers: list[Paper] = []
        batches = [ids[i : i + self.batch_size] for i in range(0, len(ids), self.batch_size)]
        for number, batch in enumerate(batches, start=1):
            label = f"{where} batch {number}/{len(batches)}"
            if run.unavailable:
                run.note([f"not requested, arXiv is unavailable ({len(batch)} ids)"], where=label)
                continue
            try:
                page = await self._query(batch)
            except SourceError as exc:
                (run.fail if fatal else run.degrade)(exc, where=label)
                continue
            run.note(page.problems, where=label)
            papers.extend(page.papers)
        return papers

    async def _query(self, id_list: list[str]) -> ApiPage:
        """One query-API request; arXiv's error feed (HTTP 400) becomes its message."""
        params: dict[str, str | int] = {
            "id_list": ",".join(id_list),
            "start": 0,
            "max_results": len(id_list),
        }
        fetched = await self._fetcher.get(self.api_url, params, accept_statuses=(400,))
        if fetched.status == 400:
            message = api_error_message(fetched.body) or "HTTP 400 Bad Request"
            log.warning("%s: query API refused id_list=%s: %s", SOURCE, params["id_list"], message)
            raise SourceResponseError(SOURCE, message)
        try:
            return parse_api_feed(fetched.body)
        except SourceResponseError as exc:
            log.warning("%s: unusable query API answer: %s", SOURCE, exc.reason)
            raise


def _filled(listed: list[Paper], details: dict[str, Paper]) -> list[Paper]:
    """Listing papers with what the API added (times, primary category, comments)."""
    return [merge_papers(p, details[p.id]) if p.id in details else p for p in listed]


def _in_category(wanted: str, categories: Sequence[str]) -> bool:
    """`cs.LG` is one category, `cs` a whole archive, as arXiv's listing reads them."""
    have = {c.lower() for c in categories}
    wanted = wanted.lower()
    return wanted in have or ("." not in wanted and any(c.split(".")[0] == wanted for c in have))
