"""The gateway: login, READY and GUILD_CREATE as discord.py sees them, heartbeats, RESUME with
replay after a dropped connection, invalid sessions, sharding, refused tokens and intents."""

from __future__ import annotations

import asyncio

import discord
import pytest

from tests.discord_fake.testbot import PaperTestBot, ShardedPaperTestBot
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.fixtures import BotStarter, FakeFactory, StartedBot


async def test_bot_logs_in_and_sees_the_guild(
    discord_fake: FakeDiscord, start_bot: BotStarter
) -> None:
    fake, world = discord_fake, discord_fake.world
    assert world is not None
    started = await start_bot(fake, PaperTestBot)
    bot = started.bot

    assert bot.user is not None and bot.user.id == fake.bot_user.id
    assert bot.application_id == fake.application_id
    assert bot.setup_runs == 1
    assert [r.key for r in fake.requests[:2]] == ["GET /users/@me", "GET /oauth2/applications/@me"]
    connection = fake.gateway.connections[0]
    assert connection.query["v"] == "10" and connection.query["encoding"] == "json"

    guild = bot.get_guild(world.guild.id)
    assert guild is not None and guild.name == "Paper Lab"
    assert isinstance(guild.get_channel(world.papers.id), discord.TextChannel)
    assert isinstance(guild.get_channel(world.forum.id), discord.ForumChannel)
    assert [t.name for t in guild.get_channel(world.forum.id).available_tags] == ["cs.LG", "cs.CL"]
    thread = guild.get_thread(world.thread.id)
    assert thread is not None and thread.parent_id == world.papers.id
    assert {r.name for r in guild.roles} >= {"@everyone", "moderators", "paperbot"}
    assert guild.me is not None and guild.me.id == fake.bot_user.id


async def test_discord_py_computes_the_same_permissions_as_the_fake(
    discord_fake: FakeDiscord, start_bot: BotStarter
) -> None:
    world = discord_fake.world
    assert world is not None
    bot = (await start_bot(discord_fake, PaperTestBot)).bot
    guild = bot.get_guild(world.guild.id)
    assert guild is not None and guild.me is not None
    for channel in (world.papers, world.forum, world.readonly, world.hidden):
        mine = discord_fake.state.bot_permissions_in(channel)
        theirs = guild.get_channel(channel.id).permissions_for(guild.me).value  # type: ignore[union-attr]
        assert mine == theirs, channel.name
    assert not guild.get_channel(world.readonly.id).permissions_for(guild.me).send_messages  # type: ignore[union-attr]
    assert not guild.get_channel(world.hidden.id).permissions_for(guild.me).view_channel  # type: ignore[union-attr]


async def test_heartbeats_are_acknowledged(
    discord_fake: FakeDiscord, start_bot: BotStarter
) -> None:
    await start_bot(discord_fake, PaperTestBot)
    frames = discord_fake.gateway.frames
    assert [f.op for f in frames if f.direction == "out"][:2] == [10, 11]  # HELLO, then the ACK
    assert any(f.direction == "in" and f.op == 1 for f in frames)


async def test_resume_after_a_dropped_connection_replays_missed_events(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    bot = started_bot.bot
    channel = bot.get_channel(world.papers.id)
    assert isinstance(channel, discord.TextChannel)

    resumed = asyncio.ensure_future(bot.wait_for("resumed"))
    async with discord_fake.gateway.outage():
        missed = await channel.send("sent while the gateway was down")
    await asyncio.wait_for(resumed, timeout=5)
    assert bot.resumed == 1

    assert discord_fake.gateway.count("identify") == 1
    resumed = discord_fake.gateway.connections[-1]
    assert resumed.path == "/resume-gateway" and resumed.kind == "resume"
    replayed = [
        f
        for f in discord_fake.gateway.frames
        if f.connection == resumed.number and f.t == "MESSAGE_CREATE"
    ]
    assert [f.d["id"] for f in replayed] == [str(missed.id)]
    assert missed.id in bot.seen_messages
    record = await discord_fake.invoke("ping")
    await discord_fake.wait_for_callback(record)
    assert record.callbacks[0].status == 200


async def test_invalid_session_makes_the_bot_identify_again(
    discord_fake: FakeDiscord, start_bot: BotStarter
) -> None:
    await start_bot(discord_fake, PaperTestBot)
    first = discord_fake.gateway.current_session()
    await discord_fake.invalidate_session(resumable=False)
    await discord_fake.wait_for_gateway("identify", 2)
    second = discord_fake.gateway.current_session()
    assert first is not None and second is not None and second.id != first.id
    assert discord_fake.gateway.connections[-1].path == "/gateway"


async def test_reconnect_opcode_resumes(discord_fake: FakeDiscord, start_bot: BotStarter) -> None:
    await start_bot(discord_fake, PaperTestBot)
    await discord_fake.request_reconnect()
    await discord_fake.wait_for_gateway("resume")
    assert discord_fake.gateway.count("identify") == 1


async def test_dropping_the_connection_resumes_the_same_session(
    discord_fake: FakeDiscord, start_bot: BotStarter
) -> None:
    await start_bot(discord_fake, PaperTestBot)
    session = discord_fake.gateway.current_session()
    await discord_fake.drop_gateway()
    await discord_fake.wait_for_gateway("resume")
    assert discord_fake.gateway.current_session() is session
    assert session is not None and session.connection is discord_fake.gateway.connections[-1]


async def test_auto_sharded_bot_asks_for_the_gateway_and_opens_every_shard(
    discord_fake_factory: FakeFactory, start_bot: BotStarter
) -> None:
    fake = await discord_fake_factory(shard_count=2)
    world = fake.world
    assert world is not None
    started: StartedBot[ShardedPaperTestBot] = await start_bot(fake, ShardedPaperTestBot)
    assert fake.request_count("GET /gateway/bot") == 1
    assert sorted(s.shard for s in fake.gateway.sessions.values()) == [(0, 2), (1, 2)]
    assert started.bot.get_guild(world.guild.id) is not None
    await started.bot.tree.sync()
    record = await fake.invoke("ping")
    await fake.wait_for_callback(record)
    owner = fake.gateway.session_for(world.guild.id)
    assert owner is not None and owner.shard[0] == (world.guild.id >> 22) % 2


async def test_a_wrong_token_is_refused(discord_fake: FakeDiscord, start_bot: BotStarter) -> None:
    with pytest.raises(discord.LoginFailure):
        await start_bot(discord_fake, PaperTestBot, token="not-the-token")
    assert discord_fake.invalid_request_count() == 1
    assert discord_fake.gateway.connections == []


async def test_privileged_intents_must_be_enabled(
    discord_fake: FakeDiscord, start_bot: BotStarter
) -> None:
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await start_bot(discord_fake, lambda: PaperTestBot(intents=discord.Intents.all()))
    assert discord_fake.gateway.connections[0].close_code == 4014


async def test_without_the_guilds_intent_there_is_no_guild_create_but_commands_work(
    discord_fake: FakeDiscord, start_bot: BotStarter
) -> None:
    started = await start_bot(discord_fake, lambda: PaperTestBot(intents=discord.Intents.none()))
    assert not any(f.t == "GUILD_CREATE" for f in discord_fake.gateway.frames)
    await started.bot.tree.sync()
    record = await discord_fake.invoke("ping")
    await discord_fake.wait_for_callback(record)
    assert record.callbacks[0].status == 200
