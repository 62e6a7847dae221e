"""Poll leases and heartbeats on the real PostgreSQL: one holder per source, a growing epoch,
takeover once a dead holder's lease runs out, at once after a clean stop; silent processes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.cli import main
from bot.services.cluster import (
    Heartbeat,
    Identity,
    Leadership,
    cluster_status,
    lease_ttl,
    live_publishers,
)
from bot.services.poller import PollReport
from bot.services.scheduler import PollScheduler
from bot.store.postgres.cluster import PostgresCluster
from bot.store.postgres.database import PostgresDatabase, open_postgres

TTL = timedelta(seconds=0.6)


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[PostgresDatabase]:
    async with open_postgres(postgres_url) as database:
        yield database


async def test_one_owner_at_a_time_and_each_new_owner_gets_the_next_epoch(
    db: PostgresDatabase,
) -> None:
    leases = db.cluster
    assert await leases.acquire("poll:arxiv", "a", TTL) == 1
    assert await leases.acquire("poll:arxiv", "b", TTL) is None
    assert await leases.acquire("poll:arxiv", "a", TTL) == 1  # a renewal keeps the term
    assert await leases.acquire("poll:huggingface", "b", TTL) == 1  # leases are per name
    await asyncio.sleep(TTL.total_seconds() + 0.2)
    assert not await leases.holds("poll:arxiv", "a", 1)
    assert await leases.acquire("poll:arxiv", "b", TTL) == 2
    assert await leases.acquire("poll:arxiv", "a", TTL) is None
    assert await leases.holds("poll:arxiv", "b", 2)
    await leases.release("poll:arxiv", "b")
    assert await leases.acquire("poll:arxiv", "a", TTL) == 3  # free at once after a release
    assert [(x.name, x.owner, x.epoch) for x in await leases.leases()] == [
        ("poll:arxiv", "a", 3),
        ("poll:huggingface", "b", 1),
    ]


async def test_racing_owners_never_both_win(db: PostgresDatabase) -> None:
    results = await asyncio.gather(
        *(db.cluster.acquire("poll:arxiv", f"p{n}", TTL) for n in range(8))
    )
    assert sorted(r for r in results if r is not None) == [1]


async def test_a_dead_leader_is_replaced_within_its_ttl_and_a_stopped_one_at_once(
    db: PostgresDatabase,
) -> None:
    ttls = {"arxiv": TTL}
    first, second = Leadership(db.cluster, "a", ttls), Leadership(db.cluster, "b", ttls)
    await first.start()
    await second.start()
    try:
        assert await first.may_poll("arxiv") and not await second.may_poll("arxiv")
        # "a" dies: its renewals stop, nothing is released
        assert first._task is not None
        first._task.cancel()
        died = time.monotonic()
        while not await second.may_poll("arxiv"):
            assert time.monotonic() - died < 5 * TTL.total_seconds(), "no takeover"
            await asyncio.sleep(0.05)
        took = time.monotonic() - died
        assert took <= TTL.total_seconds() + 0.5
        assert second.epochs == {"arxiv": 2}
        assert not await first.may_poll("arxiv")  # the old leader, back, does not poll
        # a clean stop hands over without waiting for the lease to run out
        await second.stop()
        assert await first.may_poll("arxiv")
    finally:
        first.epochs.clear()  # its task is gone already
        await second.stop()


class CountingPoller:
    """Stands in for the Poller: counts polls per source."""

    def __init__(self) -> None:
        self.polls: list[str] = []
        self.sources = {"arxiv": None}

    async def poll_source(self, name: str) -> PollReport:
        self.polls.append(name)
        return PollReport(name=name)


async def test_only_the_lease_holder_polls_on_a_tick(db: PostgresDatabase) -> None:
    ttls = {"arxiv": TTL}
    polls_a, polls_b = CountingPoller(), CountingPoller()
    lead_a, lead_b = Leadership(db.cluster, "a", ttls), Leadership(db.cluster, "b", ttls)
    scheduler_a = PollScheduler(polls_a, [], leadership=lead_a)  # type: ignore[arg-type]
    scheduler_b = PollScheduler(polls_b, [], leadership=lead_b)  # type: ignore[arg-type]
    await lead_a.start()
    await lead_b.start()
    try:
        for _ in range(3):
            await scheduler_a._run("arxiv")
            await scheduler_b._run("arxiv")
        assert (len(polls_a.polls), len(polls_b.polls)) == (3, 0)
    finally:
        await lead_a.stop()
        await lead_b.stop()
    await scheduler_b._run("arxiv")  # "a" released: "b" takes the next tick
    assert polls_b.polls == ["arxiv"]
    await lead_b.stop()


def test_the_lease_is_a_quarter_interval_between_3_and_15_seconds() -> None:
    assert lease_ttl(timedelta(seconds=2)) == timedelta(seconds=3)
    assert lease_ttl(timedelta(seconds=40)) == timedelta(seconds=10)
    assert lease_ttl(timedelta(hours=1)) == timedelta(seconds=15)


async def test_heartbeats_list_every_process_and_flag_a_silent_one(db: PostgresDatabase) -> None:
    cluster: PostgresCluster = db.cluster
    poller = Heartbeat(cluster, Identity.here(("poller",), ""), interval=0.05)
    gateway = Identity("h2:42:x", "h2", 42, ("gateway", "publisher"), "0-3/8")
    await poller.start()
    await cluster.beat(gateway.id, gateway.roles, gateway.shards, gateway.host, gateway.pid, "9.9")
    try:
        deadline = time.monotonic() + 5
        while poller.beats < 3:  # it keeps beating in the background
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        found = {p.beat.id: p for p in await cluster_status(cluster, timedelta(seconds=0.2))}
        assert set(found) == {poller._me.id, gateway.id}
        assert not found[poller._me.id].silent  # beat within 0.05 s
        assert found[gateway.id].silent  # one beat, 0.3 s ago
        assert found[gateway.id].beat.roles == ("gateway", "publisher")
        assert found[gateway.id].beat.shards == "0-3/8"
        assert "SILENT" in found[gateway.id].line()
        assert found[poller._me.id].document()["silent"] is False
    finally:
        await poller.stop()
    assert [p.beat.id for p in await cluster_status(cluster)] == [gateway.id]  # stop forgets


async def test_status_lists_the_processes_and_exits_1_for_a_silent_one(
    db: PostgresDatabase,
    postgres_url: str,
    cli_config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", postgres_url)
    await db.cluster.beat("h:1:x", ("poller",), "", "h", 1, "1.0")
    await db.cluster.acquire("poll:arxiv", "h:1:x", timedelta(seconds=30))
    code = await asyncio.to_thread(main, ["status", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(p["id"], p["roles"], p["silent"]) for p in document["processes"]] == [
        ("h:1:x", ["poller"], False)
    ]
    assert document["leases"][0]["owner"] == "h:1:x"
    await db.sessions.execute(
        "UPDATE cluster_processes SET last_beat = now() - interval '5 minutes'"
    )
    assert await asyncio.to_thread(main, ["status"]) == 1
    out = capsys.readouterr().out
    assert "1 silent" in out and "SILENT" in out


async def test_the_status_command_in_discord_lists_the_processes(db: PostgresDatabase) -> None:
    from bot.discord.cogs.info import processes_text, status_body

    assert await processes_text(db) == "No process has recorded a heartbeat yet."
    await db.cluster.beat("h:1:x", ("poller",), "", "h", 1, "1.0")
    await db.cluster.beat("h:2:x", ("gateway",), "0-1/2", "h", 2, "1.0")
    await db.sessions.execute(
        "UPDATE cluster_processes SET last_beat = now() - interval '5 minutes' WHERE pid = 2"
    )
    text = await processes_text(db)
    assert text is not None
    assert text.splitlines()[0] == "2 process(es) · 1 silent"
    assert "⚠ gateway shards 0-1/2 on h pid 2" in text
    body = status_body([], None, None, text)
    assert body["embeds"][0]["fields"][-1] == {"name": "Processes", "value": text, "inline": False}


async def test_a_poll_that_outlives_its_lease_is_noticed_by_the_fence(
    db: PostgresDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    lead = Leadership(db.cluster, "a", {"arxiv": TTL})

    class SlowPoller(CountingPoller):
        async def poll_source(self, name: str) -> PollReport:
            # a pause longer than the lease: another process took over meanwhile
            await db.sessions.execute("UPDATE cluster_leases SET expires_at = now()")
            assert await db.cluster.acquire("poll:arxiv", "b", TTL) == 2
            return await super().poll_source(name)

    poller = SlowPoller()
    scheduler = PollScheduler(poller, [], leadership=lead)  # type: ignore[arg-type]
    await scheduler._run("arxiv")
    assert poller.polls == ["arxiv"]
    assert "the lease to poll arxiv ran out during the poll (epoch 1)" in caplog.text
    assert not await lead.may_poll("arxiv")  # and it does not poll at the next tick


async def test_live_publishers_are_the_processes_doing_that_role_with_a_recent_beat(
    db: PostgresDatabase, postgres_url: str
) -> None:
    assert await live_publishers(db.cluster) == 0
    for n, roles in enumerate([("publisher",), ("all",), ("gateway", "publisher"), ("poller",)]):
        await db.cluster.beat(f"h:{n}:x", roles, "", "h", n, "1.0")
    await db.cluster.beat("h:9:x", ("publisher",), "", "h", 9, "1.0")
    conn = await asyncpg.connect(postgres_url)
    try:  # the last one went silent (killed): its share goes to the others
        await conn.execute(
            "UPDATE cluster_processes SET last_beat = now() - interval '1 minute' "
            "WHERE id = 'h:9:x'"
        )
    finally:
        await conn.close()
    assert await live_publishers(db.cluster) == 3
