"""Pausing or removing one follow, on both backends: a waiting paper another active follow of the
same member also matches stays owed (once, with that follow's mode); one only it matched goes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.discord.dm_messages import dm_messages
from bot.models import DeliveryState
from bot.services import follows as follows_module
from bot.services.dm import DmPublisher
from bot.services.follows import FollowService, FollowSettings
from bot.services.library import keep_papers
from bot.services.publisher import RateLimiter
from bot.store.interfaces import Database
from tests.factories import NOW, FakeClock, make_paper
from tests.pg.fixtures import backend_params, open_backend
from tests.services.test_dm import FakeMessenger

ALICE, BOB = 111, 222
SETTINGS = FollowSettings(daily_size=10, instant_window=timedelta(minutes=5))
NEWS = NOW - timedelta(hours=9)
BOTH = make_paper(1, title="Graph neural networks", upvotes=10, published=NEWS)
GRAPH_ONLY = make_paper(2, title="Graph colouring", upvotes=10, published=NEWS)
# How one follow of two goes away: paused by the member, or removed.
Stop = Callable[[FollowService, int, str], Awaitable[object]]
STOPS: dict[str, Stop] = {
    "paused": lambda follows, user, name: follows.set_paused(user, name, True),
    "removed": lambda follows, user, name: follows.unfollow(user, name),
}


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW.replace(hour=7, minute=0))


@pytest.fixture
async def store(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Database]:
    async with open_backend(request, backend, tmp_path / "f.sqlite3", clock) as db:
        yield db


def dm_publisher(store: Database, messenger: FakeMessenger, clock: FakeClock) -> DmPublisher:
    limiter = RateLimiter(rate=1e6, burst=1000)
    return DmPublisher(store, messenger, dm_messages, clock, SETTINGS, limiter=limiter,
                       rand=lambda: 0.5)  # fmt: skip


@pytest.mark.parametrize("how", list(STOPS))
async def test_a_paper_another_follow_matches_is_still_sent_once(
    store: Database, clock: FakeClock, how: str
) -> None:
    """Alice's "graph" queued both papers (it was made first); "neural" also matches one. With
    "graph" paused or removed, her 08:00 DM has that one paper, once; the other is dropped."""
    follows = FollowService(store, clock, SETTINGS)
    await follows.follow(ALICE, "graph", time="08:00")
    neural = (await follows.follow(ALICE, "neural", time="08:00")).follow
    await follows.follow(BOB, "graph", time="08:00")  # another member's follow: not Alice's
    await keep_papers(store, [BOTH, GRAPH_ONLY], clock())
    before = {i.paper_id: i for i in await store.dms.items(user_id=ALICE)}
    assert before[BOTH.id].relevance == 2 and before[BOTH.id].follow_id != neural.id
    await STOPS[how](follows, ALICE, "graph")
    items = {i.paper_id: i for i in await store.dms.items(user_id=ALICE)}
    assert items[BOTH.id].id == before[BOTH.id].id  # the same row, handed over
    kept = items[BOTH.id]
    assert (kept.state, kept.follow_id, kept.mode, kept.relevance) == (
        DeliveryState.QUEUED, neural.id, "daily", 1,
    )  # fmt: skip
    if how == "paused":
        dropped = items[GRAPH_ONLY.id]
        assert (dropped.state, dropped.error) == (DeliveryState.SKIPPED, "paused by you")
    else:
        assert GRAPH_ONLY.id not in items
    messenger = FakeMessenger()
    dms = dm_publisher(store, messenger, clock)
    clock.now = clock.now.replace(hour=8)
    await dms.run_once()
    clock.advance(days=1)
    await dms.run_once()
    assert messenger.papers_of(ALICE) == [BOTH.id]  # exactly once
    assert messenger.papers_of(BOB) == [BOTH.id, GRAPH_ONLY.id]  # Bob's follow is untouched


@pytest.mark.parametrize("how", list(STOPS))
async def test_a_paper_only_the_stopped_follow_matched_is_dropped(
    store: Database, clock: FakeClock, how: str
) -> None:
    """The other follow must match as the fan-out does, filters included: "graph" with
    min_upvotes 50 does not want a 10-upvote paper, so pausing "graph colouring" drops it."""
    follows = FollowService(store, clock, SETTINGS)
    await follows.follow(ALICE, "colouring", time="08:00")
    await follows.follow(ALICE, "graph", time="08:00", min_upvotes=50)
    await keep_papers(store, [GRAPH_ONLY], clock())
    assert len(await store.dms.items(user_id=ALICE)) == 1
    await STOPS[how](follows, ALICE, "colouring")
    assert await store.dms.items(user_id=ALICE, states=[DeliveryState.QUEUED]) == []
    messenger = FakeMessenger()
    clock.now = clock.now.replace(hour=8)
    assert (await dm_publisher(store, messenger, clock).run_once()).sent == 0
    assert messenger.papers_of(ALICE) == []


@pytest.mark.parametrize("how", list(STOPS))
async def test_a_daily_paper_handed_to_an_instant_follow_goes_out_instantly(
    store: Database, clock: FakeClock, how: str
) -> None:
    """The paper waits for the daily "graph" DM; "neural" (instant) is made after it queued.
    With "graph" gone the paper is "neural"'s: it goes in the next instant DM, before 08:00."""
    follows = FollowService(store, clock, SETTINGS)
    await follows.follow(ALICE, "graph", time="08:00")
    await keep_papers(store, [BOTH], clock())
    neural = (await follows.follow(ALICE, "neural", mode="instant")).follow
    await STOPS[how](follows, ALICE, "graph")
    (item,) = await store.dms.items(user_id=ALICE)
    assert (item.follow_id, item.mode) == (neural.id, "instant")
    messenger = FakeMessenger()
    clock.advance(minutes=5)
    assert (await dm_publisher(store, messenger, clock).run_once()).sent == 1
    assert clock().hour == 7 and messenger.papers_of(ALICE) == [BOTH.id]


