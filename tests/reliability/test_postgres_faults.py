"""PostgreSQL faults (issue 14): the server restarted under a running poll-and-publish loop,
and a statement that runs past the statement timeout.

The restart drill restarts the test server itself (`pg_ctl restart -m fast`, which ends every
session at once, as an operator's restart or a failover does) while polls and deliveries keep
running, then checks that every paper was posted exactly once and that the loss was logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.errors import StoreError
from bot.models import DeliveryState, FeedSpec
from bot.services.feeds import create_feed
from bot.services.poller import Poller
from bot.services.publisher import Publisher, RateLimiter
from bot.sources.base import FetchResult
from bot.store.postgres.database import open_postgres
from tests.factories import NOW, FakeClock
from tests.services.test_poller import ScriptedSource
from tests.services.test_publisher import FakeTarget, body, digest, no_sleep
from tests.store.contract.support import paper

ROUNDS = 24
RESTART_AT = 8  # the round during which the server restarts
PER_ROUND = 5


def restart_server() -> None:
    """Restart the test server (tests/pg/start-postgres.sh) with a fast shutdown."""
    base = os.environ.get("PAPERFEED_TEST_POSTGRES_DIR", "")
    if not base:
        pytest.fail(
            "$PAPERFEED_TEST_POSTGRES_DIR is not set: start the server with tests/pg/start-postgres.sh"
        )
    bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    command = [str(bindir / "pg_ctl"), "-D", f"{base}/data", "-l", f"{base}/server.log",
               "-m", "fast", "-w", "-t", "60", "restart"]  # fmt: skip
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=90)


async def test_a_server_restart_mid_run_loses_and_duplicates_nothing(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    caplog.set_level(logging.WARNING, logger="bot.store.postgres.session")
    async with open_postgres(postgres_url, clock=clock) as store:
        hf = ScriptedSource("huggingface")
        poller = Poller(store, [hf], clock)
        await store.sources.mark_listings_seen("huggingface", ["huggingface"], NOW)
        feed, _ = await create_feed(
            store, FeedSpec(name="all", channel_id=7, query="study", backfill=0),
            guild_id=1, now=NOW,
        )  # fmt: skip
        target = FakeTarget()
        publisher = Publisher(store, target, body, clock, build_digest=digest,
                              limiter=RateLimiter(sleep=no_sleep), rand=lambda: 0.5)  # fmt: skip
        listed = []
        restart: asyncio.Task[None] | None = None
        failures = 0
        for n in range(ROUNDS):
            clock.now = NOW + timedelta(minutes=n)
            for k in range(PER_ROUND):
                i = n * PER_ROUND + k
                listed.append(
                    replace(
                        paper(f"2612.{i:05d}", f"A study {i}"), sources=frozenset({"huggingface"})
                    )
                )
            # The listing shows recent papers, so one that a failed poll missed comes back.
            hf.next = FetchResult(listed[-3 * PER_ROUND :])
            if n == RESTART_AT:
                restart = asyncio.create_task(asyncio.to_thread(restart_server))
                await asyncio.sleep(0.05)  # let it begin: the fast shutdown ends our sessions
            try:
                await poller.poll_all()
                await publisher.publish_due()
            except StoreError:
                failures += 1  # what the scheduler logs and survives; the next round goes on
            await asyncio.sleep(0.05)
        assert restart is not None
        await restart
        # After the restart, the bot's next rounds finish what the restart interrupted.
        await publisher.reconcile()
        await publisher.publish_due()

        deliveries = await store.outbox.deliveries(feed_id=feed.id)
        assert sorted(d.paper_id for d in deliveries) == sorted(p.id for p in listed)
        assert {d.state for d in deliveries} == {DeliveryState.SENT}
        posted = [nonce for nonce, _ in target.posts[7]]
        assert len(posted) == len(set(posted)) == len(listed)  # each paper once, none twice
    assert any("connection lost" in r.getMessage() for r in caplog.records), "not logged"
    assert failures <= 3, failures  # the retries rode out most of the restart


async def test_a_statement_timeout_fails_that_operation_only(postgres_url: str) -> None:
    async with open_postgres(postgres_url, statement_timeout=0.3) as store:
        await store.feeds.add(FeedSpec(name="f", channel_id=1, query="x"), guild_id=1)
        blocker = await asyncpg.connect(postgres_url)
        try:
            holding = blocker.transaction()
            await holding.start()
            await blocker.execute("LOCK TABLE feeds IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StoreError, match="did not finish in time") as caught:
                await store.feeds.list()
            assert len(str(caught.value).splitlines()) == 1
            assert await store.papers.count() == 0  # the store goes on
            await holding.rollback()
        finally:
            await blocker.close()
        assert [f.name for f in await store.feeds.list()] == ["f"]
