"""`/feed add|list|remove|pause|resume|preview`: feeds managed from Discord, per guild."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.embeds import plain, search_results_embed
from bot.discord.errors import UserFacingError
from bot.errors import QueryError, StoreError
from bot.models import Feed, FeedMode, FeedSpec, SearchPage
from bot.query import compile_query
from bot.services.feeds import create_feed
from bot.services.matching import RECENT_WINDOW
from bot.store.interfaces import Database

if TYPE_CHECKING:
    from bot.discord.client import PaperfeedBot

log = logging.getLogger(__name__)

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
# One budget for all /feed commands, per user: a person never needs more, a script gets a
# friendly "slow down" (see bot.discord.errors) instead of hammering the database.
FEED_COOLDOWN = app_commands.checks.cooldown(10, 60.0, key=lambda i: i.user.id)


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


class FeedsCog(commands.Cog):
    """Feed management; each command answers privately."""

    feed = app_commands.Group(
        name="feed",
        description="Manage paper feeds in this server",
        guild_only=True,
        default_permissions=discord.Permissions(manage_channels=True),
    )

    def __init__(self, bot: PaperfeedBot) -> None:
        self.bot = bot

    @property
    def store(self) -> Database:
        return self.bot.services.store

    async def _feed_named(self, guild_id: int, name: str) -> Feed:
        feed = await self.store.feeds.find(name, guild_id)
        if feed is None:
            raise UserFacingError(f"There is no feed named **{plain(name, 64)}** in this server.")
        return feed

    async def feed_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Autocomplete: this guild's feeds whose name contains what was typed (≤ 25)."""
        if interaction.guild_id is None:
            return []
        needle = current.casefold()
        feeds = await self.store.feeds.list(guild_id=interaction.guild_id)
        names = [f.name for f in feeds if needle in f.name.casefold()]
        return [app_commands.Choice(name=n[:100], value=n[:100]) for n in names[:25]]

    @feed.command(name="add")
    @FEED_COOLDOWN
    @app_commands.describe(
        name="A short name for the feed",
        query="What to look for, e.g. causal (inference OR discovery) -survey",
        channel="Where to post (default: this channel); a text channel, thread or forum",
        min_upvotes="Hugging Face upvotes a paper needs before it is posted",
        mode="Post each paper as it comes, or one digest a day",
        digest_time="UTC time for the daily digest, e.g. 09:00",
        backfill="How many of the last week's matches to post now (0-10)",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 64],
        query: app_commands.Range[str, 1, 300],
        channel: app_commands.Transform[PostChannel | None, PostChannelOption] = None,
        min_upvotes: app_commands.Range[int, 0, 100000] = 0,
        mode: FeedMode = FeedMode.INSTANT,
        digest_time: app_commands.Range[str, 5, 5] = "09:00",
        backfill: app_commands.Range[int, 0, 10] = 3,
    ) -> None:
        """Post papers matching a query to a channel"""
        guild_id = require_manager(interaction)
        # Discord enforces these ranges; a payload that skipped them (a stale registration,
        # a crafted client) must not store a feed discord.py never checked.
        if not (
            1 <= len(name.strip()) <= 64 and 0 <= min_upvotes <= 100_000 and 0 <= backfill <= 10
        ):
            raise UserFacingError(
                "Out of range: a name of 1-64 characters, min_upvotes 0-100000, backfill 0-10."
            )
        target = channel or interaction.channel
        if target is None or not isinstance(
            target, discord.TextChannel | discord.ForumChannel | discord.Thread
        ):
            raise UserFacingError("Pick a text channel, a thread or a forum channel.")
        try:
            compile_query(query)
        except QueryError as exc:
            raise UserFacingError(f"That query can't be used: {exc}") from None
        if not _valid_time(digest_time):
            raise UserFacingError("digest_time must be a UTC time like 09:00.")
        guild = interaction.guild
        if guild is not None and guild.me is not None:
            missing = missing_permissions(target, guild.me)
            if missing:
                raise UserFacingError(
                    f"I can't post in {target.mention}: I'm missing **{', '.join(missing)}** there. "
                    "Grant them to my role (or in the channel's permissions) and try again."
                )
        await interaction.response.defer(ephemeral=True, thinking=True)
        spec = FeedSpec(name=name.strip(), channel_id=target.id, query=query, min_upvotes=min_upvotes,
                        mode=mode, digest_time=digest_time, backfill=backfill)  # fmt: skip
        try:
            feed, queued = await create_feed(
                self.store, spec, guild_id=guild_id, now=self.bot.clock()
            )
        except StoreError as exc:
            raise UserFacingError(str(exc)) from None
        log.info("feed %d (%s) created with /feed add; %d queued", feed.id, feed.name, queued)
        self.bot.wake_publisher()
        preview = await self._preview(query, min_upvotes)
        when = f"daily at {digest_time} UTC" if mode is FeedMode.DIGEST else "as papers arrive"
        text = (
            f"Feed **{plain(feed.name, 64)}** will post to {target.mention} {when}. "
            f"{preview.total} paper(s) matched in the last 7 days; posting {queued} of them now."
        )
        await interaction.followup.send(text, embed=_embed(preview, query), ephemeral=True)

    async def _preview(self, query: str, min_upvotes: int = 0) -> SearchPage:
        compiled = compile_query(query)
        since = self.bot.clock() - RECENT_WINDOW
        return await self.store.papers.search(compiled, limit=5, since=since, sort="recent")

    @feed.command(name="preview")
    @FEED_COOLDOWN
    @app_commands.describe(query="A query to try, e.g. diffusion OR flow")
    async def preview(
        self, interaction: discord.Interaction, query: app_commands.Range[str, 1, 300]
    ) -> None:
        """Show what a query would have matched in the last 7 days, without saving it"""
        try:
            compile_query(query)
        except QueryError as exc:
            raise UserFacingError(f"That query can't be used: {exc}") from None
        page = await self._preview(query)
        await interaction.response.send_message(
            f"{page.total} paper(s) in the last 7 days match.",
            embed=_embed(page, query),
            ephemeral=True,
        )

    @feed.command(name="list")
    @FEED_COOLDOWN
    async def list_(self, interaction: discord.Interaction) -> None:
        """List this server's feeds and their state"""
        guild_id = require_manager(interaction)
        feeds = await self.store.feeds.list(guild_id=guild_id)
        if not feeds:
            await interaction.response.send_message(
                "No feeds here yet: try `/feed add`.", ephemeral=True
            )
            return
        lines = []
        for f in feeds:
            state = (
                f"⏸ paused: {plain(f.pause_reason or 'by an admin', 200)}"
                if f.paused
                else "▶ active"
            )
            lines.append(f"**{plain(f.name, 64)}** → <#{f.channel_id}> · `{plain(f.spec.query, 120)}` · "
                         f"{f.spec.mode.value} · {state} · {f.origin.value}")  # fmt: skip
        text = "\n".join(lines)
        if len(text) > 1900:
            text = text[:1900].rsplit("\n", 1)[0] + "\n…"
        await interaction.response.send_message(text, ephemeral=True)

    @feed.command(name="remove")
    @FEED_COOLDOWN
    @app_commands.describe(name="The feed to remove")
    @app_commands.autocomplete(name=feed_names)
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        """Remove a feed (papers already posted stay)"""
        guild_id = require_manager(interaction)
        feed = await self._feed_named(guild_id, name)
        if feed.origin.value == "config":
            raise UserFacingError("That feed comes from the configuration file; remove it there.")
        await self.store.feeds.remove(feed.id)
        await interaction.response.send_message(
            f"Removed **{plain(feed.name, 64)}**.", ephemeral=True
        )

    @feed.command(name="pause")
    @FEED_COOLDOWN
    @app_commands.describe(name="The feed to pause")
    @app_commands.autocomplete(name=feed_names)
    async def pause(self, interaction: discord.Interaction, name: str) -> None:
        """Stop posting a feed for now (matches are still kept)"""
        guild_id = require_manager(interaction)
        feed = await self._feed_named(guild_id, name)
        await self.store.feeds.set_paused(feed.id, True, f"paused by {interaction.user.name}")
        await interaction.response.send_message(
            f"Paused **{plain(feed.name, 64)}**.", ephemeral=True
        )

    @feed.command(name="resume")
    @FEED_COOLDOWN
    @app_commands.describe(name="The feed to resume")
    @app_commands.autocomplete(name=feed_names)
    async def resume(self, interaction: discord.Interaction, name: str) -> None:
        """Start posting a paused feed again"""
        guild_id = require_manager(interaction)
        feed = await self._feed_named(guild_id, name)
        await self.store.feeds.set_paused(feed.id, False)
        self.bot.wake_publisher()
        await interaction.response.send_message(
            f"Resumed **{plain(feed.name, 64)}**.", ephemeral=True
        )


def _valid_time(text: str) -> bool:
    hours, _, minutes = text.partition(":")
    return (
        hours.isdigit()
        and minutes.isdigit()
        and int(hours) < 24
        and int(minutes) < 60
        and len(text) == 5
    )


def _embed(page: SearchPage, query: str) -> discord.Embed:
    data = search_results_embed(page.hits, query=query, page=1, pages=1, total=page.total)
    return discord.Embed.from_dict(data)
