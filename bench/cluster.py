"""The scale simulation of issue 15: fan-out through PostgreSQL, then many publishers draining.

Usage::

    eval "$(tests/pg/start-postgres.sh)"
    python -m bench.cluster [--guilds 10000 --feeds 100000 --papers 1000 --match-rate 0.005]
                            [--publishers 1,2,4] [--drain 1000 --channels 200] [--json out.json]
                            [--only-drain] [--unfair]

Three measurements, each on fresh databases of the server named by
$PAPERFEED_TEST_POSTGRES_URL (dropped at the end):

* fan-out: `feeds` feeds over `guilds` guilds (two feeds a channel), `papers` new papers, each
  matching a feed with probability `match-rate` (0.005: five papers a feed, the 500,000 posts
  of reference/scale_out.md); the deliveries are queued through `outbox.queue`, one paper per
  transaction as a poll's matcher does, and counted as rows per second;
* publishers without Discord: 1, 2 and 4 publisher processes settle deliveries of that
  full outbox against a target that answers at once and no rate limit, for `--db-seconds`:
  what the database side of publishing (claim, record the attempt, record the message) can
  carry, to compare with Discord's 50 requests per second;
* drain: `drain` deliveries over `channels` channels posted to the loopback Discord (Discord's
  limits: 50 requests/s, 5 messages per 5 s per channel) by 1, 2 and 4 publishers sharing the
  PostgreSQL budget; wall time against the floor (deliveries / 50 per second), 429s counted.
  The publishers of one run share one discord.py client (its HTTP session), each with its own
  pool, claims and name, as separate processes would have. Each is told how many publishers
  are alive (as heartbeats would), so each holds a fair share of the channels at once, unless
  `--unfair`; the most channels each held at once is sampled from the claims table.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import io
import json
import os
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx

from bench.fanout import fanout_floor
from bench.loopback import NOW, fake_with_channels, fill_outbox
from bench.pg_admin import admin_execute, recreate_database
from bot.app import Services
from bot.config import Config, DatabaseConfig
from bot.discord.runner import build_bot, digest_body, paper_body
from bot.discord.target import DiscordTarget
from bot.models import DeliveryState, Paper
from bot.secrets import DatabaseUrl
from bot.services.poller import Poller
from bot.services.publisher import Body, Posted, Publisher, limiter_for
from bot.store import open_store
from bot.store.postgres.database import open_postgres
from bot.store.postgres.migrate import migrate
from tests.fakes.discord.fixtures import FAST_CLIENT_OPTIONS, BotStarter

ENV_URL = "PAPERFEED_TEST_POSTGRES_URL"


@contextlib.asynccontextmanager
async def fresh_database(admin: str, name: str) -> AsyncIterator[str]:
    """A new, migrated database, dropped afterwards."""
    url = await recreate_database(admin, name)
    try:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield url
    finally:
        await admin_execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _paper(n: int) -> Paper:
    return Paper(id=f"2612.{n:05d}", title=f"Scale paper {n}", abstract="We scale.",
                 authors=("A. Bench",), categories=("cs.LG",), published=NOW,
                 sources=frozenset({"arxiv"}))  # fmt: skip


async def fan_out(url: str, guilds: int, feeds: int, papers: int, rate: float) -> dict[str, Any]:
    """Feeds in bulk, then each paper's matches queued in a transaction of its own."""
    conn = await asyncpg.connect(url)
    try:  # the feeds are set-up, not measured: COPY them in
        rows = io.BytesIO()
        for i in range(feeds):
            guild = 1_000_000 + i % guilds
            channel = 5_000_000 + i // 2  # two feeds a channel
            rows.write(f"f{i}\t{guild}\t{channel}\tscale\t2026-11-25 12:00:00+00\n".encode())
        rows.seek(0)
        await conn.copy_to_table(
            "feeds", source=rows, columns=["name", "guild_id", "channel_id", "query", "created_at"]
        )
        feed_ids = [r["id"] for r in await conn.fetch("SELECT id FROM feeds ORDER BY id")]
    finally:
        await conn.close()
    rng = random.Random(15)
    matched = [rng.sample(feed_ids, max(1, int(rng.gauss(rate, rate / 5) * feeds))) for _ in
               range(papers)]  # fmt: skip
    async with open_postgres(url, clock=lambda: NOW) as store:
        await store.papers.upsert(_paper(n) for n in range(papers))
        per_paper: list[float] = []
        began = time.perf_counter()
        for n, feed_list in enumerate(matched):
            start = time.perf_counter()
            async with store.transaction():
                await store.outbox.queue((f, f"2612.{n:05d}") for f in feed_list)
            per_paper.append(time.perf_counter() - start)
        wall = time.perf_counter() - began
        total = await store.outbox.depth()
    return {
        "guilds": guilds, "feeds": feeds, "papers": papers, "deliveries": total,
        "wall_s": round(wall, 2), "rows_per_s": round(total / wall),
        "per_paper_ms_p50": round(statistics.median(per_paper) * 1000, 1),
        "per_paper_ms_max": round(max(per_paper) * 1000, 1),
    }  # fmt: skip


