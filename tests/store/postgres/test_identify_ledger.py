"""The identify ledger on PostgreSQL, as two gateway processes (two pools) share it: one
IDENTIFY per window per bucket whoever asks, buckets apart, and the cluster's daily count."""

from __future__ import annotations

import asyncio

from bot.store.postgres.database import open_postgres


async def test_two_processes_never_share_a_buckets_turn(postgres_url: str) -> None:
    async with open_postgres(postgres_url) as a, open_postgres(postgres_url) as b:
        ledgers = [a.identifies, b.identifies] * 4
        waits = await asyncio.gather(
            *(ledger.claim_identify(0, n, 30.0, f"p{n}") for n, ledger in enumerate(ledgers))
        )
        assert sorted(waits).count(0.0) == 1  # eight asks at once: one turn
        assert all(0 < w <= 30.0 for w in waits if w)
        assert await b.identifies.claim_identify(1, 1, 30.0, "b") == 0.0  # another bucket
        assert await a.identifies.identifies_within(60) == 2


async def test_a_turn_opens_once_the_window_passed(postgres_url: str) -> None:
    async with open_postgres(postgres_url) as a, open_postgres(postgres_url) as b:
        assert await a.identifies.claim_identify(0, 0, 0.3, "a") == 0.0
        wait = await b.identifies.claim_identify(0, 2, 0.3, "b")
        assert 0 < wait <= 0.3
        await asyncio.sleep(wait + 0.02)  # the server's clock, not ours, decides
        assert await b.identifies.claim_identify(0, 2, 0.3, "b") == 0.0
        rows = await a.sessions.fetch("SELECT shard_id, holder FROM gateway_identifies ORDER BY id")
        assert [(r["shard_id"], r["holder"]) for r in rows] == [(0, "a"), (2, "b")]


async def test_the_daily_count_forgets_old_identifies(postgres_url: str) -> None:
    async with open_postgres(postgres_url) as db:
        await db.sessions.execute(
            "INSERT INTO gateway_identifies (shard_id, holder, at) VALUES "
            "(0, 'old', now() - interval '25 hours'), (0, 'older', now() - interval '3 days')"
        )
        assert await db.identifies.claim_identify(0, 0, 5.0, "new") == 0.0
        assert await db.identifies.identifies_within(86_400) == 1
        holders = await db.sessions.fetch("SELECT holder FROM gateway_identifies ORDER BY id")
        assert [r["holder"] for r in holders] == ["old", "new"]  # past 2 days: deleted
