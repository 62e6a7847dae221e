"""Issue 13: /feed add and the Follow button create feeds through the one feeds gate."""

from __future__ import annotations

import copy

from tests.discord.conftest import Harness
from tests.discord.test_reader import with_corpus

# The same out-of-range value is refused with these same words by every entry point (see
# tests/test_config.py and tests/ops/test_feeds_cli.py).
BACKFILL_REFUSED = "backfill: expected a number from 0 to 50, got 99"
UPVOTES_REFUSED = "min_upvotes: expected a whole number from 0 to 1000000, got 1000001"


async def crafted_feed_add(h: Harness, option: str, value: int) -> str:
    """/feed add with one integer option set past the registered range, as a crafted client might."""
    world = h.fake.world
    assert world is not None
    record = await h.fake.invoke(
        "feed add", {"name": "big", "query": "causal"}, member=world.mod, deliver=False
    )
    payload = copy.deepcopy(record.payload)
    (sub,) = payload["data"]["options"]
    sub["options"] = [o for o in sub["options"] if o["name"] != option]
    sub["options"].append({"name": option, "type": 4, "value": value})
    record.payload = payload
    await h.fake.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=record.guild_id)
    message = await h.fake.wait_for_original(record, timeout=10)
    assert message.ephemeral
    return message.content


async def test_feed_add_refuses_what_the_config_refuses_in_the_same_words(harness: Harness) -> None:
    h = harness
    assert BACKFILL_REFUSED in await crafted_feed_add(h, "backfill", 99)
    assert UPVOTES_REFUSED in await crafted_feed_add(h, "min_upvotes", 1_000_001)
    assert await h.store.feeds.list() == []


async def test_feed_add_takes_the_limits_it_registers(harness: Harness) -> None:
    h = harness
    """Backfill 11..50 was refused from Discord and accepted from the config: one set now."""
    text = await crafted_feed_add(h, "backfill", 50)
    assert "will post to" in text, text
    (feed,) = await h.store.feeds.list()
    assert feed.spec.backfill == 50


async def test_follow_accepts_a_forum_channel_as_feed_add_does(harness: Harness) -> None:
    h = harness
    """The Follow button refused forum channels that /feed add accepts (issue 13 drift)."""
    world = h.fake.world
    assert world is not None
    await with_corpus(h)
    record = await h.fake.invoke(
        "search", {"query": "diffusion video"}, member=world.mod, channel=world.forum
    )
    reply = await h.fake.wait_for_original(record)
    click = await h.fake.click(reply, "search:follow", member=world.mod)
    done = await h.fake.wait_for_original(click)
    assert done.ephemeral and "Following" in done.content, done.content
    (feed,) = await h.store.feeds.list(guild_id=world.guild.id)
    assert feed.channel_id == world.forum.id
