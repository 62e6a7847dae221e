"""The fake's world: users, guilds, roles, channels, threads, overwrites, and permission maths.

Permissions follow Discord's documented algorithm (developers/topics/permissions.mdx): guild
owner and ADMINISTRATOR get everything; otherwise @everyone's permissions OR the member's roles,
then the channel's @everyone overwrite, then the member's role overwrites together, then the
member's own overwrite. Threads take their parent's overwrites. No VIEW_CHANNEL means nothing.
Where Discord's rule is loose the fake is stricter (see `permissions_in`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .clock import FakeClock

DISCORD_EPOCH_MS = 1_420_070_400_000


class Perm(enum.IntFlag):
    """Permission bits, numbered as in Discord's documentation."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    PRIORITY_SPEAKER = 1 << 8
    STREAM = 1 << 9
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    VIEW_GUILD_INSIGHTS = 1 << 19
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    MUTE_MEMBERS = 1 << 22
    DEAFEN_MEMBERS = 1 << 23
    MOVE_MEMBERS = 1 << 24
    USE_VAD = 1 << 25
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    MANAGE_GUILD_EXPRESSIONS = 1 << 30
    USE_APPLICATION_COMMANDS = 1 << 31
    REQUEST_TO_SPEAK = 1 << 32
    MANAGE_EVENTS = 1 << 33
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    USE_EXTERNAL_STICKERS = 1 << 37
    SEND_MESSAGES_IN_THREADS = 1 << 38
    USE_EMBEDDED_ACTIVITIES = 1 << 39
    MODERATE_MEMBERS = 1 << 40


ALL_PERMISSIONS = (1 << 51) - 1

#: What @everyone may do in a new fake guild: talk, read, use commands, but not embed links.
DEFAULT_EVERYONE = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.SEND_MESSAGES_IN_THREADS
    | Perm.CREATE_PUBLIC_THREADS
)
#: What the bot's own role grants: enough to post embeds in channels, threads and forums.
DEFAULT_BOT = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.SEND_MESSAGES_IN_THREADS
    | Perm.CREATE_PUBLIC_THREADS
)

#: Privileged gateway intents (GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT).
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12


class ChannelType(enum.IntEnum):
    """Channel types, numbered as in Discord's documentation."""

    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_FORUM = 15
    GUILD_MEDIA = 16


THREAD_TYPES = frozenset(
    {ChannelType.ANNOUNCEMENT_THREAD, ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD}
)
FORUM_TYPES = frozenset({ChannelType.GUILD_FORUM, ChannelType.GUILD_MEDIA})
#: Channels a message can be POSTed to directly.
MESSAGEABLE_TYPES = frozenset(
    {
        ChannelType.GUILD_TEXT,
        ChannelType.DM,
        ChannelType.GUILD_VOICE,
        ChannelType.GUILD_ANNOUNCEMENT,
    }
    | THREAD_TYPES
)


def iso(ts: float) -> str:
    """Discord's ISO-8601 timestamp form for an epoch time."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")


class Snowflakes:
    """Snowflake ids that encode the fake clock's time and only ever increase."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> int:
        """A fresh id, larger than every earlier one."""
        ms = int(self._clock.time() * 1000) - DISCORD_EPOCH_MS
        self._last = max(self._last + 1, ms << 22)
        return self._last

    def next_on_shard(self, shard_id: int, shard_count: int) -> int:
        """A fresh id that Discord's formula `(id >> 22) % shard_count` routes to `shard_id`
        (its timestamp is the first millisecond from now that does)."""
        ms = max((self._last >> 22) + 1, int(self._clock.time() * 1000) - DISCORD_EPOCH_MS)
        ms += (shard_id - ms) % shard_count
        self._last = ms << 22
        return self._last


@dataclass
class User:
    """A Discord user (the bot, or someone who invokes its commands)."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def to_json(self) -> dict[str, Any]:
        """The user object as Discord sends it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class Role:
    """A guild role; the @everyone role's id equals the guild's."""

    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    mentionable: bool = False
    managed: bool = False
    color: int = 0

    def to_json(self) -> dict[str, Any]:
        """The role object as Discord sends it."""
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(int(self.permissions)),
            "position": self.position,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": False,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class Overwrite:
    """A channel permission overwrite for a role (type 0) or a member (type 1)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def to_json(self) -> dict[str, Any]:
        """The overwrite object as Discord sends it."""
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(int(self.allow)),
            "deny": str(int(self.deny)),
        }


@dataclass
class Member:
    """A user's membership of a guild, with role ids (not counting @everyone)."""

    user: User
    guild_id: int
    roles: list[int] = field(default_factory=list)
    joined_at: float = 0.0
    nick: str | None = None

    @property
    def id(self) -> int:
        """The member's user id."""
        return self.user.id

    def to_json(self, *, with_user: bool = True) -> dict[str, Any]:
        """The guild member object as Discord sends it."""
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "joined_at": iso(self.joined_at),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_json()
        return data


