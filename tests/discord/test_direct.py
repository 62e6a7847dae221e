"""Issue 16: the Discord DirectMessenger against the loopback Discord: one channel per member,
nonces, crash reconciliation by nonce, and refusals sorted by meaning."""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp
import discord
import pytest

from bot.discord.direct import (
    FOLLOWS_BUTTON_LABEL,
    DiscordDirectMessenger,
    classify_dm,
    follows_button_id,
    stamped,
)
from bot.errors import DeliveryRetryable, DmRefused, MessageRejected
from bot.services.publisher import Posted
from tests.discord.conftest import Harness

BODY = {
    "embeds": [{"title": "A paper", "description": "Abstract."}],
    "allowed_mentions": {"parse": []},
}
OPEN = "POST /users/@me/channels"
SEND = "POST /channels/{id}/messages"


def messenger(h: Harness, seen: list[int | None] | None = None) -> DiscordDirectMessenger:
    return DiscordDirectMessenger(h.bot, on_response=seen.append if seen is not None else None)


async def test_a_dm_opens_the_channel_once_and_carries_its_nonce(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    seen: list[int | None] = []
    dm = messenger(h, seen)
    first = await dm.send_dm(world.alice.id, BODY, nonce="fd-1")
    second = await dm.send_dm(world.alice.id, BODY, nonce="fd-2")
    assert h.fake.request_count(OPEN) == 1  # cached after the first
    messages = h.fake.dms(world.alice)
    assert [m.id for m in messages] == [first.message_id, second.message_id]
    assert messages[0].request["nonce"] == "fd-1" and messages[0].request["enforce_nonce"]
    assert messages[0].embeds[0]["title"] == "A paper"
    assert messages[0].request["allowed_mentions"] == {"parse": []}
    [row] = messages[0].components
    assert row["components"][0]["label"] == FOLLOWS_BUTTON_LABEL
    assert seen == [200, 200, 200]
    assert h.fake.dms(world.mod) == []


async def test_a_repeated_nonce_returns_the_dm_already_made(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    dm = messenger(h)
    first = await dm.send_dm(world.alice.id, BODY, nonce="fd-same")
    again = await messenger(h).send_dm(world.alice.id, BODY, nonce="fd-same")  # a restarted bot
    assert again == first and len(h.fake.dms(world.alice)) == 1


async def test_find_dm_recognises_a_sent_dm_by_nonce_without_the_echoed_nonce(
    harness: Harness,
) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    sent = await messenger(h).send_dm(world.alice.id, BODY, nonce="fd-crash")
    for message in h.fake.dms(world.alice):
        message.nonce = None  # Discord's history does not echo nonces: the button must do
    fresh = messenger(h)  # after a crash, nothing cached
    assert await fresh.find_dm(world.alice.id, "fd-crash") == Posted(sent.message_id)
    assert await fresh.find_dm(world.alice.id, "fd-never") is None
    assert await fresh.find_dm(world.mod.id, "fd-crash") is None


@pytest.mark.parametrize("code", [50007, 50278])
async def test_closed_dms_are_refused_with_one_request(harness: Harness, code: int) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    h.fake.close_dms(world.alice, code=code)
    before = h.fake.invalid_request_count()
    with pytest.raises(DmRefused, match=str(code)):
        await messenger(h).send_dm(world.alice.id, BODY, nonce="fd-x")
    assert h.fake.request_count(SEND, status=403) == 1
    assert h.fake.invalid_request_count() == before + 1
    assert h.fake.dms(world.alice) == []


async def test_a_body_discord_refuses_is_rejected_not_retried(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    too_long = {"embeds": [{"title": "x" * 300}]}
    with pytest.raises(MessageRejected):
        await messenger(h).send_dm(world.alice.id, too_long, nonce="fd-400")
    assert h.fake.request_count(SEND) == 1 and h.fake.dms(world.alice) == []


def _http_error(cls: type[discord.HTTPException], status: int, code: int) -> Exception:
    response = SimpleNamespace(status=status, reason="x")
    return cls(response, {"code": code, "message": "m"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "meaning"),
    [
        (_http_error(discord.Forbidden, 403, 50007), DmRefused),
        (_http_error(discord.Forbidden, 403, 50278), DmRefused),
        (_http_error(discord.Forbidden, 403, 50013), DmRefused),
        (_http_error(discord.NotFound, 404, 10013), DmRefused),
        (_http_error(discord.DiscordServerError, 503, 0), DeliveryRetryable),
        (_http_error(discord.HTTPException, 429, 0), DeliveryRetryable),
        (_http_error(discord.HTTPException, 400, 50035), MessageRejected),
        (TimeoutError(), DeliveryRetryable),
        (aiohttp.ClientConnectionError(), DeliveryRetryable),
    ],
)
def test_failures_are_sorted_by_meaning(error: Exception, meaning: type[Exception]) -> None:
    assert type(classify_dm(error)) is meaning


async def test_a_forgotten_channel_is_reopened_once(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    dm = messenger(h)
    old = await dm.dm_channel(world.alice.id)
    await h.fake.delete_channel(old, notify=False)
    posted = await dm.send_dm(world.alice.id, BODY, nonce="fd-re")
    channel = h.fake.dm_channel_of(world.alice)
    assert channel is not None and channel.id != old
    assert [m.id for m in h.fake.dms(world.alice)] == [posted.message_id]


def test_stamping_adds_one_button_and_leaves_the_body_alone() -> None:
    out = stamped(BODY, "fd-1")
    assert "components" not in BODY
    assert out["components"][0]["components"][0]["custom_id"] == follows_button_id("fd-1")
    full = {"content": "x", "components": [{"type": 1, "components": []}] * 5}
    assert stamped(full, "n")["components"] == full["components"]
