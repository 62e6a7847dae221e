"""A small bot used only by the fake's own tests: a few slash commands of each answering style.

/ping answers directly, /papers defers and follows up with embeds, /draft edits its original
answer, /post sends embeds to a channel, /slow waits for the test before answering, /search
autocompletes, /feed add|remove are sub-commands that need Manage Channels, /menu shows a
button and a select, /attach uploads files, /crash raises.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord.fixtures import FAST_CLIENT_OPTIONS

TOPICS = ["causal inference", "causal discovery", "diffusion", "language models"]


def paper_embed(i: int, *, description: str = "An abstract.") -> discord.Embed:
    """An embed shaped like the product's paper posts."""
    embed = discord.Embed(
        title=f"Paper {i}",
        url=f"https://huggingface.co/papers/2602.{23229 + i}",
        description=description,
        color=0xFFD21E,
    )
    embed.add_field(name="Upvotes", value=str(10 + i))
    embed.set_footer(text="Hugging Face Papers")
    return embed


class Menu(discord.ui.View):
    """Buttons that rewrite the message (at once, or after a deferred update) and a select that
    answers with a new message."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Like", custom_id="like", style=discord.ButtonStyle.primary)
    async def like(self, interaction: discord.Interaction, button: discord.ui.Button[Menu]) -> None:
        await interaction.response.edit_message(content="liked", view=self)

    @discord.ui.button(label="Refresh", custom_id="refresh", style=discord.ButtonStyle.secondary)
    async def refresh(
        self, interaction: discord.Interaction, button: discord.ui.Button[Menu]
    ) -> None:
        await interaction.response.defer()  # type 6: acknowledge now, update the message later
        await interaction.edit_original_response(content="refreshed")

    @discord.ui.select(
        custom_id="topic",
        placeholder="Pick topics",
        min_values=1,
        max_values=2,
        options=[discord.SelectOption(label=t, value=t) for t in TOPICS],
    )
    async def topic(
        self, interaction: discord.Interaction, select: discord.ui.Select[Menu]
    ) -> None:
        await interaction.response.send_message(
            f"picked {', '.join(select.values)}", ephemeral=True
        )


class FeedGroup(app_commands.Group):
    """Sub-commands that need Manage Channels (Discord hides them from other members)."""

    def __init__(self, bot: PaperTestBot) -> None:
        super().__init__(
            name="feed",
            description="Manage paper feeds",
            default_permissions=discord.Permissions(manage_channels=True),
            guild_only=True,
        )
        self.bot = bot

    @app_commands.command(name="add", description="Add a feed")
    @app_commands.describe(name="Feed name", query="What to look for")
    async def add(
        self, interaction: discord.Interaction, name: str, query: str, backfill: int = 3
    ) -> None:
        self.bot.calls.append(("feed add", {"name": name, "query": query, "backfill": backfill}))
        await interaction.response.send_message(f"added {name}", ephemeral=True)

    @app_commands.command(name="remove", description="Remove a feed")
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        self.bot.calls.append(("feed remove", {"name": name}))
        await interaction.response.send_message(f"removed {name}", ephemeral=True)


class PaperTestBot(commands.Bot):
    """The test-only bot; `errors` collects Discord errors its commands caught."""

    def __init__(self, *, intents: discord.Intents | None = None, **options: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents if intents is not None else discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            **{**FAST_CLIENT_OPTIONS, **options},
        )
        self.gate = asyncio.Event()
        self.errors: list[discord.HTTPException] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.seen_messages: list[int] = []
        self.resumed = 0
        self.setup_runs = 0

    async def setup_hook(self) -> None:
        self.setup_runs += 1
        for command in build_commands(self):
            self.tree.add_command(command)
        self.tree.add_command(FeedGroup(self))

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5-second pause before re-identifying: the fake has no identify rate limit to respect."""

    async def on_message(self, message: discord.Message) -> None:
        self.seen_messages.append(message.id)

    async def on_resumed(self) -> None:
        self.resumed += 1

    async def close(self) -> None:
        self.gate.set()  # let a /slow still waiting finish instead of leaving its task pending
        await super().close()


class ShardedPaperTestBot(commands.AutoShardedBot):
    """The same commands on an AutoShardedBot (which asks GET /gateway/bot first)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            **{**FAST_CLIENT_OPTIONS, **options},
        )
        self.errors: list[discord.HTTPException] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.gate = asyncio.Event()

    async def setup_hook(self) -> None:
        for command in build_commands(self):
            self.tree.add_command(command)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5-second pause between shards in tests."""


def build_commands(bot: Any) -> list[app_commands.Command[Any, Any, Any]]:
    """Fresh command objects for one bot."""

    @app_commands.command(description="Check that the bot answers")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    @app_commands.command(description="Show latest papers")
    @app_commands.describe(source="Where to look", limit="How many (1-10)")
    @app_commands.choices(
        source=[
            app_commands.Choice(name="Hugging Face", value="hf"),
            app_commands.Choice(name="arXiv", value="arxiv"),
        ]
    )
    async def papers(
        interaction: discord.Interaction, source: str, limit: app_commands.Range[int, 1, 10] = 3
    ) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(embeds=[paper_embed(i) for i in range(limit)])

    @app_commands.command(description="Answer, then edit the answer")
    async def draft(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("draft")
        await interaction.edit_original_response(content="final", embed=paper_embed(0))

    @app_commands.command(description="Post paper embeds to a channel")
    async def post(
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        count: app_commands.Range[int, 1, 10] = 1,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            for i in range(count):
                await channel.send(embed=paper_embed(i))
        except discord.HTTPException as exc:
            bot.errors.append(exc)
            await interaction.followup.send(f"failed: {exc.code}", ephemeral=True)
            return
        await interaction.followup.send(f"posted {count}", ephemeral=True)

    @app_commands.command(description="Answer only when the test says so")
    async def slow(interaction: discord.Interaction) -> None:
        await bot.gate.wait()
        try:
            await interaction.response.send_message("finally")
        except discord.HTTPException as exc:
            bot.errors.append(exc)

    @app_commands.command(description="Search papers")
    async def search(interaction: discord.Interaction, query: str) -> None:
        await interaction.response.send_message(f"results for {query}", ephemeral=True)

    @search.autocomplete("query")
    async def search_topics(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=t, value=t) for t in TOPICS if current.lower() in t][:25]

    @app_commands.command(description="Show a menu")
    async def menu(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("choose", view=Menu())

    @app_commands.command(description="Answer with a file, then follow up with another")
    async def attach(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            "first", file=discord.File(io.BytesIO(b"one"), "1.txt")
        )
        await interaction.followup.send("second", file=discord.File(io.BytesIO(b"two!"), "2.txt"))

    @app_commands.command(description="Fail on purpose")
    async def crash(interaction: discord.Interaction) -> None:
        raise RuntimeError("on purpose")

    return [ping, papers, draft, post, slow, search, menu, attach, crash]
