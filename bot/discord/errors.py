"""One place that turns a failed slash command into a short, private answer."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.errors import PaperfeedError

log = logging.getLogger(__name__)


async def reply_privately(interaction: discord.Interaction, text: str) -> None:
    """Answer or follow up, whichever the interaction still allows; never raises."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not answer interaction %s: %s", interaction.id, exc)


def install_error_handler(tree: app_commands.CommandTree[discord.Client]) -> None:
    """Expected errors get their message; anything else is logged with context and apologised for."""

    @tree.error
    async def on_error(
        interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original = getattr(error, "original", error)
        if isinstance(original, PaperfeedError):  # UserFacingError among them
            await reply_privately(interaction, str(original))
            return
        if isinstance(error, app_commands.MissingPermissions | app_commands.NoPrivateMessage):
            await reply_privately(interaction, str(error))
            return
        if isinstance(error, app_commands.CommandOnCooldown):
            await reply_privately(
                interaction, f"Slow down a little: try again in {error.retry_after:.0f} s."
            )
            return
        if isinstance(error, app_commands.CheckFailure):
            await reply_privately(interaction, "You can't use this command here.")
            return
        command = interaction.command.qualified_name if interaction.command else "?"
        log.error(
            "command /%s failed for user %s in guild %s",
            command, interaction.user.id, interaction.guild_id, exc_info=original,
        )  # fmt: skip
        await reply_privately(
            interaction, "Something went wrong on my side; it has been logged. Please try again."
        )
