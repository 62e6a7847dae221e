"""Feeds: create, find, pause, remove; names unique per guild; the config file's feeds synced."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.errors import DuplicateFeedName, StoreError
from bot.models import FeedOrigin, FeedSpec
from bot.store.interfaces import Database
from tests.store.contract.support import NOW


async def test_feeds_crud_and_unique_names_per_guild(db: Database) -> None:
    spec = FeedSpec(name="causality", channel_id=10, query="causal")
    feed = await db.feeds.add(spec, guild_id=1)
    assert feed.origin is FeedOrigin.DISCORD and not feed.paused and feed.spec == spec
    assert feed.created_at == NOW
    await db.feeds.add(spec, guild_id=2)  # same name, other guild: fine
    with pytest.raises(DuplicateFeedName, match="already exists") as caught:
        await db.feeds.add(spec, guild_id=1)
    assert caught.value.name == "causality" and isinstance(caught.value, StoreError)
    await db.feeds.set_paused(feed.id, True, "Missing Permissions")
    paused = await db.feeds.get(feed.id)
    assert paused is not None and paused.paused and paused.pause_reason == "Missing Permissions"
    await db.feeds.set_paused(feed.id, False, "ignored when resuming")
    resumed = await db.feeds.get(feed.id)
    assert resumed is not None and not resumed.paused and resumed.pause_reason is None
    await db.feeds.set_paused(feed.id, True)
    assert [f.id for f in await db.feeds.list(guild_id=1)] == [feed.id]
    assert len(await db.feeds.list(active_only=True)) == 1
    assert await db.feeds.remove(feed.id)
    assert await db.feeds.get(feed.id) is None
    assert not await db.feeds.remove(feed.id)


async def test_a_duplicate_name_inside_a_transaction_keeps_nothing_of_it(db: Database) -> None:
    spec = FeedSpec(name="same", channel_id=1, query="x")
    await db.feeds.add(spec, guild_id=1)
    with pytest.raises(DuplicateFeedName):
        async with db.transaction():
            await db.feeds.add(replace(spec, name="other"), guild_id=1)
            await db.feeds.add(spec, guild_id=1)
    assert [f.name for f in await db.feeds.list()] == ["same"]


async def test_find_and_update_by_name_within_a_guild(db: Database) -> None:
    spec = FeedSpec(name="a", channel_id=1, query="x")
    unbound = await db.feeds.add(spec, guild_id=None, origin=FeedOrigin.CONFIG)
    assert await db.feeds.find("a", None) == unbound
    assert await db.feeds.find("a", 5) is None
    await db.feeds.update(unbound.id, replace(spec, query="y"), None)
    await db.feeds.bind_guild(unbound.id, 5)
    await db.feeds.bind_guild(unbound.id, 6)  # only binds a feed without a guild
    found = await db.feeds.find("a", 5)
    assert found is not None and found.id == unbound.id and found.spec.query == "y"


async def test_config_feeds_are_synchronised(db: Database) -> None:
    a = FeedSpec(name="a", channel_id=1, query="x")
    b = FeedSpec(name="b", channel_id=2, query="y")
    await db.feeds.add(replace(b, channel_id=9), guild_id=1)  # made in Discord: left alone
    added, removed = await db.feeds.sync_config([a, b])
    assert {f.name for f in added} == {"a", "b"} and removed == []
    added, removed = await db.feeds.sync_config([replace(a, query="z")])
    assert added == [] and [f.name for f in removed] == ["b"]
    config = [f for f in await db.feeds.list() if f.origin is FeedOrigin.CONFIG]
    assert [(f.name, f.spec.query) for f in config] == [("a", "z")]
    assert len(await db.feeds.list()) == 2


async def test_backfill_left_counts_what_a_feed_may_still_take(db: Database) -> None:
    fresh = await db.feeds.add(
        FeedSpec(name="fresh", channel_id=1, query="a", backfill=5), guild_id=1, backfill_used=0
    )
    spent = await db.feeds.add(
        FeedSpec(name="spent", channel_id=1, query="a", backfill=5), guild_id=1
    )
    none = await db.feeds.add(
        FeedSpec(name="none", channel_id=1, query="a", backfill=0), guild_id=1, backfill_used=0
    )
    assert await db.feeds.backfill_left() == {fresh.id: 5}  # added without it: all used
    await db.feeds.use_backfill(fresh.id, 2)
    await db.feeds.use_backfill(fresh.id, 0)
    assert await db.feeds.backfill_left() == {fresh.id: 3}
    await db.feeds.set_paused(fresh.id, True)
    assert await db.feeds.backfill_left() == {}  # paused feeds take nothing
    await db.feeds.set_paused(fresh.id, False)
    await db.feeds.use_backfill(fresh.id, 3)
    assert await db.feeds.backfill_left() == {}
    assert {spent.id, none.id}.isdisjoint(await db.feeds.backfill_left())


async def test_config_feeds_start_with_all_their_backfill(db: Database) -> None:
    added, _ = await db.feeds.sync_config([FeedSpec(name="a", channel_id=1, query="x", backfill=4)])
    assert await db.feeds.backfill_left() == {added[0].id: 4}
