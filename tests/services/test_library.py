"""Issue 13: the library service keeps, looks up, searches and ranks papers for every front end."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Literal

from bot.errors import SourceUnavailable
from bot.models import FeedSpec, Paper
from bot.query.compile import compile_query
from bot.services.feeds import create_feed
from bot.services.library import Library
from bot.sources.base import FetchResult
from bot.store import open_store
from tests.factories import NOW
from tests.services.test_poller import hf_paper


class Lookup:
    """A look-up source that fails, hangs or answers, as scripted."""

    def __init__(self, name: str, answer: Paper | Exception | str | None) -> None:
        self.name = name
        self.answer = answer

    async def lookup(self, paper_id: str) -> Paper | None:
        if self.answer == "hang":
            await asyncio.sleep(3600)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer if isinstance(self.answer, Paper) else None


async def test_a_kept_paper_is_owed_to_feeds_and_wakes_the_publisher(tmp_path: Path) -> None:
    woken: list[bool] = []
    async with open_store(str(tmp_path / "l.sqlite3"), clock=lambda: NOW) as store:
        spec = FeedSpec(name="causal", channel_id=555555555555555555, query="causal", backfill=0)
        await create_feed(store, spec, guild_id=1, now=NOW)
        library = Library(store, lambda: NOW, lambda: woken.append(True))
        assert await library.keep([]) == 0 and not woken
        assert await library.keep([hf_paper("2611.00001", "Causal graphs", 3)]) == 1
        assert woken and await store.outbox.counts(NOW) != {}
        assert await library.keep([hf_paper("2611.00002", "Unrelated", 1)]) == 0


async def test_look_up_asks_each_source_in_turn_and_keeps_what_it_found(tmp_path: Path) -> None:
    found = hf_paper("2611.00003", "Found upstream", 7)
    async with open_store(str(tmp_path / "l.sqlite3"), clock=lambda: NOW) as store:
        failing = Lookup("huggingface", SourceUnavailable("huggingface", "503"))
        hanging = Lookup("elsewhere", "hang")
        answering = Lookup("arxiv", found)
        library = Library(store, lambda: NOW, lookups=[failing, hanging, answering])
        outcome = await library.look_up(found.id, timeout=0.05)
        assert outcome.paper is not None and outcome.paper.id == found.id
        assert outcome.asked == ["Hugging Face", "elsewhere", "arXiv"]
        assert outcome.problems == [
            "Hugging Face is not answering right now",
            "elsewhere did not answer in time",
        ]
        assert await library.get(found.id) is not None
        nowhere = await Library(store, lambda: NOW, lookups=[failing]).look_up("2611.9", 0.05)
        assert nowhere.paper is None and nowhere.problems


async def test_trending_ranks_by_upvotes_and_filters_by_query(tmp_path: Path) -> None:
    async with open_store(str(tmp_path / "l.sqlite3"), clock=lambda: NOW) as store:
        library = Library(store, lambda: NOW)
        await library.keep([hf_paper("2611.00010", "Causal flows", 5),
                            hf_paper("2611.00011", "Video diffusion", 9)])  # fmt: skip
        since = NOW.replace(day=1)
        assert [p.id for p in await library.trending(since, None, pool=10)] == [
            "2611.00011",
            "2611.00010",
        ]
        only = await library.trending(since, compile_query("causal"), pool=10)
        assert [p.id for p in only] == ["2611.00010"]
        page = await library.search(compile_query("diffusion"))
        assert [h.paper.id for h in page.hits] == ["2611.00011"]


class Upstream:
    """An upstream search and period list that answers, fails or hangs."""

    name = "huggingface"

    def __init__(self, behaviour: str, papers: list[Paper]) -> None:
        self.behaviour = behaviour
        self.papers = papers

    async def _answer(self) -> list[Paper]:
        if self.behaviour == "hang":
            await asyncio.sleep(3600)
        if self.behaviour == "fail":
            raise SourceUnavailable(self.name, "503")
        return self.papers

    async def search(self, query: str, limit: int = 10) -> list[Paper]:
        return (await self._answer())[:limit]

    async def fetch_period(
        self, period: Literal["today", "week", "month"], now: datetime
    ) -> FetchResult:
        return FetchResult(papers=await self._answer())


async def test_upstream_calls_keep_what_they_bring_and_say_how_they_failed(tmp_path: Path) -> None:
    paper = hf_paper("2611.00020", "Upstream only", 4)
    async with open_store(str(tmp_path / "l.sqlite3"), clock=lambda: NOW) as store:
        for behaviour, failure in (("hang", "timeout"), ("fail", "error"), ("answer", None)):
            library = Library(store, lambda: NOW, upstream=Upstream(behaviour, [paper]))
            searched = await library.search_upstream("upstream", 10, timeout=0.05)
            listed = await library.refresh_period("week", NOW, timeout=0.05)
            assert (searched.failure, listed.failure) == (failure, failure)
        assert await library.get(paper.id) is not None
        assert (await Library(store, lambda: NOW).search_upstream("x", 1, 0.05)).papers == []
