"""The store against real SQLite files: upserts never duplicate, feeds and the outbox hold."""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.models import DeliveryState, FeedOrigin, FeedSpec, Paper, SourceRun
from bot.store import Store, open_store

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def paper(pid: str, title: str = "A paper", **kw: object) -> Paper:
    base = Paper(
        id=pid,
        title=title,
        abstract=kw.pop("abstract", "An abstract.") if "abstract" in kw else "An abstract.",  # type: ignore[arg-type]
        version=1,
        authors=("Ada Lovelace", "Alan Turing"),
        categories=("cs.LG", "cs.AI"),
        published=NOW - timedelta(days=1),
        sources=frozenset({"arxiv"}),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with open_store(str(tmp_path / "db" / "papers.sqlite3"), clock=FakeClock()) as s:
        yield s


async def test_database_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new" / "p.sqlite3"
    async with open_store(str(path)) as s:
        assert await s.integrity_check() == "ok"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] >= 1


async def test_first_upsert_is_new_second_identical_is_nothing(store: Store) -> None:
    batch = [paper("2401.00001"), paper("2401.00002")]
    first = await store.upsert_papers(batch)
    assert sorted(first.new) == ["2401.00001", "2401.00002"] and first.updated == ()
    second = await store.upsert_papers(batch)
    assert second.new == () and second.updated == () and second.unchanged == 2
    assert await store.count_papers() == 2


async def test_same_paper_from_both_sources_is_one_row_with_both(store: Store) -> None:
    await store.upsert_papers([paper("2401.00001")])
    hf = Paper(
        id="2401.00001",
        title="A paper",
        upvotes=12,
        num_comments=2,
        github_repo="https://github.com/x/y",
        github_stars=40,
        sources=frozenset({"huggingface"}),
    )
    result = await store.upsert_papers([hf])
    assert result.updated == ("2401.00001",) and result.new == ()
    stored = await store.get_paper("2401.00001")
    assert stored is not None
    assert stored.sources == {"arxiv", "huggingface"}
    assert stored.upvotes == 12 and stored.github_stars == 40
    assert stored.authors == ("Ada Lovelace", "Alan Turing")  # kept from arXiv
    assert stored.categories == ("cs.LG", "cs.AI")
    assert await store.count_papers() == 1


async def test_new_version_and_new_upvotes_are_updates(store: Store) -> None:
    await store.upsert_papers([paper("2401.00001", upvotes=1), paper("2401.00002")])
    result = await store.upsert_papers(
        [paper("2401.00001", upvotes=5), paper("2401.00002", version=2)]
    )
    assert sorted(result.updated) == ["2401.00001", "2401.00002"]
    v2 = await store.get_paper("2401.00002")
    assert v2 is not None and v2.version == 2
    # an older version seen later changes nothing
    again = await store.upsert_papers([paper("2401.00002", version=1)])
    assert again.updated == () and again.new == ()


async def test_a_new_title_is_a_stored_change_but_not_one_feeds_act_on(store: Store) -> None:
    await store.upsert_papers([paper("2401.00001", title="A first title")])
    result = await store.upsert_papers([paper("2401.00001", title="A better title", updated=NOW)])
    assert result.changed == ("2401.00001",) and result.unchanged == 0
    assert result.updated == ()  # same version, votes and sources: feeds have nothing new
    stored = await store.get_paper("2401.00001")
    assert stored is not None and stored.title == "A better title"
    again = await store.upsert_papers([paper("2401.00001", title="A better title", updated=NOW)])
    assert again.changed == () and again.unchanged == 1


async def test_duplicates_inside_one_batch_merge(store: Store) -> None:
    result = await store.upsert_papers(
        [paper("2401.00001"), paper("2401.00001", upvotes=3, sources=frozenset({"huggingface"}))]
    )
    assert result.new == ("2401.00001",)
    stored = await store.get_paper("2401.00001")
    assert stored is not None and stored.sources == {"arxiv", "huggingface"}


async def test_a_failed_batch_leaves_nothing_behind(store: Store) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with store.transaction():
            await store.upsert_papers([paper("2401.00001")])
            raise Boom
    assert await store.count_papers() == 0


async def test_categories_are_replaced_when_they_change(store: Store) -> None:
    from bot.query import compile_query

    await store.upsert_papers([paper("2401.00001", categories=("cs.CV",))])
    await store.upsert_papers([paper("2401.00001", categories=("cs.CL", "cs.LG"))])
    hits_cv = await store.search(compile_query("cat:cs.CV"))
    hits_cl = await store.search(compile_query("cat:cs.CL"))
    assert hits_cv.total == 0 and hits_cl.total == 1


