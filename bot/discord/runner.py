"""The composition root of `paperfeed run`: the one place that wires the bot, its cogs, the
poll schedule and the publisher's wake-up; it opens everything in order and closes in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import discord
from discord.utils import MISSING

from bot.app import Services, follow_settings, open_services
from bot.config import Config, format_shards
from bot.discord.client import CogFactory, PaperfeedBot
from bot.discord.cogs.feeds import FeedsCog
from bot.discord.cogs.follows import FollowsCog
from bot.discord.cogs.info import InfoCog
from bot.discord.cogs.reader import ReaderCog
from bot.discord.direct import DiscordDirectMessenger
from bot.discord.dm_messages import dm_messages
from bot.discord.embeds import credited_source, feed_message
from bot.discord.endpoints import use_discord_endpoints
from bot.discord.identify import GatewayGuard
from bot.discord.listings import digest_message
from bot.discord.target import DiscordTarget
from bot.errors import ConfigError, PaperfeedError
from bot.metrics import Metrics
from bot.models import Paper
from bot.services.cluster import Heartbeat, Identity, Leadership, lease_ttl, live_publishers
from bot.services.dm import DmPublisher
from bot.services.follows import DirectMessenger
from bot.services.publisher import Body, Publisher, limiter_for
from bot.services.scheduler import PollScheduler, plan_jobs
from bot.sources.registry import SOURCES, section_of
from bot.store import cluster_store
from bot.web import Check, HealthServer

log = logging.getLogger(__name__)
FIRST_POLL_DELAY = 20.0  # seconds after start before the first source is polled
RETRY_FIRST = 30.0  # seconds before the first retry when Discord cannot be reached
RETRY_CAP = 300.0  # the pause between retries doubles up to this
# What "cannot reach" looks like: DNS failures and refused connections are OSErrors (aiohttp's
# ClientConnectorError included); a stalled connection is a timeout.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (OSError, aiohttp.ClientError, TimeoutError)
GATEWAY_ERRORS: tuple[type[BaseException], ...] = (*NETWORK_ERRORS, discord.GatewayNotFound)
Wait = Callable[[float], Awaitable[bool]]  # pause this long; True if asked to stop meanwhile
COGS: tuple[CogFactory, ...] = (FeedsCog, ReaderCog, InfoCog, FollowsCog)
# How the bot sends DMs (the Discord layer's DirectMessenger); None: personal follows are kept
# and matched, but nothing is sent until a messenger is wired here.
MessengerFactory = Callable[[discord.Client], DirectMessenger]
MESSENGER: MessengerFactory | None = DiscordDirectMessenger


def backoff_delays(first: float = RETRY_FIRST, cap: float = RETRY_CAP) -> Iterator[float]:
    """30 s, 60 s, 120 s, ... capped: patient with an outage, never hammering."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)


