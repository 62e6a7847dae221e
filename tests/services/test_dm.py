"""Issue 16: personal follows reach members by DM exactly once, daily or instant; a refusal pauses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.discord.dm_messages import dm_messages
from bot.discord.limits import EMBED_TOTAL_MAX, EMBEDS_MAX, message_length
from bot.errors import DeliveryRetryable, DmRefused
from bot.models import DeliveryState
from bot.services.dm import DmPublisher, dm_nonce
from bot.services.follows import DMS_CLOSED, FollowService, FollowSettings
from bot.services.library import keep_papers
from bot.services.publisher import Body, Posted, RateLimiter
from bot.store import open_store
from bot.store.sqlite.database import SqliteDatabase
from tests.factories import NOW, FakeClock, make_paper

ALICE, BOB, CAROL = 111, 222, 333


class Crash(Exception):
    """Stands for the process dying mid-send (what a SIGKILL leaves behind)."""


@dataclass
class FakeMessenger:
    """Discord's DMs in memory: messages per member, a nonce answered with its first message."""

    closed: set[int] = field(default_factory=set)
    sent: dict[int, list[Body]] = field(default_factory=dict)
    by_nonce: dict[tuple[int, str], Posted] = field(default_factory=dict)
    requests: int = 0
    fail_next: list[Exception] = field(default_factory=list)
    crash_after_send: bool = False
    crash_before_send: bool = False
    delivered: asyncio.Event = field(default_factory=asyncio.Event)  # set by each new message

    async def send_dm(self, user_id: int, body: Body, *, nonce: str) -> Posted:
        self.requests += 1
        if self.crash_before_send:
            raise Crash
        if user_id in self.closed:
            raise DmRefused("Cannot send messages to this user (50007)")
        if self.fail_next:
            raise self.fail_next.pop(0)
        if (user_id, nonce) in self.by_nonce:
            return self.by_nonce[(user_id, nonce)]
        posted = Posted(message_id=1000 + sum(len(v) for v in self.sent.values()))
        self.sent.setdefault(user_id, []).append(body)
        self.by_nonce[(user_id, nonce)] = posted
        self.delivered.set()
        if self.crash_after_send:
            raise Crash
        return posted

    async def find_dm(self, user_id: int, nonce: str) -> Posted | None:
        self.requests += 1
        return self.by_nonce.get((user_id, nonce))

    def papers_of(self, user_id: int) -> list[str]:
        """arXiv ids in the member's DMs, in order (each embed links to the paper)."""
        return [
            e["url"].rsplit("/", 1)[-1]
            for body in self.sent.get(user_id, [])
            for e in body["embeds"]
        ]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW.replace(hour=7, minute=0))


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SqliteDatabase]:
    async with open_store(str(tmp_path / "f.sqlite3"), clock=clock) as db:
        yield db


SETTINGS = FollowSettings(daily_size=10, instant_window=timedelta(minutes=5))


def publisher(store: SqliteDatabase, messenger: FakeMessenger, clock: FakeClock) -> DmPublisher:
    limiter = RateLimiter(rate=1e6, burst=1000)
    return DmPublisher(store, messenger, dm_messages, clock, SETTINGS, limiter=limiter,
                       rand=lambda: 0.5)  # fmt: skip


async def arrive(store: SqliteDatabase, clock: FakeClock, *papers: Any) -> None:
    await keep_papers(store, [p for p in papers], clock())


async def test_instant_follows_batch_a_burst_into_one_dm(
    store: SqliteDatabase, clock: FakeClock
) -> None:
    follows = FollowService(store, clock, SETTINGS)
    await follows.follow(ALICE, "diffusion", mode="instant")
    messenger = FakeMessenger()
    dms = publisher(store, messenger, clock)
    burst = [make_paper(n, title=f"Diffusion trick {n}", published=clock() - timedelta(hours=1))
             for n in range(1, 13)]  # fmt: skip
    await arrive(store, clock, *burst)
    assert (await dms.run_once()).sent == 0  # the window is still open
    clock.advance(minutes=4)
    await arrive(store, clock, make_paper(20, title="Diffusion late", published=clock()))
    clock.advance(minutes=1)
    report = await dms.run_once()
    assert sorted(messenger.papers_of(ALICE)) == sorted([p.id for p in burst] + [make_paper(20).id])
    assert report.sent == len(messenger.sent[ALICE]) == 2  # 13 papers: 10 embeds, then 3
    assert all(len(b["embeds"]) <= EMBEDS_MAX for b in messenger.sent[ALICE])
    clock.advance(minutes=10)
    assert (await dms.run_once()).sent == 0
    assert messenger.requests == 2


async def test_daily_dm_once_at_its_time_best_first_each_paper_once(
    store: SqliteDatabase, clock: FakeClock
) -> None:
    follows = FollowService(store, clock, SETTINGS)
    await follows.follow(ALICE, "graph", time="08:00")
    await follows.follow(ALICE, "neural", time="08:00")  # both match the "neural graph" papers
    await follows.follow(BOB, "nothing matches this", time="08:00")
    papers = [
        make_paper(n, title=f"Neural graph {n}", upvotes=n, published=clock() - timedelta(hours=1))
        for n in range(1, 13)
    ]
    await arrive(store, clock, *papers)
    assert len(await store.dms.items(user_id=ALICE)) == 12  # once each, two follows matching
    messenger = FakeMessenger()
    dms = publisher(store, messenger, clock)
    clock.now = clock.now.replace(hour=7, minute=59)
    assert (await dms.run_once()).sent == 0
    clock.now = clock.now.replace(hour=8, minute=0)
    report = await dms.run_once()
    assert report.sent == 1 and report.members == 1
    (body,) = messenger.sent[ALICE]
    assert messenger.papers_of(ALICE) == [p.id for p in reversed(papers)][:10]  # most upvoted
    assert "2 more" in body["content"] and message_length(body) <= EMBED_TOTAL_MAX
    assert BOB not in messenger.sent  # no matches, no DM
    skipped = await store.dms.items(user_id=ALICE, states=[DeliveryState.SKIPPED])
    assert len(skipped) == 2
    # The same minute again, a restart (a new publisher) and later that day: nothing more.
    assert (await dms.run_once()).sent == 0
    clock.advance(seconds=30)
    assert (await publisher(store, messenger, clock).run_once()).sent == 0
    await arrive(store, clock, make_paper(50, title="Graph of the afternoon", published=clock()))
    clock.now = clock.now.replace(hour=18)
    assert (await dms.run_once()).sent == 0
    clock.advance(days=1)
    clock.now = clock.now.replace(hour=8, minute=0)
    assert (await dms.run_once()).sent == 1
    assert messenger.papers_of(ALICE)[-1] == make_paper(50).id


