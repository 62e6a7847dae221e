"""Direct messages: one DM channel per user, messages recorded there, and closed DMs refused
with 403 50007 (or 50278) that count as invalid requests, as Discord counts them."""

from __future__ import annotations

import asyncio

import aiohttp
import discord
import pytest

from tests.discord_fake.conftest import Raw
from tests.discord_fake.testbot import PaperTestBot, paper_embed
from tests.fakes.discord import ChannelType, FakeDiscord, InvalidInjection
from tests.fakes.discord.fixtures import StartedBot


async def test_one_dm_channel_per_user_and_messages_recorded_there(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    user = await started_bot.bot.fetch_user(world.alice.id)
    first = await user.create_dm()
    assert discord_fake.dm_channel_of(world.alice) is not None
    status, again, _ = await _open(discord_fake, world.alice.id)
    assert status == 200 and int(again["id"]) == first.id
    assert again["type"] == int(ChannelType.DM)
    assert [int(u["id"]) for u in again["recipients"]] == [world.alice.id]

    sent = await first.send(embed=paper_embed(1))
    [dm] = discord_fake.dms(world.alice)
    assert dm.id == sent.id and dm.embeds[0]["title"] == "Paper 1"
    assert discord_fake.dms(world.mod) == []  # someone else's DMs are not alice's
    assert discord_fake.messages(world.papers) == []


async def _open(fake: FakeDiscord, user_id: int) -> tuple[int, dict[str, str], object]:
    async with aiohttp.ClientSession() as session:
        status, body, headers = await Raw(fake, session)(
            "POST", "/users/@me/channels", {"recipient_id": str(user_id)}
        )
    return status, body, headers


@pytest.mark.parametrize("code", [50007, 50278])
async def test_closed_dms_refuse_the_message_and_count_as_invalid(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot], code: int
) -> None:
    world = discord_fake.world
    assert world is not None
    discord_fake.close_dms(world.alice, code=code)
    channel = await (await started_bot.bot.fetch_user(world.alice.id)).create_dm()
    before = discord_fake.invalid_request_count()
    with pytest.raises(discord.Forbidden) as caught:
        await channel.send("hello")
    assert (caught.value.status, caught.value.code) == (403, code)
    assert "Cannot send messages to this user" in caught.value.text
    assert discord_fake.invalid_request_count() == before + 1
    assert discord_fake.dms(world.alice) == []

    discord_fake.open_dms(world.alice)
    await channel.send("hello again")
    assert [m.content for m in discord_fake.dms(world.alice)] == ["hello again"]


async def test_unknown_recipients_and_bad_codes_are_refused(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    status, body, _ = await _open(discord_fake, 12345)
    assert status == 400 and body["code"] == 50035
    world = discord_fake.world
    assert world is not None
    with pytest.raises(InvalidInjection):
        discord_fake.close_dms(world.alice, code=50013)


async def test_waiting_for_dms_wakes_on_the_send(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    channel = await (await started_bot.bot.fetch_user(world.mod.id)).create_dm()
    waiter = asyncio.create_task(discord_fake.wait_for_dms(world.mod, 2))
    await channel.send("one")
    await channel.send("two")
    assert [m.content for m in await waiter] == ["one", "two"]
