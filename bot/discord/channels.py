"""Where feeds may post and who may manage them: the rules every Discord feed entry point shares."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.errors import StoreError, UserFacingError
from bot.models import Feed, FeedSpec
from bot.services.feeds import FeedService, FeedSpecError, validate

# What the bot needs in a channel to post embeds there (and in threads / forum posts).
NEEDED = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
}
NEEDED_IN_THREADS = {
    "send_messages_in_threads": "Send Messages in Threads",
    "create_public_threads": "Create Public Threads",
}
PostChannel = discord.TextChannel | discord.ForumChannel | discord.Thread


class PostChannelOption(app_commands.Transformer):
    """A channel option limited to where papers can go: text, announcement, forum and threads."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        C = discord.ChannelType
        return [C.text, C.news, C.forum, C.public_thread, C.private_thread, C.news_thread]

    async def transform(self, interaction: discord.Interaction, value: object) -> object:
        """Resolve to the cached channel, so permission checks see its overwrites."""
        channel_id = getattr(value, "id", None)
        if interaction.guild is not None and channel_id is not None:
            return interaction.guild.get_channel_or_thread(channel_id) or value
        return value


def missing_permissions(channel: object, me: discord.Member) -> list[str]:
    """Names of the permissions the bot lacks to post in this channel, in Discord's words."""
    permissions_for = getattr(channel, "permissions_for", None)
    if permissions_for is None:
        return ["View Channel"]
    perms: discord.Permissions = permissions_for(me)
    needed = dict(NEEDED)
    if isinstance(channel, discord.Thread):
        needed = {"view_channel": "View Channel", "send_messages_in_threads": "Send Messages in Threads", "embed_links": "Embed Links"}  # fmt: skip
    elif isinstance(channel, discord.ForumChannel):
        needed.update(NEEDED_IN_THREADS)
    return [label for name, label in needed.items() if not getattr(perms, name)]


def require_manager(interaction: discord.Interaction) -> int:
    """Managing feeds needs Manage Channels in this guild, checked on every call (not only in the UI)."""
    if interaction.guild_id is None:
        raise UserFacingError("Feeds live in servers: use this command in a server channel.")
    if not interaction.permissions.manage_channels:
        raise UserFacingError("You need the **Manage Channels** permission to change feeds.")
    return interaction.guild_id


def feed_target(interaction: discord.Interaction, channel: object | None) -> PostChannel:
    """Where a new feed will post: the channel picked, else this one, if papers can go there.

    `/feed add` and the Follow button both call this, so they accept the same channels.
    """
    target: object = channel
    if target is None:
        target = interaction.channel
        guild = interaction.guild
        if guild is not None and interaction.channel_id is not None:
            target = guild.get_channel_or_thread(interaction.channel_id) or target
    if not isinstance(target, discord.TextChannel | discord.ForumChannel | discord.Thread):
        raise UserFacingError("Pick a text channel, a thread or a forum channel.")
    guild = interaction.guild
    if guild is not None and guild.me is not None:
        missing = missing_permissions(target, guild.me)
        if missing:
            raise UserFacingError(
                f"I can't post in {target.mention}: I'm missing **{', '.join(missing)}** there. "
                "Grant them to my role (or in the channel's permissions) and try again."
            )
    return target


def checked_spec(spec: FeedSpec) -> FeedSpec:
    """The feeds service's verdict on a spec, as the answer when it is refused."""
    try:
        return validate(spec)
    except FeedSpecError as exc:
        if exc.field == "query":
            raise UserFacingError(f"That query can't be used: {exc.reason}") from None
        raise UserFacingError(f"That feed can't be made: {exc}.") from None


async def create_feed(feeds: FeedService, spec: FeedSpec, guild_id: int) -> tuple[Feed, int]:
    """Create through the feeds service; a taken name is the answer, not an error."""
    try:
        return await feeds.create(spec, guild_id=guild_id)
    except StoreError as exc:
        raise UserFacingError(str(exc)) from None
