"""`/status` and `/help`: how the bot is doing, and how to use it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.context import BotContext
from bot.discord.limits import (
    DESCRIPTION_MAX,
    SEP,
    Json,
    cut,
    fit_message,
    md,
    no_mentions,
    plain,
)
from bot.discord.listings import COLOUR_SEARCH
from bot.discord.views import embeds_of
from bot.models import Feed, SourceHealth
from bot.services.cluster import cluster_status
from bot.services.health import FollowCounts, follow_counts, source_health
from bot.sources.registry import SOURCES, section_of
from bot.store import cluster_store
from bot.store.interfaces import Database

log = logging.getLogger(__name__)

README_URL = "https://github.com/paperfeed/paperfeed#readme"
QUERY_EXAMPLES = """\
causal discovery        every word (causal also finds causality)
"language model"        the exact phrase
diffusion OR flow       either
-survey   NOT survey    exclude
(a OR b) c              grouping
title:causal  abstract:flow  author:"Yoshua Bengio"
cat:cs.LG               a category (cat:cs = the whole archive)
transform*              a prefix"""
COMMAND_EXAMPLES = (
    '/search query:"vision language" -survey sort:recent',
    "/paper id:arXiv:2401.01234",
    "/trending period:week query:cat:cs.CL reasoning",
    "/feed add name:causal query:causal (inference OR discovery) -survey",
    '/follow query:author:"Yoshua Bengio" mode:daily time:08:00',
)
PERMISSIONS = (
    "In each channel it posts to, the bot needs **View Channel**, **Send Messages**, "
    "**Embed Links**, **Send Messages in Threads** and **Create Public Threads** "
    "(the last two for threads and forum channels). Managing feeds needs **Manage Channels**."
)
ABOUT = (
    "paperfeed posts new research papers from arXiv and trending ones from Hugging Face Papers "
    "to the channels that follow a topic, each paper once, pinging nobody. Search what it has "
    "seen, look up any paper, turn a search into a feed, or follow a topic in your own DMs."
)


def when(moment: datetime | None, never: str = "never") -> str:
    """A Discord timestamp that each reader sees in their own time zone, relative to now."""
    if moment is None:
        return never
    return f"<t:{int(moment.timestamp())}:R>"


def source_lines(health: SourceHealth, next_run: datetime | None, scheduled: bool) -> str:
    """One source's health as a few short lines."""
    lines = [f"Last success: {when(health.last_success)}"]
    if health.last_error:
        lines.append(f"Last error ({when(health.last_error_at)}): {md(health.last_error, 300)}")
    else:
        lines.append("Last error: none")
    if health.consecutive_failures:
        lines.append(f"Consecutive failures: **{health.consecutive_failures}**")
    else:
        lines.append("Consecutive failures: 0")
    if health.stale:
        lines.append(f"**Stale**: {md(health.stale_reason or 'no new papers lately', 300)}")
    else:
        lines.append("Stale: no")
    if health.warnings:  # skipped items or ignored fields: the poll itself worked
        lines.append(f"Warnings in the last poll: {health.warnings:,}")
    if scheduled:
        lines.append(f"Next run: {when(next_run, 'not scheduled')}")
    return "\n".join(lines)


def feed_line(feed: Feed, states: Mapping[str, int]) -> str:
    """One feed: where it posts, its state, its last post, what it still owes, why it paused."""
    queued = states.get("queued", 0) + states.get("sending", 0)
    parts = [
        f"**{md(feed.name, 64)}** → <#{feed.channel_id}>",
        f"⏸ paused: {md(feed.pause_reason or 'by a moderator', 200)}"
        if feed.paused
        else "▶ active",
        f"last post {when(feed.last_post_at)}",
        f"{queued:,} queued",
    ]
    if failed := states.get("failed", 0):
        parts.append(f"{failed:,} failed")
    return SEP.join(parts)


def feeds_text(feeds: Sequence[Feed], states: Mapping[int, Mapping[str, int]]) -> str:
    """Every feed's line, cut to whole lines within an embed description."""
    if not feeds:
        return "No feeds in this server yet: try `/feed add`, or **Follow** on a `/search`."
    lines: list[str] = []
    used = 0
    for n, feed in enumerate(feeds):
        line = feed_line(feed, states.get(feed.id, {}))
        more = f"…and {len(feeds) - n:,} more (see `/feed list`)"
        if used + len(line) + 1 > DESCRIPTION_MAX - len(more) - 1:
            lines.append(more)
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


def follows_line(counts: FollowCounts) -> str:
    """Personal follows in /status: how many, for how many members, DMs sent and refused."""
    paused = f" ({counts.paused:,} paused)" if counts.paused else ""
    return (
        f"{counts.follows:,} personal follows{paused} by {counts.members:,} members{SEP}"
        f"{counts.dms_sent:,} DMs in the last 24 h{SEP}{counts.dms_refused:,} DMs refused"
    )


