"""Gateways as real processes (tests/discord/gateway_worker.py) sharing one PostgreSQL, against
the fake Discord in this process: two processes owning shards 0-1 and 2-3 start at once and
never identify inside a bucket's window; each guild's commands are answered by the process
that owns its shard; a gateway killed and restarted again and again is stopped by the
crash-loop guard before it spends more than the cluster's daily budget."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import asyncpg

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.fixtures import FakeFactory

ROOT = Path(__file__).resolve().parents[2]
WINDOW = 0.25
MARGIN = 0.15


async def _spawn(
    fake: FakeDiscord, db_url: str, shards: str, count: int, budget: int = 200
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.discord.gateway_worker", fake.api_base, fake.gateway_url,
        db_url, shards, str(count), str(WINDOW), str(MARGIN), str(budget),
        cwd=ROOT, env={**os.environ, "DISCORD_TOKEN": fake.token},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _stop(proc: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> int:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        return await asyncio.wait_for(proc.wait(), timeout=20)
    except TimeoutError:
        proc.kill()
        return await proc.wait()


async def _holders(db_url: str) -> dict[int, int]:
    """Shard id -> pid of the process that identified it last."""
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch("SELECT shard_id, holder FROM gateway_identifies ORDER BY id")
    finally:
        await conn.close()
    return {r["shard_id"]: int(r["holder"].rsplit(":", 1)[1]) for r in rows}


async def _sharded_fake(factory: FakeFactory, shard_count: int) -> FakeDiscord:
    return await factory(
        shard_count=shard_count, identify_rate_limit=True, identify_window=WINDOW, world=False,
        openapi=None,
    )  # fmt: skip


async def test_two_gateway_processes_split_the_shards(
    postgres_url: str, discord_fake_factory: FakeFactory
) -> None:
    fake = await _sharded_fake(discord_fake_factory, 4)
    guilds = fake.add_guilds(16)
    low, high = await asyncio.gather(
        _spawn(fake, postgres_url, "0,1", 4), _spawn(fake, postgres_url, "2,3", 4)
    )
    try:
        await fake.wait_until(
            lambda: sum(f.t == "GUILD_CREATE" for f in fake.gateway.frames) == 16,
            timeout=60,
            what="both processes to identify their shards",
        )
        await fake.wait_until(lambda: fake.commands(), timeout=30, what="the commands synced")
        identifies = fake.gateway.identifies
        assert sorted(r.shard[0] for r in identifies) == [0, 1, 2, 3]
        assert all(r.accepted for r in identifies), "an IDENTIFY came too early in its bucket"
        owner = await _holders(postgres_url)
        assert owner == {0: low.pid, 1: low.pid, 2: high.pid, 3: high.pid}
        for guild, channel in guilds:
            record = await fake.invoke(
                "help", channel=channel, member=guild.members[guild.owner_id]
            )
            await fake.wait_for_callback(record, timeout=15)
            assert [c.status for c in record.callbacks] == [200]
            session = fake.gateway.session_for(guild.id)
            assert session is not None and session.shard[0] == fake.shard_of(guild.id)
    finally:
        codes = [await _stop(low), await _stop(high)]
    assert codes == [0, 0]


async def test_a_gateway_restarted_in_a_loop_is_stopped_by_the_crash_loop_guard(
    postgres_url: str, discord_fake_factory: FakeFactory
) -> None:
    fake = await _sharded_fake(discord_fake_factory, 2)
    for round_ in (1, 2):  # each start spends 2 identifies; SIGKILL leaves no time to tidy up
        proc = await _spawn(fake, postgres_url, "0,1", 2, budget=5)
        await fake.wait_until(
            lambda n=round_: sum(r.accepted for r in fake.gateway.identifies) == 2 * n,
            timeout=60,
            what=f"start {round_}",
        )
        assert await _stop(proc, signal.SIGKILL) == -signal.SIGKILL
    proc = await _spawn(fake, postgres_url, "0,1", 2, budget=5)
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 1
    last = stderr.decode().strip().splitlines()[-1]
    assert "crash-loop guard" in last and "identified 4 times" in last, last
    assert len(fake.gateway.identifies) == 4
