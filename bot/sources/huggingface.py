"""Hugging Face Papers: today's and yesterday's daily lists, trending, lookups and search."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from urllib.parse import quote

import httpx

from bot.clock import Clock, utcnow
from bot.errors import SourceError, SourceResponseError
from bot.models import Paper, SourceRun, parse_paper_id
from bot.sources.base import FetchResult, ResultBuilder
from bot.sources.http import DEFAULT_RETRY, DEFAULT_TIMEOUT, Fetcher, RetryPolicy, Sleep
from bot.sources.huggingface_parse import SOURCE, parse_paper_detail, parse_paper_list

log = logging.getLogger(__name__)

Period = Literal["today", "week", "month"]

MAX_PAGE_SIZE = 100  # the API refuses limit > 100
MAX_QUERY_CHARS = 250  # longer search queries are refused upstream


class HuggingFaceSource:
    """Reads the Hugging Face Papers JSON API; parsing lives in `huggingface_parse`."""

    name = SOURCE

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        clock: Clock = utcnow,
        sleep: Sleep = asyncio.sleep,
        page_size: int = MAX_PAGE_SIZE,
        max_pages: int = 10,
        trending_limit: int = 50,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.max_pages = max(1, max_pages)
        self.trending_limit = trending_limit
        self._fetcher = Fetcher(
            client,
            SOURCE,
            retry=retry,
            accept="application/json",
            timeout=timeout,
            sleep=sleep,
            wall_clock=clock,
            rand=rand,
        )

    async def poll(self, now: datetime) -> FetchResult:
        """Today's and yesterday's daily lists (days fill in gradually) plus trending."""
        run = ResultBuilder(SOURCE)
        await self._daily_into(run, now.astimezone(UTC).date())
        await self._trending_into(run, self.trending_limit)
        return run.build()

    async def fetch_daily(self, today: date) -> FetchResult:
        """Every paper on the daily lists of `today` and the day before (UTC dates)."""
        run = ResultBuilder(SOURCE)
        await self._daily_into(run, today)
        return run.build()

    async def fetch_trending(self, limit: int = 50) -> FetchResult:
        """The trending list (all-time, star-influenced: old papers appear too); at most 100."""
        run = ResultBuilder(SOURCE)
        await self._trending_into(run, limit)
        return run.build()

    async def fetch_period(self, period: Period, now: datetime) -> FetchResult:
        """The daily papers of the current UTC day, ISO week or month (for a /trending view)."""
        run = ResultBuilder(SOURCE)
        await self._pages_into(run, period_params(period, now))
        return run.build()

    async def lookup(self, paper_id: str) -> Paper | None:
        """One paper by id or URL; None when Hugging Face has not indexed it (HTTP 404)."""
        ref = parse_paper_id(paper_id)
        url = f"{self.base_url}/api/papers/{quote(ref.id, safe='/')}"
        fetched = await self._fetcher.get(url, accept_statuses=(404,))
        if fetched.status == 404:
            return None
        try:
            parsed = parse_paper_detail(fetched.body)
        except SourceResponseError as exc:
            log.warning("%s: unusable answer from %s: %s", SOURCE, url, exc.reason)
            raise
        for problem in parsed.problems:
            log.info("%s: %s: %s", SOURCE, ref.id, problem)
        return parsed.paper

    async def search(self, query: str, limit: int = 10) -> list[Paper]:
        """Hugging Face's own paper search; the query is cut to the length it accepts."""
        text = " ".join(query.split())[:MAX_QUERY_CHARS]
        if not text:
            return []
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        url = f"{self.base_url}/api/papers/search"
        fetched = await self._fetcher.get(url, {"q": text, "limit": limit})
        try:
            page = parse_paper_list(fetched.body)
        except SourceResponseError as exc:
            log.warning("%s: unusable answer from %s: %s", SOURCE, url, exc.reason)
            raise
        if page.problems:
            log.warning(
                "%s: search skipped or trimmed %d item(s); first: %s",
                SOURCE,
                len(page.problems),
                page.problems[0],
            )
        return page.papers[:limit]

    async def _daily_into(self, run: ResultBuilder, today: date) -> None:
        for day in (today, today - timedelta(days=1)):
            await self._pages_into(run, {"date": day.isoformat()})

    async def _trending_into(self, run: ResultBuilder, limit: int) -> None:
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        await self._pages_into(run, {"sort": "trending"}, page_size=limit, max_pages=1)

    async def _pages_into(
        self,
        run: ResultBuilder,
        params: Mapping[str, str],
        *,
        page_size: int | None = None,
        max_pages: int | None = None,
    ) -> None:
        """Page through `/api/daily_papers` until a short page; a failed page ends the paging."""
        size = page_size or self.page_size
        pages = max_pages or self.max_pages
        url = f"{self.base_url}/api/daily_papers"
        label = " ".join(f"{k}={v}" for k, v in params.items())
        for number in range(pages):
            if run.unavailable:
                return
            where = f"{label} page {number}"
            try:
                fetched = await self._fetcher.get(url, {**params, "limit": size, "p": number})
            except SourceError as exc:  # the fetcher has logged it
                run.fail(exc, where=where)
                return
            try:
                page = parse_paper_list(fetched.body)
            except SourceResponseError as exc:
                log.warning("%s: unusable answer for %s: %s", SOURCE, where, exc.reason)
                run.fail(exc, where=where)
                return
            run.add(page.papers, page.problems, where=where)
            if page.count < size:
                return
        if max_pages is None:
            run.note([f"stopped after {pages} full pages; the rest was not read"], where=label)


def period_params(period: Period, now: datetime) -> dict[str, str]:
    """The daily_papers filter for a period: `date=`, `week=YYYY-Www` or `month=YYYY-MM`."""
    day = now.astimezone(UTC).date()
    if period == "today":
        return {"date": day.isoformat()}
    if period == "week":
        year, week, _ = day.isocalendar()
        return {"week": f"{year}-W{week:02d}"}
    if period == "month":
        return {"month": f"{day:%Y-%m}"}
    raise ValueError(f"unknown period {period!r}; expected today, week or month")


def stale_reason(runs: Sequence[SourceRun], now: datetime) -> str | None:
    """Why the daily list looks stuck: it fills through each weekday, so a whole weekday of
    successful polls with no new paper is stale."""
    midnight = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    yesterday = midnight - timedelta(days=1)
    if yesterday.weekday() >= 5:
        return None
    during = [r for r in runs if yesterday <= r.finished_at < midnight]
    ok = [r for r in during if r.error is None]
    if ok and not any(r.new > 0 for r in during):
        return f"Hugging Face brought no new paper all of {yesterday:%A %Y-%m-%d}"
    return None