class InstantTarget:
    """Discord removed: every send lands at once (the database side of publishing alone)."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, channel_id: int, body: Body, *, nonce: str, title: str) -> Posted:
        self.sent += 1
        return Posted(self.sent)

    async def find_posted(self, *_: Any) -> Posted | None:
        return None

    async def find_digest(self, *_: Any) -> Posted | None:
        return None

    async def alert(self, text: str) -> None:
        return None

    def knows_channel(self, channel_id: int) -> bool:
        return True


class NoLimit:
    async def acquire(self) -> None:
        return None


async def database_side(
    url: str, count: int, seconds: float, prefix: str = "bench"
) -> dict[str, Any]:
    """`count` publishers in this process, a pool each, settling deliveries as fast as the
    database lets them."""
    async with contextlib.AsyncExitStack() as stack:
        stores = [await stack.enter_async_context(open_postgres(url, clock=lambda: NOW))
                  for _ in range(count)]  # fmt: skip
        target = InstantTarget()
        publishers = [Publisher(s, target, lambda p, n: {"content": p.id}, lambda: NOW,
                                limiter=NoLimit(), name=f"{prefix}-{i}", batch_size=200)
                      for i, s in enumerate(stores)]  # fmt: skip
        rounds: list[float] = []
        deadline = time.perf_counter() + seconds

        async def run(publisher: Publisher) -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                await publisher.publish_due()
                rounds.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(run(p) for p in publishers))
        wall = time.perf_counter() - began
    return {
        "publishers": count, "settled": target.sent, "wall_s": round(wall, 2),
        "deliveries_per_s": round(target.sent / wall),
        "round_ms_p50": round(statistics.median(rounds) * 1000, 1) if rounds else None,
    }  # fmt: skip


def _database_side_process(url: str, seconds: float, index: int) -> dict[str, Any]:
    return asyncio.run(database_side(url, 1, seconds, prefix=f"process-{index}"))


def database_side_processes(url: str, count: int, seconds: float) -> dict[str, Any]:
    """`count` publisher processes at once (as a cluster runs them), their figures summed."""
    with concurrent.futures.ProcessPoolExecutor(count) as pool:
        parts = list(pool.map(_database_side_process, [url] * count, [seconds] * count,
                              range(count)))  # fmt: skip
    settled = sum(p["settled"] for p in parts)
    wall = max(p["wall_s"] for p in parts)
    return {
        "publishers": count, "processes": count, "settled": settled, "wall_s": wall,
        "deliveries_per_s": round(settled / wall),
        "round_ms_p50": max(p["round_ms_p50"] or 0 for p in parts),
    }  # fmt: skip


async def _most_claims(url: str, most: dict[str, int], stop: asyncio.Event) -> None:
    """The most channels each publisher held at once, sampled every 50 ms."""
    conn = await asyncpg.connect(url)
    try:
        while not stop.is_set():
            for row in await conn.fetch(
                "SELECT owner, count(*) AS n FROM channel_claims GROUP BY owner"
            ):
                most[row["owner"]] = max(most.get(row["owner"], 0), int(row["n"]))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)
    finally:
        await conn.close()


async def drain(
    admin: str, count: int, deliveries: int, channels: int, *, fair: bool = True
) -> dict[str, Any]:
    """`count` publishers post an outbox to the loopback Discord under the shared budget; with
    `fair`, each knows `count` publishers are alive (as their heartbeats would say)."""
    fake, channel_ids = await fake_with_channels(channels)
    assert fake.world is not None
    starter = BotStarter()
    name = f"bench_cluster_drain_{os.getpid()}_{count}"
    try:
        async with fresh_database(admin, name) as url:
            config = Config(database=DatabaseConfig(url=DatabaseUrl(url)))
            await fill_outbox(config.database, channel_ids, fake.world.guild.id, deliveries)
            async with contextlib.AsyncExitStack() as stack:
                store = await stack.enter_async_context(open_store(config.database))
                http = await stack.enter_async_context(httpx.AsyncClient())
                services = Services(config, store, http, Poller(store, [], lambda: NOW), None,
                                    None, lambda: NOW)  # fmt: skip
                started = await starter(fake, lambda: build_bot(
                    services, clock=lambda: NOW, with_scheduler=False, background=False,
                    **FAST_CLIENT_OPTIONS))  # fmt: skip
                stack.push_async_callback(started.stop)
                publishers = []

                async def live() -> int:
                    return count

                for i in range(count):
                    own = await stack.enter_async_context(open_store(config.database))
                    publishers.append(Publisher(own, DiscordTarget(started.bot), paper_body,
                                                lambda: NOW, build_digest=digest_body,
                                                limiter=limiter_for(own), name=f"drain-{i}",
                                                peers=live if fair else None))  # fmt: skip

                async def run(publisher: Publisher) -> None:
                    while await store.outbox.depth():
                        if not (await publisher.publish_due()).more:
                            await asyncio.sleep(0.05)

                most: dict[str, int] = {}
                stop = asyncio.Event()
                sampler = asyncio.create_task(_most_claims(url, most, stop))
                began = time.perf_counter()
                await asyncio.gather(*(run(p) for p in publishers))
                wall = time.perf_counter() - began
                stop.set()
                await sampler
                sent = len(await store.outbox.deliveries(states=[DeliveryState.SENT]))
    finally:
        await starter.close_all()
        await fake.close()
    posted = fake.messages()
    per_paper = [e.get("url", "") for m in posted for e in m.embeds[:1]]
    floor = fanout_floor(deliveries, channels)
    return {
        "publishers": count, "deliveries": deliveries, "channels": channels, "fair": fair,
        "most_claims_held": [most.get(f"drain-{i}", 0) for i in range(count)],
        "sent": sent, "posted": len(posted), "duplicates": len(per_paper) - len(set(per_paper)),
        "wall_s": round(wall, 2), "floor_s": round(floor, 2),
        "ratio_vs_floor": round(wall / floor, 3),
        "responses_429": sum(1 for r in fake.requests if r.status == 429),
        "429_routes": sorted({r.key for r in fake.requests if r.status == 429}),
        "429_global": sum(1 for r in fake.invalid_requests if r.status == 429 and r.scope == "global"),
        "invalid_requests": fake.invalid_request_count(),
    }  # fmt: skip


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    admin = os.environ.get(ENV_URL, "").strip()
    if not admin:
        raise SystemExit(f"set ${ENV_URL} (tests/pg/start-postgres.sh prints it)")
    counts = [int(c) for c in args.publishers.split(",")]
    result: dict[str, Any] = {"settings": vars(args), "cpus": os.cpu_count(),
                              "load_start": os.getloadavg()}  # fmt: skip
    if not args.only_drain:
        async with fresh_database(admin, f"bench_cluster_{os.getpid()}") as url:
            result["fan_out"] = await fan_out(url, args.guilds, args.feeds, args.papers,
                                              args.match_rate)  # fmt: skip
            print(json.dumps(result["fan_out"]), file=sys.stderr)
            result["database_side"] = []
            for count in counts:
                figures = await asyncio.to_thread(
                    database_side_processes, url, count, args.db_seconds
                )
                result["database_side"].append(figures)
                print(json.dumps(figures), file=sys.stderr)
    result["drain"] = []
    for count in counts:
        figures = await drain(admin, count, args.drain, args.channels, fair=not args.unfair)
        result["drain"].append(figures)
        print(json.dumps(figures), file=sys.stderr)
    if "fan_out" in result:
        full = result["fan_out"]["deliveries"]
        result["full_drain_at_50_per_s_h"] = round(full / 50 / 3600, 2)
    result["load_end"] = os.getloadavg()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--guilds", type=int, default=10_000)
    parser.add_argument("--feeds", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=1_000)
    parser.add_argument("--match-rate", type=float, default=0.005)
    parser.add_argument("--publishers", default="1,2,4")
    parser.add_argument("--db-seconds", type=float, default=10.0)
    parser.add_argument("--drain", type=int, default=1_000)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--only-drain", action="store_true", help="skip fan-out and database side")
    parser.add_argument("--unfair", action="store_true",
                        help="publishers not told of each other: no fair shares")  # fmt: skip
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    result = asyncio.run(main_async(args))
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