def _say_delay(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 60 else f"{seconds / 60:g} min"


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def login_with_retry(
    client: discord.Client,
    token: str,
    api_base: str,
    *,
    wait: Wait,
    delays: Iterator[float] | None = None,
) -> bool:
    """Log in, retrying while Discord cannot be reached; False if stopped while waiting.

    One warning line per failed attempt, naming the API base (never the token). A refused
    token (LoginFailure) is not a network error and goes straight up.
    """
    delays = backoff_delays() if delays is None else delays
    while True:
        try:
            await client.login(token)
            return True
        except NETWORK_ERRORS as exc:
            if client.user is not None:
                # Failed after Discord accepted the token, inside setup_hook: logging in
                # again would run setup_hook twice, so this is not retried.
                raise PaperfeedError(
                    f"lost Discord at {api_base} while starting: {_reason(exc)}"
                ) from None
            delay = next(delays)
            log.warning(
                "cannot reach Discord at %s (%s): retrying in %s",
                api_base,
                _reason(exc),
                _say_delay(delay),
            )
            # static_login opens a new HTTP session on each attempt: close this one first (its
            # connector goes with it, so let discord.py make a fresh one).
            await client.http.close()
            client.http.connector = MISSING
            if await wait(delay):
                return False


async def connect_with_retry(
    client: discord.Client,
    api_base: str,
    *,
    wait: Wait,
    delays: Iterator[float] | None = None,
) -> None:
    """Run the gateway; asking Discord for it (GET /gateway/bot) is retried like the login.

    Once connected, discord.py reconnects by itself (reconnect=True) with its own backoff.
    """
    delays = backoff_delays() if delays is None else delays
    while not client.is_closed():
        try:
            await client.connect(reconnect=True)
            return
        except GATEWAY_ERRORS as exc:
            if client.is_closed():
                return
            delay = next(delays)
            log.warning(
                "cannot reach Discord's gateway via %s (%s): retrying in %s",
                api_base,
                _reason(exc),
                _say_delay(delay),
            )
            if await wait(delay):
                return


def source_label(paper: Paper) -> str:
    return credited_source(paper)


def paper_body(paper: Paper, feed_name: str) -> Body:
    """What a feed posts; `paperfeed show --payload` prints the same body."""
    return feed_message(paper, feed_name)


def digest_body(papers: Any, feed_name: str, more: int, day: str) -> Body:
    return digest_message(papers, feed_name=feed_name, more=more, date_label=day)


def poll_intervals(config: Config) -> dict[str, timedelta]:
    """The enabled sources and how often each is polled."""
    sections = [(kind.name, section_of(config.sources, kind)) for kind in SOURCES]
    return {name: section.interval for name, section in sections if section.enabled}


def build_scheduler(services: Services, leadership: Leadership | None = None) -> PollScheduler:
    """The poll schedule; with leases, only the process holding a source's lease polls it.

    The first poll comes FIRST_POLL_DELAY after start, or one interval when that is shorter
    (a test server polled every few seconds need not wait).
    """
    intervals = poll_intervals(services.config)
    first = min([timedelta(seconds=FIRST_POLL_DELAY), *intervals.values()])
    return PollScheduler(
        services.poller,
        plan_jobs(intervals, first),
        after_poll=services.wake.set,
        leadership=leadership,
    )


def build_bot(
    services: Services,
    *,
    clock: Callable[[], datetime],
    with_scheduler: bool = True,
    metrics: Metrics | None = None,
    background: bool = True,
    make_messenger: MessengerFactory | None = None,
    leadership: Leadership | None = None,
    **options: Any,
) -> PaperfeedBot:
    """Wire the bot to the services; tests use this with the loopback Discord."""
    config = services.config
    # One wake-up for everything that queues deliveries: a poll, a new feed, a kept paper.
    wake = services.wake
    scheduler = build_scheduler(services, leadership) if with_scheduler else None

    # One budget for the requests the bot makes on its own (posts, DMs, opening DM channels),
    # below Discord's global 50 a second: the two delivery loops run side by side.
    pace = limiter_for(services.store)  # shared by every publisher on PostgreSQL
    cluster = cluster_store(services.store)
    peers = functools.partial(live_publishers, cluster) if cluster is not None else None

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
            limiter=pace,
            peers=peers,  # fair shares of the channels among live publishers
        )

    messenger = make_messenger or MESSENGER
    make_dm_publisher = None
    if messenger is not None and config.follows.enabled:

        def make_dm_publisher(client: discord.Client) -> DmPublisher:
            assert messenger is not None
            sender = messenger(client)
            if isinstance(sender, DiscordDirectMessenger):
                sender.limiter = pace
                if metrics is not None:
                    sender.on_response = metrics.record_discord_response
            return DmPublisher(
                services.store,
                sender,
                dm_messages,
                clock,
                follow_settings(config.follows),
                limiter=pace,
                on_outcome=metrics.record_dm if metrics is not None else None,
            )

    options.setdefault("gateway_guard", GatewayGuard(services.store.identifies))
    return PaperfeedBot(
        services, make_publisher, scheduler, clock=clock, cogs=COGS, wake=wake,
        background=background, make_dm_publisher=make_dm_publisher, **options,
    )  # fmt: skip


def health_checks(bot: PaperfeedBot | None, services: Services) -> dict[str, Check]:
    """What /healthz asks, for this process's roles: the gateway is connected (gateway), polls
    are scheduled (poller), the database writes (every role)."""
    checks: dict[str, Check] = {}
    if bot is not None and bot.gateway:

        async def gateway() -> bool:
            return bot.is_ready() and not bot.is_closed()

        checks["gateway"] = gateway
    scheduler = bot.scheduler if bot is not None else None

    async def scheduled() -> bool:
        return scheduler is None or scheduler.running

    checks["scheduler"] = scheduled
    checks["database"] = services.store.check_writable
    return checks


def _require_token(config: Config) -> str:
    token = config.discord.token.get()
    if not token:
        raise ConfigError(
            "no Discord token: set $DISCORD_TOKEN or [discord] token_file "
            "(the offline commands, e.g. `paperfeed search`, need none)"
        )
    return token


def shard_options(config: Config) -> dict[str, Any]:
    """discord.py's shard_ids/shard_count for a gateway process, from [discord] or --shards."""
    d = config.discord
    options: dict[str, Any] = {}
    if d.shard_count:
        options["shard_count"] = d.shard_count
    if d.shard_ids:
        options["shard_ids"] = list(d.shard_ids)
    return options


async def _sync_config_feeds(services: Services) -> None:
    """Config feeds into the store; processes starting together may race on the same names,
    so one failed attempt is tried again (the other process's rows are then there)."""
    try:
        await services.feeds.sync_config(services.config.feeds)
    except PaperfeedError as exc:
        log.info("syncing the config feeds again after: %s", exc)
        await asyncio.sleep(0.5)
        await services.feeds.sync_config(services.config.feeds)


