"""Hostile users: crafted interactions that Discord's client would never send, or would hide.

Members without Manage Channels sending every feed action anyway (`force=True`), feed names of
another guild, a DM, options beyond the registered limits, and one user spamming a command.
None of them may change what it should not, and every one gets a clear, private answer.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from bot.models import FeedSpec
from tests.fakes.discord import Perm
from tests.fakes.discord.state import INTENT_GUILDS
from tests.reliability.conftest import LiveBot
from tests.reliability.support import db_rows, record_figures

NEEDS_MANAGER = "You need the **Manage Channels** permission"


def snapshot(live: LiveBot) -> list[Any]:
    """Everything a feed command could change: feeds and the outbox."""
    db = Path(live.store.path)
    return db_rows(db, "SELECT * FROM feeds ORDER BY id") + db_rows(
        db, "SELECT * FROM deliveries ORDER BY id"
    )


async def reply_to(
    live: LiveBot, command: str, options: dict[str, Any] | None = None, **who: Any
) -> str:
    record = await live.fake.invoke(command, options or {}, **who)
    message = await live.fake.wait_for_original(record, timeout=10)
    assert message.ephemeral and not message.pings.any
    return message.content


async def seed(live: LiveBot) -> None:
    spec = FeedSpec(name="secret", channel_id=live.world.papers.id, query="causal", backfill=0)
    feed = await live.store.feeds.add(spec, guild_id=live.world.guild.id)
    paused = FeedSpec(name="sleeping", channel_id=live.world.papers.id, query="graph", backfill=0)
    sleeping = await live.store.feeds.add(paused, guild_id=live.world.guild.id)
    await live.store.feeds.set_paused(sleeping.id, True, "paused by an admin")
    assert feed.id


ACTIONS: list[tuple[str, dict[str, Any]]] = [
    ("feed add", {"name": "hijack", "query": "anything"}),
    ("feed list", {}),
    ("feed remove", {"name": "secret"}),
    ("feed pause", {"name": "secret"}),
    ("feed resume", {"name": "sleeping"}),
]


def plain_member(live: LiveBot, name: str, roles: list[int] = []) -> Any:  # noqa: B006
    """A fresh member without Manage Channels (fresh, so the per-user cooldown stays aside)."""
    state = live.fake.state
    return state.add_member(live.world.guild.id, state.add_user(name), roles=roles)


async def test_members_without_manage_channels_change_nothing(live: LiveBot) -> None:
    await seed(live)
    before = snapshot(live)
    # plain members (Discord hides /feed from them), then a role that only looks powerful
    role = live.fake.state.add_role(live.world.guild.id, "moderators?", Perm.MANAGE_MESSAGES)
    for roles in ([], [role.id]):
        for n, (command, options) in enumerate(ACTIONS):
            member = plain_member(live, f"plain-{len(roles)}-{n}", roles)
            text = await reply_to(live, command, options, member=member, force=True)
            assert NEEDS_MANAGER in text, (command, text)
    # preview reads only, and says so
    member = plain_member(live, "reader")
    text = await reply_to(live, "feed preview", {"query": "causal"}, member=member, force=True)
    assert "match" in text
    assert snapshot(live) == before
    record_figures("hostile-users/no-permission", crafted=2 * len(ACTIONS) + 1, changed=0)


async def other_guild(live: LiveBot) -> tuple[Any, Any, Any]:
    """A second guild the bot is in, with its own moderator and channel."""
    state = live.fake.state
    guild = state.add_guild("Other Lab")
    mods = state.add_role(guild.id, "other-mods", Perm.MANAGE_CHANNELS)
    channel = state.add_channel(guild.id, "other-papers")
    eve = state.add_member(guild.id, state.add_user("eve"), roles=[mods.id])
    await live.fake.dispatch(
        "GUILD_CREATE", state.guild_create_json(guild), guild_id=guild.id, intent=INTENT_GUILDS
    )
    await live.fake.wait_for_bot(lambda: live.bot.get_guild(guild.id) is not None)
    return guild, channel, eve


async def test_feed_names_and_channels_of_another_guild_are_out_of_reach(live: LiveBot) -> None:
    await seed(live)
    before = snapshot(live)
    guild, channel, eve = await other_guild(live)
    here = {"member": eve, "channel": channel}
    for command, options in ACTIONS[2:]:
        text = await reply_to(live, command, options, **here)
        assert "There is no feed named" in text, (command, text)
    listing = await reply_to(live, "feed list", **here)
    assert "secret" not in listing and "sleeping" not in listing
    auto = await live.fake.autocomplete("feed remove", {"name": "s"}, focused="name", **here)
    await live.fake.wait_for_callback(auto)
    assert auto.callbacks[0].body["data"]["choices"] == []
    # a channel of the other guild, picked by id: refused, nothing created
    text = await reply_to(
        live, "feed add", {"name": "sneaky", "query": "x", "channel": live.world.papers}, **here
    )
    assert "Pick a text channel" in text or "can't post" in text, text
    assert snapshot(live) == before
    # eve's own feed in her guild works, and stays there
    text = await reply_to(live, "feed add", {"name": "secret", "query": "causal"}, **here)
    assert "will post to" in text
    names = {(f.name, f.guild_id) for f in await live.store.feeds.list()}
    assert {("secret", live.world.guild.id), ("secret", guild.id)} <= names
    record_figures("hostile-users/other-guild", crafted=len(ACTIONS) + 2, changed=0)


async def test_a_dm_manages_no_feed(live: LiveBot) -> None:
    await seed(live)
    before = snapshot(live)
    for command, options in ACTIONS:
        text = await reply_to(live, command, options, dm=True, user=live.world.mod.user, force=True)
        assert "Feeds live in servers" in text, (command, text)
    assert snapshot(live) == before
    record_figures("hostile-users/dm", crafted=len(ACTIONS), changed=0)


OVERSIZED: list[tuple[str, Any]] = [
    ("name", "n" * 10_000),
    ("name", "   "),
    ("query", "causal " * 20_000),
    ("digest_time", "9" * 1_000),
    ("min_upvotes", 10**18),
    ("backfill", -5),
    ("backfill", 10**6),
    ("mode", "everything"),
]


async def test_options_beyond_the_registered_limits_change_nothing(live: LiveBot) -> None:
    """Discord enforces the limits it was given; a crafted payload that skips them is refused."""
    await seed(live)
    fake = live.fake
    before = snapshot(live)
    for option, value in OVERSIZED:
        record = await fake.invoke(
            "feed add", {"name": "big", "query": "causal"}, member=live.world.mod, deliver=False
        )
        payload = copy.deepcopy(record.payload)
        (sub,) = payload["data"]["options"]
        sub["options"] = [o for o in sub["options"] if o["name"] != option]
        sub["options"].append(
            {"name": option, "type": 3 if isinstance(value, str) else 4, "value": value}
        )
        record.payload = payload
        await fake.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=record.guild_id)
        message = await fake.wait_for_original(record, timeout=10)
        assert message.ephemeral and not message.pings.any, option
        assert "will post to" not in message.content, (option, message.content)
        assert len(message.content) <= 2000
    assert snapshot(live) == before
    assert not live.started.errors, [e.getMessage() for e in live.started.errors]
    record_figures("hostile-users/oversized", crafted=len(OVERSIZED), changed=0)


async def test_command_spam_from_one_user_meets_a_friendly_cooldown(live: LiveBot) -> None:
    await seed(live)
    fake = live.fake
    mod = live.world.mod
    texts = [await reply_to(live, "feed list", member=mod) for _ in range(15)]
    slowed = [t for t in texts if t.startswith("Slow down")]
    assert 1 <= len(slowed) <= 10 and texts[0].startswith("**")
    assert all("try again in" in t for t in slowed)
    # feed creation spam (from a second account): a bounded number of feeds, all answered
    spammer = fake.state.add_member(
        live.world.guild.id, fake.state.add_user("spammer"), roles=[live.world.moderators.id]
    )
    before = len(await live.store.feeds.list())
    for n in range(15):
        await reply_to(live, "feed add", {"name": f"spam-{n}", "query": "causal"}, member=spammer)
    made = len(await live.store.feeds.list()) - before
    assert 1 <= made <= 10
    # another moderator is not slowed by the spammer
    other = fake.state.add_member(
        live.world.guild.id, fake.state.add_user("calm-mod"), roles=[live.world.moderators.id]
    )
    assert not (await reply_to(live, "feed list", member=other)).startswith("Slow down")
    record_figures("hostile-users/spam", sent=30, slowed=len(slowed) + (15 - made), feeds_made=made)
