"""`/feed add|list|remove|pause|resume|preview`: feeds managed from Discord, per guild."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.channels import (
    PostChannel,
    PostChannelOption,
    checked_spec,
    create_feed,
    feed_target,
    require_manager,
)
from bot.discord.context import BotContext
from bot.discord.limits import plain
from bot.discord.listings import search_results_embed
from bot.errors import QueryError, UserFacingError
from bot.models import Feed, FeedMode, FeedSpec, SearchPage
from bot.services.feeds import (
    BACKFILL_MAX,
    MIN_UPVOTES_MAX,
    NAME_MAX,
    FeedService,
    FileManagedFeed,
)

log = logging.getLogger(__name__)

# One budget for all /feed commands, per user: a person never needs more, a script gets a
# friendly "slow down" (see bot.discord.errors) instead of hammering the database.
FEED_COOLDOWN = app_commands.checks.cooldown(10, 60.0, key=lambda i: i.user.id)


class FeedsCog(commands.Cog):
    """Feed management; each command answers privately."""

    feed = app_commands.Group(
        name="feed",
        description="Manage paper feeds in this server",
        guild_only=True,
        default_permissions=discord.Permissions(manage_channels=True),
    )

    def __init__(self, bot: BotContext) -> None:
        self.bot = bot

    @property
    def feeds(self) -> FeedService:
        return self.bot.services.feeds

    async def feed_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Autocomplete: this guild's feeds whose name contains what was typed (≤ 25)."""
        if interaction.guild_id is None:
            return []
        needle = current.casefold()
        feeds = await self.feeds.list(guild_id=interaction.guild_id)
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
        backfill=f"How many of the last week's matches to post now (0-{BACKFILL_MAX})",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, NAME_MAX],
        query: app_commands.Range[str, 1, 300],
        channel: app_commands.Transform[PostChannel | None, PostChannelOption] = None,
        min_upvotes: app_commands.Range[int, 0, MIN_UPVOTES_MAX] = 0,
        mode: FeedMode = FeedMode.INSTANT,
        digest_time: app_commands.Range[str, 5, 5] = "09:00",
        backfill: app_commands.Range[int, 0, BACKFILL_MAX] = 3,
    ) -> None:
        """Post papers matching a query to a channel"""
        guild_id = require_manager(interaction)
        target = feed_target(interaction, channel)
        # Discord enforces the option ranges, but a payload that skipped them (a stale
        # registration, a crafted client) meets the feeds service's limits all the same.
        spec = checked_spec(
            FeedSpec(name=name, channel_id=target.id, query=query, min_upvotes=min_upvotes,
                     mode=mode, digest_time=digest_time, backfill=backfill)
        )  # fmt: skip
        await interaction.response.defer(ephemeral=True, thinking=True)
        feed, queued = await create_feed(self.feeds, spec, guild_id)
        log.info("feed %d (%s) created with /feed add; %d queued", feed.id, feed.name, queued)
        preview = await self.feeds.preview(query)
        when = f"daily at {digest_time} UTC" if mode is FeedMode.DIGEST else "as papers arrive"
        text = (
            f"Feed **{plain(feed.name, 64)}** will post to {target.mention} {when}. "
            f"{_count(preview)} paper(s) matched in the last 7 days; posting {queued} of them now."
        )
        await interaction.followup.send(text, embed=_embed(preview, query), ephemeral=True)

    @feed.command(name="preview")
    @FEED_COOLDOWN
    @app_commands.describe(query="A query to try, e.g. diffusion OR flow")
    async def preview(
        self, interaction: discord.Interaction, query: app_commands.Range[str, 1, 300]
    ) -> None:
        """Show what a query would have matched in the last 7 days, without saving it"""
        try:
            page = await self.feeds.preview(query)
        except QueryError as exc:
            raise UserFacingError(f"That query can't be used: {exc}") from None
        await interaction.response.send_message(
            f"{_count(page)} paper(s) in the last 7 days match.",
            embed=_embed(page, query),
            ephemeral=True,
        )

    @feed.command(name="list")
    @FEED_COOLDOWN
    async def list_(self, interaction: discord.Interaction) -> None:
        """List this server's feeds and their state"""
        guild_id = require_manager(interaction)
        feeds = await self.feeds.list(guild_id=guild_id)
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

    async def _change(
        self,
        interaction: discord.Interaction,
        name: str,
        change: Callable[[Feed], Awaitable[object]],
        done: str,
    ) -> None:
        """Find this guild's feed by name, change it, and say so (one shape for remove/pause/resume)."""
        guild_id = require_manager(interaction)
        feed = await self.feeds.find(name, guild_id)
        if feed is None:
            raise UserFacingError(f"There is no feed named **{plain(name, 64)}** in this server.")
        try:
            await change(feed)
        except FileManagedFeed:
            raise UserFacingError(
                "That feed comes from the configuration file; remove it there."
            ) from None
        await interaction.response.send_message(
            f"{done} **{plain(feed.name, 64)}**.", ephemeral=True
        )

    @feed.command(name="remove")
    @FEED_COOLDOWN
    @app_commands.describe(name="The feed to remove")
    @app_commands.autocomplete(name=feed_names)
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        """Remove a feed (papers already posted stay)"""
        await self._change(interaction, name, self.feeds.remove, "Removed")

    @feed.command(name="pause")
    @FEED_COOLDOWN
    @app_commands.describe(name="The feed to pause")
    @app_commands.autocomplete(name=feed_names)
    async def pause(self, interaction: discord.Interaction, name: str) -> None:
        """Stop posting a feed for now (matches are still kept)"""
        reason = f"paused by {interaction.user.name}"
        await self._change(interaction, name, lambda f: self.feeds.pause(f, reason), "Paused")

    @feed.command(name="resume")
    @FEED_COOLDOWN
    @app_commands.describe(name="The feed to resume")
    @app_commands.autocomplete(name=feed_names)
    async def resume(self, interaction: discord.Interaction, name: str) -> None:
        """Start posting a paused feed again"""
        await self._change(interaction, name, self.feeds.resume, "Resumed")


def _count(page: SearchPage) -> str:
    """The total as said: searches with words count up to a cap, then say "more than"."""
    return str(page.total) if page.total_exact else f"more than {page.total:,}"


def _embed(page: SearchPage, query: str) -> discord.Embed:
    data = search_results_embed(
        page.hits, query=query, page=1, pages=1, total=page.total, total_exact=page.total_exact
    )
    return discord.Embed.from_dict(data)
