"""A gateway process on PostgreSQL answers /search from its own local index: built at start in
its slot under the process's data folder, and caught up with a paper another process stores
after it started. A poller keeps none."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store.postgres.database import open_postgres
from tests.cluster.harness import Cluster
from tests.fakes.discord import FakeDiscord
from tests.fakes.upstreams import FakeUpstreamServer, UpstreamScript
from tests.store.contract.support import paper

pytestmark = pytest.mark.slow
TIMEOUT = 45.0


async def test_a_gateway_answers_search_from_its_local_index(
    tmp_path: Path, postgres_url: str
) -> None:
    fake = await FakeDiscord(openapi=None, world=False).start()
    [(guild, channel)] = fake.add_guilds(1)
    try:
        async with open_postgres(postgres_url) as store:
            await store.papers.upsert(
                [paper(f"2612.{n:05d}", f"Aperiodic tilings {n}") for n in range(1, 4)]
            )
        async with (
            FakeUpstreamServer(UpstreamScript()) as upstream,
            Cluster(tmp_path, fake, postgres_url, upstream.url, interval="1h") as cluster,
        ):
            gateway = await cluster.start("gateway")
            poller = await cluster.start("poller", env={"DISCORD_TOKEN": ""})

            async def index_ready() -> bool:
                rows = await cluster.query(
                    "SELECT roles, search FROM cluster_processes ORDER BY roles"
                )
                found = {r["roles"]: r["search"] for r in rows}
                return (
                    set(found) == {"gateway", "poller"}
                    and found["poller"] is None
                    and '"engine": "tantivy"' in (found["gateway"] or "")
                )

            await cluster.wait_for(index_ready, timeout=TIMEOUT, what="the gateway's index")
            await cluster.wait_for(
                lambda: bool(fake.commands()), timeout=TIMEOUT, what="the commands synced"
            )
            slot = gateway.workdir / "data" / "search-index.0"
            assert (slot / "paperfeed.json").exists(), gateway.output()
            assert not (poller.workdir / "data").exists()  # a poller keeps no index

            # Stored by another process after the gateway built its index.
            async with open_postgres(postgres_url) as store:
                await store.papers.upsert([paper("2612.00009", "Aperiodic monotile found")])
            answers: list[str] = []

            async def found() -> bool:
                # Asked again until the index has caught up (a search older than the index's
                # freshness catches up first; a timer does too): no fixed wait.
                record = await fake.invoke(
                    "search", {"query": "aperiodic monotile"}, channel=channel,
                    member=guild.members[guild.owner_id],
                )  # fmt: skip
                answer = await fake.wait_for_original(record, timeout=TIMEOUT)
                answers.append(str(answer.embeds) + answer.content)
                return "2612.00009" in answers[-1]

            await cluster.wait_for(found, timeout=TIMEOUT, what="the new paper in /search")
            assert "aperiodic" in answers[0].lower()  # the older papers were found all along
            assert "search index in" in gateway.output()
            for process in (gateway, poller):
                code, _ = await process.terminate(timeout=10.0)
                assert code == 0, cluster.tails()
    finally:
        await fake.close()
