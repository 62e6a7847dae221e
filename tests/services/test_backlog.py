"""Issue 12: what a listing shows the first time it is seen is backlog, and warnings are not failures."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import aiosqlite
import pytest

from bot.metrics import Metrics
from bot.models import FeedSpec
from bot.services.feeds import create_feed, sync_config_feeds
from bot.services.health import source_health
from bot.services.poller import Poller
from bot.sources.base import FetchResult
from bot.store import open_store
from bot.store.interfaces import Database
from bot.store.sqlite.migrate import migrate
from tests.services.test_poller import NOW, Clock, ScriptedSource, arxiv_paper, hf_paper


@pytest.fixture
async def fresh(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh install: an empty database, both sources never polled."""
    clock = Clock()
    async with open_store(str(tmp_path / "p.sqlite3"), clock=clock) as store:
        hf, ax = ScriptedSource("huggingface"), ScriptedSource("arxiv")
        yield store, Poller(store, [hf, ax], clock), hf, ax, clock


async def queued_ids(store: Database, feed_id: int) -> list[str]:
    return [d.paper_id for d in await store.outbox.deliveries(feed_id=feed_id)]


def causal_batch(first: int, count: int, source: str = "hf") -> list:  # type: ignore[type-arg]
    """`count` matching papers, the higher the number the more recent."""
    if source == "hf":
        return [
            hf_paper(f"2611.{n:05d}", f"Causal paper {n}", upvotes=1,
                     hf_submitted_at=NOW - timedelta(hours=48 - n))
            for n in range(first, first + count)
        ]  # fmt: skip
    return [
        arxiv_paper(f"2611.{n:05d}", f"Causal paper {n}", published=NOW - timedelta(hours=48 - n))
        for n in range(first, first + count)
    ]


async def test_a_fresh_install_with_backfill_0_posts_nothing_until_something_new(fresh) -> None:  # type: ignore[no-untyped-def]
    store, poller, hf, ax, clock = fresh
    await sync_config_feeds(store, [FeedSpec(name="c", channel_id=1, query="causal", backfill=0)],
                            clock())  # fmt: skip
    (feed,) = await store.feeds.list()
    hf.next = FetchResult(causal_batch(1, 20))
    ax.next = FetchResult(causal_batch(30, 20, source="arxiv"))
    reports = await poller.poll_all()
    assert [r.queued for r in reports] == [0, 0]
    assert await queued_ids(store, feed.id) == []
    # the next polls: the same listings plus one new paper each; only those are news
    clock.now += timedelta(minutes=20)
    hf.next = FetchResult([*causal_batch(1, 20), *causal_batch(21, 1)])
    ax.next = FetchResult([*causal_batch(30, 20, source="arxiv"), *causal_batch(50, 1, "arxiv")])
    await poller.poll_all()
    assert await queued_ids(store, feed.id) == ["2611.00021", "2611.00050"]


async def test_backfill_bounds_the_backlog_over_all_sources_together(fresh) -> None:  # type: ignore[no-untyped-def]
    store, poller, hf, ax, clock = fresh
    await sync_config_feeds(store, [FeedSpec(name="c", channel_id=1, query="causal", backfill=3)],
                            clock())  # fmt: skip
    (feed,) = await store.feeds.list()
    hf.next = FetchResult(causal_batch(1, 20))
    await poller.poll_source("huggingface")
    # the three most recent of the backlog, oldest first so the channel reads in order
    assert await queued_ids(store, feed.id) == ["2611.00018", "2611.00019", "2611.00020"]
    ax.next = FetchResult(causal_batch(30, 20, source="arxiv"))
    await poller.poll_source("arxiv")  # arXiv's first listing is backlog too: nothing more
    assert len(await queued_ids(store, feed.id)) == 3


async def test_feed_add_on_a_fresh_install_takes_its_backfill_from_the_first_poll(fresh) -> None:  # type: ignore[no-untyped-def]
    store, poller, hf, ax, clock = fresh
    early, queued = await create_feed(
        store, FeedSpec(name="early", channel_id=1, query="causal", backfill=2), guild_id=9,
        now=clock(),
    )  # fmt: skip
    assert queued == 0  # nothing stored yet
    hf.next = FetchResult(causal_batch(1, 10))
    await poller.poll_source("huggingface")
    assert await queued_ids(store, early.id) == ["2611.00009", "2611.00010"]
    # a feed made after the first poll had its backfill at creation; backlog adds nothing
    late, queued = await create_feed(
        store, FeedSpec(name="late", channel_id=2, query="causal", backfill=2), guild_id=9,
        now=clock(),
    )  # fmt: skip
    assert queued == 2
    ax.next = FetchResult(causal_batch(30, 5, source="arxiv"))
    await poller.poll_source("arxiv")
    assert len(await queued_ids(store, late.id)) == 2
    assert len(await queued_ids(store, early.id)) == 2


async def test_a_feed_takes_what_is_left_of_its_backfill_from_more_backlog(fresh) -> None:  # type: ignore[no-untyped-def]
    store, poller, hf, ax, clock = fresh
    await sync_config_feeds(store, [FeedSpec(name="c", channel_id=1, query="causal", backfill=3)],
                            clock())  # fmt: skip
    (feed,) = await store.feeds.list()
    hf.next = FetchResult(causal_batch(1, 1))
    await poller.poll_source("huggingface")
    ax.next = FetchResult(causal_batch(30, 9, source="arxiv"))
    await poller.poll_source("arxiv")
    assert await queued_ids(store, feed.id) == ["2611.00001", "2611.00037", "2611.00038"]


