"""The poller failover drill: two pollers and one gateway+publisher as separate processes on the
real PostgreSQL, the loopback Discord and a fake arXiv whose listing grows at every fetch.

The process holding the arXiv lease is SIGKILLed mid-run. The other poller must take over
within one poll interval plus a few seconds (the lease's time to live and the schedule's
jitter), the listing must be fetched at most once per tick (once more around the failover),
and every paper must reach every channel exactly once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.models import FeedSpec
from bot.store.postgres.database import open_postgres
from tests.cluster.harness import CATEGORY, LISTING, Cluster, GrowingListing
from tests.fakes.discord import FakeDiscord
from tests.fakes.upstreams import FakeUpstreamServer, UpstreamScript
from tests.reliability.support import duplicates, posts_by_pair, record_figures

pytestmark = pytest.mark.slow

INTERVAL = 4.0  # seconds between polls (the config's "4s")
TTL = 3.0  # bot.services.cluster.lease_ttl of 4 s
JITTER = 1.0  # the scheduler's jitter for a 4 s interval
CHANNELS = 3
STEP_TIMEOUT = 60.0


async def test_killing_the_leading_poller_hands_polling_over_without_loss_or_duplicates(
    tmp_path: Path, postgres_url: str
) -> None:
    fake = await FakeDiscord(message_rate=(50, 1.0), openapi=None).start()
    listing = GrowingListing(per_fetch=3)
    script = UpstreamScript()
    script.route(LISTING, listing.listing)
    script.route("/api/query", listing.details)
    started = time.monotonic()
    try:
        world = fake.world
        assert world is not None
        channels = [
            (await fake.create_channel(f"cluster-{n}", notify=False)).id for n in range(CHANNELS)
        ]
        async with open_postgres(postgres_url) as store:
            for n, channel in enumerate(channels):
                spec = FeedSpec(name=f"cluster-{n}", channel_id=channel, query="cluster")
                await store.feeds.add(spec, guild_id=world.guild.id)
            # the listing was read before: what it shows from now on is news, not backlog
            await store.sources.mark_listings_seen(
                "arxiv", [f"arxiv/{CATEGORY}"], datetime.now(UTC)
            )
        async with (
            FakeUpstreamServer(script) as upstream,
            Cluster(tmp_path, fake, postgres_url, upstream.url, interval="4s") as cluster,
        ):
            first = await cluster.start("poller")
            second = await cluster.start("poller")
            face = await cluster.start("gateway,publisher")
            await cluster.wait_for(
                lambda: len(listing.fetches) >= 2, timeout=STEP_TIMEOUT, what="two polls"
            )
            leader = await cluster.lease_owner("poll:arxiv")
            assert leader in (first, second), "no poller holds the arXiv lease"
            survivor = second if leader is first else first
            before = len(listing.fetches)
            code = await leader.kill()
            killed_at = time.monotonic()
            assert code == -9
            await cluster.wait_for(
                lambda: len(listing.fetches) >= before + 3,
                timeout=STEP_TIMEOUT,
                what="three polls by the surviving poller",
            )
            takeover = next(t for t in listing.fetches if t > killed_at) - killed_at
            total = listing.freeze()
            expected = {(c, f"2612.{n:05d}") for c in channels for n in range(1, total + 1)}

            def all_posted() -> bool:
                return set(posts_by_pair(fake, channels)) >= expected

            await cluster.wait_for(all_posted, timeout=STEP_TIMEOUT, what="every post")
            processes = await cluster.query("SELECT roles FROM cluster_processes ORDER BY roles")
            epochs = await cluster.query("SELECT epoch FROM cluster_leases")
            for process in (survivor, face):
                code, took = await process.terminate(timeout=10.0)
                assert code == 0 and took < 10.0, cluster.tails()
            leader_log, survivor_log = leader.output(), survivor.output()
        counts = posts_by_pair(fake, channels)
        gaps = [b - a for a, b in zip(listing.fetches, listing.fetches[1:], strict=False)]
        doubles = [round(g, 2) for g in gaps if g < INTERVAL - 2 * JITTER - 0.5]
        print(
            f"\npoller takeover after SIGKILL: {takeover:.2f} s (interval {INTERVAL:g} s, "
            f"lease {TTL:g} s); {len(listing.fetches)} listing fetches, gaps "
            f"{[round(g, 1) for g in gaps]}; {total} papers x {CHANNELS} channels posted"
        )
        # takeover within one interval plus a few seconds (the lease's time to live, jitter)
        assert takeover <= INTERVAL + TTL + JITTER + 2.0, takeover
        # once per tick: the one poller polls; two close fetches at most once (the failover)
        assert len(doubles) <= 1, f"fetches closer than a tick: {doubles} in {gaps}"
        # each poller polled only while it held the lease: polls follow its "now polling"
        for log_text in (leader_log, survivor_log):
            first_poll = log_text.find("poll arxiv:")
            lead = log_text.find("now polling arxiv")
            assert first_poll == -1 or -1 < lead < first_poll, log_text[-2000:]
        assert "now polling arxiv (lease epoch 2)" in survivor_log
        assert "poll arxiv:" in leader_log and "poll arxiv:" in survivor_log
        assert [int(r["epoch"]) for r in epochs] == [2]
        # every process recorded its heartbeat; the killed one is still listed (not yet silent)
        assert sorted(r["roles"] for r in processes) == ["gateway,publisher", "poller", "poller"]
        # 0 duplicates, 0 lost
        assert not duplicates(counts), duplicates(counts)
        assert set(counts) == expected
        record_figures(
            "cluster-poller-failover",
            takeover_seconds=round(takeover, 2),
            interval_seconds=INTERVAL,
            lease_seconds=TTL,
            listing_fetches=len(listing.fetches),
            close_fetch_pairs=len(doubles),
            papers=total,
            posts=sum(counts.values()),
            duplicates=0,
            lost=0,
            seconds=round(time.monotonic() - started, 1),
        )
    finally:
        await fake.close()
