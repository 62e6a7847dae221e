"""What a cog may use of the running bot, as a Protocol: cogs never import the bot class."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import discord
from discord import app_commands

from bot.app import Services


class Schedule(Protocol):
    """The poll schedule as `/status` sees it."""

    @property
    def running(self) -> bool: ...

    def next_run(self, source: str) -> datetime | None: ...


class BotContext(Protocol):
    """The services, the clock, the schedule and the command tree: all a cog needs."""

    @property
    def services(self) -> Services: ...

    @property
    def scheduler(self) -> Schedule | None: ...

    @property
    def tree(self) -> app_commands.CommandTree[Any]: ...

    def clock(self) -> datetime: ...

    def wake_publisher(self) -> None: ...

    async def is_owner(self, user: discord.User | discord.Member, /) -> bool: ...

    def add_dynamic_items(self, *items: type[discord.ui.DynamicItem[Any]]) -> None: ...
