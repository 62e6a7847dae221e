"""Two paperfeed gateway processes sharing one PostgreSQL against a fake Discord with 4 shards:
shards 0-1 in one, 2-3 in the other. They start at the same moment (the case discord.py alone
gets wrong: each process's first shard identifies at once); the fake refuses any IDENTIFY that
comes less than a window after its bucket's last one, so a refusal would show a collision.
Then: each guild's slash commands reach and are answered by the process owning its shard; a
session-start budget too low refuses the start before any connection; the crash-loop guard
stops a gateway that keeps re-identifying, counting the whole cluster's identifies."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import discord
import httpx
import pytest
from discord.gateway import KeepAliveHandler

from bot.app import Services
from bot.config import Config
from bot.discord.client import PaperfeedBot
from bot.discord.identify import GatewayGuard, IdentifyBudgetExhausted
from bot.discord.runner import build_bot
from bot.services.poller import Poller
from bot.store import open_store
from bot.store.interfaces import Database
from tests.discord_fake.testbot import ShardedPaperTestBot
from tests.factories import NOW
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.fixtures import FAST_CLIENT_OPTIONS, BotStarter, FakeFactory
from tests.pg.fixtures import database_config

WINDOW = 0.25  # seconds: the identify window of the fake and of the bots, instead of 5
MARGIN = 0.15  # generous: on a loaded 2-core machine the IDENTIFY may leave late after its turn


class Process:
    """One gateway process: its own pool on the shared database, its own bot."""

    def __init__(self, store: Database, config: Config, http: httpx.AsyncClient) -> None:
        self.store = store
        self.services = Services(config, store, http, Poller(store, [], _now), None, None, _now)
        self.seen: list[int] = []

    def bot(
        self, shard_ids: list[int] | None, shard_count: int | None, **guard: Any
    ) -> Callable[[], PaperfeedBot]:
        def make() -> PaperfeedBot:
            gateway_guard = GatewayGuard(
                self.store.identifies, **{"window": WINDOW, "margin": MARGIN, **guard}
            )
            bot = build_bot(
                self.services, clock=_now, with_scheduler=False, shard_ids=shard_ids,
                shard_count=shard_count, gateway_guard=gateway_guard, **FAST_CLIENT_OPTIONS,
            )  # fmt: skip

            async def on_interaction(interaction: discord.Interaction) -> None:
                assert interaction.guild_id is not None
                self.seen.append(interaction.guild_id)

            bot.add_listener(on_interaction)
            return bot

        return make


def _now() -> Any:
    return NOW


@pytest.fixture
async def processes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Process, Process]]:
    config = Config(database=database_config(request, "postgresql", tmp_path / "unused.sqlite3"))
    async with (
        open_store(config.database, clock=_now) as one,
        open_store(config.database, clock=_now) as two,
        httpx.AsyncClient() as http,
    ):
        yield Process(one, config, http), Process(two, config, http)


async def _sharded_fake(factory: FakeFactory, **options: Any) -> FakeDiscord:
    return await factory(
        **{"shard_count": 4, "identify_rate_limit": True, "identify_window": WINDOW,
           "world": False, "openapi": None, **options}
    )  # fmt: skip


async def test_two_gateways_share_the_identify_limit_and_split_the_guilds(
    postgres_url: str,
    processes: tuple[Process, Process],
    discord_fake_factory: FakeFactory,
    start_bot: BotStarter,
) -> None:
    fake = await _sharded_fake(discord_fake_factory)
    guilds = fake.add_guilds(16)
    low, high = processes
    started = await asyncio.gather(
        start_bot(fake, low.bot([0, 1], 4)), start_bot(fake, high.bot([2, 3], 4))
    )
    identifies = fake.gateway.identifies
    assert sorted(r.shard for r in identifies) == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert all(r.accepted for r in identifies), "an IDENTIFY came too early in its bucket"
    assert all(gap >= WINDOW for gap in fake.gateway.identify_gaps()[0])
    assert await low.store.identifies.identifies_within(60) == 4
    assert fake.request_count("GET /gateway/bot") == 2  # each checked the session budget

    bot_low, bot_high = (s.bot for s in started)
    assert bot_low.shard_connect_timeout == 600.0  # room to wait for the bucket's turn
    assert {g.id for g in bot_low.guilds} == {g.id for g, _ in guilds if fake.shard_of(g.id) < 2}
    assert {g.id for g in bot_high.guilds} == {g.id for g, _ in guilds if fake.shard_of(g.id) >= 2}
    for guild, channel in guilds:
        record = await fake.invoke("help", channel=channel, member=guild.members[guild.owner_id])
        await fake.wait_for_callback(record)
        assert [c.status for c in record.callbacks] == [200]
    assert sorted(low.seen + high.seen) == sorted(g.id for g, _ in guilds)
    assert {fake.shard_of(g) for g in low.seen} == {0, 1}
    assert {fake.shard_of(g) for g in high.seen} == {2, 3}


async def test_too_few_session_starts_left_refuses_before_connecting(
    postgres_url: str,
    processes: tuple[Process, Process],
    discord_fake_factory: FakeFactory,
    start_bot: BotStarter,
) -> None:
    fake = await _sharded_fake(discord_fake_factory, session_start_total=12)
    low, _ = processes
    with pytest.raises(IdentifyBudgetExhausted) as refused:
        await start_bot(fake, low.bot([0, 1], 4, reserve=11))
    assert "12 more gateway session starts" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert fake.gateway.connections == [] and fake.gateway.identifies == []


async def test_the_crash_loop_guard_stops_a_gateway_that_keeps_identifying(
    postgres_url: str,
    processes: tuple[Process, Process],
    discord_fake_factory: FakeFactory,
    start_bot: BotStarter,
) -> None:
    fake = await _sharded_fake(discord_fake_factory, shard_count=2)
    low, high = processes
    started = await start_bot(fake, low.bot(None, None, daily_budget=4))
    assert len(fake.gateway.identifies) == 2
    await fake.gateway.invalidate(shard_id=1)  # the 3rd and 4th identifies: within budget
    await fake.wait_for_gateway("identify", 3)
    await fake.gateway.invalidate(shard_id=1)
    await fake.wait_for_gateway("identify", 4)
    await fake.gateway.invalidate(shard_id=1)  # a 5th would pass the budget: the guard stops
    [ended] = await asyncio.gather(started.task, return_exceptions=True)
    assert isinstance(ended, IdentifyBudgetExhausted)
    assert "identified 4 times in the last 24 h" in str(ended)
    assert len(fake.gateway.identifies) == 4 and started.bot.is_closed()
    start_bot.started.remove(started)
    with contextlib.suppress(IdentifyBudgetExhausted):
        await started.stop()
    for thread in threading.enumerate():  # no heartbeat left behind by the refused IDENTIFY
        if isinstance(thread, KeepAliveHandler):
            thread.join(timeout=2.0)
            assert not thread.is_alive()

    # The budget is the cluster's: another process sharing the database may not start either.
    with pytest.raises(IdentifyBudgetExhausted, match="not starting 2 shard"):
        await start_bot(fake, high.bot(None, None, daily_budget=5))
    assert len(fake.gateway.identifies) == 4


async def test_a_gateway_outside_the_guard_costs_one_refused_identify_not_a_storm(
    postgres_url: str,
    processes: tuple[Process, Process],
    discord_fake_factory: FakeFactory,
    start_bot: BotStarter,
) -> None:
    # Another client of the same bot identified shard 0 without asking the ledger (an old
    # deployment, a script): our shard 1 (same bucket) is refused once, then waits its turn.
    window = 1.0  # long enough that our start surely comes inside the other's window
    fake = await _sharded_fake(discord_fake_factory, shard_count=2, identify_window=window)
    await start_bot(fake, lambda: ShardedPaperTestBot(shard_ids=[0], shard_count=2))
    low, _ = processes
    await start_bot(fake, low.bot([1], 2, window=window))
    records = fake.gateway.identifies
    assert [(r.shard[0], r.accepted) for r in records] == [(0, True), (1, False), (1, True)]
    assert records[2].at - records[1].at >= window  # waited its turn after the refusal
