"""Rate limits: discord.py paces itself from the fake's bucket headers; 429s, scripted failures,
the global limit and the invalid-request count behave as Discord documents."""

from __future__ import annotations

import asyncio
import time

import discord
import pytest

from tests.discord_fake.conftest import Raw
from tests.discord_fake.testbot import PaperTestBot, paper_embed
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.fixtures import BotStarter, FakeFactory, StartedBot

MESSAGES = "POST /channels/{channel_id}/messages"


async def test_a_burst_to_one_channel_is_paced_by_the_bucket_without_a_429_storm(
    discord_fake_factory: FakeFactory, start_bot: BotStarter
) -> None:
    fake = await discord_fake_factory(message_rate=(5, 0.4))
    world = fake.world
    assert world is not None
    started = await start_bot(fake, PaperTestBot)
    channel = started.bot.get_channel(world.papers.id)
    assert isinstance(channel, discord.TextChannel)

    began = time.monotonic()
    await asyncio.gather(*(channel.send(embed=paper_embed(i)) for i in range(12)))
    elapsed = time.monotonic() - began

    assert sorted(e["title"] for e in fake.embeds(world.papers)) == sorted(
        f"Paper {i}" for i in range(12)
    )
    assert fake.request_count(MESSAGES, status=429) == 0
    assert elapsed >= 0.8  # 12 messages at 5 per 0.4 s need at least two full windows


async def test_bucket_headers_and_the_429_body(discord_fake_factory: FakeFactory) -> None:
    fake = await discord_fake_factory(message_rate=(2, 30.0))
    world = fake.world
    assert world is not None
    import aiohttp

    from tests.discord_fake.conftest import Raw

    async with aiohttp.ClientSession() as session:
        raw = Raw(fake, session)
        path = f"/channels/{world.papers.id}/messages"
        status, _, headers = await raw("POST", path, {"content": "1"})
        assert status == 200
        assert headers["X-RateLimit-Limit"] == "2" and headers["X-RateLimit-Remaining"] == "1"
        assert 29 < float(headers["X-RateLimit-Reset-After"]) <= 30
        assert float(headers["X-RateLimit-Reset"]) > time.time() + 29
        assert headers["X-RateLimit-Bucket"] and headers["Via"]
        assert headers["Content-Type"] == "application/json"
        await raw("POST", path, {"content": "2"})
        status, body, headers = await raw("POST", path, {"content": "3"})
        other_channel = await raw("POST", f"/channels/{world.thread.id}/messages", {"content": "4"})

    assert status == 429
    assert body["message"] == "You are being rate limited." and body["global"] is False
    assert 29 < body["retry_after"] <= 30
    assert (
        headers["X-RateLimit-Scope"] == "user"
        and headers["Via"]
        and int(headers["Retry-After"]) >= 29
    )
    assert other_channel[0] == 200  # buckets are per channel
    assert [r.status for r in fake.invalid_requests] == [429]
    fake.clock.advance(30)
    async with aiohttp.ClientSession() as session:
        assert (await Raw(fake, session)("POST", path, {"content": "5"}))[0] == 200


async def test_the_global_limit_spares_interaction_routes(
    discord_fake_factory: FakeFactory,
) -> None:
    import aiohttp

    fake = await discord_fake_factory(global_rate=(3, 60.0))
    async with aiohttp.ClientSession() as session:
        raw = Raw(fake, session)
        statuses = [(await raw("GET", "/users/@me"))[0] for _ in range(3)]
        status, body, headers = await raw("GET", "/gateway/bot")
        callback = await raw("POST", "/interactions/1/nope/callback", {"type": 4}, auth=False)

    assert statuses == [200, 200, 200]
    assert status == 429 and body["global"] is True
    assert headers["X-RateLimit-Global"] == "true" and headers["X-RateLimit-Scope"] == "global"
    assert callback[0] == 404 and callback[1]["code"] == 10062  # judged, not rate limited


async def test_discord_py_waits_out_a_global_429(
    discord_fake_factory: FakeFactory, start_bot: BotStarter
) -> None:
    fake = await discord_fake_factory(global_rate=(3, 0.3))
    world = fake.world
    assert world is not None
    started = await start_bot(fake, PaperTestBot)  # 2 requests: users/@me, applications/@me
    channel = started.bot.get_partial_messageable(world.papers.id)
    await asyncio.gather(*(channel.send(f"m{i}") for i in range(3)))
    assert len(fake.messages(world.papers)) == 3
    assert fake.request_count(status=429) >= 1


async def test_scripted_429_is_retried(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    discord_fake.script(route="POST /channels/{id}/messages", statuses=[429], retry_after=0.05)
    await started_bot.bot.get_partial_messageable(world.papers.id).send("after a 429")

    assert [r.status for r in discord_fake.requests_to(MESSAGES)] == [429, 200]
    assert discord_fake.requests_to(MESSAGES)[0].scripted
    assert discord_fake.invalid_request_count() == 1


async def test_shared_429s_are_not_invalid_requests(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    discord_fake.script(route=MESSAGES, statuses=[429], retry_after=0.01, scope="shared")
    await started_bot.bot.get_partial_messageable(world.papers.id).send("shared")
    assert discord_fake.request_count(MESSAGES, status=429) == 1
    assert discord_fake.invalid_request_count() == 0


async def test_scripted_server_errors(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    channel = started_bot.bot.get_partial_messageable(world.papers.id)
    discord_fake.script(route=MESSAGES, statuses=[503], match={"channel_id": world.papers.id})
    with pytest.raises(discord.DiscordServerError) as caught:
        await channel.send("503 is not retried by discord.py")
    assert caught.value.status == 503

    discord_fake.script(route=MESSAGES, statuses=[500])
    await channel.send("500 is retried once, after a second")
    assert [r.status for r in discord_fake.requests_to(MESSAGES)] == [503, 500, 200]
    assert discord_fake.request_count(MESSAGES) == 3


async def test_scripts_can_target_one_channel(discord_fake: FakeDiscord, raw: Raw) -> None:
    world = discord_fake.world
    assert world is not None
    discord_fake.script(route=MESSAGES, statuses=[403], match={"channel_id": world.thread.id})
    assert (await raw("POST", f"/channels/{world.papers.id}/messages", {"content": "a"}))[0] == 200
    status, body, _ = await raw("POST", f"/channels/{world.thread.id}/messages", {"content": "b"})
    assert (status, body["code"]) == (403, 50013)
    assert (await raw("POST", f"/channels/{world.thread.id}/messages", {"content": "c"}))[0] == 200


async def test_invalid_requests_are_timestamped_for_a_ten_minute_budget(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    channel = started_bot.bot.get_partial_messageable(world.readonly.id)
    for _ in range(3):
        with pytest.raises(discord.Forbidden):
            await channel.send("refused")
    assert discord_fake.invalid_request_count(window=600) == 3
    assert [r.status for r in discord_fake.invalid_requests] == [403, 403, 403]
    discord_fake.clock.advance(601)
    assert discord_fake.invalid_request_count(window=600) == 0
    assert len(discord_fake.invalid_requests) == 3
