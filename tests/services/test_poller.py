"""The poll pipeline with scripted sources: store once, match only the batch, record every run."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import SourceUnavailable
from bot.models import DeliveryState, FeedSpec, Paper
from bot.services.feeds import create_feed, sync_config_feeds
from bot.services.matching import category_fits, match_batch
from bot.services.poller import Poller
from bot.sources.base import FetchResult
from bot.store.interfaces import Database
from tests.factories import HUGGINGFACE, NOW, FakeClock, make_paper
from tests.pg.fixtures import backend_params, open_backend


class ScriptedSource:
    """A source that returns what the test says, or raises it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.next: FetchResult | Exception = FetchResult()

    async def poll(self, now: datetime) -> FetchResult:
        if isinstance(self.next, Exception):
            raise self.next
        return self.next


def arxiv_paper(pid: str, title: str, **kw: object) -> Paper:
    return make_paper(pid, **{"title": title, "published": NOW - timedelta(hours=6), **kw})


def hf_paper(pid: str, title: str, upvotes: int, **kw: object) -> Paper:
    """A paper only Hugging Face has listed: its signals, none of arXiv's metadata."""
    listed = {"version": None, "authors": (), "categories": (), "num_comments": 0,
              "hf_submitted_at": NOW - timedelta(hours=3), "published": NOW - timedelta(days=1),
              "sources": HUGGINGFACE}  # fmt: skip
    return make_paper(pid, **{"title": title, "upvotes": upvotes, **listed, **kw})


