"""Permission maths in the fake's world model, case by case (Discord's documented order)."""

from __future__ import annotations

from tests.fakes.discord import ALL_PERMISSIONS, FakeClock, Perm
from tests.fakes.discord.state import ChannelType, User, WorldState

SEND = Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES


def world() -> WorldState:
    state = WorldState(FakeClock(), User(id=1, username="bot", bot=True))
    state.users = {}
    return state


def test_owner_and_administrator_get_everything() -> None:
    state = world()
    guild = state.add_guild("g", everyone_permissions=0, bot_permissions=None)
    channel = state.add_channel(guild.id, "c")
    state.set_overwrite(channel.id, guild.id, deny=ALL_PERMISSIONS)
    admin_role = state.add_role(guild.id, "admin", Perm.ADMINISTRATOR)
    admin = state.add_member(guild.id, state.add_user("a"), roles=[admin_role.id])
    owner = guild.members[guild.owner_id]
    assert state.permissions_in(channel, owner) == ALL_PERMISSIONS
    assert state.permissions_in(channel, admin) == ALL_PERMISSIONS


def test_overwrites_apply_everyone_then_roles_then_the_member() -> None:
    state = world()
    guild = state.add_guild("g", everyone_permissions=SEND, bot_permissions=None)
    helpers = state.add_role(guild.id, "helpers")
    quiet = state.add_role(guild.id, "quiet")
    channel = state.add_channel(guild.id, "c")
    member = state.add_member(guild.id, state.add_user("m"), roles=[helpers.id, quiet.id])

    state.set_overwrite(channel.id, guild.id, deny=Perm.VIEW_CHANNEL)
    assert state.permissions_in(channel, member) == 0  # no View Channel: nothing at all

    state.set_overwrite(channel.id, helpers.id, allow=Perm.VIEW_CHANNEL)
    assert state.permissions_in(channel, member) == SEND

    # Role overwrites are combined: one role's allow beats another role's deny.
    state.set_overwrite(channel.id, quiet.id, deny=Perm.SEND_MESSAGES)
    state.set_overwrite(channel.id, helpers.id, allow=Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES)
    assert state.permissions_in(channel, member) & Perm.SEND_MESSAGES

    # The member's own overwrite comes last.
    state.set_overwrite(channel.id, member.id, deny=Perm.SEND_MESSAGES, member=True)
    assert not state.permissions_in(channel, member) & Perm.SEND_MESSAGES


def test_without_send_messages_embeds_and_files_are_implicitly_denied() -> None:
    state = world()
    guild = state.add_guild(
        "g", everyone_permissions=SEND | Perm.EMBED_LINKS | Perm.ATTACH_FILES, bot_permissions=None
    )
    channel = state.add_channel(guild.id, "c")
    member = state.add_member(guild.id, state.add_user("m"))
    assert state.permissions_in(channel, member) & Perm.EMBED_LINKS
    state.set_overwrite(channel.id, guild.id, deny=Perm.SEND_MESSAGES)
    perms = state.permissions_in(channel, member)
    assert perms & Perm.VIEW_CHANNEL and not perms & (Perm.EMBED_LINKS | Perm.ATTACH_FILES)


def test_threads_inherit_their_parent_and_need_send_messages_in_threads() -> None:
    state = world()
    guild = state.add_guild("g", everyone_permissions=SEND | Perm.EMBED_LINKS, bot_permissions=None)
    parent = state.add_channel(guild.id, "c")
    thread = state.add_thread(parent.id, "t")
    member = state.add_member(guild.id, state.add_user("m"))
    assert (
        not state.permissions_in(thread, member) & Perm.EMBED_LINKS
    )  # no Send Messages in Threads
    state.set_overwrite(parent.id, guild.id, allow=Perm.SEND_MESSAGES_IN_THREADS)
    assert state.permissions_in(thread, member) & Perm.SEND_MESSAGES_IN_THREADS
    state.set_overwrite(parent.id, guild.id, deny=Perm.VIEW_CHANNEL)
    assert state.permissions_in(thread, member) == 0


def test_private_threads_are_for_their_members_and_moderators() -> None:
    state = world()
    guild = state.add_guild("g", everyone_permissions=SEND, bot_permissions=None)
    parent = state.add_channel(guild.id, "c")
    stranger = state.add_member(guild.id, state.add_user("s"))
    keeper = state.add_member(
        guild.id,
        state.add_user("k"),
        roles=[state.add_role(guild.id, "mod", Perm.MANAGE_THREADS).id],
    )
    thread = state.add_thread(parent.id, "secret", type=ChannelType.PRIVATE_THREAD)
    assert state.permissions_in(thread, stranger) == 0
    assert state.permissions_in(thread, keeper) & Perm.VIEW_CHANNEL
    thread.member_ids.add(stranger.id)
    assert state.permissions_in(thread, stranger) & Perm.VIEW_CHANNEL


def test_snowflakes_increase_and_carry_the_clock() -> None:
    clock = FakeClock()
    state = WorldState(clock, User(id=1, username="bot", bot=True))
    first = state.ids.next()
    clock.advance(10)
    second = state.ids.next()
    assert second > first and ((second >> 22) - (first >> 22)) >= 10_000