@pytest.mark.parametrize("reached_discord", [True, False])
async def test_a_crash_mid_send_neither_loses_nor_duplicates(
    store: SqliteDatabase, clock: FakeClock, reached_discord: bool
) -> None:
    follows = FollowService(store, clock, SETTINGS)
    for user in (ALICE, BOB, CAROL):
        await follows.follow(user, "graph", time="08:00")
    await arrive(store, clock, make_paper(1, title="Graph paper", published=clock()))
    clock.now = clock.now.replace(hour=8)
    messenger = FakeMessenger()
    if reached_discord:
        messenger.crash_after_send = True
    else:
        messenger.crash_before_send = True
    with pytest.raises(Crash):
        await publisher(store, messenger, clock).run_once()
    in_flight = await store.dms.items(states=[DeliveryState.SENDING])
    assert in_flight  # recorded before the send
    messenger.crash_after_send = messenger.crash_before_send = False
    clock.advance(seconds=40)  # the restart lands in the next minute
    restarted = publisher(store, messenger, clock)
    await restarted.reconcile()
    await restarted.run_once()
    for user in (ALICE, BOB, CAROL):
        assert messenger.papers_of(user) == [make_paper(1).id], user
    assert {i.state for i in await store.dms.items()} == {DeliveryState.SENT}
    assert (await restarted.run_once()).sent == 0


async def test_closed_dms_pause_the_follows_after_one_request(
    store: SqliteDatabase, clock: FakeClock
) -> None:
    follows = FollowService(store, clock, SETTINGS)
    await follows.follow(ALICE, "graph", mode="instant")
    await follows.follow(ALICE, "vision", mode="instant")
    await follows.follow(BOB, "graph", mode="instant")
    await arrive(store, clock, *[make_paper(n, title=f"Graph {n}", published=clock())
                                 for n in range(1, 15)])  # fmt: skip
    messenger = FakeMessenger(closed={ALICE})
    dms = publisher(store, messenger, clock)
    clock.advance(minutes=5)
    report = await dms.run_once()
    assert report.refused == 1 and ALICE not in messenger.sent and len(messenger.sent[BOB]) == 2
    assert messenger.requests == 1 + 2  # one for Alice, two messages for Bob
    mine = await follows.following(ALICE)
    assert all(f.paused and f.pause_reason == DMS_CLOSED for f in mine)
    assert not (await follows.following(BOB))[0].paused
    notice = await follows.take_notice(ALICE)
    assert notice is not None and "DMs" in notice
    assert await follows.take_notice(ALICE) is None
    await arrive(store, clock, make_paper(30, title="Graph again", published=clock()))
    clock.advance(hours=1)
    await dms.run_once()
    assert messenger.requests == 3 + 1  # Bob's new paper only: nothing retried for Alice
    assert (await store.dms.counts(NOW - timedelta(days=1)))["refused"] == 1


async def test_a_transient_failure_is_retried_after_a_look(
    store: SqliteDatabase, clock: FakeClock
) -> None:
    follows = FollowService(store, clock, SETTINGS)
    await follows.follow(ALICE, "graph", mode="instant")
    await arrive(store, clock, make_paper(1, title="Graph", published=clock()))
    messenger = FakeMessenger(fail_next=[DeliveryRetryable("Discord 503")])
    dms = publisher(store, messenger, clock)
    clock.advance(minutes=5)
    assert (await dms.run_once()).retried == 1
    assert (await dms.run_once()).sent == 0  # backing off
    clock.advance(minutes=1)
    assert (await dms.run_once()).sent == 1
    assert messenger.papers_of(ALICE) == [make_paper(1).id]
    assert messenger.requests == 3  # the send, the look, the send


def test_nonces_fit_discord() -> None:
    assert len(dm_nonce(10**19, "d2026-11-25", 3)) <= 25
    assert dm_nonce(1, "a", 0) != dm_nonce(1, "a", 1) != dm_nonce(2, "a", 1)


def test_dm_messages_respect_discord_limits() -> None:
    huge = [make_paper(n, title="T" * 400, abstract="word " * 2000, authors=("A" * 300,) * 9)
            for n in range(1, 26)]  # fmt: skip
    bodies = dm_messages(huge, 7, "Your papers")
    assert sum(len(b["embeds"]) for b in bodies) == 25
    for body in bodies:
        assert len(body["embeds"]) <= EMBEDS_MAX and message_length(body) <= EMBED_TOTAL_MAX
        assert body["allowed_mentions"] == {"parse": []}
    assert bodies[0]["content"].startswith("**Your papers**")
    assert bodies[-1]["content"].endswith("7 more matched (try `/search`).")
    assert dm_messages([], 3, "x") == []
