"""Issue 16: /follow, /following, /unfollow, and following from /search and /paper, with the real
discord.py client against the loopback Discord. Every answer is private; a member only ever
sees and touches their own follows."""

from __future__ import annotations

import re

import pytest

from bot.discord.following import AUTHOR_SELECT_ID
from bot.services.follows import DMS_CLOSED, DMS_CLOSED_NOTICE
from tests.discord.conftest import Harness
from tests.discord.test_reader import (
    CALLBACK_UPDATE,
    answered_in_time,
    custom_ids,
    with_corpus,
)
from tests.fakes.discord.records import Message

CALLBACK_MESSAGE = 4


@pytest.fixture
def h(harness: Harness) -> Harness:
    return harness


async def names_of(h: Harness, user_id: int) -> list[str]:
    return [f.name for f in await h.bot.services.follows.following(user_id)]


async def follow(h: Harness, query: str, **options: object) -> Message:
    """/follow as a member (alice unless `member=` says otherwise); the private answer."""
    member = options.pop("member", None)
    dm = bool(options.pop("dm", False))
    kwargs: dict[str, object] = {"dm": dm}
    if dm:
        kwargs["user"] = member.user if member is not None else h.fake.world.alice.user  # type: ignore[union-attr]
    elif member is not None:
        kwargs["member"] = member
    record = await h.fake.invoke("follow", {"query": query, **options}, **kwargs)  # type: ignore[arg-type]
    return await h.fake.wait_for_original(record)


async def test_a_member_without_permissions_follows_a_query(h: Harness) -> None:
    world = h.fake.world
    assert world is not None
    await with_corpus(h)
    reply = await follow(h, "diffusion video", time="07:30")
    assert reply.ephemeral
    [name] = await names_of(h, world.alice.id)
    assert f"**{name}**" in reply.content and "7 days" in reply.content
    assert re.search(r"<t:\d+:f>", reply.content), reply.content  # when the first DM comes
    assert "07:30 UTC" in reply.content
    assert reply.embeds and reply.embeds[0]["title"].endswith(name)
    assert reply.request["allowed_mentions"] == {"parse": []} or not reply.pings.any
    assert await names_of(h, world.mod.id) == []


async def test_follow_works_in_a_dm_with_the_bot(h: Harness) -> None:
    world = h.fake.world
    assert world is not None
    reply = await follow(h, "causal discovery", dm=True, mode="instant")
    assert reply.ephemeral and "as they come" in reply.content
    assert len(await names_of(h, world.alice.id)) == 1


@pytest.mark.parametrize("query", ["-survey", "()", "x" * 301])
async def test_a_bad_query_gets_the_same_reason_as_search(h: Harness, query: str) -> None:
    world = h.fake.world
    assert world is not None
    if len(query) > 300:  # Discord itself stops it (max_length): the bot is never asked
        with pytest.raises(Exception, match="length"):
            await follow(h, query)
        return
    searched = await h.fake.wait_for_original(await h.fake.invoke("search", {"query": query}))
    followed = await follow(h, query)
    assert followed.ephemeral and followed.content == searched.content
    assert followed.content.startswith("That query can't be used: ")
    assert await names_of(h, world.alice.id) == []


async def test_following_lists_only_your_own_with_buttons_that_act_on_them(h: Harness) -> None:
    world = h.fake.world
    assert world is not None
    await follow(h, "causal discovery")
    await follow(h, "diffusion video", mode="instant")
    await follow(h, "graph neural", member=world.mod)
    [causal, diffusion] = await names_of(h, world.alice.id)

    record = await h.fake.invoke("following", {})
    listing = await h.fake.wait_for_original(record)
    assert listing.ephemeral
    text = listing.embeds[0]["description"]
    assert causal in text and diffusion in text and "graph" not in text
    ids = custom_ids(listing)
    assert set(ids) == {
        f"follows:pause:{causal}",
        f"follows:remove:{causal}",
        f"follows:pause:{diffusion}",
        f"follows:remove:{diffusion}",
    }

    click = await h.fake.click(listing, f"follows:pause:{causal}", member=world.alice)
    await h.fake.wait_for_callback(click)
    answered_in_time(click, CALLBACK_UPDATE)
    [first, _] = await h.bot.services.follows.following(world.alice.id)
    assert first.paused
    updated = h.fake.message(listing.id)
    assert "paused" in updated.embeds[0]["description"]
    assert f"follows:resume:{causal}" in custom_ids(updated)

    click = await h.fake.click(updated, f"follows:resume:{causal}", member=world.alice)
    await h.fake.wait_for_callback(click)
    assert not (await h.bot.services.follows.following(world.alice.id))[0].paused

    click = await h.fake.click(
        h.fake.message(listing.id), f"follows:remove:{diffusion}", member=world.alice
    )
    await h.fake.wait_for_callback(click)
    assert await names_of(h, world.alice.id) == [causal]
    assert len(await names_of(h, world.mod.id)) == 1