async def test_a_new_arxiv_category_is_backlog_but_news_in_old_ones_is_not(fresh) -> None:  # type: ignore[no-untyped-def]
    store, poller, _hf, ax, clock = fresh
    ax.next = FetchResult([], listings={"arxiv/cs.LG": frozenset()})
    await poller.poll_source("arxiv")  # arXiv's listing of cs.LG has been seen, empty
    feed, _ = await create_feed(
        store, FeedSpec(name="c", channel_id=1, query="causal", backfill=0), guild_id=9,
        now=clock(),
    )  # fmt: skip
    old = [arxiv_paper("2611.00101", "Causal news in cs.LG", categories=("cs.LG",))]
    added = [arxiv_paper(f"2611.002{n:02d}", f"Causal robots {n}", categories=("cs.RO",))
             for n in range(10)]  # fmt: skip
    ax.next = FetchResult(
        [*old, *added],
        listings={"arxiv/cs.LG": frozenset({"2611.00101"}),
                  "arxiv/cs.RO": frozenset(p.id for p in added)},
    )  # fmt: skip
    clock.now += timedelta(hours=1)
    await poller.poll_source("arxiv")
    assert await queued_ids(store, feed.id) == ["2611.00101"]
    # from now on cs.RO is a seen listing: its new papers are news
    ax.next = FetchResult(
        [arxiv_paper("2611.00300", "Causal robots again", categories=("cs.RO",))],
        listings={"arxiv/cs.LG": frozenset(), "arxiv/cs.RO": frozenset({"2611.00300"})},
    )
    await poller.poll_source("arxiv")
    assert await queued_ids(store, feed.id) == ["2611.00101", "2611.00300"]


async def test_a_source_that_failed_outright_has_not_seen_its_listing(fresh) -> None:  # type: ignore[no-untyped-def]
    store, poller, hf, _ax, clock = fresh
    feed, _ = await create_feed(
        store, FeedSpec(name="c", channel_id=1, query="causal", backfill=0), guild_id=9,
        now=clock(),
    )  # fmt: skip
    hf.next = FetchResult([], problems=["page 0: HTTP 503"], error="page 0: HTTP 503")
    await poller.poll_source("huggingface")
    hf.next = FetchResult(causal_batch(1, 5))
    await poller.poll_source("huggingface")  # the first listing actually seen: backlog
    assert await queued_ids(store, feed.id) == []


async def test_an_upgraded_database_keeps_treating_its_sources_news_as_news(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    clock = Clock()
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await migrate(conn, target=3)  # the schema before listings were remembered
        await conn.execute(
            "INSERT INTO source_runs (source, started_at, finished_at, fetched, new) "
            "VALUES ('huggingface', '2026-11-24T12:00:00Z', '2026-11-24T12:00:00Z', 30, 30)"
        )
        await conn.execute(
            "INSERT INTO feeds (name, channel_id, query, backfill, created_at) "
            "VALUES ('old', 1, 'causal', 3, '2026-11-01T00:00:00Z')"
        )
    async with open_store(str(path), clock=clock) as store:
        hf = ScriptedSource("huggingface")
        hf.next = FetchResult(causal_batch(1, 5))
        await Poller(store, [hf], clock).poll_source("huggingface")
        (feed,) = await store.feeds.list()
        assert len(await queued_ids(store, feed.id)) == 5  # news, as before the upgrade


# -- warnings ---------------------------------------------------------------------------------

ODD = "date=2026-11-25 page 0: item 3 (2611.00008): projectPage: not an http(s) URL: 'ftp://x'; ignored"


async def test_warnings_never_make_a_poll_fail(fresh, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    store, _poller, hf, _ax, clock = fresh
    metrics = Metrics()
    poller = Poller(store, [hf], clock, metrics=metrics)
    hf.next = FetchResult([hf_paper("2611.00008", "Odd page", upvotes=1)], problems=[ODD])
    for _ in range(3):
        with caplog.at_level("INFO", logger="bot"):
            report = await poller.poll_source("huggingface")
        assert report.error is None and report.warnings == (ODD,)
        clock.now += timedelta(minutes=20)
    health = await source_health(store, "huggingface", clock())
    assert health.consecutive_failures == 0 and health.last_error is None
    assert health.last_success is not None and health.warnings == 1
    assert (await store.sources.runs("huggingface"))[0].warnings == 1
    assert metrics.poll_failures.labels(source="huggingface")._value.get() == 0
    assert metrics.warnings.labels(source="huggingface")._value.get() == 3
    # logged once for the item and its kind, not at every poll
    assert sum("projectPage" in r.getMessage() for r in caplog.records) == 1


async def test_a_warning_and_a_failure_stay_apart(fresh) -> None:  # type: ignore[no-untyped-def]
    store, poller, hf, _ax, _clock = fresh
    hf.next = FetchResult([hf_paper("2611.00008", "Odd", upvotes=1)], problems=[ODD])
    await poller.poll_source("huggingface")
    hf.next = FetchResult([], problems=["page 0: HTTP 503", ODD], error="page 0: HTTP 503")
    report = await poller.poll_source("huggingface")
    assert report.error == "page 0: HTTP 503" and report.warnings == (ODD,)
    health = await store.sources.health("huggingface")
    assert health.consecutive_failures == 1 and health.last_error == "page 0: HTTP 503"
