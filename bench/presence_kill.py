"""How long a SIGKILLed publisher keeps counting toward the fair shares, by presence lock and
by heartbeat age, measured in the same runs.

Usage::

    eval "$(tests/pg/start-postgres.sh)"
    python -m bench.presence_kill [--runs 3] [--heartbeat-too]

Each run starts a publisher process that beats (holding its presence lock) and SIGKILLs it
after its first beat; then `live_publishers` is polled every millisecond until it no longer
counts the process (the presence rule), and, with `--heartbeat-too`, `cluster_status` until
the process is silent (the heartbeat rule alone: up to `SILENT_AFTER` after its last beat).
On a fresh database of the server named by $PAPERFEED_TEST_POSTGRES_URL, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import textwrap
import time

from bench.pg_admin import admin_execute, recreate_database
from bot.services.cluster import cluster_status, live_publishers
from bot.store.postgres.database import open_postgres

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from bot.services.cluster import Heartbeat, Identity
    from bot.store.postgres.database import open_postgres

    async def main() -> None:
        async with open_postgres(sys.argv[1]) as db:
            beat = Heartbeat(db.cluster, Identity("bench:1:x", "bench", 1, ("publisher",), ""))
            await beat.start()
            print("beating", flush=True)
            await asyncio.Event().wait()

    asyncio.run(main())
    """
)
DATABASE = "bench_presence_kill"


async def start_beating(url: str, *, timeout: float) -> asyncio.subprocess.Process:
    """A publisher child process, returned once it beats (and holds its presence lock)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, url, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    assert child.stdout is not None
    assert await asyncio.wait_for(child.stdout.readline(), timeout) == b"beating\n"
    return child


async def one_run(url: str, heartbeat_too: bool) -> tuple[float, float | None]:
    """Seconds from the kill until the presence rule, and the heartbeat rule, drop it."""
    async with open_postgres(url) as db:
        child = await start_beating(url, timeout=60)
        assert await live_publishers(db.cluster) == 1
        child.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await child.wait()
        while await live_publishers(db.cluster):
            await asyncio.sleep(0.001)
        by_presence = time.monotonic() - killed
        by_heartbeat = None
        if heartbeat_too:
            while not all(p.silent for p in await cluster_status(db.cluster)):
                await asyncio.sleep(0.05)
            by_heartbeat = time.monotonic() - killed
        await db.cluster.forget("bench:1:x")
        return by_presence, by_heartbeat


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--heartbeat-too", action="store_true")
    args = parser.parse_args()
    admin = os.environ["PAPERFEED_TEST_POSTGRES_URL"]
    url = await recreate_database(admin, DATABASE)
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        for run in range(args.runs):
            presence, heartbeat = await one_run(url, args.heartbeat_too)
            after = f", heartbeat rule {heartbeat:.1f} s" if heartbeat is not None else ""
            print(f"run {run + 1}: presence rule {presence * 1000:.1f} ms{after}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        await admin_execute(admin, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    asyncio.run(main())