async def test_nobody_touches_anothers_follows_even_with_a_forged_button(h: Harness) -> None:
    world = h.fake.world
    assert world is not None
    await follow(h, "causal discovery")
    [name] = await names_of(h, world.alice.id)
    listing = await h.fake.wait_for_original(await h.fake.invoke("following", {}))
    # morgan presses alice's button (as a forged interaction could): it acts on morgan's own
    click = await h.fake.click(listing, f"follows:remove:{name}", member=world.mod)
    await h.fake.wait_for_callback(click)
    assert await names_of(h, world.alice.id) == [name]
    # /unfollow with alice's name: morgan has no such follow
    record = await h.fake.invoke("unfollow", {"name": name}, member=world.mod)
    refusal = await h.fake.wait_for_original(record)
    assert refusal.ephemeral and "don't follow anything named" in refusal.content
    assert await names_of(h, world.alice.id) == [name]
    # autocomplete offers morgan nothing of alice's
    typed = await h.fake.autocomplete("unfollow", {"name": ""}, focused="name", member=world.mod)
    await h.fake.wait_for_callback(typed)
    assert typed.autocomplete_choices == []
    mine = await h.fake.autocomplete("unfollow", {"name": ""}, focused="name")
    await h.fake.wait_for_callback(mine)
    assert [c["value"] for c in mine.autocomplete_choices or []] == [name, "all"]


async def test_unfollow_one_then_all(h: Harness) -> None:
    world = h.fake.world
    assert world is not None
    await follow(h, "causal discovery")
    await follow(h, "diffusion video")
    first, second = await names_of(h, world.alice.id)
    reply = await h.fake.wait_for_original(await h.fake.invoke("unfollow", {"name": first}))
    assert reply.ephemeral and f"**{first}**" in reply.content
    assert await names_of(h, world.alice.id) == [second]
    reply = await h.fake.wait_for_original(await h.fake.invoke("unfollow", {"name": "all"}))
    assert reply.ephemeral and "forgot everything" in reply.content and "1 follow" in reply.content
    assert await names_of(h, world.alice.id) == []


async def test_search_offers_follow_in_my_dms_to_everyone(h: Harness) -> None:
    world = h.fake.world
    assert world is not None
    await with_corpus(h)
    # alice (no Manage Channels) searching privately is offered DMs only
    mine = await h.fake.wait_for_original(
        await h.fake.invoke("search", {"query": "diffusion video"})
    )
    assert set(custom_ids(mine)) == {"search:open", "search:follow-dm"}
    assert custom_ids(mine)["search:follow-dm"]["label"] == "Follow in my DMs"
    click = await h.fake.click(mine, "search:follow-dm", member=world.alice)
    done = await h.fake.wait_for_original(click)
    assert done.ephemeral and "Following `diffusion video`" in done.content
    assert len(await names_of(h, world.alice.id)) == 1
    # a moderator also gets the channel feed, as before
    theirs = await h.fake.wait_for_original(
        await h.fake.invoke("search", {"query": "diffusion video"}, member=world.mod)
    )
    assert set(custom_ids(theirs)) == {"search:open", "search:follow-dm", "search:follow"}
    assert custom_ids(theirs)["search:follow"]["label"] == "Feed for this channel"
    # and in a DM with the bot, following by DM is offered too
    in_dm = await h.fake.wait_for_original(
        await h.fake.invoke("search", {"query": "diffusion video"}, dm=True)
    )
    assert "search:follow-dm" in custom_ids(in_dm) and "search:follow" not in custom_ids(in_dm)


async def test_paper_offers_to_follow_one_of_its_first_authors(h: Harness) -> None:
    world = h.fake.world
    assert world is not None
    await with_corpus(h)
    reply = await h.fake.wait_for_original(await h.fake.invoke("paper", {"id": "2611.10001"}))
    select = custom_ids(reply)[AUTHOR_SELECT_ID]
    authors = [o["value"] for o in select["options"]]
    assert 1 <= len(authors) <= 5 and authors[0] == "Mei Tanaka"
    picked = await h.fake.select(reply, AUTHOR_SELECT_ID, [authors[0]], member=world.mod)
    done = await h.fake.wait_for_original(picked)
    assert done.ephemeral and 'Following `author:"Mei Tanaka"`' in done.content
    [made] = await h.bot.services.follows.following(world.mod.id)
    assert made.query == 'author:"Mei Tanaka"'
    assert await names_of(h, world.alice.id) == []


