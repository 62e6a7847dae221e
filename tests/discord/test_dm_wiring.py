"""Issue 16: the running bot sends members' DMs: in-flight ones reconciled at start, due ones sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from bot.app import Services
from bot.config import Config, DatabaseConfig, FollowsConfig
from bot.discord.runner import build_bot
from bot.metrics import Metrics
from bot.models import DeliveryState
from bot.services.dm import dm_nonce
from bot.services.poller import Poller
from bot.store import open_store
from tests.factories import NOW, make_paper
from tests.fakes.discord.fixtures import FAST_CLIENT_OPTIONS, BotStarter
from tests.fakes.discord.server import FakeDiscord
from tests.services.test_dm import FakeMessenger

ALICE, BOB = 111, 222


async def test_the_bot_reconciles_then_sends_due_dms_and_stops_cleanly(
    tmp_path: Path, discord_fake: FakeDiscord, start_bot: BotStarter
) -> None:
    config = Config(
        database=DatabaseConfig(path=str(tmp_path / "p.sqlite3")),
        follows=FollowsConfig(default_time="00:00"),
    )
    clock = lambda: NOW  # noqa: E731  (12:00 UTC: a 00:00 daily follow is due)
    messenger = FakeMessenger()
    metrics = Metrics()
    async with open_store(config.database, clock=clock) as store, httpx.AsyncClient() as http:
        await store.papers.upsert([make_paper(1), make_paper(2)])
        alice = await store.follows.add(ALICE, "a", "paper", time="00:00")
        bob = await store.follows.add(BOB, "b", "paper", mode="instant")
        await store.dms.queue([(ALICE, make_paper(1).id, alice.id, "daily", 1),
                               (BOB, make_paper(2).id, bob.id, "instant", 1)])  # fmt: skip
        # Bob's DM was being sent when the last run died, and it did reach him.
        (left,) = await store.dms.items(user_id=BOB)
        nonce = dm_nonce(BOB, f"i{left.id}", 0)
        await store.dms.plan([(nonce, [left.id])])
        await store.dms.mark_sending([left.id], NOW)
        await messenger.send_dm(BOB, {"embeds": [{"url": "x/" + left.paper_id}]}, nonce=nonce)
        messenger.requests = 0
        messenger.delivered.clear()
        services = Services(config, store, http, Poller(store, [], clock), None, None, clock)
        started = await start_bot(
            discord_fake,
            lambda: build_bot(services, clock=clock, with_scheduler=False, metrics=metrics,
                              make_messenger=lambda client: messenger, **FAST_CLIENT_OPTIONS),
        )  # fmt: skip
        await asyncio.wait_for(messenger.delivered.wait(), timeout=10)
        await started.stop()
        assert messenger.papers_of(ALICE) == [make_paper(1).id]
        assert messenger.papers_of(BOB) == [make_paper(2).id]  # found, not sent again
        assert messenger.requests == 2  # Bob's look-up, Alice's send
        assert {i.state for i in await store.dms.items()} == {DeliveryState.SENT}
        assert metrics.dms.labels(dm_outcome="sent")._value.get() == 2


async def test_a_bot_started_with_follows_off_drops_the_dms_that_waited(
    tmp_path: Path, discord_fake: FakeDiscord, start_bot: BotStarter
) -> None:
    """`[follows] enabled = false`: what waited (one DM in flight, one not planned) is dropped at
    start; when follows are switched on again, nothing of it goes out."""
    path = str(tmp_path / "p.sqlite3")
    clock = lambda: NOW  # noqa: E731
    messenger = FakeMessenger()

    async def start(enabled: bool) -> None:
        config = Config(database=DatabaseConfig(path=path),
                        follows=FollowsConfig(enabled=enabled, default_time="00:00"))  # fmt: skip
        async with open_store(config.database, clock=clock) as store, httpx.AsyncClient() as http:
            services = Services(config, store, http, Poller(store, [], clock), None, None, clock)
            started = await start_bot(
                discord_fake,
                lambda: build_bot(services, clock=clock, with_scheduler=False,
                                  make_messenger=lambda client: messenger, **FAST_CLIENT_OPTIONS),
            )  # fmt: skip
            if enabled:  # a round of the DM loop, run now instead of waiting for it
                assert started.bot.dm_publisher is not None
                await started.bot.dm_publisher.run_once()
            else:
                assert started.bot.dm_publisher is None
            await started.stop()

    async with open_store(path, clock=clock) as store:
        await store.papers.upsert([make_paper(1), make_paper(2)])
        alice = await store.follows.add(ALICE, "a", "paper", time="00:00")
        bob = await store.follows.add(BOB, "b", "paper", mode="instant")
        await store.dms.queue([(ALICE, make_paper(1).id, alice.id, "daily", 1),
                               (BOB, make_paper(2).id, bob.id, "instant", 1)])  # fmt: skip
        left = (await store.dms.items(user_id=BOB))[0]
        await store.dms.plan([("dm-left", [left.id])], {"dm-left": "**New papers**"})
        await store.dms.mark_sending([left.id], NOW)
    await start(enabled=False)
    async with open_store(path, clock=clock) as store:
        assert {(i.state, i.error) for i in await store.dms.items()} == {
            (DeliveryState.SKIPPED, "follows were switched off")
        }
    await start(enabled=True)
    assert messenger.requests == 0 and messenger.sent == {}
