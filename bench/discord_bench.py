"""The Discord-side benchmarks: fan-out, memory of `paperfeed run`, interaction latency.

They run the product against the loopback Discord from `tests/fakes/discord` with Discord's own
limits (5 messages per 5 s per channel, 50 requests per second), so the figures are what the
rate limits allow on this machine, not what a remote Discord's latency would add.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.app import Services
from bot.config import Config, DatabaseConfig
from bot.discord.runner import build_bot
from bot.models import FeedSpec, Paper
from bot.services.poller import Poller
from bot.store import open_store
from tests.fakes.discord.fixtures import FAST_CLIENT_OPTIONS, BotStarter
from tests.fakes.discord.server import FakeDiscord

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MESSAGE_RATE = (5, 5.0)
GLOBAL_RATE = 50.0


def fanout_floor(deliveries: int, channels: int) -> float:
    """The least wall time Discord's limits allow: the global rate, or one channel's windows."""
    per_channel = -(-deliveries // channels)
    windows = max(0, -(-per_channel // MESSAGE_RATE[0]) - 1)
    return max(deliveries / GLOBAL_RATE, windows * MESSAGE_RATE[1])


def _paper(n: int) -> Paper:
    return Paper(id=f"2611.{n:05d}", title=f"Benchmark paper {n} on sparse attention",
                 abstract="We measure things. The results are reported.", authors=("A. Bench",),
                 categories=("cs.LG",), published=NOW - timedelta(hours=1), upvotes=n % 50,
                 sources=frozenset({"huggingface"}))  # fmt: skip


async def _fill_outbox(db: str, channel_ids: list[int], guild_id: int, deliveries: int) -> None:
    """One feed per channel, papers owed round-robin, as one poll's matches would be."""
    async with open_store(db, clock=lambda: NOW) as store:
        await store.papers.upsert(_paper(i) for i in range(deliveries))
        feeds = [
            await store.feeds.add(
                FeedSpec(name=f"f{i}", channel_id=c, query="attention"), guild_id=guild_id
            )
            for i, c in enumerate(channel_ids)
        ]
        await store.outbox.queue(
            (feeds[i % len(feeds)].id, f"2611.{i:05d}") for i in range(deliveries)
        )


async def _fake_with_channels(count: int) -> tuple[FakeDiscord, list[int]]:
    fake = await FakeDiscord(openapi=None, message_rate=MESSAGE_RATE).start()
    channels = [(await fake.create_channel(f"feed-{i}", notify=False)).id for i in range(count)]
    return fake, channels


async def fanout(deliveries: int = 1000, channels: int = 200) -> dict[str, Any]:
    """Deliveries from a full outbox through the real publisher and discord.py to the fake."""
    fake, channel_ids = await _fake_with_channels(channels)
    assert fake.world is not None
    with tempfile.TemporaryDirectory(prefix="pf-fanout-") as tmp:
        db = str(Path(tmp) / "p.sqlite3")
        await _fill_outbox(db, channel_ids, fake.world.guild.id, deliveries)
        starter = BotStarter()
        try:
            async with open_store(db, clock=lambda: NOW) as store, httpx.AsyncClient() as http:
                config = Config(database=DatabaseConfig(path=db))
                services = Services(
                    config, store, http, Poller(store, [], lambda: NOW), None, None, lambda: NOW
                )
                started = await starter(fake, lambda: build_bot(
                    services, clock=lambda: NOW, with_scheduler=False, background=False,
                    **FAST_CLIENT_OPTIONS))  # fmt: skip
                bot = started.bot
                began = time.perf_counter()
                sent = 0
                while sent < deliveries:
                    report = await bot.publisher.publish_due()
                    if not (report.sent or report.retried):
                        break
                    sent += report.sent
                wall = time.perf_counter() - began
                await started.stop()
        finally:
            await starter.close_all()
            await fake.close()
    posted = len(fake.messages())
    floor = fanout_floor(deliveries, channels)
    too_many = [r for r in fake.requests if r.status == 429]
    return {
        "deliveries": deliveries,
        "channels": channels,
        "posted": posted,
        "wall_s": round(wall, 2),
        "floor_s": round(floor, 2),
        "ratio_vs_floor": round(wall / floor, 3),
        "responses_429": len(too_many),
        "invalid_requests": fake.invalid_request_count(),
    }


