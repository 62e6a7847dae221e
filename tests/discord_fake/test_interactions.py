"""Slash commands, autocomplete and components end to end: the real CommandTree answering the
fake's INTERACTION_CREATE, judged by Discord's callback rules (deadline, one answer, follow-ups)."""

from __future__ import annotations

import discord
import pytest

from tests.discord_fake.conftest import Raw
from tests.discord_fake.testbot import PaperTestBot
from tests.fakes.discord import FakeDiscord, InvalidInjection, Perm
from tests.fakes.discord.fixtures import BotStarter, StartedBot


async def test_a_command_answered_directly(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    record = await discord_fake.invoke("ping")
    message = await discord_fake.wait_for_original(record)

    assert [c.type for c in record.callbacks] == [4]
    assert record.callbacks[0].status == 200
    assert record.latency is not None and 0 <= record.latency < 3
    assert message.content == "pong" and not message.ephemeral
    assert message.channel_id == world.papers.id and message.interaction_id == record.id
    assert message.interaction_user is not None and message.interaction_user.id == world.alice.id
    assert not message.pings.any


async def test_a_deferred_command_followed_up_with_embeds(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    record = await discord_fake.invoke("papers", {"source": "hf", "limit": 3})
    message = await discord_fake.wait_for_original(record)

    assert record.callbacks[0].type == 5
    assert [e["title"] for e in message.embeds] == ["Paper 0", "Paper 1", "Paper 2"]
    assert record.followup_ids == []  # the first follow-up replaced "thinking…"
    assert discord_fake.edits[-1].via == "followup" and discord_fake.edits[-1].before["flags"] & 128


async def test_the_original_answer_is_edited(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    record = await discord_fake.invoke("draft")
    message = await discord_fake.wait_for_original(record)
    await discord_fake.wait_until(lambda: discord_fake.edits, what="the edit")

    assert message.content == "final" and message.embeds[0]["title"] == "Paper 0"
    assert message.history[0]["content"] == "draft"
    assert discord_fake.requests_to("PATCH /webhooks/{id}/{token}/messages/{id}")[0].path.endswith(
        "/@original"
    )


async def test_a_command_posting_to_another_channel(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    record = await discord_fake.invoke(
        "post", {"channel": world.papers, "count": 2}, member=world.mod
    )
    await discord_fake.wait_for_messages(world.papers, 3)
    reply = await discord_fake.wait_for_original(record)

    assert reply.ephemeral and reply.content == "posted 2"
    assert [e["title"] for e in discord_fake.embeds(world.papers)] == ["Paper 0", "Paper 1"]


async def test_a_command_that_cannot_post_reports_forbidden(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    record = await discord_fake.invoke("post", {"channel": world.readonly})
    reply = await discord_fake.wait_for_original(record)

    assert reply.content == "failed: 50013"
    assert (
        isinstance(started_bot.bot.errors[0], discord.Forbidden)
        and started_bot.bot.errors[0].code == 50013
    )


async def test_a_late_first_answer_gets_unknown_interaction(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    record = await discord_fake.invoke("slow")
    discord_fake.clock.advance(3.5)  # the bot is still waiting on its gate: 3.5 s pass at once
    started_bot.bot.gate.set()
    await discord_fake.wait_for_callback(record)

    assert (record.callbacks[0].status, record.callbacks[0].code) == (404, 10062)
    assert record.expired and not record.acknowledged
    assert record.latency is not None and record.latency >= 3.5
    await discord_fake.wait_for_bot(lambda: started_bot.bot.errors, what="the bot to see the error")
    assert (
        isinstance(started_bot.bot.errors[0], discord.NotFound)
        and started_bot.bot.errors[0].code == 10062
    )


async def test_the_deadline_is_configurable(discord_fake_factory, start_bot: BotStarter) -> None:  # type: ignore[no-untyped-def]
    fake = await discord_fake_factory(interaction_deadline=0.5)
    started = await start_bot(fake, PaperTestBot)
    await started.bot.tree.sync()
    record = await fake.invoke("slow")
    fake.clock.advance(0.6)
    started.bot.gate.set()
    await fake.wait_for_callback(record)
    assert record.callbacks[0].code == 10062


async def test_a_second_callback_is_refused(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot], raw: Raw
) -> None:
    record = await discord_fake.invoke("ping")
    await discord_fake.wait_for_callback(record)
    status, body, _ = await raw(
        "POST",
        f"/interactions/{record.id}/{record.token}/callback",
        {"type": 4, "data": {"content": "again"}},
        auth=False,
    )
    assert (status, body["code"]) == (400, 40060)
    assert [c.status for c in record.callbacks] == [200, 400]


async def test_follow_ups_need_an_acknowledged_unexpired_token(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot], raw: Raw
) -> None:
    record = await discord_fake.invoke("slow")  # the bot will not answer before the gate opens
    path = f"/webhooks/{discord_fake.application_id}/{record.token}"
    status, body, _ = await raw("POST", path + "?wait=true", {"content": "too early"}, auth=False)
    assert (status, body["code"]) == (404, 10015)
    started_bot.bot.gate.set()
    await discord_fake.wait_for_original(record)
    status, body, _ = await raw("POST", path + "?wait=true", {"content": "a follow-up"}, auth=False)
    assert status == 200 and body["content"] == "a follow-up"
    followup = body["id"]
    status, body, _ = await raw(
        "PATCH", f"{path}/messages/{followup}", {"content": "edited"}, auth=False
    )
    assert status == 200 and discord_fake.message(int(followup)).content == "edited"
    status, _, _ = await raw("DELETE", f"{path}/messages/{followup}", auth=False)
    assert status == 204 and discord_fake.message(int(followup)).deleted
    status, body, _ = await raw("GET", f"{path}/messages/{followup}", auth=False)
    assert (status, body["code"]) == (404, 10008)
    status, body, _ = await raw("GET", f"{path}/messages/@original", auth=False)
    assert status == 200 and body["content"] == "finally"
    discord_fake.clock.advance(15 * 60 + 1)
    status, body, _ = await raw("POST", path, {"content": "too late"}, auth=False)
    assert (status, body["code"]) == (401, 50027)
    status, body, _ = await raw("DELETE", f"{path}/messages/@original", auth=False)
    assert status == 401


async def test_autocomplete(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    record = await discord_fake.autocomplete("search", {"query": "causal"}, focused="query")
    await discord_fake.wait_for_callback(record)
    assert record.callbacks[0].type == 8
    assert record.autocomplete_choices == [
        {"name": "causal inference", "value": "causal inference"},
        {"name": "causal discovery", "value": "causal discovery"},
    ]


async def test_button_and_select(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    menu = await discord_fake.wait_for_original(await discord_fake.invoke("menu"))
    # A user clicks after seeing the menu; the bot registers the view when its answer returns.
    await discord_fake.wait_for_bot(
        lambda: started_bot.bot.persistent_views, what="the menu's view"
    )

    click = await discord_fake.click(menu, "like")
    await discord_fake.wait_for_callback(click)
    assert click.callbacks[0].type == 7 and menu.content == "liked"

    refresh = await discord_fake.click(menu, "refresh")
    await discord_fake.wait_until(lambda: menu.content == "refreshed", what="the deferred update")
    assert [c.type for c in refresh.callbacks] == [6]
    assert discord_fake.edits[-1].via == "webhook" and refresh.original_message_id == menu.id

    choice = await discord_fake.select(
        menu, "topic", ["diffusion", "language models"], member=world.mod
    )
    answer = await discord_fake.wait_for_original(choice)
    assert answer.content == "picked diffusion, language models" and answer.ephemeral
    assert answer.interaction_user is not None and answer.interaction_user.id == world.mod.id

    with pytest.raises(InvalidInjection):
        await discord_fake.select(menu, "topic", ["not an option"])
    with pytest.raises(InvalidInjection):
        await discord_fake.click(menu, "no-such-button")


async def test_a_command_in_a_dm(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    record = await discord_fake.invoke("ping", dm=True, user=world.alice.user)
    message = await discord_fake.wait_for_original(record)
    dm = discord_fake.state.channels[message.channel_id]
    assert dm.type == 1 and dm.recipient_id == world.alice.id and message.guild_id is None
    assert "member" not in record.payload and record.payload["context"] == 1


async def test_sub_commands_and_default_permissions(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    with pytest.raises(InvalidInjection, match="hides /feed"):
        await discord_fake.invoke("feed add", {"name": "causality", "query": "causal"})

    record = await discord_fake.invoke(
        "feed add", {"name": "causality", "query": "causal"}, member=world.mod
    )
    await discord_fake.wait_for_original(record)
    record = await discord_fake.invoke("feed remove", {"name": "x"}, roles=[world.moderators])
    await discord_fake.wait_for_original(record)
    record = await discord_fake.invoke(
        "feed add",
        {"name": "n", "query": "q", "backfill": 0},
        permissions=int(Perm.ADMINISTRATOR),
        force=True,
    )
    await discord_fake.wait_for_original(record)

    assert started_bot.bot.calls == [
        ("feed add", {"name": "causality", "query": "causal", "backfill": 3}),
        ("feed remove", {"name": "x"}),
        ("feed add", {"name": "n", "query": "q", "backfill": 0}),
    ]
    with pytest.raises(InvalidInjection, match="not available in DMs"):
        await discord_fake.invoke("feed remove", {"name": "x"}, dm=True)


@pytest.mark.parametrize(
    ("command", "options", "message"),
    [
        ("nope", {}, "not registered"),
        ("papers", {}, "'source' is required"),
        ("papers", {"source": "nature"}, "not one of its choices"),
        ("papers", {"source": "hf", "limit": 11}, "outside"),
        ("papers", {"source": "hf", "limit": "3"}, "takes an integer"),
        ("papers", {"source": "hf", "colour": "red"}, "no option"),
        ("feed", {}, "needs a sub-command"),
    ],
)
async def test_the_fake_only_sends_what_discord_would(
    discord_fake: FakeDiscord,
    started_bot: StartedBot[PaperTestBot],
    command: str,
    options: dict[str, object],
    message: str,
) -> None:
    with pytest.raises(InvalidInjection, match=message):
        await discord_fake.invoke(
            command, options, member=discord_fake.world.mod if discord_fake.world else None
        )


async def test_guild_commands_are_preferred_for_guild_interactions(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    world = discord_fake.world
    assert world is not None
    tree = started_bot.bot.tree
    tree.copy_global_to(guild=discord.Object(world.guild.id))
    await tree.sync(guild=discord.Object(world.guild.id))
    record = await discord_fake.invoke("ping")
    assert record.payload["data"]["guild_id"] == str(world.guild.id)
    message = await discord_fake.wait_for_original(record)
    assert message.content == "pong"


async def test_files_in_answers_and_follow_ups(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    record = await discord_fake.invoke("attach")
    [followup] = await discord_fake.wait_for_followups(record)
    original = await discord_fake.wait_for_original(record)
    assert [a["filename"] for a in original.attachments] == ["1.txt"]
    assert [(a["filename"], a["size"]) for a in followup.attachments] == [("2.txt", 4)]
