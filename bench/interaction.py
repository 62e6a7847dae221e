"""Interaction latency: `/search` on the largest store, from dispatch to the first response.

The real bot answers the loopback Discord; latency is read on the fake's clock. There is no
floor; the target is an absolute one.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Benchmark, Context
from bot.app import Services
from bot.config import Config, DatabaseConfig
from bot.discord.runner import build_bot
from bot.services.poller import Poller
from bot.store import open_store
from tests.fakes.discord.fixtures import FAST_CLIENT_OPTIONS, BotStarter
from tests.fakes.discord.server import FakeDiscord


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


INTERACTION_QUERIES = ["holonomy", "wasserstein", "framework", '"mixture of experts"',
                       "title:wasserstein", "transport*", "wasserstein -framework"]  # fmt: skip


def measure(ctx: Context) -> dict[str, Any]:
    size = max(ctx.settings.sizes)
    repeats = 10 if ctx.settings.preset == "full" else 3
    figures = asyncio.run(interaction_latency(ctx.database(size), INTERACTION_QUERIES, repeats))
    figures.update(
        papers=size,
        description="the real bot's /search (query language, store search, embed) answering "
        "the loopback Discord; latency on the fake's clock from dispatch to the first callback",
        ratio_vs_floor=None,
    )
    return figures


BENCHMARK = Benchmark(
    "interaction", "/search on the largest store, from dispatch to the first response", measure
)