def _rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident memory of a process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def run_memory(db: Path, *, deliveries: int = 0, channels: int = 50, settle_s: float = 5.0,
                     ) -> dict[str, Any]:  # fmt: skip
    """Peak RSS of a real `paperfeed run` process: idle on a database, or during a fan-out."""
    fake, channel_ids = await _fake_with_channels(channels)
    assert fake.world is not None
    if deliveries:
        await _fill_outbox(str(db), channel_ids, fake.world.guild.id, deliveries)
    with tempfile.TemporaryDirectory(prefix="pf-run-") as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(
            f'[discord]\napi_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
            f'[database]\npath = "{db}"\n[health]\nport = 0\n'
            "[sources.huggingface]\nenabled = false\n[sources.arxiv]\nenabled = false\n"
        )
        env = {**os.environ, "DISCORD_TOKEN": fake.token}
        proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config), "run"],
                                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        try:
            began = time.perf_counter()
            await fake.wait_for_gateway("identify", 1, timeout=60)
            connected = time.perf_counter() - began
            peak = 0
            if deliveries:
                deadline = time.perf_counter() + 600
                while len(fake.messages()) < deliveries and time.perf_counter() < deadline:
                    peak = max(peak, _rss_kib(proc.pid)[1])
                    await asyncio.sleep(0.2)
                wall = time.perf_counter() - began - connected
            else:
                await asyncio.sleep(settle_s)  # idle: nothing to wait for but time passing
                wall = 0.0
            current, peak = _rss_kib(proc.pid)
        finally:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 15)
            except subprocess.TimeoutExpired:
                proc.kill()
            await fake.close()
    out: dict[str, Any] = {"rss_mib": round(current / 1024, 1), "peak_rss_mib": round(peak / 1024, 1),
                           "start_to_gateway_s": round(connected, 2), "exit_code": proc.returncode}  # fmt: skip
    if deliveries:
        out.update(
            {"deliveries": deliveries, "posted": len(fake.messages()), "wall_s": round(wall, 2)}
        )
    return out


async def interaction_latency(db: Path, queries: list[str], repeats: int = 5) -> dict[str, Any]:
    """Dispatch → first response of /search on a store, through the real bot and the fake."""
    fake = await FakeDiscord(openapi=None).start()
    assert fake.world is not None
    world = fake.world
    members = [fake.state.add_member(world.guild.id, fake.state.add_user(f"reader{i}"))
               for i in range(len(queries) * repeats)]  # fmt: skip
    starter = BotStarter()
    latencies: list[float] = []
    try:
        async with open_store(str(db)) as store, httpx.AsyncClient() as http:
            config = Config(database=DatabaseConfig(path=str(db)))
            clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
            services = Services(config, store, http, Poller(store, [], clock), None, None, clock)
            started = await starter(fake, lambda: build_bot(
                services, clock=clock, with_scheduler=False, background=False,
                **FAST_CLIENT_OPTIONS))  # fmt: skip
            await started.bot.tree.sync()
            n = 0
            for _ in range(repeats):
                for query in queries:
                    record = await fake.invoke(
                        "search", {"query": query}, member=members[n], force=True
                    )
                    n += 1
                    await fake.wait_for_callback(record, timeout=30)
                    latency = record.latency
                    if latency is not None:
                        latencies.append(latency)
    finally:
        await starter.close_all()
        await fake.close()
    latencies.sort()

    def pct(q: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)

    return {"samples": len(latencies), "p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "mean_ms": round(1000 * statistics.fmean(latencies), 1) if latencies else None}  # fmt: skip
