"""Two rebuilders of one search index: the second is told a rebuild is under way, nothing breaks."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.errors import IndexBusy
from bot.query.compile import compile_query
from bot.store import open_store, tantivy_index
from bot.store.sqlite.database import index_directory
from bot.store.sqlite.database import open_store as open_sqlite
from bot.store.sqlite.search_feed import SqliteChangeFeed
from bot.store.tantivy_index import TantivyIndex
from tests.store.contract.support import NOW, FakeClock
from tests.store.sqlite.test_search_index import corpus, fts5_ids


class Rebuilder:
    """Both locks beside the index, held as another process's rebuild holds them."""

    def __init__(self, directory: Path) -> None:
        self.held = []
        for suffix in (".lock", ".write.lock"):
            path = directory.with_name(directory.name + suffix)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.held.append(fd)

    def done(self) -> None:
        for fd in self.held:
            os.close(fd)
        self.held = []


async def _made(tmp_path: Path, papers: int) -> str:
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW)) as db:
        await db.papers.upsert(corpus(papers))
    return path


async def test_a_cli_rebuild_during_a_rebuild_says_so_in_one_line_and_breaks_nothing(
    tmp_path: Path,
) -> None:
    """Two real processes: this one rebuilds; the CLI, started in the middle, must refuse."""
    path = await _made(tmp_path, 60)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{path}"\n', encoding="utf-8")
    seen: list[subprocess.CompletedProcess[str]] = []

    def midway(done: int, total: int) -> None:
        if done and not seen:  # the first batch is in `.new`; the lock is held
            cli = [sys.executable, "-m", "bot", "--config", str(config), "search-index", "rebuild"]
            seen.append(subprocess.run(cli, capture_output=True, text=True, timeout=60))

    async with open_sqlite(path, clock=FakeClock(NOW), search_index=False) as db:
        index = TantivyIndex(index_directory(path), SqliteChangeFeed(db.connections))
        try:
            assert await index.rebuild(midway) == 60
        finally:
            await index.close()
    (second,) = seen
    assert second.returncode != 0
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "another process is rebuilding" in lines[0]
    assert "Traceback" not in second.stderr
    assert not index_directory(path).with_name("p.sqlite3.index.new").exists()
    async with open_store(path, clock=FakeClock(NOW)) as db:
        assert db.papers.index is not None and db.papers.index.ready
        for text in ("causal", "causal -graph", '"graph network"'):
            page = await db.papers.search(compile_query(text), limit=500)
            total, ids = await fts5_ids(db, text)
            assert page.total == total and {h.paper.id for h in page.hits} == ids


async def test_a_second_rebuild_in_one_process_is_refused_while_the_first_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = await _made(tmp_path, 20)
    directory = index_directory(path)
    async with open_sqlite(path, clock=FakeClock(NOW), search_index=False) as db:
        first = TantivyIndex(directory, SqliteChangeFeed(db.connections))
        second = TantivyIndex(directory, SqliteChangeFeed(db.connections))
        refused: list[str] = []

        def midway(done: int, total: int) -> None:
            if done and not refused:
                with pytest.raises(IndexBusy) as caught, ThreadPoolExecutor(1) as other:
                    other.submit(asyncio.run, second.rebuild()).result()  # this loop is busy
                refused.append(str(caught.value))

        try:
            assert await first.rebuild(midway) == 20
            assert await second.rebuild() == 20  # the lock is free again
        finally:
            await first.close()
            await second.close()
    assert refused and "another process is rebuilding" in refused[0]


async def test_a_bot_finding_a_rebuild_under_way_keeps_fts5_and_uses_the_index_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(tantivy_index, "BUSY_RETRY", 0.01)
    path = str(tmp_path / "p.sqlite3")
    async with open_sqlite(path, clock=FakeClock(NOW), search_index=False) as made:
        await made.papers.upsert(corpus(30))  # no index yet: FTS5 kept
    directory = index_directory(path)  # the other rebuilder has not swapped its index in yet
    other = Rebuilder(directory)
    try:
        with caplog.at_level(logging.INFO, logger="bot.store.tantivy_index"):
            async with open_store(path, clock=FakeClock(NOW)) as db:
                index = db.papers.index
                assert isinstance(index, TantivyIndex) and not index.ready
                assert any("another process is rebuilding" in r.message for r in caplog.records)
                page = await db.papers.search(compile_query("causal"), limit=100)  # on FTS5
                assert page.total == (await fts5_ids(db, "causal"))[0]
                assert index._build is not None and not index._build.done()
                other.done()
                assert await asyncio.wait_for(index._build, 30) == 30
                assert index.ready
                again = await db.papers.search(compile_query("causal"), limit=100)
                assert {h.paper.id for h in again.hits} == {h.paper.id for h in page.hits}
    finally:
        other.done()


async def test_while_another_process_rebuilds_catch_ups_wait_and_keep_the_log(
    tmp_path: Path,
) -> None:
    """The rebuild replays the log from where it started: nothing may be pruned meanwhile, and
    nothing committed into the folder it is about to replace."""
    path = await _made(tmp_path, 20)
    async with open_store(path, clock=FakeClock(NOW)) as db:
        index = db.papers.index
        assert isinstance(index, TantivyIndex) and index.ready
        before = index.seq
        other = Rebuilder(index_directory(path))
        try:
            await db.papers.upsert(corpus(25)[20:])
            assert index.seq == before  # not caught up: the search uses the index as it is
            page = await db.papers.search(compile_query("causal"), limit=100)
            assert page.hits and all(int(h.paper.id[-5:]) < 20 for h in page.hits)
            row = await db.connections.fetchone("SELECT count(*) FROM search_changes")
            assert row is not None and row[0] == 5  # the log is kept
        finally:
            other.done()
        await db.papers.upsert(corpus(26)[25:])
        assert index.seq > before
        row = await db.connections.fetchone("SELECT count(*) FROM search_changes")
        assert row is not None and row[0] == 0
        page = await db.papers.search(compile_query("causal"), limit=100)
        assert page.total == (await fts5_ids(db, "causal"))[0]


async def test_a_bot_writing_while_another_process_rebuilds_keeps_both_indexes_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The bot holds its steady writer on the index the rebuild replaces: after the swap its
    next catch-up must write into the new index as its own, not over it."""
    path = await _made(tmp_path, 30)
    directory = index_directory(path)
    async with open_store(path, clock=FakeClock(NOW)) as bot:
        await bot.papers.upsert(corpus(32)[30:])  # the bot now holds a writer
        async with open_sqlite(path, clock=FakeClock(NOW), search_index=False) as cli:
            other = TantivyIndex(directory, SqliteChangeFeed(cli.connections))
            try:
                assert await other.rebuild() == 32
            finally:
                await other.close()
        await bot.papers.upsert(corpus(36)[32:])  # caught up after the swap
        for text in ("causal", "graph -causal", '"graph network"'):
            page = await bot.papers.search(compile_query(text), limit=500)
            total, ids = await fts5_ids(bot, text)
            assert page.total == total and {h.paper.id for h in page.hits} == ids
    with caplog.at_level(logging.INFO, logger="bot.store.tantivy_index"):
        async with open_store(path, clock=FakeClock(NOW)) as again:
            assert not [r.message for r in caplog.records if "building it" in r.message]
            index = again.papers.index
            assert isinstance(index, TantivyIndex) and index.ready
            assert "36 papers" in index.describe()
            for text in ("causal", "graph -causal"):
                page = await again.papers.search(compile_query(text), limit=500)
                total, ids = await fts5_ids(again, text)
                assert page.total == total and {h.paper.id for h in page.hits} == ids
