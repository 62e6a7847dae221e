"""Channels, messages, threads and forum posts through discord.py's own methods, with Discord's
errors (403 50013 / 50001, 404 10003) surfacing as discord.py's exceptions."""

from __future__ import annotations

import io

import discord
import pytest

from tests.discord_fake.conftest import Raw
from tests.discord_fake.testbot import PaperTestBot, paper_embed
from tests.fakes.discord import FakeDiscord, Perm
from tests.fakes.discord.fixtures import StartedBot


def text_channel(started: StartedBot[PaperTestBot], channel_id: int) -> discord.TextChannel:
    channel = started.bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_embeds_posted_to_a_channel_are_recorded_and_readable(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    channel = text_channel(started_bot, world.papers.id)
    sent = await channel.send(embeds=[paper_embed(0), paper_embed(1)])

    [message] = discord_fake.messages(world.papers)
    assert message.id == sent.id and [e["title"] for e in message.embeds] == ["Paper 0", "Paper 1"]
    assert message.request["enforce_nonce"] is True and message.nonce is not None
    history = [m async for m in channel.history(limit=10)]
    assert [m.id for m in history] == [sent.id]
    assert history[0].embeds[1].title == "Paper 1"
    fetched = await channel.fetch_message(sent.id)
    assert fetched.embeds[0].fields[0].value == "10"


async def test_edit_and_delete(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    channel = text_channel(started_bot, world.papers.id)
    sent = await channel.send("v1")
    await sent.edit(content="v2", embed=paper_embed(3))
    await sent.delete()

    assert [(e.before["content"], e.after["content"]) for e in discord_fake.edits] == [("v1", "v2")]
    assert [d.message_id for d in discord_fake.deletions] == [sent.id]
    assert discord_fake.messages(world.papers) == []
    with pytest.raises(discord.NotFound) as caught:
        await channel.fetch_message(sent.id)
    assert caught.value.code == 10008


async def test_forbidden_when_the_bot_cannot_send(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    with pytest.raises(discord.Forbidden) as caught:
        await text_channel(started_bot, world.readonly.id).send("hello")
    assert (caught.value.status, caught.value.code) == (403, 50013)


async def test_embeds_need_embed_links(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    await discord_fake.forbid_channel(world.papers, deny=Perm.EMBED_LINKS)
    channel = text_channel(started_bot, world.papers.id)
    with pytest.raises(discord.Forbidden) as caught:
        await channel.send(embed=paper_embed(0))
    assert caught.value.code == 50013
    await channel.send("plain text still works")
    assert [m.content for m in discord_fake.messages(world.papers)] == ["plain text still works"]


async def test_missing_access_without_view_channel(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    with pytest.raises(discord.Forbidden) as caught:
        await started_bot.bot.get_partial_messageable(world.hidden.id).send("psst")
    assert caught.value.code == 50001


async def test_a_channel_deleted_mid_test_is_not_found(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    channel = text_channel(started_bot, world.papers.id)
    await channel.send("before")
    await discord_fake.delete_channel(world.papers, notify=False)  # the bot's cache still has it
    with pytest.raises(discord.NotFound) as caught:
        await channel.send("after")
    assert (caught.value.status, caught.value.code) == (404, 10003)
    with pytest.raises(discord.NotFound):
        await started_bot.bot.fetch_channel(world.papers.id)


async def test_a_channel_flipped_to_forbidden_mid_test(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    channel = text_channel(started_bot, world.papers.id)
    await channel.send("allowed")
    await discord_fake.forbid_channel(world.papers, notify=True)
    with pytest.raises(discord.Forbidden):
        await channel.send("refused")
    assert discord_fake.invalid_request_count() == 1


async def test_threads_need_send_messages_in_threads(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    thread = started_bot.bot.get_channel(world.thread.id)
    assert isinstance(thread, discord.Thread)
    await thread.send(embed=paper_embed(0))
    await discord_fake.forbid_channel(world.thread, deny=Perm.SEND_MESSAGES_IN_THREADS)
    with pytest.raises(discord.Forbidden):
        await thread.send("no longer")
    await text_channel(started_bot, world.papers.id).send("the parent channel is still fine")
    assert len(discord_fake.messages(world.thread)) == 1


async def test_creating_threads(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    channel = text_channel(started_bot, world.papers.id)
    plain = await channel.create_thread(
        name="weekly digest", type=discord.ChannelType.public_thread
    )
    post = await channel.send(embed=paper_embed(7))
    from_message = await post.create_thread(name="Paper 7", auto_archive_duration=1440)
    await from_message.send("discuss here")

    assert from_message.id == post.id  # Discord gives a message's thread the message's id
    assert [t.name for t in discord_fake.threads(world.papers)] == ["weekly digest", "Paper 7"]
    assert discord_fake.messages(from_message.id)[0].content == "discuss here"
    assert plain.id in {t.id for t in discord_fake.threads()}
    with pytest.raises(discord.HTTPException) as caught:
        await post.create_thread(name="again")
    assert caught.value.code == 160004


async def test_forum_posts(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    forum = started_bot.bot.get_channel(world.forum.id)
    assert isinstance(forum, discord.ForumChannel)
    tag = forum.available_tags[0]
    created = await forum.create_thread(name="Paper 1", embed=paper_embed(1), applied_tags=[tag])

    [post] = discord_fake.threads(world.forum)
    assert post.id == created.thread.id == created.message.id
    assert post.applied_tags == [tag.id]
    assert discord_fake.embeds(post)[0]["title"] == "Paper 1"
    with pytest.raises(discord.HTTPException) as caught:
        await started_bot.bot.get_partial_messageable(world.forum.id).send(
            "a forum takes posts, not messages"
        )
    assert caught.value.code == 50008

    await discord_fake.forbid_channel(world.forum, deny=Perm.SEND_MESSAGES_IN_THREADS)
    with pytest.raises(discord.Forbidden):
        await forum.create_thread(name="Paper 2", content="refused")


async def test_a_forum_may_require_tags(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    world.forum.require_tag = True
    forum = started_bot.bot.get_channel(world.forum.id)
    assert isinstance(forum, discord.ForumChannel)
    with pytest.raises(discord.HTTPException) as caught:
        await forum.create_thread(name="untagged", content="x")
    assert caught.value.code == 40067


async def test_a_repeated_nonce_returns_the_existing_message(
    discord_fake: FakeDiscord, raw: Raw
) -> None:
    world = discord_fake.world
    assert world is not None
    body = {"content": "once", "nonce": "paper-2602.23229", "enforce_nonce": True}
    first = await raw("POST", f"/channels/{world.papers.id}/messages", body)
    again = await raw("POST", f"/channels/{world.papers.id}/messages", body)
    elsewhere = await raw("POST", f"/channels/{world.thread.id}/messages", body)
    unenforced = await raw(
        "POST", f"/channels/{world.papers.id}/messages", {**body, "enforce_nonce": False}
    )

    assert first[0] == again[0] == 200 and first[1]["id"] == again[1]["id"]
    assert elsewhere[1]["id"] != first[1]["id"] and unenforced[1]["id"] != first[1]["id"]
    assert len(discord_fake.messages(world.papers)) == 2 and discord_fake.nonce_hits == [
        int(first[1]["id"])
    ]
    discord_fake.clock.advance(discord_fake.nonce_window + 1)
    later = await raw("POST", f"/channels/{world.papers.id}/messages", body)
    assert later[1]["id"] != first[1]["id"]


async def test_allowed_mentions_decide_who_is_pinged(discord_fake: FakeDiscord, raw: Raw) -> None:
    world = discord_fake.world
    assert world is not None
    content = f"<@{world.alice.id}> <@&{world.moderators.id}> @everyone"
    path = f"/channels/{world.papers.id}/messages"

    _, default, _ = await raw("POST", path, {"content": content})
    _, none, _ = await raw("POST", path, {"content": content, "allowed_mentions": {"parse": []}})
    _, only_alice, _ = await raw(
        "POST", path, {"content": content, "allowed_mentions": {"users": [str(world.alice.id)]}}
    )
    pings = [discord_fake.message(int(m["id"])).pings for m in (default, none, only_alice)]

    # Without allowed_mentions users are pinged; the role is not mentionable and the bot may
    # not mention @everyone, so neither pings.
    assert pings[0].users == {world.alice.id} and not pings[0].roles and not pings[0].everyone
    assert not pings[1].any
    assert pings[2].users == {world.alice.id} and not pings[2].roles


async def test_the_bot_s_allowed_mentions_are_honoured(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    await text_channel(started_bot, world.papers.id).send(f"<@{world.alice.id}> a new paper")
    [message] = discord_fake.messages(world.papers)
    assert message.request["allowed_mentions"] == {"parse": []} and not message.pings.any


async def test_guild_reads(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    guild = await started_bot.bot.fetch_guild(world.guild.id)
    assert guild.name == "Paper Lab"
    channels = await guild.fetch_channels()
    assert {c.name for c in channels} == {"papers", "paper-forum", "announcements", "staff"}
    fetched = await started_bot.bot.fetch_channel(world.thread.id)
    assert isinstance(fetched, discord.Thread) and fetched.parent_id == world.papers.id
    member = await guild.fetch_member(world.alice.id)
    assert member.name == "alice"
    with pytest.raises(discord.Forbidden):
        await started_bot.bot.fetch_channel(world.hidden.id)


async def test_files_are_uploaded_as_multipart(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    channel = text_channel(started_bot, world.papers.id)
    sent = await channel.send(
        "the digest", file=discord.File(io.BytesIO(b"2602.23229\n"), "digest.txt")
    )
    [message] = discord_fake.messages(world.papers)
    assert message.id == sent.id and message.content == "the digest"
    assert [(a["filename"], a["size"]) for a in message.attachments] == [("digest.txt", 11)]

    await discord_fake.forbid_channel(world.papers, deny=Perm.ATTACH_FILES)
    with pytest.raises(discord.Forbidden):
        await channel.send(file=discord.File(io.BytesIO(b"x"), "x.txt"))
