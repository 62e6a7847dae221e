"""The composition root of `paperfeed run`: open everything in order, run, close in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from datetime import datetime
from typing import Any

import discord

from bot.app import Services, open_services
from bot.config import Config
from bot.discord.client import PaperfeedBot
from bot.discord.embeds import credited_source, digest_message, feed_message
from bot.discord.endpoints import use_discord_endpoints
from bot.discord.target import DiscordTarget
from bot.errors import ConfigError, PaperfeedError
from bot.metrics import Metrics
from bot.models import Paper
from bot.services.feeds import sync_config_feeds
from bot.services.publisher import Body, Publisher
from bot.services.scheduler import PollScheduler, plan_jobs
from bot.web import Check, HealthServer

log = logging.getLogger(__name__)
FIRST_POLL_DELAY = 20.0  # seconds after start before the first source is polled


def source_label(paper: Paper) -> str:
    return credited_source(paper)


def paper_body(paper: Paper, feed_name: str) -> Body:
    """What a feed posts; `paperfeed show --payload` prints the same body."""
    return feed_message(paper, feed_name)


def digest_body(papers: Any, feed_name: str, more: int, day: str) -> Body:
    return digest_message(papers, feed_name=feed_name, more=more, date_label=day)


def build_bot(
    services: Services,
    *,
    clock: Callable[[], datetime],
    with_scheduler: bool = True,
    metrics: Metrics | None = None,
    background: bool = True,
    **options: Any,
) -> PaperfeedBot:
    """Wire the bot to the services; tests use this with the loopback Discord."""
    config = services.config
    scheduler: PollScheduler | None = None
    holder: dict[str, PaperfeedBot] = {}
    if with_scheduler:
        intervals = {}
        if config.sources.huggingface.enabled:
            intervals["huggingface"] = config.sources.huggingface.interval
        if config.sources.arxiv.enabled:
            intervals["arxiv"] = config.sources.arxiv.interval
        from datetime import timedelta

        scheduler = PollScheduler(
            services.poller,
            plan_jobs(intervals, timedelta(seconds=FIRST_POLL_DELAY)),
            after_poll=lambda: holder["bot"].wake_publisher(),
        )

    def make_publisher(client: discord.Client) -> Publisher:
        target = DiscordTarget(
            client,
            config.discord.alerts_channel_id,
            on_response=metrics.record_discord_response if metrics is not None else None,
        )
        on_outcome = metrics.record_delivery if metrics is not None else None
        return Publisher(
            services.store,
            target,
            paper_body,
            clock,
            build_digest=digest_body,
            on_outcome=on_outcome,
        )

    bot = PaperfeedBot(
        services, make_publisher, scheduler, clock=clock, background=background, **options
    )
    holder["bot"] = bot
    return bot


def health_checks(bot: PaperfeedBot) -> dict[str, Check]:
    """What /healthz asks: the gateway is connected, polls are scheduled, the database writes."""

    async def gateway() -> bool:
        return bot.is_ready() and not bot.is_closed()

    async def scheduler() -> bool:
        return bot.scheduler is None or bot.scheduler.running

    return {
        "gateway": gateway,
        "scheduler": scheduler,
        "database": bot.services.store.check_writable,
    }


def _require_token(config: Config) -> str:
    token = config.discord.token.get()
    if not token:
        raise ConfigError(
            "no Discord token: set $DISCORD_TOKEN or [discord] token_file "
            "(the offline commands, e.g. `paperfeed search`, need none)"
        )
    return token


async def run_bot(config: Config) -> int:
    """Run until a signal; exit 0 after a clean stop, 2 for a refused token."""
    token = _require_token(config)
    use_discord_endpoints(config.discord.api_base, config.discord.gateway_url)
    metrics = Metrics()
    async with open_services(config, metrics=metrics) as services:
        await sync_config_feeds(services.store, config.feeds, services.clock())
        bot = build_bot(services, clock=services.clock, metrics=metrics)
        loop = asyncio.get_running_loop()
        closing: list[asyncio.Task[None]] = []

        def request_stop(name: str) -> None:
            if not closing:
                log.info("%s received: stopping", name)
                closing.append(loop.create_task(bot.close()))

        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, request_stop, sig.name)
        try:
            async with (
                HealthServer(config.health, health_checks(bot), metrics, services.store),
                bot,
            ):
                await bot.start(token)
        except discord.LoginFailure:
            raise ConfigError("Discord refused the token (401): check $DISCORD_TOKEN") from None
        except discord.PrivilegedIntentsRequired:  # pragma: no cover - we ask for none
            raise PaperfeedError("Discord refused the gateway intents") from None
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError):
                    loop.remove_signal_handler(sig)
    log.info("stopped cleanly")
    return 0


async def sync_commands(config: Config, guild_id: int | None) -> int:
    """Log in over REST only (no gateway) and register the slash commands."""
    token = _require_token(config)
    use_discord_endpoints(config.discord.api_base, config.discord.gateway_url)
    async with open_services(config) as services:
        bot = build_bot(services, clock=services.clock, with_scheduler=False, background=False)
        try:
            async with bot:
                await bot.login(token)  # runs setup_hook, which registers the commands
                if guild_id:
                    guild = discord.Object(guild_id)
                    bot.tree.copy_global_to(guild=guild)
                    synced = await bot.tree.sync(guild=guild)
                else:
                    synced = await bot.tree.sync()
                    await services.store.set_state(
                        "discord", "commands_hash", bot.command_payload_hash()
                    )
        except discord.LoginFailure:
            raise ConfigError("Discord refused the token (401): check $DISCORD_TOKEN") from None
        return len(synced)
