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


def _hold(directory: Path) -> int:
    """The rebuild lock taken as another rebuilder would: a descriptor to close to release it."""
    fd = os.open(directory.with_name(directory.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


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
    monkeypatch.setattr(tantivy_index, "LOCK_WAIT", 0.0)
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
    monkeypatch.setattr(tantivy_index, "LOCK_WAIT", 0.0)
    monkeypatch.setattr(tantivy_index, "BUSY_RETRY", 0.01)
    path = await _made(tmp_path, 30)
    directory = index_directory(path)
    for child in directory.iterdir():  # the other rebuilder has not swapped its index in yet
        child.unlink()
    directory.rmdir()
    held = _hold(directory)
    try:
        with caplog.at_level(logging.INFO, logger="bot.store.tantivy_index"):
            async with open_store(path, clock=FakeClock(NOW)) as db:
                index = db.papers.index
                assert isinstance(index, TantivyIndex) and not index.ready
                assert any("another process is rebuilding" in r.message for r in caplog.records)
                page = await db.papers.search(compile_query("causal"), limit=100)  # on FTS5
                assert page.total == (await fts5_ids(db, "causal"))[0]
                assert index._build is not None and not index._build.done()
                os.close(held)
                held = -1
                assert await asyncio.wait_for(index._build, 30) == 30
                assert index.ready
                again = await db.papers.search(compile_query("causal"), limit=100)
                assert {h.paper.id for h in again.hits} == {h.paper.id for h in page.hits}
    finally:
        if held >= 0:
            os.close(held)


async def test_a_catch_up_during_another_rebuild_keeps_the_log_that_rebuild_replays(
    tmp_path: Path,
) -> None:
    path = await _made(tmp_path, 20)
    async with open_store(path, clock=FakeClock(NOW)) as db:
        held = _hold(index_directory(path))
        try:
            await db.papers.upsert(corpus(25)[20:])
            assert db.papers.index is not None and db.papers.index.ready
            assert (await db.papers.search(compile_query("causal"), limit=100)).total == (
                await fts5_ids(db, "causal")
            )[0]  # the catch-up itself was applied
            row = await db.connections.fetchone("SELECT count(*) FROM search_changes")
            assert row is not None and row[0] == 5  # but the log is kept
        finally:
            os.close(held)
        await db.papers.upsert(corpus(26)[25:])
        row = await db.connections.fetchone("SELECT count(*) FROM search_changes")
        assert row is not None and row[0] == 0
