"""Issue 16: the follows service: one gate for members' follows, their limits and their privacy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import FollowError, QueryError, UserFacingError
from bot.services.follows import FollowService, FollowSettings, follow_name, next_daily
from bot.services.library import keep_papers
from bot.store import open_store
from bot.store.sqlite.database import SqliteDatabase
from tests.factories import NOW, FakeClock, make_paper

ALICE, BOB = 111, 222


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)  # 12:00 UTC


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SqliteDatabase]:
    async with open_store(str(tmp_path / "f.sqlite3"), clock=clock) as db:
        yield db


def service(store: SqliteDatabase, clock: FakeClock, **settings: object) -> FollowService:
    return FollowService(store, clock, FollowSettings(**settings))  # type: ignore[arg-type]


def test_names_are_short_and_an_author_follow_is_named_by_the_author() -> None:
    assert follow_name('author:"Yoshua Bengio"') == "Yoshua Bengio"
    assert follow_name("  causal   inference ") == "causal inference"
    long = follow_name("word " * 40)
    assert len(long) == 48 and long.endswith("…")


def test_next_daily_is_today_until_its_minute_has_passed_or_it_was_sent() -> None:
    assert next_daily(NOW, "13:00", None) == NOW + timedelta(hours=1)
    assert next_daily(NOW, "12:00", None) == NOW
    assert next_daily(NOW, "11:59", None) == NOW + timedelta(hours=23, minutes=59)
    assert next_daily(NOW, "13:00", NOW.date().isoformat()) == NOW + timedelta(days=1, hours=1)


async def test_follow_previews_the_week_and_the_first_dm(
    store: SqliteDatabase, clock: FakeClock
) -> None:
    papers = [
        make_paper(1, title="Causal discovery at scale", upvotes=4),
        make_paper(2, title="Causal inference for robots", upvotes=30),
        make_paper(3, title="Causal graphs", upvotes=None),
        make_paper(4, title="Causal everything", upvotes=1),
        make_paper(5, title="Unrelated vision work", upvotes=99),
    ]
    await keep_papers(store, papers, NOW)
    follows = service(store, clock)
    preview = await follows.follow(ALICE, "causal", time="13:00")
    assert preview.follow.name == "causal" and preview.follow.mode == "daily"
    assert preview.week_count == 4
    assert [p.id for p in preview.best] == [papers[1].id, papers[0].id, papers[3].id]
    assert preview.first_dm_at == NOW + timedelta(hours=1)
    instant = await follows.follow(ALICE, "robots", mode="instant", min_upvotes=10)
    assert instant.week_count == 1 and instant.first_dm_at == NOW + timedelta(minutes=5)
    # A first daily follow made after its time starts tomorrow, not at once.
    late = await follows.follow(BOB, "graphs", time="08:00")
    assert late.first_dm_at == NOW + timedelta(hours=20)
    assert await store.dms.daily_due(NOW) == []


async def test_follow_refuses_bad_input_in_one_line(
    store: SqliteDatabase, clock: FakeClock
) -> None:
    follows = service(store, clock, max_per_user=2)
    with pytest.raises(QueryError):
        await follows.follow(ALICE, "-survey")
    with pytest.raises(FollowError, match="mode"):
        await follows.follow(ALICE, "causal", mode="weekly")
    with pytest.raises(FollowError, match="UTC time"):
        await follows.follow(ALICE, "causal", time="25:00")
    with pytest.raises(FollowError, match="min_upvotes"):
        await follows.follow(ALICE, "causal", min_upvotes=-1)
    await follows.follow(ALICE, "causal")
    with pytest.raises(FollowError, match='already follow this as "causal"'):
        await follows.follow(ALICE, " causal ")
    await follows.follow(ALICE, "diffusion")
    with pytest.raises(FollowError, match="most allowed") as info:
        await follows.follow(ALICE, "flows")
    assert isinstance(info.value, UserFacingError) and "\n" not in str(info.value)
    off = service(store, clock, enabled=False)
    with pytest.raises(FollowError, match="turned off"):
        await off.follow(BOB, "causal")


async def test_same_names_get_a_number(store: SqliteDatabase, clock: FakeClock) -> None:
    follows = service(store, clock)
    await follows.follow(ALICE, 'author:"Ada Lovelace"')
    second = await follows.follow(ALICE, 'author:"Ada Lovelace" cat:cs.LG')
    assert second.follow.name == 'author:"Ada Lovelace" cat:cs.LG'
    long = "causal " * 10
    first = await follows.follow(ALICE, long + "discovery")
    again = await follows.follow(ALICE, long + "inference")
    assert again.follow.name == first.follow.name + " (2)"


async def test_a_member_only_reaches_their_own_follows(
    store: SqliteDatabase, clock: FakeClock
) -> None:
    follows = service(store, clock)
    await follows.follow(ALICE, "causal")
    await follows.follow(BOB, "causal")
    assert [f.user_id for f in await follows.following(ALICE)] == [ALICE]
    with pytest.raises(FollowError, match="no follow named"):
        await follows.set_paused(BOB, "nope", True)
    paused = await follows.set_paused(BOB, "causal", True)
    assert paused.user_id == BOB and paused.paused
    assert not (await follows.following(ALICE))[0].paused
    assert not await follows.unfollow(BOB, "other")
    assert await follows.unfollow(BOB, "causal")
    assert await follows.following(BOB) == []
    assert len(await follows.following(ALICE)) == 1
    resumed = await follows.set_paused(ALICE, "causal", False)
    assert not resumed.paused


async def test_forget_and_notice(store: SqliteDatabase, clock: FakeClock) -> None:
    follows = service(store, clock)
    await follows.follow(ALICE, "causal", mode="instant")
    await follows.follow(BOB, "causal", mode="instant")
    await keep_papers(store, [make_paper(1, title="Causal things")], NOW)
    assert {i.user_id for i in await store.dms.items()} == {ALICE, BOB}
    await store.follows.set_notice(ALICE, "DMs closed")
    assert await follows.take_notice(ALICE) == "DMs closed"
    assert await follows.take_notice(ALICE) is None
    assert await follows.forget(ALICE) == 1
    assert await follows.following(ALICE) == []
    assert {i.user_id for i in await store.dms.items()} == {BOB}
