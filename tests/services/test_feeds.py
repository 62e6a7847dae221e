"""Issue 13: the feeds service is the one gate: one validate, one set of limits, one set of rules."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.models import FeedMode, FeedOrigin, FeedSpec
from bot.services.feeds import FeedService, FeedSpecError, FileManagedFeed, validate
from bot.store import open_store
from tests.factories import NOW

GOOD = FeedSpec(name="  causal  ", channel_id=555555555555555555, query="causal inference")


def test_validate_trims_the_name_and_keeps_the_rest() -> None:
    assert validate(GOOD) == replace(GOOD, name="causal")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "n" * 65}, "name"),
        ({"query": "-survey"}, "query"),
        ({"categories": ("cs.XX",)}, "categories"),
        ({"sources": ()}, "sources"),
        ({"sources": ("reddit",)}, "sources"),
        ({"min_upvotes": -1}, "min_upvotes"),
        ({"min_upvotes": 1_000_001}, "min_upvotes"),
        ({"digest_time": "24:00"}, "digest_time"),
        ({"digest_size": 26}, "digest_size"),
        ({"backfill": 51}, "backfill"),
        ({"backfill": True}, "backfill"),
    ],
)
def test_validate_names_the_first_option_out_of_bounds(
    change: dict[str, object], field: str
) -> None:
    with pytest.raises(FeedSpecError) as info:
        validate(replace(GOOD, **change))  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_the_limits_are_inclusive() -> None:
    edge = replace(GOOD, min_upvotes=1_000_000, backfill=50, digest_size=25, mode=FeedMode.DIGEST)
    assert validate(edge).backfill == 50


async def test_the_service_wakes_the_publisher_and_guards_file_feeds(tmp_path: Path) -> None:
    woken: list[bool] = []
    async with open_store(str(tmp_path / "f.sqlite3"), clock=lambda: NOW) as store:
        feeds = FeedService(store, lambda: NOW, lambda: woken.append(True))
        with pytest.raises(FeedSpecError):
            await feeds.create(replace(GOOD, backfill=51), guild_id=1)
        assert await feeds.list() == []
        feed, _ = await feeds.create(GOOD, guild_id=1)
        assert feed.name == "causal" and feed.origin is FeedOrigin.DISCORD
        assert await feeds.pause(feed, "too noisy")
        paused = await feeds.get(feed.id)
        assert paused is not None and paused.pause_reason == "too noisy"
        assert not await feeds.pause(paused, "again")
        assert await feeds.resume(paused) and woken
        await feeds.sync_config([replace(GOOD, name="file", channel_id=666666666666666666)])
        (from_file,) = [f for f in await feeds.list() if f.origin is FeedOrigin.CONFIG]
        with pytest.raises(FileManagedFeed):
            await feeds.remove(from_file)
        await feeds.remove(feed)
        assert [f.name for f in await feeds.list()] == ["file"]