@dataclass
class Channel:
    """A guild channel, thread, forum or DM."""

    id: int
    type: ChannelType
    name: str | None
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    topic: str | None = None
    nsfw: bool = False
    # threads
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    created_at: float = 0.0
    member_ids: set[int] = field(default_factory=set)
    applied_tags: list[int] = field(default_factory=list)
    # forums
    available_tags: list[dict[str, Any]] = field(default_factory=list)
    require_tag: bool = False
    # DMs
    recipient_id: int | None = None
    last_message_id: int | None = None
    message_count: int = 0

    @property
    def is_thread(self) -> bool:
        """Whether this is a thread (or a forum post, which is a thread)."""
        return self.type in THREAD_TYPES

    @property
    def is_forum(self) -> bool:
        """Whether this is a forum (or media) channel, which holds posts but no messages."""
        return self.type in FORUM_TYPES

    def to_json(self, state: WorldState | None = None) -> dict[str, Any]:
        """The channel object as Discord sends it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": int(self.type),
            "flags": 0,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
        }
        if self.type == ChannelType.DM:
            recipients = []
            if state is not None and self.recipient_id in state.users:
                recipients = [state.users[self.recipient_id].to_json()]
            data["recipients"] = recipients
            return data
        data.update(
            guild_id=str(self.guild_id),
            name=self.name,
            parent_id=str(self.parent_id) if self.parent_id else None,
            rate_limit_per_user=0,
            nsfw=self.nsfw,
        )
        if self.is_thread:
            data.update(
                owner_id=str(self.owner_id),
                message_count=self.message_count,
                member_count=len(self.member_ids),
                total_message_sent=self.message_count,
                applied_tags=[str(t) for t in self.applied_tags],
                thread_metadata={
                    "archived": self.archived,
                    "locked": self.locked,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": iso(self.created_at),
                    "create_timestamp": iso(self.created_at),
                    "invitable": True,
                },
            )
            return data
        data.update(
            position=self.position,
            permission_overwrites=[o.to_json() for o in self.overwrites],
            topic=self.topic,
        )
        if self.is_forum:
            data.update(
                available_tags=self.available_tags,
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
                default_thread_rate_limit_per_user=0,
                default_auto_archive_duration=1440,
                flags=1 << 4 if self.require_tag else 0,
            )
        return data


@dataclass
class Guild:
    """A guild with its roles, members and channels (ids only; objects live in the world)."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    created_at: float = 0.0

    @property
    def everyone(self) -> Role:
        """The @everyone role, whose id is the guild's."""
        return self.roles[self.id]