@pytest.fixture(params=backend_params())
async def world(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    async with open_backend(request, request.param, tmp_path / "p.sqlite3", clock) as store:
        hf, ax = ScriptedSource("huggingface"), ScriptedSource("arxiv")
        yield store, Poller(store, [hf, ax], clock), hf, ax, clock


async def queued_ids(store: Database, feed_id: int) -> list[str]:
    return [d.paper_id for d in await store.outbox.deliveries(feed_id=feed_id)]


async def test_a_paper_on_both_sources_is_stored_once_and_queued_once(world) -> None:  # type: ignore[no-untyped-def]
    store, poller, hf, ax, clock = world
    feed, _ = await create_feed(
        store, FeedSpec(name="causal", channel_id=1, query="causal"), guild_id=9, now=clock()
    )
    ax.next = FetchResult([arxiv_paper("2611.00001", "Causal discovery at scale"),
                           arxiv_paper("2611.00002", "Diffusion for video")])  # fmt: skip
    hf.next = FetchResult([hf_paper("2611.00001", "Causal discovery at scale", upvotes=4)])
    reports = await poller.poll_all()
    assert [(r.name, r.fetched, r.new, r.error) for r in reports] == [
        ("huggingface", 1, 1, None),
        ("arxiv", 2, 1, None),
    ]
    assert reports[1].updated == 1  # arXiv added itself as a source of the HF paper
    assert await store.papers.count() == 2
    paper = await store.papers.get("2611.00001")
    assert paper is not None and paper.sources == {"arxiv", "huggingface"}
    assert await queued_ids(store, feed.id) == ["2611.00001"]
    # the identical poll again: nothing new, nothing changed, nothing queued
    again = await poller.poll_all()
    assert [(r.new, r.updated, r.queued) for r in again] == [(0, 0, 0), (0, 0, 0)]
    assert await queued_ids(store, feed.id) == ["2611.00001"]


async def test_crossing_the_upvote_threshold_queues_then_and_only_if_recent(world) -> None:  # type: ignore[no-untyped-def]
    store, poller, hf, _ax, clock = world
    feed, _ = await create_feed(
        store,
        FeedSpec(name="popular", channel_id=1, query="diffusion", min_upvotes=10),
        guild_id=9,
        now=clock(),
    )
    hf.next = FetchResult([hf_paper("2611.00003", "Video diffusion", upvotes=3),
                           hf_paper("2611.00004", "Old diffusion", upvotes=3,
                                    hf_submitted_at=NOW - timedelta(days=20))])  # fmt: skip
    await poller.poll_source("huggingface")
    assert await queued_ids(store, feed.id) == []
    clock.now += timedelta(hours=5)
    hf.next = FetchResult([hf_paper("2611.00003", "Video diffusion", upvotes=12),
                           hf_paper("2611.00004", "Old diffusion", upvotes=50,
                                    hf_submitted_at=NOW - timedelta(days=20))])  # fmt: skip
    report = await poller.poll_source("huggingface")
    assert report.updated == 2
    assert await queued_ids(store, feed.id) == ["2611.00003"]  # the old one is no longer news


async def test_feed_sources_and_categories_are_respected(world) -> None:  # type: ignore[no-untyped-def]
    store, poller, _hf, ax, clock = world
    only_hf, _ = await create_feed(
        store,
        FeedSpec(name="hf", channel_id=1, query="graph", sources=("huggingface",)),
        guild_id=9,
        now=clock(),
    )
    only_cv, _ = await create_feed(
        store,
        FeedSpec(name="cv", channel_id=2, query="graph", categories=("cs.CV",)),
        guild_id=9,
        now=clock(),
    )
    ax.next = FetchResult([arxiv_paper("2611.00005", "Graph networks", categories=("cs.CV",)),
                           arxiv_paper("2611.00006", "Graph kernels", categories=("cs.LG",))])  # fmt: skip
    await poller.poll_source("arxiv")
    assert await queued_ids(store, only_hf.id) == []
    assert await queued_ids(store, only_cv.id) == ["2611.00005"]


async def test_a_failing_source_is_recorded_and_the_other_still_stores(world) -> None:  # type: ignore[no-untyped-def]
    store, poller, hf, ax, _clock = world
    hf.next = SourceUnavailable("huggingface", "HTTP 503 after 3 attempts")
    ax.next = FetchResult([arxiv_paper("2611.00007", "Kept")])
    reports = await poller.poll_all()
    assert reports[0].error == "huggingface: HTTP 503 after 3 attempts"
    assert reports[1].error is None and reports[1].new == 1
    health = await store.sources.health("huggingface")
    assert health.consecutive_failures == 1 and health.last_error == reports[0].error


async def test_a_crashing_source_is_recorded_not_raised(world) -> None:  # type: ignore[no-untyped-def]
    store, poller, hf, _ax, _clock = world
    hf.next = RuntimeError("bug")
    report = await poller.poll_source("huggingface")
    assert report.error == "internal error: RuntimeError: bug"
    assert (await store.sources.health("huggingface")).consecutive_failures == 1


async def test_partial_results_are_kept_and_the_problem_recorded(world) -> None:  # type: ignore[no-untyped-def]
    store, poller, hf, _ax, _clock = world
    hf.next = FetchResult(
        [hf_paper("2611.00008", "Page one", upvotes=1)],
        problems=["page 2: body is not JSON"],
        error="page 2: body is not JSON",
    )
    report = await poller.poll_source("huggingface")
    assert report.new == 1 and report.error == "page 2: body is not JSON"
    assert await store.papers.get("2611.00008") is not None


async def test_backfill_queues_at_most_the_chosen_number_newest_first(world) -> None:  # type: ignore[no-untyped-def]
    store, _poller, _hf, _ax, _clock = world
    papers = [
        arxiv_paper(f"2611.0010{i}", f"Causal paper {i}", published=NOW - timedelta(days=i))
        for i in range(1, 10)
    ]
    await store.papers.upsert(papers)
    feed, queued = await create_feed(
        store, FeedSpec(name="c", channel_id=1, query="causal", backfill=3), guild_id=9, now=NOW
    )
    assert queued == 3
    # the oldest of the three first, so a channel reads in order
    assert await queued_ids(store, feed.id) == ["2611.00103", "2611.00102", "2611.00101"]
    nothing, none_queued = await create_feed(
        store, FeedSpec(name="z", channel_id=1, query="causal", backfill=0), guild_id=9, now=NOW
    )
    assert none_queued == 0 and await queued_ids(store, nothing.id) == []


async def test_config_feeds_are_synced_with_backfill(world) -> None:  # type: ignore[no-untyped-def]
    store, _poller, _hf, _ax, _clock = world
    await store.papers.upsert([arxiv_paper("2611.00200", "Causal thing")])
    await sync_config_feeds(store, [FeedSpec(name="f", channel_id=5, query="causal")], NOW)
    (feed,) = await store.feeds.list()
    assert feed.origin.value == "config"
    assert [d.state for d in await store.outbox.deliveries(feed_id=feed.id)] == [
        DeliveryState.QUEUED
    ]


def test_match_batch_respects_feed_rules_without_the_database() -> None:
    from bot.models import Feed, FeedOrigin
    from bot.query.compile import compile_query

    feed = Feed(id=1, spec=FeedSpec(name="x", channel_id=1, query="causal -survey"),
                guild_id=1, origin=FeedOrigin.DISCORD)  # fmt: skip
    papers = [
        arxiv_paper("2611.00301", "Causal inference"),
        arxiv_paper("2611.00302", "A survey of causal inference"),
        arxiv_paper("2611.00303", "Unrelated"),
    ]
    assert match_batch([(feed, compile_query(feed.spec.query))], papers, NOW) == [(1, "2611.00301")]


@pytest.mark.parametrize(
    ("wanted", "have", "fits"),
    [((), ("cs.LG",), True), (("cs.LG",), ("cs.lg",), True), (("cs",), ("cs.CV",), True),
     (("cs.CV",), ("cs.LG",), False), (("math",), ("cs.LG",), False)],
)  # fmt: skip
def test_category_fits(wanted: tuple[str, ...], have: tuple[str, ...], fits: bool) -> None:
    assert category_fits(wanted, have) is fits
