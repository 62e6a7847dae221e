"""Two DM delivery bugs, on both backends: a DM resent after a crash is the DM the first attempt
would have sent (heading, "…and N more" tail, order), and DMs queued before follows were
switched off never go out when they are switched back on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from bot.discord.dm_messages import dm_messages
from bot.models import DeliveryState
from bot.services.dm import DmPublisher
from bot.services.follows import FollowService, FollowSettings
from bot.services.library import keep_papers
from bot.services.publisher import Body, Posted, RateLimiter
from bot.store.interfaces import Database
from tests.factories import NOW, FakeClock, make_paper
from tests.pg.fixtures import backend_params, open_backend
from tests.services.test_dm import Crash, FakeMessenger

ALICE, BOB = 111, 222
SETTINGS = FollowSettings(daily_size=12, instant_window=timedelta(minutes=5))


@dataclass
class CrashingMessenger(FakeMessenger):
    """Records every body it is asked to send; the process dies at the `crash_at`-th send."""

    attempts: list[tuple[int, str, Body]] = field(default_factory=list)
    crash_at: int = 0  # 1-based; 0: never

    async def send_dm(self, user_id: int, body: Body, *, nonce: str) -> Posted:
        self.attempts.append((user_id, nonce, body))
        if len(self.attempts) == self.crash_at:
            raise Crash  # died with the DM recorded `sending`, before Discord had it
        return await super().send_dm(user_id, body, nonce=nonce)


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW.replace(hour=7, minute=0))


def dm_publisher(store: Database, messenger: FakeMessenger, clock: FakeClock) -> DmPublisher:
    limiter = RateLimiter(rate=1e6, burst=1000)
    return DmPublisher(store, messenger, dm_messages, clock, SETTINGS, limiter=limiter,
                       rand=lambda: 0.5)  # fmt: skip


@pytest.mark.parametrize("crash_at", [1, 2])
async def test_a_dm_resent_after_a_crash_is_the_dm_first_built(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, clock: FakeClock, crash_at: int
) -> None:
    """14 papers owed, 12 fit: two messages (10 embeds with the heading, then 2 with the tail).
    The process dies sending message `crash_at`; the restart (the store opened again from its
    file or server) sends that message again, and it must be the very body first built."""
    path = tmp_path / "f.sqlite3"
    papers = [
        make_paper(n, title=f"Graph paper {n}", upvotes=100 - n, published=NOW - timedelta(hours=9))
        for n in range(1, 15)
    ]
    async with open_backend(request, backend, path, clock) as store:
        await FollowService(store, clock, SETTINGS).follow(ALICE, "graph", time="08:00")
        await keep_papers(store, papers, clock())  # queued the day before the DM goes
        clock.advance(days=1)
        clock.now = clock.now.replace(hour=8, minute=0)
        messenger = CrashingMessenger(crash_at=crash_at)
        with pytest.raises(Crash):
            await dm_publisher(store, messenger, clock).run_once()
        first = [body for _, _, body in messenger.attempts]
    assert len(first) == crash_at

    clock.advance(seconds=40)  # the restart lands in the next minute
    messenger.crash_at = 0
    async with open_backend(request, backend, path, clock) as store:
        restarted = dm_publisher(store, messenger, clock)
        await restarted.reconcile()
        await restarted.run_once()
        states = [i.state for i in await store.dms.items()]
        assert states.count(DeliveryState.SENT) == 12 and states.count(DeliveryState.SKIPPED) == 2
    resent = messenger.attempts[crash_at]
    assert resent[1] == messenger.attempts[crash_at - 1][1]  # the same message, by its nonce
    assert resent[2] == first[-1]
    day = NOW.date() + timedelta(days=1)
    bodies = messenger.sent[ALICE]
    assert len(bodies) == 2
    assert bodies[0]["content"] == f"**Your papers for {day.isoformat()}**"
    assert bodies[1]["content"] == "…and 2 more matched (try `/search`)."
    assert messenger.papers_of(ALICE) == [p.id for p in papers][:12]  # most upvoted first


async def test_a_paused_follow_sends_nothing_it_queued_before_when_resumed(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, clock: FakeClock
) -> None:
    """Alice pauses "graph" while its papers wait for her 08:00 DM and resumes two days later:
    her next DM has only what matched after the resume; "neural", never paused, keeps its own."""
    async with open_backend(request, backend, tmp_path / "f.sqlite3", clock) as store:
        follows = FollowService(store, clock, SETTINGS)
        await follows.follow(ALICE, "graph", time="08:00")
        await follows.follow(ALICE, "neural", time="08:00")
        old = NOW - timedelta(hours=9)
        await keep_papers(store, [make_paper(1, title="Graph stale", published=old),
                                  make_paper(2, title="Neural kept", published=old)], clock())  # fmt: skip
        await follows.set_paused(ALICE, "graph", True)
        messenger = FakeMessenger()
        dms = dm_publisher(store, messenger, clock)
        clock.now = clock.now.replace(hour=8)
        assert (await dms.run_once()).sent == 1  # "neural" is still on
        assert messenger.papers_of(ALICE) == [make_paper(2).id]
        clock.advance(days=2)
        clock.now = clock.now.replace(hour=7)
        await follows.set_paused(ALICE, "graph", False)
        await keep_papers(store, [make_paper(3, title="Graph fresh", published=clock())], clock())
        clock.now = clock.now.replace(hour=8)
        assert (await dms.run_once()).sent == 1
        assert messenger.papers_of(ALICE) == [make_paper(2).id, make_paper(3).id]
        (stale,) = await store.dms.items(states=[DeliveryState.SKIPPED])
        assert (stale.paper_id, stale.error) == (make_paper(1).id, "paused by you")


async def test_dms_queued_before_follows_were_switched_off_never_go_out(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, clock: FakeClock
) -> None:
    """The operator sets `[follows] enabled = false` while DMs wait (one planned, one in flight,
    one not planned yet) and restarts; days later they switch follows on again: only papers that
    matched after that go out."""
    path = tmp_path / "f.sqlite3"
    instant = timedelta(minutes=5)
    async with open_backend(request, backend, path, clock) as store:
        follows = FollowService(store, clock, SETTINGS)
        await follows.follow(ALICE, "graph", mode="instant")
        await follows.follow(BOB, "graph", mode="instant")
        await keep_papers(store, [make_paper(1, title="Graph one", published=clock())], clock())
        alice, bob = await store.dms.items()
        # Alice's DM was in flight when the bot stopped; Bob's waits for a retry.
        await store.dms.plan([("a", [alice.id]), ("b", [bob.id])], {"a": "x", "b": "y"})
        await store.dms.mark_sending([alice.id], clock())
        await store.dms.mark_retry([bob.id], "Discord 503", clock() + timedelta(minutes=1))
        await keep_papers(store, [make_paper(2, title="Graph two", published=clock())], clock())
        assert len(await store.dms.items(states=[DeliveryState.QUEUED])) == 3
    off = FollowSettings(enabled=False, instant_window=instant)
    clock.advance(hours=1)
    async with open_backend(request, backend, path, clock) as store:  # started switched off
        assert await FollowService(store, clock, off).drop_if_off() == 4
        await keep_papers(store, [make_paper(3, title="Graph three", published=clock())],
                          clock(), follows_on=False)  # fmt: skip
    clock.advance(days=3)
    async with open_backend(request, backend, path, clock) as store:  # switched on again
        assert await FollowService(store, clock, SETTINGS).drop_if_off() == 0
        messenger = CrashingMessenger()
        dms = dm_publisher(store, messenger, clock)
        await dms.reconcile()
        assert (await dms.run_once()).sent == 0
        await keep_papers(store, [make_paper(4, title="Graph four", published=clock())], clock())
        clock.advance(minutes=5)
        await dms.run_once()
        assert messenger.papers_of(ALICE) == messenger.papers_of(BOB) == [make_paper(4).id]
        assert messenger.requests == 2
