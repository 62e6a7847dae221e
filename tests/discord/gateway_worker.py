"""One gateway process of the multi-process test: a PaperfeedBot on PostgreSQL owning a shard
range, against a fake Discord in the test's process. Until issue 15's `paperfeed run --role
gateway --shards` exists this stands in for it; it stops on SIGTERM and, like `paperfeed run`,
turns an expected failure into one line on stderr and exit status 1.

    python -m tests.discord.gateway_worker API_BASE GATEWAY_URL DB_URL SHARDS COUNT WINDOW MARGIN BUDGET

The token comes from $DISCORD_TOKEN.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx

from bot.app import Services
from bot.clock import utcnow
from bot.config import Config, DatabaseConfig
from bot.discord.endpoints import use_discord_endpoints
from bot.discord.identify import GatewayGuard
from bot.discord.runner import build_bot
from bot.errors import PaperfeedError
from bot.secrets import DatabaseUrl
from bot.services.poller import Poller
from bot.store import open_store


async def run(argv: list[str]) -> None:
    api_base, gateway_url, db_url, shards, count, window, margin, budget = argv
    use_discord_endpoints(api_base, gateway_url)
    config = Config(database=DatabaseConfig(url=DatabaseUrl(db_url)))
    async with open_store(config.database) as store, httpx.AsyncClient() as http:
        services = Services(config, store, http, Poller(store, [], utcnow), None, None, utcnow)
        guard = GatewayGuard(
            store.identifies, window=float(window), margin=float(margin), daily_budget=int(budget)
        )
        bot = build_bot(
            services, clock=utcnow, with_scheduler=False, gateway_guard=guard,
            shard_ids=[int(s) for s in shards.split(",")], shard_count=int(count),
            guild_ready_timeout=0.05,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(bot.close()))
        async with bot:
            await bot.login(os.environ["DISCORD_TOKEN"])
            await bot.connect(reconnect=True)


def main() -> int:
    try:
        asyncio.run(run(sys.argv[1:]))
    except PaperfeedError as exc:
        print(f"gateway_worker: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