def status_body(
    sources: Sequence[tuple[str, str]],
    feeds: str | None,
    totals: str | None,
    processes: str | None = None,
) -> Json:
    """The `/status` message: a field per source, the feeds, the totals for owners and the
    cluster's processes (pure)."""
    embed: Json = {
        "title": "paperfeed status",
        "color": COLOUR_SEARCH,
        "fields": [{"name": label, "value": text, "inline": False} for label, text in sources],
    }
    if feeds is not None:
        embed["description"] = f"**Feeds in this server**\n{feeds}"
    if totals:
        embed["fields"].append({"name": "Totals (owners only)", "value": totals, "inline": False})
    if processes:
        embed["fields"].append({"name": "Processes", "value": processes, "inline": False})
    return fit_message({"embeds": [embed], "allowed_mentions": no_mentions()})


def help_body(commands_list: Sequence[tuple[str, str]]) -> Json:
    """The `/help` message: what the bot does, its commands, the query language, permissions (pure)."""
    listed = "\n".join(f"`/{name}`: {plain(text, 100)}" for name, text in commands_list)
    examples = "\n".join(f"`{e}`" for e in COMMAND_EXAMPLES)
    embed: Json = {
        "title": "paperfeed help",
        "description": cut(f"{ABOUT}\n\n**Commands**\n{listed}", DESCRIPTION_MAX),
        "color": COLOUR_SEARCH,
        "fields": [
            {"name": "Examples", "value": examples},
            {"name": "The query language", "value": f"```\n{QUERY_EXAMPLES}\n```"},
            {"name": "Permissions", "value": PERMISSIONS},
            {"name": "Read more", "value": f"The project README: {README_URL}"},
        ],
    }
    return fit_message({"embeds": [embed], "allowed_mentions": no_mentions()})


async def processes_text(store: Database) -> str | None:
    """The cluster's processes, a line each, silent ones flagged; None for a SQLite store."""
    cluster = cluster_store(store)
    if cluster is None:
        return None
    found = await cluster_status(cluster)
    if not found:
        return "No process has recorded a heartbeat yet."
    silent = sum(p.silent for p in found)
    head = (
        f"{len(found)} process(es){SEP}{silent} silent" if silent else f"{len(found)} process(es)"
    )
    lines = [head, *(("⚠ " if p.silent else "") + plain(p.line(), 200) for p in found)]
    return cut("\n".join(lines), 1024)


class InfoCog(commands.Cog):
    """What the bot is doing and how to use it; both answers are private."""

    def __init__(self, bot: BotContext) -> None:
        self.bot = bot

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction) -> None:
        """Source health, this server's feeds and what they still owe"""
        await interaction.response.defer(ephemeral=True, thinking=True)
        services = self.bot.services
        store = services.store
        now = self.bot.clock()
        scheduler = self.bot.scheduler
        sources: list[tuple[str, str]] = []
        for kind in SOURCES:
            if not section_of(services.config.sources, kind).enabled:
                sources.append((kind.label, "Disabled in the configuration."))
                continue
            health = await source_health(store, kind.name, now)
            next_run = scheduler.next_run(kind.name) if scheduler is not None else None
            sources.append((kind.label, source_lines(health, next_run, scheduler is not None)))
        feeds = None
        if interaction.guild_id is not None:
            listed = await store.feeds.list(guild_id=interaction.guild_id)
            states = await store.outbox.states_by_feed(interaction.guild_id)
            feeds = feeds_text(listed, states)
        totals = processes = None
        if await self._is_owner(interaction):
            processes = await processes_text(store)  # hosts and pids: for owners only
            papers = await store.papers.count()
            counts = await store.outbox.counts(now - timedelta(hours=24))
            queued = counts.get("queued", 0) + counts.get("sending", 0)
            follows = await follow_counts(store, now - timedelta(hours=24))
            totals = (
                f"{papers:,} papers stored{SEP}{counts.get('sent', 0):,} posts in the last 24 h"
                f"{SEP}{queued:,} queued{SEP}{counts.get('failed', 0):,} failed\n"
                f"{follows_line(follows)}"
            )
            index = getattr(store.papers, "index", None)  # this process's search index
            if index is not None:
                totals += f"\nSearch: {plain(index.describe(), 200)}"
        body = status_body(sources, feeds, totals, processes)
        await interaction.followup.send(embeds=embeds_of(body), ephemeral=True)

    async def _is_owner(self, interaction: discord.Interaction) -> bool:
        """The application's owner, or an administrator of this server."""
        if interaction.guild_id is not None and interaction.permissions.administrator:
            return True
        try:
            return await self.bot.is_owner(interaction.user)
        except discord.HTTPException as exc:
            log.warning("could not tell whether user %s owns the bot: %s", interaction.user.id, exc)
            return False

    @app_commands.command(name="help")
    async def help_(self, interaction: discord.Interaction) -> None:
        """What the bot does, its commands and the query language"""
        listed = [
            (c.qualified_name, c.description)
            for c in self.bot.tree.walk_commands()
            if isinstance(c, app_commands.Command)
        ]
        body = help_body(listed)
        await interaction.response.send_message(embeds=embeds_of(body), ephemeral=True)
