"""Each role runs only its parts: a poller needs no Discord token and never talks to Discord;
a publisher logs in over REST and never opens the gateway; both record a heartbeat while they
run and remove it (and give up their leases) on a clean stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.cluster.harness import LISTING, Cluster, GrowingListing
from tests.fakes.discord import FakeDiscord
from tests.fakes.upstreams import FakeUpstreamServer, UpstreamScript

pytestmark = pytest.mark.slow
TIMEOUT = 45.0


async def test_a_poller_needs_no_token_and_a_publisher_no_gateway(
    tmp_path: Path, postgres_url: str
) -> None:
    fake = await FakeDiscord(openapi=None).start()
    listing = GrowingListing()
    script = UpstreamScript()
    script.route(LISTING, listing.listing)
    script.route("/api/query", listing.details)
    try:
        async with (
            FakeUpstreamServer(script) as upstream,
            Cluster(tmp_path, fake, postgres_url, upstream.url) as cluster,
        ):
            poller = await cluster.start("poller", env={"DISCORD_TOKEN": ""})
            publisher = await cluster.start("publisher")

            async def beating() -> bool:
                rows = await cluster.query("SELECT roles, shards FROM cluster_processes")
                return sorted((r["roles"], r["shards"]) for r in rows) == [
                    ("poller", ""),
                    ("publisher", ""),
                ]

            await cluster.wait_for(beating, timeout=TIMEOUT, what="both heartbeats")
            await cluster.wait_for(
                lambda: len(listing.fetches) >= 1, timeout=TIMEOUT, what="a poll"
            )
            await cluster.wait_for(
                lambda: any(r.route == "/users/@me" for r in fake.requests),
                timeout=TIMEOUT,
                what="the publisher's REST login",
            )
            await asyncio.sleep(1.0)  # a gateway connection, if one were coming, would be open
            assert fake.gateway.connections == []
            for process in (poller, publisher):
                code, _ = await process.terminate(timeout=10.0)
                assert code == 0, cluster.tails()
            assert await cluster.query("SELECT id FROM cluster_processes") == []
            leases = await cluster.query("SELECT expires_at < now() AS free FROM cluster_leases")
            assert [r["free"] for r in leases] == [True]  # released at the clean stop
            assert "no Discord token" not in poller.output()
    finally:
        await fake.close()


async def test_role_all_on_postgresql_runs_every_part_and_still_takes_the_lease(
    tmp_path: Path, postgres_url: str
) -> None:
    fake = await FakeDiscord(openapi=None).start()
    listing = GrowingListing()
    script = UpstreamScript()
    script.route(LISTING, listing.listing)
    script.route("/api/query", listing.details)
    try:
        async with (
            FakeUpstreamServer(script) as upstream,
            Cluster(tmp_path, fake, postgres_url, upstream.url) as cluster,
        ):
            bot = await cluster.start("all")
            await cluster.wait_for(
                lambda: fake.gateway.count("identify") >= 1, timeout=TIMEOUT, what="the gateway"
            )
            await cluster.wait_for(
                lambda: len(listing.fetches) >= 1, timeout=TIMEOUT, what="a poll"
            )
            rows = await cluster.query("SELECT roles FROM cluster_processes")
            assert [r["roles"] for r in rows] == ["all"]
            assert await cluster.lease_owner("poll:arxiv") is bot
            code, _ = await bot.terminate(timeout=10.0)
            assert code == 0, cluster.tails()
    finally:
        await fake.close()


async def test_two_gateways_each_connect_their_own_shard_and_say_so_in_their_heartbeat(
    tmp_path: Path, postgres_url: str
) -> None:
    fake = await FakeDiscord(openapi=None, shard_count=2).start()
    try:
        async with Cluster(tmp_path, fake, postgres_url, "http://127.0.0.1:9") as cluster:
            first = await cluster.start("gateway", "--shards", "0", "--shard-count", "2")
            second = await cluster.start("gateway", "--shards", "1", "--shard-count", "2")
            await cluster.wait_for(
                lambda: fake.gateway.count("identify") >= 2, timeout=TIMEOUT, what="two shards"
            )
            shards = sorted(s.shard for s in fake.gateway.sessions.values())
            assert shards == [(0, 2), (1, 2)]

            async def beating() -> bool:
                rows = await cluster.query("SELECT shards FROM cluster_processes ORDER BY shards")
                return [r["shards"] for r in rows] == ["0/2", "1/2"]

            await cluster.wait_for(beating, timeout=TIMEOUT, what="both heartbeats")
            for process in (first, second):
                code, _ = await process.terminate(timeout=10.0)
                assert code == 0, cluster.tails()
    finally:
        await fake.close()
