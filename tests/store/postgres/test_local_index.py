"""A process's local search index on PostgreSQL: fed by transaction marks, never skipping a late
commit, following updates and deletes made by other processes, built in the background while
PostgreSQL's full text answers, caught up (not rebuilt) after a restart, one slot per process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.query import compile_query
from bot.store.index_slots import IndexPlan
from bot.store.postgres.database import PostgresDatabase, open_postgres
from bot.store.postgres.local_index import LocalIndex
from tests.store.contract.support import NOW, FakeClock, paper

pytestmark = pytest.mark.postgresql


class Ticks:
    """A monotonic clock that moves only when told (the index's "last caught up" age)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def other(postgres_url: str) -> AsyncIterator[PostgresDatabase]:
    """Another process's view of the same database (its own pool, no index)."""
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        yield db


@pytest.fixture
async def raw(postgres_url: str) -> AsyncIterator[asyncpg.Connection[Any]]:
    conn = await asyncpg.connect(postgres_url)
    try:
        yield conn
    finally:
        await conn.close()


async def _serving(
    db: PostgresDatabase, base: Path, *, inline_max: int | None = None, ticks: Ticks | None = None
) -> LocalIndex:
    """What a gateway opens: a slot under `base`, its index built or caught up; no timer races
    the test (it would only catch up sooner)."""
    local = LocalIndex(
        db.sessions, IndexPlan(base, "serve", inline_max), every=3600.0, monotonic=ticks or Ticks()
    )
    await local.start()
    db.papers.index = local
    return local


def _ids(page: Any) -> list[str]:
    return [hit.paper.id for hit in page.hits]


async def _insert(conn: asyncpg.Connection[Any], paper_id: str, title: str) -> None:
    await conn.execute(
        "INSERT INTO papers (id, title, first_seen, changed_at, published) "
        "VALUES ($1, $2, $3, $3, $3)",
        paper_id,
        title,
        NOW,
    )


async def test_a_paper_another_process_stores_is_found_after_the_catch_up(
    postgres_url: str, other: PostgresDatabase, tmp_path: Path
) -> None:
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        local = await _serving(db, tmp_path / "search-index")
        assert local.ready and local.slot is not None
        assert local.slot.directory == tmp_path / "search-index.0"
        await other.papers.upsert([paper("2612.00001", "Wasserstein barycenters")])
        assert local.index is not None
        assert await local.catch_up() == 1
        page = await db.papers.search(compile_query("wasserstein"))
        assert _ids(page) == ["2612.00001"] and local.index.papers() == 1
        assert local.status()["engine"] == "tantivy"


async def test_a_transaction_with_a_lower_id_that_commits_later_is_not_skipped(
    postgres_url: str, raw: asyncpg.Connection[Any], tmp_path: Path
) -> None:
    """A takes its id first and commits last. A reader that resumed after the highest mark it
    had seen (what a sequence or `max(change_xid)` watermark does) would never see A's paper;
    the index's watermark stays below A until A ends, then reads it."""
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        local = await _serving(db, tmp_path / "search-index")
        assert local.index is not None
        a, b = await asyncpg.connect(postgres_url), await asyncpg.connect(postgres_url)
        try:
            await a.execute("BEGIN")
            await _insert(a, "2612.00001", "Early transaction commits late")
            xa = await a.fetchval("SELECT pg_current_xact_id()::text::bigint")
            await b.execute("BEGIN")
            await _insert(b, "2612.00002", "Later transaction commits early")
            xb = await b.fetchval("SELECT pg_current_xact_id()::text::bigint")
            await b.execute("COMMIT")
            assert xa < xb
            naive = await raw.fetchval("SELECT max(change_xid)::text::bigint FROM papers")
            assert naive == xb  # all a naive reader has seen: B's mark

            await local.catch_up()
            assert local.index.seq < xa  # held below A while A runs
            await a.execute("COMMIT")
        finally:
            await a.close()
            await b.close()
        after_naive = await raw.fetch(
            "SELECT id FROM papers WHERE change_xid > $1::bigint::text::xid8", naive
        )
        assert "2612.00001" not in [r["id"] for r in after_naive]  # the naive reader's loss

        await local.catch_up()
        page = await db.papers.search(compile_query("transaction commits"))
        assert sorted(_ids(page)) == ["2612.00001", "2612.00002"]
        assert local.index.seq >= xb


async def test_updates_are_reindexed_and_deletes_disappear(
    postgres_url: str, raw: asyncpg.Connection[Any], tmp_path: Path
) -> None:
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        await db.papers.upsert(
            [paper("2612.00001", "Alpha method", upvotes=None), paper("2612.00002", "Alpha again")]
        )
        local = await _serving(db, tmp_path / "search-index")
        assert local.index is not None and local.index.papers() == 2
        mark = await raw.fetchval("SELECT change_xid::text FROM papers WHERE id = '2612.00001'")
        # A field the index does not hold leaves the mark alone (nothing to re-read) ...
        await raw.execute("UPDATE papers SET github_stars = 5 WHERE id = '2612.00001'")
        same = await raw.fetchval("SELECT change_xid::text FROM papers WHERE id = '2612.00001'")
        assert same == mark
        # ... a new title and Hugging Face learning of the paper move it.
        await raw.execute(
            "UPDATE papers SET title = 'Beta method', upvotes = 3 WHERE id = '2612.00001'"
        )
        assert await local.catch_up() == 1
        assert _ids(await db.papers.search(compile_query("beta"))) == ["2612.00001"]
        assert _ids(await db.papers.search(compile_query("alpha"))) == ["2612.00002"]
        hf = await db.papers.search(compile_query("method"), hf_only=True)
        assert _ids(hf) == ["2612.00001"]

        await raw.execute("DELETE FROM papers WHERE id = '2612.00002'")
        assert await local.catch_up() == 1
        page = await db.papers.search(compile_query("alpha"))
        assert page.total == 0 and local.index.papers() == 1


async def test_while_the_index_is_built_postgresql_answers_and_status_says_so(
    postgres_url: str, other: PostgresDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await other.papers.upsert([paper(f"2612.{n:05d}", f"Sparse coding {n}") for n in range(1, 6)])
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        local = await _serving(db, tmp_path / "search-index", inline_max=0)  # in the background
        assert local.index is not None
        answered: list[str] = []
        search_now = local.index.search_now
        monkeypatch.setattr(
            local.index,
            "search_now",
            lambda *a, **k: answered.append("index") or search_now(*a, **k),
        )
        assert not local.ready
        assert local.status()["engine"] == "postgresql" and local.status()["index"] == "building"
        assert "PostgreSQL full text" in local.describe()
        page = await db.papers.search(compile_query("sparse"))
        assert page.total == 5 and answered == []  # PostgreSQL's full text answered

        await local.index.wait_built()
        assert local.ready and local.status()["engine"] == "tantivy"
        page = await db.papers.search(compile_query("sparse"))
        assert page.total == 5 and answered == ["index"]
        assert "5 papers" in local.describe()


async def test_a_restart_catches_up_without_rebuilding(
    postgres_url: str,
    other: PostgresDatabase,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = tmp_path / "search-index"
    await other.papers.upsert([paper("2612.00001", "Kernel methods")])
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        await _serving(db, base)
    await other.papers.upsert([paper("2612.00002", "Kernel tricks while it was down")])
    caplog.set_level(logging.INFO, logger="bot.store.tantivy_index")
    caplog.clear()  # only what the restart logs
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        local = await _serving(db, base)
        assert local.slot is not None and local.slot.directory == tmp_path / "search-index.0"
        assert not [r for r in caplog.records if "build" in r.getMessage()], caplog.text
        page = await db.papers.search(compile_query("kernel"))
        assert sorted(_ids(page)) == ["2612.00001", "2612.00002"]


async def test_a_search_catches_up_first_only_when_the_last_catch_up_is_old(
    postgres_url: str, other: PostgresDatabase, tmp_path: Path
) -> None:
    ticks = Ticks()
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        local = await _serving(db, tmp_path / "search-index", ticks=ticks)
        await other.papers.upsert([paper("2612.00001", "Fresh enough")])
        ticks.now += 0.5  # caught up half a second ago: the search does not look
        assert (await db.papers.search(compile_query("fresh"))).total == 0
        assert local.seconds_behind() == 0.5
        ticks.now += 1.0  # 1.5 s: it catches up first
        assert _ids(await db.papers.search(compile_query("fresh"))) == ["2612.00001"]
        assert local.seconds_behind() == 0.0


async def test_a_one_shot_command_borrows_a_free_built_slot_and_never_builds(
    postgres_url: str, other: PostgresDatabase, tmp_path: Path
) -> None:
    base = tmp_path / "search-index"
    await other.papers.upsert([paper("2612.00001", "Borrowed index")])
    once = IndexPlan(base, "oneshot")
    # Nothing built yet: PostgreSQL answers and nothing is made on disk.
    async with open_postgres(postgres_url, clock=FakeClock(), index=once) as cli:
        assert _ids(await cli.papers.search(compile_query("borrowed"))) == ["2612.00001"]
        assert cli.papers.index is not None and not cli.papers.index.ready
    assert list(tmp_path.iterdir()) == []
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        await _serving(db, base)
        # The gateway holds slot 0: a command finds no free index and uses the full text.
        async with open_postgres(postgres_url, clock=FakeClock(), index=once) as cli:
            assert (await cli.papers.search(compile_query("borrowed"))).total == 1
            assert cli.papers.index is not None and cli.papers.index.slot is None
    await other.papers.upsert([paper("2612.00002", "Borrowed later")])
    # The gateway is gone: the command takes its slot, catches up and answers from it.
    async with open_postgres(postgres_url, clock=FakeClock(), index=once) as cli:
        page = await cli.papers.search(compile_query("borrowed"))
        local = cli.papers.index
        assert local is not None and local.ready and local.slot is not None
        assert local.slot.directory == tmp_path / "search-index.0"
        assert sorted(_ids(page)) == ["2612.00001", "2612.00002"]


async def test_heartbeats_tell_status_what_answers_each_process_s_searches(
    postgres_url: str, other: PostgresDatabase, tmp_path: Path
) -> None:
    from bot.discord.cogs.info import processes_text
    from bot.services.cluster import Heartbeat, Identity, cluster_status

    await other.papers.upsert([paper(f"2612.{n:05d}", f"Status paper {n}") for n in range(1, 4)])
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        local = await _serving(db, tmp_path / "search-index", inline_max=0)
        gateway = Heartbeat(db.cluster, Identity.here(("gateway",), ""), search=local.status)
        poller = Heartbeat(db.cluster, Identity("h:2:x", "h", 2, ("poller",), ""))
        await poller.beat()
        await gateway.beat()  # while the index is built
        found = {p.beat.roles: p for p in await cluster_status(db.cluster)}
        building = found[("gateway",)]
        assert building.document()["search"] == {
            "engine": "postgresql", "index": "building", "papers": None,
            "seconds_behind": None, "slot": str(tmp_path / "search-index.0"),
        }  # fmt: skip
        assert building.line().endswith(
            "searches: PostgreSQL full text while the local index is built"
        )
        assert found[("poller",)].document()["search"] is None
        assert "searches" not in found[("poller",)].line()

        assert local.index is not None
        await local.index.wait_built()
        await local.catch_up()
        await gateway.beat()
        ready = next(p for p in await cluster_status(db.cluster) if p.beat.roles == ("gateway",))
        assert ready.document()["search"]["engine"] == "tantivy"  # type: ignore[index]
        assert ready.line().endswith("searches: local index, 3 papers, caught up 0 s ago")
        text = await processes_text(db)
        assert text is not None and "searches: local index, 3 papers" in text


async def test_a_cancelled_caller_leaves_its_catch_up_to_finish_before_the_index_closes(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping the timer (or dropping a search) mid catch-up must not let `close` commit the
    writer while a thread still commits it: the catch-up runs to its end, then the index closes."""
    import asyncio

    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        local = await _serving(db, tmp_path / "search-index")
        assert local.index is not None
        started, release, finished = asyncio.Event(), asyncio.Event(), []

        async def slow_catch_up() -> int:
            started.set()
            await release.wait()
            finished.append("done")
            return 0

        monkeypatch.setattr(local.index, "catch_up", slow_catch_up)
        caller = asyncio.create_task(local.catch_up())
        await started.wait()
        caller.cancel()
        closing = asyncio.create_task(local.close())
        done, _ = await asyncio.wait([closing], timeout=0.2)
        assert not done and finished == []  # close waits for the catch-up
        release.set()
        await closing
        assert finished == ["done"] and caller.cancelled()


def test_the_cli_rebuilds_a_slot_and_a_one_shot_search_borrows_it(
    cli_config: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from bot.cli import main
    from tests.conftest import PAPERS

    def run_json(*args: str) -> Any:
        capsys.readouterr()
        assert main([*args, "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    monkeypatch.setenv("PAPERFEED_DATABASE_URL", postgres_url)
    folder = cli_config.parent
    assert main(["import", str(PAPERS)]) == 0
    before = run_json("search", "causal discovery", "--limit", "50")  # full text: no slot yet
    assert not (folder / "search-index.0").exists()
    report = run_json("search-index", "rebuild")
    slot = folder / "search-index.0"
    assert report["directory"] == str(slot) and report["papers"] >= 19
    state = json.loads((slot / "paperfeed.json").read_text())
    # The one-shot search takes the free slot, catches it up with a paper stored since, answers.
    extra = folder / "extra.jsonl"
    extra.write_text(
        json.dumps({"id": "2612.00042", "title": "Causal discovery after the rebuild"}) + "\n"
    )
    assert main(["import", str(extra)]) == 0
    after = run_json("search", "causal discovery", "--limit", "50")
    found = {r["id"] for r in after["results"]}
    assert found == {r["id"] for r in before["results"]} | {"2612.00042"}
    assert json.loads((slot / "paperfeed.json").read_text())["seq"] > state["seq"]


async def test_a_slot_made_from_another_database_is_built_again(
    postgres_url: str, postgres_admin_url: str, postgres_template: str, tmp_path: Path
) -> None:
    from tests.pg.fixtures import fresh_database

    base = tmp_path / "search-index"
    async with open_postgres(postgres_url, clock=FakeClock()) as first:
        await first.papers.upsert(
            [paper("2612.00001", "Only in the first database"), paper("2612.00003", "First")]
        )
        await _serving(first, base)
    making = fresh_database(postgres_admin_url, postgres_template)
    second_url = next(making)
    try:
        async with open_postgres(second_url, clock=FakeClock()) as second:
            await second.papers.upsert([paper("2612.00002", "Only in the second database")])
            # A one-shot command does not use it ...
            async with open_postgres(
                second_url, clock=FakeClock(), index=IndexPlan(base, "oneshot")
            ) as cli:
                assert (await cli.papers.search(compile_query("only"))).total == 1
                assert cli.papers.index is not None and not cli.papers.index.ready
            # ... a serving process builds it again from its own database.
            local = await _serving(second, base)
            assert local.slot is not None and local.slot.number == 0
            page = await second.papers.search(compile_query("only"))
            assert _ids(page) == ["2612.00002"] and local.ready
            assert (await second.papers.search(compile_query("first"))).total == 0
            assert local.index is not None and local.index.papers() == 1
    finally:
        next(making, None)


async def test_a_folder_it_cannot_write_leaves_the_full_text_answering(
    postgres_url: str, other: PostgresDatabase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await other.papers.upsert([paper("2612.00001", "Still searchable")])
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the index folder's parent should be")
    async with open_postgres(
        postgres_url, clock=FakeClock(), index=IndexPlan(blocker / "search-index", "serve")
    ) as db:
        assert db.papers.index is not None and not db.papers.index.ready
        assert _ids(await db.papers.search(compile_query("searchable"))) == ["2612.00001"]
        assert "no search index" in caplog.text
        assert db.papers.index.describe() == "PostgreSQL full text (no local index)"


async def test_this_process_s_own_writes_are_searchable_at_once(
    postgres_url: str, tmp_path: Path
) -> None:
    ticks = Ticks()  # never moves: only the process's own writes make a search catch up
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        await _serving(db, tmp_path / "search-index", ticks=ticks)
        await db.papers.upsert([paper("2612.00001", "Written here")])
        assert _ids(await db.papers.search(compile_query("written"))) == ["2612.00001"]
        async with db.transaction():
            await db.papers.upsert([paper("2612.00002", "Written in a transaction")])
        page = await db.papers.search(compile_query("written"))
        assert sorted(_ids(page)) == ["2612.00001", "2612.00002"]


async def test_a_failed_build_is_tried_again_and_status_says_when(
    postgres_url: str, other: PostgresDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build that fails (a dropped connection mid-scan) leaves PostgreSQL answering only
    until the next try, not until a restart; /status and the heartbeat say when that is."""
    from bot.services.cluster import search_summary
    from bot.store import tantivy_index
    from bot.store.postgres.search_feed import PostgresChangeFeed
    from tests.store.sqlite.test_search_index_life import failing_scans, retrying

    await other.papers.upsert([paper(f"2612.{n:05d}", f"Sparse coding {n}") for n in range(1, 6)])
    failing_scans(monkeypatch, PostgresChangeFeed, 1, ConnectionError("connection was closed"))
    pauses = retrying(monkeypatch)
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        local = await _serving(db, tmp_path / "search-index", inline_max=0)
        assert local.index is not None
        assert await pauses.next() == tantivy_index.BUILD_RETRY_FIRST
        assert not local.ready
        assert "build failed, retrying in 1 s" in local.describe()
        status = local.status()
        assert status["engine"] == "postgresql" and status["index"] == "failed"
        assert status["retry_in"] == 1
        assert search_summary(status).endswith("build failed, retrying in 1 s")
        page = await db.papers.search(compile_query("sparse"))
        assert page.total == 5  # PostgreSQL's full text
        pauses.release()
        await local.index.wait_built()
        assert local.ready and "retry_in" not in local.status()
        assert "5 papers" in local.describe()
        assert (await db.papers.search(compile_query("sparse"))).total == 5


async def test_a_watermark_moved_by_other_writes_alone_commits_nothing(
    postgres_url: str, other: PostgresDatabase, raw: asyncpg.Connection[Any], tmp_path: Path
) -> None:
    """Any write on the server moves the watermark (heartbeats, the outbox, other databases).
    With no paper changed, a catch-up moves it in memory only: an empty commit, its recorded
    watermark and a reopened reader made the next search several times slower (issue 19);
    what it recorded stays valid, so a restart still finds what changed after."""
    base = tmp_path / "search-index"
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        local = await _serving(db, base)
        assert local.index is not None and local.slot is not None
        await other.papers.upsert([paper("2612.00001", "Kernel methods")])
        assert await local.catch_up() == 1  # a real change: committed, the writer kept
        folder = local.slot.directory
        files = {name: (folder / name).read_bytes() for name in ("meta.json", "paperfeed.json")}
        state = (folder / "paperfeed.json").stat().st_ino
        before = local.index.seq
        for _ in range(3):
            await raw.fetchval("SELECT pg_current_xact_id()")  # another write, no paper
            assert await local.catch_up() == 0
        assert local.index.seq > before  # moved on: the next search does not look again
        assert {name: (folder / name).read_bytes() for name in files} == files
        assert (folder / "paperfeed.json").stat().st_ino == state  # not even rewritten
        await other.papers.upsert([paper("2612.00002", "Kernel tricks")])
        assert await local.catch_up() == 1
        assert sorted(_ids(await db.papers.search(compile_query("kernel")))) == [
            "2612.00001",
            "2612.00002",
        ]
        await raw.fetchval("SELECT pg_current_xact_id()")
        assert await local.catch_up() == 0
    await other.papers.upsert([paper("2612.00003", "Kernel sums while it was down")])
    async with open_postgres(postgres_url, clock=FakeClock()) as db:
        await _serving(db, base)
        page = await db.papers.search(compile_query("kernel"))
        assert sorted(_ids(page)) == ["2612.00001", "2612.00002", "2612.00003"]