@contextlib.asynccontextmanager
async def _cluster_presence(services: Services, config: Config) -> AsyncIterator[Leadership | None]:
    """Heartbeats and poll leases on a shared database; nothing on a SQLite file."""
    cluster = cluster_store(services.store)
    if cluster is None:
        yield None
        return
    roles = config.cluster.roles
    shards = format_shards(config.discord.shard_ids, config.discord.shard_count)
    me = Identity.here(roles, shards if config.cluster.has("gateway") else "")
    index = getattr(services.store.papers, "index", None)  # this process's local search index
    heartbeat = Heartbeat(cluster, me, search=getattr(index, "status", None))
    leadership = None
    if config.cluster.has("poller"):
        ttls = {name: lease_ttl(every) for name, every in poll_intervals(config).items()}
        leadership = Leadership(cluster, me.id, ttls) if ttls else None
    await heartbeat.start()
    log.info(
        "cluster process %s: roles %s%s",
        me.id,
        ",".join(roles),
        f", shards {shards}" if shards else "",
    )
    try:
        if leadership is not None:
            await leadership.start()
        yield leadership
    finally:
        if leadership is not None:
            await leadership.stop()
        await heartbeat.stop()


async def run_bot(config: Config) -> int:
    """Run this process's roles until a signal; exit 0 after a clean stop, 2 for a refused token.

    gateway: the Discord connection and the slash commands (for `[discord] shard_ids`);
    publisher: delivers the outbox over REST; poller: the poll schedule (one poller per source
    polls at a time, by lease). `all` is every role, the single-process bot.
    """
    cluster = config.cluster
    discord_roles = cluster.has("gateway") or cluster.has("publisher")
    token = _require_token(config) if discord_roles else ""
    use_discord_endpoints(config.discord.api_base, config.discord.gateway_url)
    metrics = Metrics()
    metrics.set_roles(cluster.roles)
    async with open_services(config, metrics=metrics, serving=True) as services:
        if cluster.has("gateway") or cluster.has("poller"):
            await _sync_config_feeds(services)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        async def wait(delay: float) -> bool:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            return stop.is_set()

        async with _cluster_presence(services, config) as leadership:
            if not discord_roles:
                await _run_poller_only(services, metrics, leadership, stop, loop)
            else:
                await _run_with_discord(services, metrics, leadership, token, stop, wait, loop)
    log.info("stopped cleanly")
    return 0


def _on_signals(loop: asyncio.AbstractEventLoop, handler: Callable[[str], None]) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, handler, sig.name)


def _off_signals(loop: asyncio.AbstractEventLoop) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(sig)


async def _run_poller_only(
    services: Services,
    metrics: Metrics,
    leadership: Leadership | None,
    stop: asyncio.Event,
    loop: asyncio.AbstractEventLoop,
) -> None:
    """A poller process: no Discord at all, only the schedule (and the health endpoint)."""
    scheduler = build_scheduler(services, leadership)

    def request_stop(name: str) -> None:
        if not stop.is_set():
            log.info("%s received: stopping", name)
            stop.set()

    _on_signals(loop, request_stop)
    try:
        checks: dict[str, Check] = {
            "scheduler": _running(scheduler),
            "database": services.store.check_writable,
        }
        async with HealthServer(services.config.health, checks, metrics, services.store):
            scheduler.start(services.clock())
            try:
                await stop.wait()
            finally:
                await scheduler.shutdown()
    finally:
        _off_signals(loop)


def _running(scheduler: PollScheduler) -> Check:
    async def check() -> bool:
        return scheduler.running

    return check


async def _run_with_discord(
    services: Services,
    metrics: Metrics,
    leadership: Leadership | None,
    token: str,
    stop: asyncio.Event,
    wait: Wait,
    loop: asyncio.AbstractEventLoop,
) -> None:
    """A process with a Discord face: the gateway (and commands), the publisher, or both."""
    config = services.config
    cluster = config.cluster
    bot = build_bot(
        services,
        clock=services.clock,
        metrics=metrics,
        with_scheduler=cluster.has("poller"),
        leadership=leadership,
        gateway=cluster.has("gateway"),
        publish=cluster.has("publisher"),
        **(shard_options(config) if cluster.has("gateway") else {}),
    )
    closing: list[asyncio.Task[None]] = []

    def request_stop(name: str) -> None:
        if not closing:
            log.info("%s received: stopping", name)
            stop.set()
            closing.append(loop.create_task(bot.close()))

    _on_signals(loop, request_stop)
    try:
        async with (
            HealthServer(config.health, health_checks(bot, services), metrics, services.store),
            bot,
        ):
            api_base = config.discord.api_base
            if await login_with_retry(bot, token, api_base, wait=wait):
                if cluster.has("gateway"):
                    await connect_with_retry(bot, api_base, wait=wait)
                else:
                    await stop.wait()  # REST only: the publisher runs until a signal
            if closing:
                await closing[0]
    except discord.LoginFailure:
        raise ConfigError("Discord refused the token (401): check $DISCORD_TOKEN") from None
    except discord.PrivilegedIntentsRequired:  # pragma: no cover - we ask for none
        raise PaperfeedError("Discord refused the gateway intents") from None
    finally:
        _off_signals(loop)


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
                    await services.store.sources.set_state(
                        "discord", "commands_hash", bot.command_payload_hash()
                    )
        except discord.LoginFailure:
            raise ConfigError("Discord refused the token (401): check $DISCORD_TOKEN") from None
        return len(synced)
