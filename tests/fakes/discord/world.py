"""A ready-made guild for tests: channels the bot can and cannot use, a forum, a thread, members."""

from __future__ import annotations

from dataclasses import dataclass

from .state import Channel, ChannelType, Guild, Member, Perm, Role, WorldState


@dataclass(frozen=True)
class World:
    """The default guild 'Paper Lab' and the objects tests usually need from it."""

    guild: Guild
    #: text channel where the bot may post embeds
    papers: Channel
    #: forum channel (tags "cs.LG" and "cs.CL") where the bot may open posts
    forum: Channel
    #: public thread under #papers
    thread: Channel
    #: text channel the bot can see but not post in
    readonly: Channel
    #: text channel the bot cannot see at all
    hidden: Channel
    #: role with Manage Channels (what managing feeds needs)
    moderators: Role
    #: plain member
    alice: Member
    #: member with the moderators role
    mod: Member
    #: the bot's own membership
    bot: Member


def seed_world(state: WorldState) -> World:
    """Build the default guild into `state`."""
    guild = state.add_guild("Paper Lab")
    bot_role = next(r for r in guild.roles.values() if r.managed)
    moderators = state.add_role(guild.id, "moderators", Perm.MANAGE_CHANNELS | Perm.MANAGE_MESSAGES)
    papers = state.add_channel(guild.id, "papers", topic="new papers")
    forum = state.add_channel(
        guild.id, "paper-forum", type=ChannelType.GUILD_FORUM, tags=["cs.LG", "cs.CL"]
    )
    readonly = state.add_channel(guild.id, "announcements")
    state.set_overwrite(
        readonly.id, bot_role.id, deny=Perm.SEND_MESSAGES | Perm.SEND_MESSAGES_IN_THREADS
    )
    hidden = state.add_channel(guild.id, "staff")
    state.set_overwrite(hidden.id, guild.id, deny=Perm.VIEW_CHANNEL)
    state.set_overwrite(hidden.id, moderators.id, allow=Perm.VIEW_CHANNEL)
    thread = state.add_thread(papers.id, "discussion")
    alice = state.add_member(guild.id, state.add_user("alice", global_name="Alice"))
    mod = state.add_member(
        guild.id, state.add_user("morgan", global_name="Morgan"), roles=[moderators.id]
    )
    bot = guild.members[state.bot_user.id]
    return World(
        guild=guild,
        papers=papers,
        forum=forum,
        thread=thread,
        readonly=readonly,
        hidden=hidden,
        moderators=moderators,
        alice=alice,
        mod=mod,
        bot=bot,
    )
