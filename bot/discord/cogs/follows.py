"""`/follow`, `/following`, `/unfollow`: every member's own paper feed, delivered by DM.

No permission is needed, in a server or in a DM with the bot; every answer is private and
every command acts on the member's own follows only. A member whose DMs were refused is told
so (and how to open them) in the private answer of their next command, whichever it is.
"""

from __future__ import annotations

import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.context import BotContext
from bot.discord.following import (
    DYNAMIC_ITEMS,
    follow_and_answer,
    notice_text,
    show_following,
)
from bot.discord.limits import plain
from bot.errors import UserFacingError
from bot.services.follows import FollowService

log = logging.getLogger(__name__)

# The reader commands' budget, per member: 5 uses in 30 seconds of each command.
COOLDOWN = (5, 30.0)
FORGET_ALL = "all"
NAME_CHOICES = 25


class FollowsCog(commands.Cog):
    """Personal follows; each command answers privately."""

    def __init__(self, bot: BotContext) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """The follows' buttons and selects answer whichever message they are on."""
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    @property
    def follows(self) -> FollowService:
        return self.bot.services.follows

    @app_commands.command(name="follow")
    @app_commands.describe(
        query='What to follow, e.g. "vision language" -survey or author:"Ada Lovelace"',
        mode="One DM a day with the best matches (default), or new matches as they come",
        time="UTC time of the daily DM, e.g. 08:00",
        min_upvotes="Hugging Face upvotes a paper needs before it is sent",
    )
    @app_commands.checks.cooldown(*COOLDOWN)
    async def follow(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 300],
        mode: Literal["daily", "instant"] = "daily",
        time: app_commands.Range[str, 4, 5] | None = None,
        min_upvotes: app_commands.Range[int, 0, 100_000] = 0,
    ) -> None:
        """Follow a query in your DMs: the matching papers, once a day or as they come"""
        await follow_and_answer(interaction, query, mode=mode, time=time, min_upvotes=min_upvotes)

    @app_commands.command(name="following")
    @app_commands.checks.cooldown(*COOLDOWN)
    async def following(self, interaction: discord.Interaction) -> None:
        """Your follows, with buttons to pause, resume or remove each (only you see them)"""
        await show_following(interaction)

    async def own_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Autocomplete: the member's own follows whose name contains what was typed, and "all"."""
        needle = current.casefold()
        names = [f.name for f in await self.follows.following(interaction.user.id)]
        found = [n for n in names if needle in n.casefold()][: NAME_CHOICES - 1]
        choices = [app_commands.Choice(name=n[:100], value=n[:100]) for n in found]
        if names and needle in FORGET_ALL:
            choices.append(
                app_commands.Choice(name="all (forget everything about me)", value=FORGET_ALL)
            )
        return choices

    @app_commands.command(name="unfollow")
    @app_commands.describe(name='One of your follows, or "all" to forget everything about you')
    @app_commands.autocomplete(name=own_names)
    @app_commands.checks.cooldown(*COOLDOWN)
    async def unfollow(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]
    ) -> None:
        """Stop one of your follows, or all of them (name: all)"""
        user_id = interaction.user.id
        if name.strip().casefold() == FORGET_ALL:
            removed = await self.follows.forget(user_id)
            log.info("user %s asked to be forgotten (%d follow(s))", user_id, removed)
            await interaction.response.send_message(
                f"Done: I forgot everything I stored about you ({removed} follow"
                f"{'s' if removed != 1 else ''}, and any DMs still waiting). "
                "`/follow` starts again whenever you like.",
                ephemeral=True,
            )
            return
        notice = notice_text(await self.follows.take_notice(user_id))
        if not await self.follows.unfollow(user_id, name.strip()):
            raise UserFacingError(
                "\n\n".join(
                    p
                    for p in (
                        notice,
                        f"You don't follow anything named **{plain(name, 64)}**: "
                        "see `/following` for your follows.",
                    )
                    if p
                )
            )
        text = f"Stopped following **{plain(name, 64)}**; nothing more will come from it."
        await interaction.response.send_message(
            "\n\n".join(p for p in (notice, text) if p), ephemeral=True
        )

    @commands.Cog.listener()
    async def on_app_command_completion(
        self, interaction: discord.Interaction, command: object
    ) -> None:
        """After any other command: a pending "DMs closed" notice, privately, once."""
        name = getattr(command, "qualified_name", "")
        if name in ("follow", "following", "unfollow"):
            return  # these show it in their own answer
        try:
            notice = notice_text(await self.follows.take_notice(interaction.user.id))
            if notice:
                await interaction.followup.send(notice, ephemeral=True)
        except discord.HTTPException as exc:
            log.info("could not show a DM notice to user %s: %s", interaction.user.id, exc)