async def test_feeds_crud_and_unique_names_per_guild(store: Store) -> None:
    spec = FeedSpec(name="causality", channel_id=10, query="causal")
    feed = await store.add_feed(spec, guild_id=1)
    assert feed.origin is FeedOrigin.DISCORD and not feed.paused
    await store.add_feed(spec, guild_id=2)  # same name, other guild: fine
    with pytest.raises(StoreError, match="already exists"):
        await store.add_feed(spec, guild_id=1)
    await store.set_feed_paused(feed.id, True, "Missing Permissions")
    paused = await store.get_feed(feed.id)
    assert paused is not None and paused.paused and paused.pause_reason == "Missing Permissions"
    assert [f.id for f in await store.list_feeds(guild_id=1)] == [feed.id]
    assert len(await store.list_feeds(active_only=True)) == 1
    assert await store.remove_feed(feed.id)
    assert await store.get_feed(feed.id) is None


async def test_config_feeds_are_synchronised(store: Store) -> None:
    a = FeedSpec(name="a", channel_id=1, query="x")
    b = FeedSpec(name="b", channel_id=2, query="y")
    added, removed = await store.sync_config_feeds([a, b])
    assert {f.name for f in added} == {"a", "b"} and removed == []
    added, removed = await store.sync_config_feeds([replace(a, query="z")])
    assert added == [] and [f.name for f in removed] == ["b"]
    (only,) = await store.list_feeds()
    assert only.spec.query == "z" and only.origin is FeedOrigin.CONFIG


async def test_a_paper_is_owed_to_a_feed_once_ever(store: Store) -> None:
    await store.upsert_papers([paper("2401.00001"), paper("2401.00002")])
    feed = await store.add_feed(FeedSpec(name="f", channel_id=1, query="x"), guild_id=1)
    assert await store.queue_deliveries([(feed.id, "2401.00001"), (feed.id, "2401.00002")]) == 2
    assert await store.queue_deliveries([(feed.id, "2401.00001")]) == 0
    queued = await store.deliveries(feed_id=feed.id, states=[DeliveryState.QUEUED])
    assert [d.paper_id for d in queued] == ["2401.00001", "2401.00002"]
    assert await store.queue_depth() == 2
    await store.remove_feed(feed.id)
    assert await store.queue_depth() == 0  # cascade


async def test_source_health_counts_consecutive_failures(store: Store) -> None:
    t = NOW
    for error in (None, "timeout", "HTTP 500"):
        t += timedelta(minutes=20)
        await store.record_run(SourceRun("huggingface", t, t, fetched=3, error=error))
    health = await store.source_health("huggingface")
    assert health.consecutive_failures == 2
    assert health.last_error == "HTTP 500"
    assert health.last_success == NOW + timedelta(minutes=20)


async def test_source_state_round_trips(store: Store) -> None:
    assert await store.get_state("arxiv", "etag") is None
    await store.set_state("arxiv", "etag", '"abc"')
    await store.set_state("arxiv", "etag", '"def"')
    assert await store.get_state("arxiv", "etag") == '"def"'


async def test_backup_is_consistent_and_private(store: Store, tmp_path: Path) -> None:
    await store.upsert_papers([paper("2401.00001")])
    (tmp_path / "backups").mkdir()  # backup() creates no folders
    dest = await store.backup(tmp_path / "backups" / "copy.sqlite3")
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    async with open_store(str(dest), create=False) as copy:
        assert await copy.count_papers() == 1
        assert await copy.integrity_check() == "ok"
    with pytest.raises(StoreError, match="already exists"):
        await store.backup(dest)


async def test_opening_something_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite3"
    bogus.write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match="not a usable paperfeed database"):
        async with open_store(str(bogus)):
            pass


async def test_missing_database_without_create_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no database here"):
        async with open_store(str(tmp_path / "none.sqlite3"), create=False):
            pass


async def test_a_write_from_another_task_never_joins_an_open_transaction(store: Store) -> None:
    """A delivery recorded while a poll's transaction is open survives that poll's rollback."""
    import asyncio

    await store.upsert_papers([paper("2401.00001")])
    feed = await store.add_feed(FeedSpec(name="f", channel_id=1, query="x"), guild_id=1)
    await store.queue_deliveries([(feed.id, "2401.00001")])
    (delivery,) = await store.deliveries(feed_id=feed.id)
    inside = asyncio.Event()
    release = asyncio.Event()

    class PollFailed(Exception):
        pass

    async def failing_poll() -> None:
        with pytest.raises(PollFailed):
            async with store.transaction():
                await store.upsert_papers([paper("2401.00002")])
                inside.set()
                await release.wait()
                raise PollFailed

    poll = asyncio.create_task(failing_poll())
    await inside.wait()
    sent = asyncio.create_task(store.mark_sent([delivery.id], 99, NOW))
    await asyncio.sleep(0)  # let the publisher's write try to start while the poll holds on
    release.set()
    await asyncio.gather(poll, sent)
    (after,) = await store.deliveries(feed_id=feed.id)
    assert after.state is DeliveryState.SENT and after.message_id == 99
    assert await store.get_paper("2401.00002") is None