@pytest.mark.parametrize("how", list(STOPS))
async def test_an_instant_paper_handed_to_a_daily_follow_waits_for_the_daily_dm(
    store: Database, clock: FakeClock, how: str
) -> None:
    """The instant "graph" wins the paper over the daily "neural" as the fan-out does; with "graph"
    gone before its instant DM, the paper waits for "neural"'s 08:00 DM instead."""
    follows = FollowService(store, clock, SETTINGS)
    await follows.follow(ALICE, "graph", mode="instant")
    neural = (await follows.follow(ALICE, "neural", time="08:00")).follow
    await keep_papers(store, [BOTH], clock())
    (item,) = await store.dms.items(user_id=ALICE)
    assert item.mode == "instant"
    await STOPS[how](follows, ALICE, "graph")
    (item,) = await store.dms.items(user_id=ALICE)
    assert (item.follow_id, item.mode, item.state) == (neural.id, "daily", DeliveryState.QUEUED)
    messenger = FakeMessenger()
    dms = dm_publisher(store, messenger, clock)
    clock.advance(minutes=10)
    assert (await dms.run_once()).sent == 0  # no instant DM any more
    clock.now = clock.now.replace(hour=8, minute=0)
    assert (await dms.run_once()).sent == 1
    assert messenger.papers_of(ALICE) == [BOTH.id]


async def test_pausing_a_follow_hands_over_only_to_active_follows(
    store: Database, clock: FakeClock
) -> None:
    """A paused follow that matches the paper does not keep it: nothing left wants it."""
    follows = FollowService(store, clock, SETTINGS)
    await follows.follow(ALICE, "graph", time="08:00")
    await follows.follow(ALICE, "neural", time="08:00")
    await keep_papers(store, [BOTH], clock())
    await follows.set_paused(ALICE, "neural", True)  # not its row: nothing changes
    (item,) = await store.dms.items(user_id=ALICE)
    assert item.state is DeliveryState.QUEUED
    await follows.set_paused(ALICE, "graph", True)
    (item,) = await store.dms.items(user_id=ALICE)
    assert (item.state, item.error) == (DeliveryState.SKIPPED, "paused by you")