class WorldState:
    """Every object the fake knows, with the permission maths that guards them."""

    def __init__(self, clock: FakeClock, bot_user: User) -> None:
        self.clock = clock
        self.ids = Snowflakes(clock)
        self.bot_user = bot_user
        self.users: dict[int, User] = {bot_user.id: bot_user}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        #: channels that existed once and were deleted (Discord keeps answering 10003 for them)
        self.deleted_channels: dict[int, Channel] = {}
        #: users who refuse DMs from the bot -> the code Discord answers with (50007 or 50278)
        self.closed_dms: dict[int, int] = {}

    # ---- building ---------------------------------------------------------------------------

    def add_user(self, username: str, *, global_name: str | None = None, bot: bool = False) -> User:
        """A new user, not yet in any guild."""
        user = User(id=self.ids.next(), username=username, global_name=global_name, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        everyone_permissions: int = DEFAULT_EVERYONE,
        bot_permissions: int | None = DEFAULT_BOT,
        owner: User | None = None,
        shard: tuple[int, int] | None = None,
    ) -> Guild:
        """A guild with @everyone and, unless `bot_permissions` is None, the bot as a member;
        `shard=(shard_id, shard_count)` picks an id that routes to that shard."""
        owner = owner or self.add_user(f"{name.lower().replace(' ', '-')}-owner")
        gid = self.ids.next() if shard is None else self.ids.next_on_shard(*shard)
        guild = Guild(id=gid, name=name, owner_id=owner.id, created_at=self.clock.time())
        guild.roles[gid] = Role(
            id=gid, guild_id=gid, name="@everyone", permissions=everyone_permissions
        )
        self.guilds[gid] = guild
        self.add_member(gid, owner)
        if bot_permissions is not None:
            role = self.add_role(gid, self.bot_user.username, bot_permissions, managed=True)
            self.add_member(gid, self.bot_user, roles=[role.id])
        return guild

    def add_role(
        self,
        guild_id: int,
        name: str,
        permissions: int = 0,
        *,
        mentionable: bool = False,
        managed: bool = False,
    ) -> Role:
        """A role in a guild, above every existing one."""
        guild = self.guilds[guild_id]
        position = max(r.position for r in guild.roles.values()) + 1
        role = Role(
            id=self.ids.next(),
            guild_id=guild_id,
            name=name,
            permissions=int(permissions),
            position=position,
            mentionable=mentionable,
            managed=managed,
        )
        guild.roles[role.id] = role
        return role

    def add_member(self, guild_id: int, user: User, *, roles: Iterable[int] = ()) -> Member:
        """Put a user into a guild with the given roles."""
        guild = self.guilds[guild_id]
        role_ids = list(roles)
        for rid in role_ids:
            if rid not in guild.roles or rid == guild_id:
                raise ValueError(f"role {rid} is not an assignable role of guild {guild_id}")
        member = Member(user=user, guild_id=guild_id, roles=role_ids, joined_at=self.clock.time())
        guild.members[user.id] = member
        self.users[user.id] = user
        return member

    def add_channel(
        self,
        guild_id: int,
        name: str,
        *,
        type: ChannelType = ChannelType.GUILD_TEXT,
        overwrites: Iterable[Overwrite] = (),
        topic: str | None = None,
        require_tag: bool = False,
        tags: Iterable[str] = (),
    ) -> Channel:
        """A channel (text, announcement, forum...) in a guild."""
        if type in THREAD_TYPES or type == ChannelType.DM:
            raise ValueError("use add_thread() for threads and dm_channel() for DMs")
        guild = self.guilds[guild_id]
        channel = Channel(
            id=self.ids.next(),
            type=ChannelType(type),
            name=name,
            guild_id=guild_id,
            position=len(guild.channel_ids),
            overwrites=list(overwrites),
            topic=topic,
            created_at=self.clock.time(),
            require_tag=require_tag,
        )
        channel.available_tags = [
            {
                "id": str(self.ids.next()),
                "name": t,
                "moderated": False,
                "emoji_id": None,
                "emoji_name": None,
            }
            for t in tags
        ]
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def add_thread(
        self,
        parent_id: int,
        name: str,
        *,
        type: ChannelType = ChannelType.PUBLIC_THREAD,
        owner_id: int | None = None,
        thread_id: int | None = None,
        auto_archive_duration: int = 1440,
        locked: bool = False,
        archived: bool = False,
    ) -> Channel:
        """A thread under a text, announcement or forum channel."""
        parent = self.channels[parent_id]
        if parent.is_thread or parent.guild_id is None:
            raise ValueError("threads live under guild text, announcement or forum channels")
        owner = owner_id if owner_id is not None else self.bot_user.id
        thread = Channel(
            id=thread_id if thread_id is not None else self.ids.next(),
            type=ChannelType(type),
            name=name,
            guild_id=parent.guild_id,
            parent_id=parent_id,
            owner_id=owner,
            auto_archive_duration=auto_archive_duration,
            created_at=self.clock.time(),
            member_ids={owner},
            locked=locked,
            archived=archived,
        )
        self.channels[thread.id] = thread
        return thread

    def dm_channel(self, user: User) -> Channel:
        """The bot's DM channel with a user (made on first use)."""
        for ch in self.channels.values():
            if ch.type == ChannelType.DM and ch.recipient_id == user.id:
                return ch
        channel = Channel(
            id=self.ids.next(),
            type=ChannelType.DM,
            name=None,
            recipient_id=user.id,
            created_at=self.clock.time(),
        )
        self.users[user.id] = user
        self.channels[channel.id] = channel
        return channel

    def set_overwrite(
        self,
        channel_id: int,
        target_id: int,
        *,
        allow: int = 0,
        deny: int = 0,
        member: bool | None = None,
    ) -> Overwrite:
        """Replace the overwrite for a role or member on a (non-thread) channel."""
        channel = self.channels[channel_id]
        if channel.is_thread or channel.guild_id is None:
            raise ValueError("overwrites belong to guild channels; threads use their parent's")
        guild = self.guilds[channel.guild_id]
        if member is None:
            member = target_id not in guild.roles
        ow = Overwrite(id=target_id, type=1 if member else 0, allow=int(allow), deny=int(deny))
        channel.overwrites = [o for o in channel.overwrites if o.id != target_id] + [ow]
        return ow

    def remove_channel(self, channel_id: int) -> Channel:
        """Delete a channel (and its threads); later requests for it get 10003."""
        channel = self.channels.pop(channel_id)
        self.deleted_channels[channel_id] = channel
        if channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
            if channel_id in guild.channel_ids:
                guild.channel_ids.remove(channel_id)
        for child in [c for c in self.channels.values() if c.parent_id == channel_id]:
            self.remove_channel(child.id)
        return channel

    # ---- reading ----------------------------------------------------------------------------

    def guild_channels(self, guild_id: int) -> list[Channel]:
        """The guild's channels, without threads, in position order."""
        return [self.channels[c] for c in self.guilds[guild_id].channel_ids if c in self.channels]

    def guild_threads(self, guild_id: int) -> list[Channel]:
        """The guild's threads that are not archived."""
        return [
            c
            for c in self.channels.values()
            if c.guild_id == guild_id and c.is_thread and not c.archived
        ]

    def member_of(self, guild_id: int, user_id: int) -> Member | None:
        """The member, if that user is in that guild."""
        guild = self.guilds.get(guild_id)
        return guild.members.get(user_id) if guild else None

    def base_permissions(self, guild: Guild, member: Member) -> int:
        """Guild-level permissions: @everyone OR the member's roles; owner and admins get all."""
        if member.id == guild.owner_id:
            return ALL_PERMISSIONS
        perms = guild.everyone.permissions
        for rid in member.roles:
            role = guild.roles.get(rid)
            if role is not None:
                perms |= role.permissions
        if perms & Perm.ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def permissions_in(self, channel: Channel, member: Member) -> int:
        """A member's permissions in a channel, in Discord's documented order.

        Stricter than Discord in two places: without SEND_MESSAGES in the (parent) channel the
        implicit denials (embed links, attachments, mention everyone, TTS) also apply inside
        threads, and so they do without SEND_MESSAGES_IN_THREADS.
        """
        if channel.guild_id is None:
            return ALL_PERMISSIONS if member.id in (channel.recipient_id, self.bot_user.id) else 0
        guild = self.guilds[channel.guild_id]
        base = self.base_permissions(guild, member)
        if base == ALL_PERMISSIONS:
            return ALL_PERMISSIONS
        target = (
            self.channels.get(channel.parent_id)
            if channel.is_thread and channel.parent_id
            else channel
        )
        if target is None:
            target = self.deleted_channels.get(channel.parent_id or 0, channel)
        perms = base
        overwrites = {(o.type, o.id): o for o in target.overwrites}
        everyone = overwrites.get((0, guild.id))
        if everyone is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for rid in member.roles:
            ow = overwrites.get((0, rid))
            if ow is not None:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        own = overwrites.get((1, member.id))
        if own is not None:
            perms = (perms & ~own.deny) | own.allow
        if not perms & Perm.VIEW_CHANNEL:
            return 0
        private = channel.type == ChannelType.PRIVATE_THREAD and member.id not in channel.member_ids
        if private and not perms & Perm.MANAGE_THREADS:
            return 0
        implied = (
            Perm.SEND_TTS_MESSAGES | Perm.MENTION_EVERYONE | Perm.EMBED_LINKS | Perm.ATTACH_FILES
        )
        if not perms & Perm.SEND_MESSAGES:
            perms &= ~implied
        if channel.is_thread and not perms & Perm.SEND_MESSAGES_IN_THREADS:
            perms &= ~implied
        return int(perms)

    def bot_permissions_in(self, channel: Channel) -> int:
        """The bot's permissions in a channel (0 if it is not in the guild)."""
        if channel.guild_id is None:
            return self.permissions_in(channel, Member(user=self.bot_user, guild_id=0))
        member = self.member_of(channel.guild_id, self.bot_user.id)
        return 0 if member is None else self.permissions_in(channel, member)

    # ---- gateway payloads ---------------------------------------------------------------------

    def guild_json(self, guild: Guild) -> dict[str, Any]:
        """The guild object as GET /guilds/{id} returns it."""
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.to_json() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "incidents_data": None,
        }

    def guild_create_json(self, guild: Guild) -> dict[str, Any]:
        """The GUILD_CREATE payload: the guild plus channels, threads and the bot's member."""
        data = self.guild_json(guild)
        bot_member = guild.members.get(self.bot_user.id)
        data.update(
            joined_at=iso(bot_member.joined_at if bot_member else guild.created_at),
            large=False,
            unavailable=False,
            member_count=len(guild.members),
            voice_states=[],
            members=[bot_member.to_json()] if bot_member else [],
            channels=[c.to_json(self) for c in self.guild_channels(guild.id)],
            threads=[c.to_json(self) for c in self.guild_threads(guild.id)],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
        )
        return data
