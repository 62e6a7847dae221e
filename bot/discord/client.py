"""The bot: a discord.py AutoShardedBot that owns the background work and the slash commands.

Everything it uses is opened by the composition root and handed in; the bot starts its
background work in `setup_hook` (inside the running loop) and stops it in `close`, in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import discord
from discord.ext import commands

from bot.app import Services
from bot.discord.context import BotContext
from bot.discord.errors import install_error_handler
from bot.models import FeedOrigin
from bot.services.publisher import Publisher
from bot.services.scheduler import PollScheduler

log = logging.getLogger(__name__)
CogFactory = Callable[[BotContext], commands.Cog]

PUBLISH_INTERVAL = 30.0  # seconds between outbox rounds when nothing wakes the publisher
SHUTDOWN_GRACE = 8.0  # seconds in-flight sends get to finish on SIGTERM (Docker waits 10)


def bot_intents() -> discord.Intents:
    """No privileged intents: slash commands need none, and guilds gives channels and roles."""
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


class PaperfeedBot(commands.AutoShardedBot):
    """Slash commands in, papers out; nothing here talks to SQL or upstreams directly."""

    def __init__(
        self,
        services: Services,
        make_publisher: Callable[[discord.Client], Publisher],
        scheduler: PollScheduler | None,
        *,
        clock: Callable[[], datetime],
        cogs: Sequence[CogFactory] = (),
        wake: asyncio.Event | None = None,
        sync_global: bool = False,
        background: bool = True,
        gateway: bool = True,
        publish: bool = True,
        **options: Any,
    ) -> None:
        # discord.py warns at every start that voice libraries are missing; the bot never
        # joins a voice channel, so the warning is noise (these flags only gate the warning).
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=bot_intents(),
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.services = services
        self.publisher = make_publisher(self)
        self.scheduler = scheduler
        self.clock = clock
        self.sync_global = sync_global
        self.background = background  # False: commands only (sync-commands), no polls or sends
        # The cluster roles this process plays (bot.config.ClusterConfig): a publisher-only
        # process logs in over REST and never syncs the commands the gateways answer.
        self.gateway = gateway
        self.publish = publish
        self._cogs = tuple(cogs)
        # Shared with whatever queues deliveries (the scheduler, the services), so that they
        # wake the publisher without knowing the bot.
        self._wake = wake if wake is not None else asyncio.Event()
        self._publish_task: asyncio.Task[None] | None = None
        self._closing = False

    async def setup_hook(self) -> None:
        install_error_handler(self.tree)
        for make_cog in self._cogs:
            await self.add_cog(make_cog(self))
        if not self.background:
            return
        if self.gateway:
            await self.sync_commands()
        if self.scheduler is not None:
            self.scheduler.start(self.clock())
        if self.publish:
            await self.publisher.reconcile()
            self._publish_task = asyncio.create_task(
                self._publish_loop(), name="paperfeed publisher"
            )

    async def on_ready(self) -> None:
        await self.bind_config_feeds()
        log.info("connected as %s to %d guild(s)", self.user, len(self.guilds))

    def wake_publisher(self) -> None:
        """Something was queued: deliver now rather than at the next round."""
        self._wake.set()

    async def _publish_loop(self) -> None:
        """Deliver what the outbox owes until close(); a failing round never ends the loop."""
        while not self._closing:
            try:
                report = await self.publisher.publish_due()
                await self.publisher.publish_digests()
                if report.more and not self._closing:
                    continue  # a full batch: the rest is due now, not in PUBLISH_INTERVAL
            except Exception:
                log.exception("a delivery round failed; the next one will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=PUBLISH_INTERVAL)
            self._wake.clear()

    async def bind_config_feeds(self) -> None:
        """Config feeds name only a channel; learn its guild so /feed list shows them there."""
        store = self.services.store
        for feed in await store.feeds.list():
            if feed.origin is FeedOrigin.CONFIG and feed.guild_id is None:
                channel = self.get_channel(feed.channel_id)
                guild = getattr(channel, "guild", None)
                if guild is not None:
                    await store.feeds.bind_guild(feed.id, guild.id)

    def command_payload_hash(self) -> str:
        """A fingerprint of the global commands, so they are re-synced only when they change."""
        payload = [c.to_dict(self.tree) for c in self.tree.get_commands()]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    async def sync_commands(self) -> None:
        """Development guilds get instant copies; global commands sync when they changed."""
        for guild_id in self.services.config.discord.dev_guild_ids:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                log.warning("could not sync commands to guild %d: %s", guild_id, exc)
        digest = self.command_payload_hash()
        store = self.services.store
        if self.sync_global or await store.sources.get_state("discord", "commands_hash") != digest:
            await self.tree.sync()
            await store.sources.set_state("discord", "commands_hash", digest)
            log.info("global slash commands synced")

    async def close(self) -> None:
        """Stop polling, let in-flight sends finish (or be recorded), then disconnect."""
        if not self._closing:
            self._closing = True
            self.publisher.stop()
            if self.scheduler is not None:
                await self.scheduler.shutdown()
            self._wake.set()
            if self._publish_task is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(self._publish_task), SHUTDOWN_GRACE)
                except TimeoutError:
                    log.warning("deliveries still in flight at shutdown; they will be reconciled")
                    self._publish_task.cancel()
                    await asyncio.gather(self._publish_task, return_exceptions=True)
        await super().close()