async def test_the_reader_cooldown_applies_to_follow(h: Harness) -> None:
    answers = [(await follow(h, f"topic {i}")).content for i in range(6)]
    assert all("Following" in a for a in answers[:5])
    assert "Slow down" in answers[5]


async def test_closed_dms_are_told_once_at_the_next_command_whichever_it_is(h: Harness) -> None:
    world = h.fake.world
    assert world is not None
    await with_corpus(h)
    await follow(h, "diffusion video")
    await h.store.follows.pause_member(world.alice.id, DMS_CLOSED)
    await h.store.follows.set_notice(world.alice.id, DMS_CLOSED_NOTICE)
    # another member's commands say nothing of it
    theirs = await h.fake.invoke("search", {"query": "diffusion"}, member=world.mod)
    await h.fake.wait_for_original(theirs)
    # alice's next command, /search, is answered, then told privately
    record = await h.fake.invoke("search", {"query": "diffusion"})
    [told] = await h.fake.wait_for_followups(record, 1)
    assert told.ephemeral and "Privacy Settings" in told.content and "paused" in told.content
    # told once, and to alice only: one message in all says it
    assert [m.id for m in h.fake.messages() if "Privacy Settings" in (m.content or "")] == [told.id]
    again = await h.fake.invoke("following", {})
    listing = await h.fake.wait_for_original(again)
    assert "Privacy Settings" not in (listing.content or "")
    assert "DMs closed" in listing.embeds[0]["description"]  # the follow shows why it paused


async def test_following_shows_a_pending_notice_in_its_own_answer(h: Harness) -> None:
    world = h.fake.world
    assert world is not None
    await h.store.follows.set_notice(world.alice.id, DMS_CLOSED_NOTICE)
    listing = await h.fake.wait_for_original(await h.fake.invoke("following", {}))
    assert listing.ephemeral and listing.content.startswith("⚠️ ")
    assert "Privacy Settings" in listing.content


async def test_unfollow_all_leaves_nothing_of_the_member(h: Harness) -> None:
    world = h.fake.world
    assert world is not None
    await follow(h, "causal discovery")
    await follow(h, "graph neural", member=world.mod)
    await h.store.follows.set_notice(world.alice.id, DMS_CLOSED_NOTICE)
    reply = await h.fake.wait_for_original(await h.fake.invoke("unfollow", {"name": "all"}))
    assert reply.ephemeral and "forgot everything" in reply.content
    assert await h.store.follows.list(user_id=world.alice.id) == []
    assert await h.store.follows.take_notice(world.alice.id) is None
    assert await h.store.dms.items(user_id=world.alice.id) == []
    assert len(await h.store.follows.list(user_id=world.mod.id)) == 1


async def test_refusals_are_one_private_line_and_store_nothing(h: Harness) -> None:
    world = h.fake.world
    assert world is not None
    bad_time = await follow(h, "causal", time="25:99")
    assert bad_time.ephemeral and "08:00" in bad_time.content
    assert await names_of(h, world.alice.id) == []
    await follow(h, "causal")
    twice = await follow(h, "causal")
    assert twice.ephemeral and "already follow" in twice.content
    assert len(await names_of(h, world.alice.id)) == 1
    assert "\n" not in twice.content


async def test_the_per_member_limit_is_kept(h: Harness) -> None:
    world = h.fake.world
    assert world is not None
    settings = h.bot.services.follows.settings
    h.bot.services.follows.settings = type(settings)(max_per_user=2)
    try:
        for query in ("causal", "diffusion"):
            await h.bot.services.follows.follow(world.alice.id, query)
        refused = await follow(h, "graph")
        assert refused.ephemeral and "most allowed" in refused.content
        assert len(await names_of(h, world.alice.id)) == 2
    finally:
        h.bot.services.follows.settings = settings


async def test_follows_turned_off_say_so(h: Harness) -> None:
    world = h.fake.world
    assert world is not None
    settings = h.bot.services.follows.settings
    h.bot.services.follows.settings = type(settings)(enabled=False)
    try:
        refused = await follow(h, "causal")
        assert refused.ephemeral and "turned off" in refused.content
        assert await names_of(h, world.alice.id) == []
    finally:
        h.bot.services.follows.settings = settings
