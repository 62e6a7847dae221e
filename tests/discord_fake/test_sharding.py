"""Sharding in the fake: guilds routed by Discord's formula to the process that owns the shard,
identify buckets with max_concurrency, op 9 for a too-early IDENTIFY, the daily IDENTIFY limit
and GET /gateway/bot's session_start_limit, all seen by real discord.py AutoShardedBots."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
import discord

from tests.discord_fake.testbot import ShardedPaperTestBot
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.fixtures import BotStarter, FakeFactory


async def _gateway_bot(fake: FakeDiscord) -> dict[str, Any]:
    headers = {"Authorization": f"Bot {fake.token}", "User-Agent": "DiscordBot (test, 1)"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{fake.api_base}/gateway/bot", headers=headers) as response,
    ):
        assert response.status == 200
        data: dict[str, Any] = await response.json()
        return data


class CountingBot(ShardedPaperTestBot):
    """Counts the interactions it received, to tell which process a guild's events reach."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.interactions_seen: list[int] = []

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        self.interactions_seen.append(interaction.guild_id)


def test_guilds_made_for_sharding_spread_over_every_shard() -> None:
    fake = FakeDiscord(shard_count=4, world=False)
    guilds = fake.add_guilds(12)
    shards = [fake.shard_of(g.id) for g, _ in guilds]
    assert sorted(shards) == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert fake.shard_of(guilds[0][0].id, 1) == 0


async def test_four_shards_carry_each_guild_on_its_own_shard(
    discord_fake_factory: FakeFactory, start_bot: BotStarter
) -> None:
    fake = await discord_fake_factory(shard_count=4, world=False, openapi=None)
    guilds = fake.add_guilds(40)
    started = await start_bot(fake, CountingBot)
    bot = started.bot
    assert bot.shard_count == 4 and sorted(bot.shards) == [0, 1, 2, 3]
    assert len(bot.guilds) == 40
    for guild in bot.guilds:
        assert guild.shard_id == fake.shard_of(guild.id)
    # on_ready may come before the last GUILD_CREATE is out (discord.py waits 50 ms for them)
    await fake.wait_until(
        lambda: sum(f.t == "GUILD_CREATE" for f in fake.gateway.frames) == 40,
        what="every GUILD_CREATE",
    )
    sessions = sorted(fake.gateway.sessions.values(), key=lambda s: s.shard)
    created: dict[int, set[int]] = {s.shard[0]: set() for s in sessions}
    for frame in fake.gateway.frames:
        if frame.t == "GUILD_CREATE":
            shard = next(s.shard[0] for s in sessions if s.connection is not None
                         and s.connection.number == frame.connection)  # fmt: skip
            created[shard].add(int(frame.d["id"]))
    for shard, ids in created.items():
        assert ids == {g.id for g, _ in guilds if fake.shard_of(g.id) == shard}
        assert len(ids) == 10


async def test_two_processes_split_the_shards_and_each_interaction_reaches_its_owner(
    discord_fake_factory: FakeFactory, start_bot: BotStarter
) -> None:
    fake = await discord_fake_factory(shard_count=4, world=False, openapi=None)
    guilds = fake.add_guilds(16)
    low = (await start_bot(fake, lambda: CountingBot(shard_ids=[0, 1], shard_count=4))).bot
    high = (await start_bot(fake, lambda: CountingBot(shard_ids=[2, 3], shard_count=4))).bot
    assert fake.request_count("GET /gateway/bot") == 0  # a fixed shard_count needs no discovery
    assert {g.id for g in low.guilds} == {g.id for g, _ in guilds if fake.shard_of(g.id) < 2}
    assert {g.id for g in high.guilds} == {g.id for g, _ in guilds if fake.shard_of(g.id) >= 2}
    await low.tree.sync()
    for guild, channel in guilds:
        record = await fake.invoke("ping", channel=channel, member=guild.members[guild.owner_id])
        await fake.wait_for_callback(record)
        assert len(record.callbacks) == 1
    assert sorted(low.interactions_seen + high.interactions_seen) == sorted(g.id for g, _ in guilds)
    assert all(fake.shard_of(g) < 2 for g in low.interactions_seen)
    assert all(fake.shard_of(g) >= 2 for g in high.interactions_seen)


async def test_gateway_bot_reports_the_session_start_limit(
    discord_fake_factory: FakeFactory, start_bot: BotStarter
) -> None:
    fake = await discord_fake_factory(
        shard_count=2, max_concurrency=2, session_start_total=50, openapi=None
    )
    before = await _gateway_bot(fake)
    assert before["shards"] == 2
    limit = before["session_start_limit"]
    assert limit["total"] == 50 and limit["remaining"] == 50 and limit["max_concurrency"] == 2
    assert 86_000_000 < limit["reset_after"] <= 86_400_000
    await start_bot(fake, ShardedPaperTestBot)
    after = await _gateway_bot(fake)
    assert after["session_start_limit"]["remaining"] == 48


async def test_a_too_early_identify_in_a_bucket_gets_op_9(
    discord_fake_factory: FakeFactory, start_bot: BotStarter
) -> None:
    # No pause between shards (the test bot's hook): shard 1 comes too early in bucket 0 and is
    # refused until the window has passed; every attempt counts against the day's limit.
    fake = await discord_fake_factory(
        shard_count=2, identify_rate_limit=True, identify_window=0.2, openapi=None
    )
    await start_bot(fake, ShardedPaperTestBot)
    refused = [r for r in fake.gateway.identifies if not r.accepted]
    assert refused and all(r.shard == (1, 2) for r in refused)
    assert any(f.op == 9 for f in fake.gateway.frames if f.direction == "out")
    accepted = [r for r in fake.gateway.identifies if r.accepted]
    assert [r.shard[0] for r in accepted] == [0, 1]
    assert accepted[1].at - accepted[0].at >= 0.2
    assert fake.gateway.identifies_today() == len(fake.gateway.identifies) > 2


async def test_different_buckets_may_identify_together(
    discord_fake_factory: FakeFactory, start_bot: BotStarter
) -> None:
    fake = await discord_fake_factory(
        shard_count=2, max_concurrency=2, identify_rate_limit=True, identify_window=30.0,
        openapi=None,
    )  # fmt: skip
    await start_bot(fake, ShardedPaperTestBot)
    assert [(r.bucket, r.accepted) for r in fake.gateway.identifies] == [(0, True), (1, True)]
    assert fake.gateway.identify_gaps() == {}


async def test_passing_the_daily_identify_limit_ends_every_session_and_resets_the_token(
    discord_fake_factory: FakeFactory, start_bot: BotStarter
) -> None:
    fake = await discord_fake_factory(shard_count=2, session_start_total=2, openapi=None)
    started = await start_bot(fake, ShardedPaperTestBot)
    old_token = fake.token
    assert not fake.token_reset
    await fake.gateway.invalidate(shard_id=1)  # the bot identifies shard 1 a third time
    await fake.wait_until(lambda: fake.token_reset, what="the token reset")
    assert fake.token != old_token
    await fake.wait_until(lambda: not fake.gateway.open_connections, what="sessions to end")
    assert fake.gateway.connections[0].close_code == 4004  # shard 0, untouched until then
    assert fake.gateway.connections[-1].close_code == 4004  # shard 1's third IDENTIFY
    [ended] = await asyncio.gather(started.task, return_exceptions=True)
    assert isinstance(ended, discord.ConnectionClosed) and ended.code == 4004
    start_bot.started.remove(started)  # stopped already: teardown must not see its error again
    with contextlib.suppress(discord.ConnectionClosed):
        await started.stop()