async def test_the_handover_ranks_as_the_fan_out_does_without_the_stopped_follow(
    store: Database, clock: FakeClock
) -> None:
    """Matched by "graph" (which queued it), the daily "neural" and the instant "networks": with
    "graph" paused the paper is the instant follow's (instant wins), relevance 2, not 3."""
    follows = FollowService(store, clock, SETTINGS)
    graph = (await follows.follow(ALICE, "graph", time="08:00")).follow
    await follows.follow(ALICE, "neural", time="08:00")
    await keep_papers(store, [BOTH], clock())
    networks = (await follows.follow(ALICE, "networks", mode="instant")).follow
    (item,) = await store.dms.items(user_id=ALICE)
    assert (item.follow_id, item.relevance) == (graph.id, 2)
    await follows.set_paused(ALICE, "graph", True)
    (item,) = await store.dms.items(user_id=ALICE)
    assert (item.follow_id, item.mode, item.relevance) == (networks.id, "instant", 2)


class PassingOnly:
    """Stands for the semantic service: like: / about: pass exactly these papers."""

    def __init__(self, *paper_ids: str) -> None:
        self.paper_ids = set(paper_ids)
        self.asked: list[list[str]] = []

    async def passing(
        self, query: object, paper_ids: Sequence[str], fresh: object = None
    ) -> set[str]:
        self.asked.append(list(paper_ids))
        return self.paper_ids & set(paper_ids)


async def test_an_about_follow_keeps_what_reaches_its_threshold(
    store: Database, clock: FakeClock
) -> None:
    """The semantic pass decides for like: / about: follows, as in the fan-out."""
    semantic = PassingOnly(BOTH.id)
    follows = FollowService(store, clock, SETTINGS, semantic)  # type: ignore[arg-type]
    await follows.follow(ALICE, "graph", time="08:00")
    about = await store.follows.add(ALICE, "about", 'about:"learning on graphs"')
    await keep_papers(store, [BOTH, GRAPH_ONLY], clock())  # no semantic here: "graph" has both
    await follows.unfollow(ALICE, "graph")
    assert sorted(semantic.asked[0]) == sorted([BOTH.id, GRAPH_ONLY.id])
    (item,) = await store.dms.items(user_id=ALICE)
    assert (item.paper_id, item.follow_id) == (BOTH.id, about.id)


async def test_a_dm_planned_while_the_pause_matches_goes_as_planned(
    store: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 08:00 DM plans the paper between the pause reading the queue and writing it: the
    planned item is left as it is (not handed over, not dropped) and is sent once."""
    follows = FollowService(store, clock, SETTINGS)
    await follows.follow(ALICE, "graph", time="08:00")
    await follows.follow(ALICE, "neural", time="08:00")
    await keep_papers(store, [BOTH], clock())
    messenger = FakeMessenger()
    dms = dm_publisher(store, messenger, clock)
    matched = follows_module.match_waiting

    async def planned_meanwhile(*args: Any, **kwargs: Any) -> Any:
        found = await matched(*args, **kwargs)
        clock.now = clock.now.replace(hour=8)
        assert len(await dms.plan_daily(clock())) == 1
        return found

    monkeypatch.setattr(follows_module, "match_waiting", planned_meanwhile)
    graph = await follows.set_paused(ALICE, "graph", True)
    (item,) = await store.dms.items(user_id=ALICE)
    assert (item.follow_id, item.state) == (graph.id, DeliveryState.QUEUED)
    assert item.nonce is not None
    await dms.run_once()
    clock.advance(days=1)
    await dms.run_once()
    assert messenger.papers_of(ALICE) == [BOTH.id]
