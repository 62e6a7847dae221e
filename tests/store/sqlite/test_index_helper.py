"""An import's batches indexed by a helper process (bot/store/sqlite/index_helper.py): every
paper indexed once, the log pruned, and the work done here when the helper cannot do it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from bot.query.compile import compile_query
from bot.store import tantivy_index
from bot.store.sqlite import papers as sqlite_papers
from bot.store.sqlite.database import SqliteDatabase, index_directory, open_store
from bot.store.sqlite.index_helper import SqliteIndexHelper
from bot.store.sqlite.search_feed import SqliteChangeFeed
from bot.store.tantivy_index import IndexDoc
from tests.store.contract.support import NOW, FakeClock
from tests.store.sqlite.test_search_index import corpus, fts5_ids, the_index

TEXTS = ("causal", "graph OR quantum", "title:causal", '"graph network"')


@pytest.fixture(autouse=True)
def import_sized(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_papers, "BULK_MIN", 100)  # these batches count as an import's


def _helper(db: SqliteDatabase) -> SqliteIndexHelper | None:
    helper = the_index(db)._helper
    assert helper is None or isinstance(helper, SqliteIndexHelper)
    return helper


async def _matches_fts5(db: SqliteDatabase, papers: int) -> None:
    for text in TEXTS:  # each search catches the index up first
        page = await db.papers.search(compile_query(text), limit=papers)
        total, expected = await fts5_ids(db, text)
        assert page.total == total and {h.paper.id for h in page.hits} == expected, text
    assert the_index(db).papers() == papers


def _log_rows(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM search_changes").fetchone()[0])
    finally:
        conn.close()


async def test_an_imports_batches_are_indexed_by_a_helper_and_read_back_here(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "p.sqlite3")
    papers = corpus(800)
    async with open_store(path, clock=FakeClock(NOW), index_helper=True) as db:
        index = the_index(db)
        await db.papers.upsert(papers[:200])
        helper = _helper(db)
        assert helper is not None and helper.pid is not None and helper.pid != os.getpid()
        assert index._writer is None  # the helper holds it
        await db.papers.upsert(papers[200:400])
        await db.papers.upsert(papers[400:600])
        # The import's last, small batch: the helper commits everything and ends, then
        # this process applies the batch itself.
        await db.papers.upsert(papers[600:610])
        assert _helper(db) is None and helper.pid is None
        await _matches_fts5(db, 610)
        # A later import starts a new helper.
        await db.papers.upsert(papers[610:])
        assert _helper(db) is not None
    assert _log_rows(path) == 0  # the helper committed and pruned it at close
    async with open_store(path, clock=FakeClock(NOW)) as db:
        await _matches_fts5(db, 800)
        assert the_index(db).seq == 800


async def test_a_helper_killed_mid_import_leaves_its_work_to_this_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(tmp_path / "p.sqlite3")
    papers = corpus(600)
    async with open_store(path, clock=FakeClock(NOW), index_helper=True) as db:
        await db.papers.upsert(papers[:200])
        helper = _helper(db)
        assert helper is not None and helper.pid is not None
        os.kill(helper.pid, signal.SIGKILL)
        assert helper._process is not None
        await helper._process.wait()
        with caplog.at_level(logging.WARNING):
            await db.papers.upsert(papers[200:400])  # seen dead: taken back, applied here
            assert _helper(db) is None
            await db.papers.upsert(papers[400:])  # no new helper for this import
            assert _helper(db) is None
        assert "ended with status -9" in caplog.text
        await _matches_fts5(db, 600)


async def test_a_helper_that_cannot_take_the_writer_leaves_the_work_here(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process (here: a writer of this one's) holds the index: the helper says so and
    ends; the import goes on here, and its papers are indexed once the writer is free."""
    path = str(tmp_path / "p.sqlite3")
    papers = corpus(400)
    async with open_store(path, clock=FakeClock(NOW)) as bot:
        await bot.papers.upsert(papers[:10])  # the bot's poll: it holds the writer
        async with open_store(path, clock=FakeClock(NOW), index_helper=True) as db:
            with caplog.at_level(logging.INFO):
                await db.papers.upsert(papers[10:200])
            assert _helper(db) is None and the_index(db)._helper_failed
            # What the helper logged, logged here (as this process logs, at its level).
            said = [r.getMessage() for r in caplog.records if "(index helper)" in r.getMessage()]
            assert any("written by another process" in m for m in said), caplog.text
            await db.papers.upsert(papers[200:])
        await _matches_fts5(bot, 400)  # the bot's searches caught up with the import


async def test_the_helper_is_asked_only_for_an_imports_batches(tmp_path: Path) -> None:
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW), index_helper=True) as db:
        await db.papers.upsert(corpus(50))  # a poll's batch: indexed here, no helper
        assert _helper(db) is None and the_index(db)._writer is not None
        await _matches_fts5(db, 50)


async def test_without_a_ready_index_an_import_starts_no_helper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW)) as db:
        await db.papers.upsert(corpus(300))
    # A lost index, rebuilt in the background (held until the batch is stored): the import's
    # batches wait for the build, which reads them too.
    monkeypatch.setattr(tantivy_index, "BUILD_INLINE_MAX", 0)
    (index_directory(path) / tantivy_index.STATE_FILE).unlink()
    release = asyncio.Event()
    scan = SqliteChangeFeed.scan

    async def gated(self: SqliteChangeFeed, after_pk: int, limit: int) -> list[IndexDoc]:
        await release.wait()
        return await scan(self, after_pk, limit)

    monkeypatch.setattr(SqliteChangeFeed, "scan", gated)
    async with open_store(path, clock=FakeClock(NOW), index_helper=True) as db:
        index = the_index(db)
        assert index.building
        await db.papers.upsert(corpus(400)[300:])
        assert _helper(db) is None
        release.set()
        await index.wait_built()
        await _matches_fts5(db, 400)


async def test_two_batches_stored_at_once_start_one_helper(tmp_path: Path) -> None:
    """An import keeps two batches in flight: their catch-ups meet at the first helper's start."""
    path = str(tmp_path / "p.sqlite3")
    papers = corpus(400)
    async with open_store(path, clock=FakeClock(NOW), index_helper=True) as db:
        index = the_index(db)
        made: list[SqliteIndexHelper] = []
        new_helper = index._new_helper
        assert new_helper is not None

        def counted() -> SqliteIndexHelper:
            helper = new_helper()
            assert isinstance(helper, SqliteIndexHelper)
            made.append(helper)
            return helper

        index._new_helper = counted
        await asyncio.gather(db.papers.upsert(papers[:200]), db.papers.upsert(papers[200:]))
        assert len(made) == 1 and _helper(db) is made[0] and not index._helper_failed
        await _matches_fts5(db, 400)
