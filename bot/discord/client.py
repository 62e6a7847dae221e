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
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import discord
from discord.ext import commands
from discord.gateway import KeepAliveHandler

from bot.app import Services
from bot.discord.context import BotContext
from bot.discord.errors import install_error_handler
from bot.discord.identify import GatewayGuard, GatewayStop, SessionLimits
from bot.models import FeedOrigin
from bot.services.dm import DmPublisher
from bot.services.publisher import Publisher, watch_outbox
from bot.services.scheduler import PollScheduler

log = logging.getLogger(__name__)
CogFactory = Callable[[BotContext], commands.Cog]

# With the gateway guard a shard may wait its bucket's turn behind every shard of the cluster
# (5.5 s each at max_concurrency 1) inside discord.py's connect timeout (180 s by default):
# 600 s covers about 100 shards per bucket before a wait is cut short and its turn wasted.
GUARDED_SHARD_CONNECT_TIMEOUT = 600.0
PUBLISH_INTERVAL = 30.0  # seconds between outbox rounds when nothing wakes the publisher
DM_INTERVAL = 20.0  # seconds between DM rounds: a daily DM is due to the minute
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
        make_dm_publisher: Callable[[discord.Client], DmPublisher] | None = None,
        gateway_guard: GatewayGuard | None = None,
        gateway: bool = True,
        publish: bool = True,
        **options: Any,
    ) -> None:
        # discord.py warns at every start that voice libraries are missing; the bot never
        # joins a voice channel, so the warning is noise (these flags only gate the warning).
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        if gateway_guard is not None:
            options.setdefault("shard_connect_timeout", GUARDED_SHARD_CONNECT_TIMEOUT)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=bot_intents(),
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.services = services
        self.publisher = make_publisher(self)
        # Personal follows by DM: none when follows are off or no DM sender is wired.
        self.dm_publisher = make_dm_publisher(self) if make_dm_publisher is not None else None
        self._dm_task: asyncio.Task[None] | None = None
        self._dm_stop = asyncio.Event()
        self.scheduler = scheduler
        self.clock = clock
        self.sync_global = sync_global
        self.background = background  # False: commands only (sync-commands), no polls or sends
        # Spaces IDENTIFYs across every gateway process and guards the daily budget; None
        # keeps discord.py's own pause (5 s between this process's shards).
        self.gateway_guard = gateway_guard
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
            if self.dm_publisher is not None:
                await self.dm_publisher.reconcile()
                self._dm_task = asyncio.create_task(self._dm_loop(), name="paperfeed DMs")
            else:  # `[follows] enabled = false`: what waited is dropped, not kept for later
                await self.services.follows.drop_if_off()

    async def connect(self, *, reconnect: bool = True) -> None:
        """Run the gateway; a spent identify budget ends it with its one-line error."""
        try:
            await super().connect(reconnect=reconnect)
        except GatewayStop as stop:
            await self._close_unclaimed_gateways()
            await self.close()
            raise stop.error from None

    async def _close_unclaimed_gateways(self) -> None:
        """Close the websocket whose IDENTIFY the guard refused: discord.py had not handed it to
        a shard yet, so closing the bot would leave it, and its heartbeat thread, running."""
        for thread in threading.enumerate():
            ws = getattr(thread, "ws", None)
            if (
                isinstance(thread, KeepAliveHandler)
                and getattr(ws, "_dispatch", None) == self.dispatch
            ):
                with contextlib.suppress(Exception):
                    await thread.ws.close(code=1000)

    async def launch_shards(self) -> None:
        """Check Discord's session budget (and our own) before any shard identifies."""
        if self.gateway_guard is not None and not self.is_closed():
            recommended, _, limits = await self.http.get_bot_gateway()
            shards = len(self.shard_ids) if self.shard_ids else self.shard_count or recommended
            await self.gateway_guard.before_start(shards, SessionLimits.from_discord(limits))
        await super().launch_shards()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Take the shard's identify turn across the cluster (see bot.discord.identify)."""
        if self.gateway_guard is None:
            await super().before_identify_hook(shard_id, initial=initial)
            return
        await self.gateway_guard.before_identify(shard_id or 0)

    async def on_ready(self) -> None:
        await self.bind_config_feeds()
        log.info("connected as %s to %d guild(s)", self.user, len(self.guilds))

    def wake_publisher(self) -> None:
        """Something was queued: deliver now rather than at the next round."""
        self._wake.set()

    async def _publish_loop(self) -> None:
        """Deliver what the outbox owes until close(); a failing round never ends the loop.

        Woken by whatever queues here, by other processes' queueing where the store tells of
        it (LISTEN/NOTIFY on PostgreSQL), and at the latest every PUBLISH_INTERVAL."""
        async with watch_outbox(self.services.store, self._wake.set):
            await self._publish_rounds()

    async def _publish_rounds(self) -> None:
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

    async def _dm_loop(self) -> None:
        """Send members' DMs as they come due until close(); a failing round never ends it."""
        assert self.dm_publisher is not None
        while not self._closing:
            try:
                await self.dm_publisher.run_once()
            except Exception:
                log.exception("a DM round failed; the next one will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dm_stop.wait(), timeout=DM_INTERVAL)

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
            if self.dm_publisher is not None:
                self.dm_publisher.stop()
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
            self._dm_stop.set()
            if self._dm_task is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(self._dm_task), SHUTDOWN_GRACE)
                except TimeoutError:
                    log.warning("DMs still in flight at shutdown; they will be reconciled")
                    self._dm_task.cancel()
                    await asyncio.gather(self._dm_task, return_exceptions=True)
        await super().close()
