"""Fan-out: deliveries from a full outbox through the real publisher and discord.py.

The floor is the least wall time the loopback Discord's limits allow (see `fanout_floor`).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Benchmark, Context
from bench.loopback import GLOBAL_RATE, MESSAGE_RATE, NOW, fake_with_channels, fill_outbox
from bot.app import Services
from bot.config import Config, DatabaseConfig
from bot.discord.runner import build_bot
from bot.services.poller import Poller
from bot.store import open_store
from tests.fakes.discord.fixtures import FAST_CLIENT_OPTIONS, BotStarter


def fanout_floor(deliveries: int, channels: int) -> float:
    """The least wall time Discord's limits allow: the global rate, or one channel's windows."""
    per_channel = -(-deliveries // channels)
    windows = max(0, -(-per_channel // MESSAGE_RATE[0]) - 1)
    return max(deliveries / GLOBAL_RATE, windows * MESSAGE_RATE[1])


async def fanout(deliveries: int = 1000, channels: int = 200) -> dict[str, Any]:
    """Deliveries from a full outbox through the real publisher and discord.py to the fake."""
    fake, channel_ids = await fake_with_channels(channels)
    assert fake.world is not None
    with tempfile.TemporaryDirectory(prefix="pf-fanout-") as tmp:
        db = str(Path(tmp) / "p.sqlite3")
        await fill_outbox(db, channel_ids, fake.world.guild.id, deliveries)
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


def fanout_size(ctx: Context) -> tuple[int, int]:
    """The issue's 1,000 deliveries over 200 channels, smaller for the quick presets."""
    return {"full": (1000, 200), "quick": (250, 50)}.get(ctx.settings.preset, (50, 10))


def measure(ctx: Context) -> dict[str, Any]:
    deliveries, channels = fanout_size(ctx)
    figures = asyncio.run(fanout(deliveries, channels))
    figures["description"] = (
        "the real publisher and discord.py against the loopback Discord (5 messages / 5 s per "
        "channel, 50 requests/s); floor = the least time those limits allow"
    )
    return figures


BENCHMARK = Benchmark(
    "fanout", "deliveries from a full outbox to the loopback Discord at Discord's limits", measure
)
