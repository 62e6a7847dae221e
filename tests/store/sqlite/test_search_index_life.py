"""The search index's lifecycle: a failed background build is tried again, an import's large
writer is given back when the import ends, and an import beside a running bot breaks neither."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.models import Paper
from bot.query.compile import compile_query
from bot.services.importer import import_lines
from bot.store import open_store, tantivy_index
from bot.store.sqlite import papers as sqlite_papers
from bot.store.sqlite.database import index_directory
from bot.store.sqlite.database import open_store as open_sqlite
from bot.store.sqlite.search_feed import SqliteChangeFeed
from bot.store.tantivy_index import IndexDoc
from tests.store.contract.support import NOW, FakeClock
from tests.store.sqlite.test_search_index import corpus, fts5_ids, the_index


class Pauses:
    """The build's pauses, held until the test lets each one end (no wall-clock waits)."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self._asked = asyncio.Event()
        self._go = asyncio.Semaphore(0)

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        self._asked.set()
        await self._go.acquire()

    async def next(self) -> float:
        """The next pause the build asks for (it waits in it until `release`)."""
        await asyncio.wait_for(self._asked.wait(), 30)
        self._asked.clear()
        return self.asked[-1]

    def release(self) -> None:
        self._go.release()


def failing_scans(
    monkeypatch: pytest.MonkeyPatch, cls: type, failures: int, error: Exception
) -> None:
    """The feed's `scan` raises `error` the first `failures` times (a dropped connection)."""
    scan = cls.scan
    left = [failures]

    async def flaky(self: object, after_pk: int, limit: int) -> list[IndexDoc]:
        if left[0] > 0:
            left[0] -= 1
            raise error
        docs: list[IndexDoc] = await scan(self, after_pk, limit)
        return docs

    monkeypatch.setattr(cls, "scan", flaky)


def retrying(monkeypatch: pytest.MonkeyPatch) -> Pauses:
    """A fake pause and a still clock for the background build."""
    pauses = Pauses()
    monkeypatch.setattr(tantivy_index, "_pause", pauses)
    monkeypatch.setattr(tantivy_index, "_now", lambda: 1000.0)
    return pauses


async def _without_index(path: str, papers: Sequence[Paper]) -> None:
    """A file that never had an index: FTS5 kept, as before the index existed."""
    async with open_sqlite(path, clock=FakeClock(NOW), search_index=False) as db:
        await db.papers.upsert(papers)
    assert not index_directory(path).exists()


async def test_a_failed_background_build_is_tried_again_with_a_growing_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(tmp_path / "p.sqlite3")
    await _without_index(path, corpus(40))
    monkeypatch.setattr(tantivy_index, "BUILD_INLINE_MAX", 10)  # built in the background
    failing_scans(monkeypatch, SqliteChangeFeed, 2, OSError(28, "No space left on device"))
    pauses = retrying(monkeypatch)
    with caplog.at_level(logging.ERROR, logger="bot.store.tantivy_index"):
        async with open_store(path, clock=FakeClock(NOW)) as db:
            index = the_index(db)
            assert await pauses.next() == 1.0
            assert not index.ready
            assert "build failed, retrying in 1 s" in index.describe()
            page = await db.papers.search(compile_query("causal"), limit=100)  # FTS5 answers
            assert page.total == (await fts5_ids(db, "causal"))[0] > 0
            failed = [r.getMessage() for r in caplog.records]
            assert len(failed) == 1 and "No space left on device" in failed[0]
            pauses.release()
            assert await pauses.next() == 2.0  # failed again: a longer pause
            assert "retrying in 2 s" in index.describe()
            assert len(caplog.records) == 2
            pauses.release()
            assert index._build is not None
            assert await asyncio.wait_for(index._build, 30) == 40
            assert index.ready and "40 papers" in index.describe()
            assert index.retry_in() is None
            again = await db.papers.search(compile_query("causal"), limit=100)
            assert {h.paper.id for h in again.hits} == {h.paper.id for h in page.hits}


async def test_the_pause_between_failed_builds_stops_growing_at_the_maximum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "p.sqlite3")
    await _without_index(path, corpus(20))
    monkeypatch.setattr(tantivy_index, "BUILD_INLINE_MAX", 10)
    monkeypatch.setattr(tantivy_index, "BUILD_RETRY_MAX", 5.0)
    failing_scans(monkeypatch, SqliteChangeFeed, 5, ConnectionError("connection lost"))
    pauses = retrying(monkeypatch)
    async with open_store(path, clock=FakeClock(NOW)) as db:
        for _ in range(5):
            await pauses.next()
            pauses.release()
        index = the_index(db)
        assert index._build is not None and await asyncio.wait_for(index._build, 30) == 20
    assert pauses.asked == [1.0, 2.0, 4.0, 5.0, 5.0]


async def test_an_import_gives_its_large_writer_back_when_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "BULK_MIN", 100)  # these batches count as an import's
    heaps: list[int] = []
    writer = tantivy_index.tantivy.Index.writer

    def recorded(self: object, heap_size: int, num_threads: int) -> object:
        heaps.append(heap_size)
        return writer(self, heap_size=heap_size, num_threads=num_threads)

    monkeypatch.setattr(tantivy_index.tantivy.Index, "writer", recorded)
    path = str(tmp_path / "p.sqlite3")
    papers = corpus(500)
    async with open_store(path, clock=FakeClock(NOW)) as db:
        index = the_index(db)
        await db.papers.upsert(papers[:200])  # an import's batches: the large writer
        await db.papers.upsert(papers[200:400])
        assert index._bulk and heaps[-1] == tantivy_index.BULK_HEAP
        # The import ends: its last, small batch (no lag) commits and hands the writer back.
        await db.papers.upsert(papers[400:410])
        assert index._writer is None and not index._bulk
        await db.papers.upsert(papers[410:420])  # the bot's next poll: the small writer
        assert not index._bulk and heaps[-1] == tantivy_index.STEADY_HEAP
        page = await db.papers.search(compile_query("causal"), limit=500)
        assert page.total == (await fts5_ids(db, "causal"))[0]


async def test_an_import_committed_by_its_own_batches_is_given_back_at_the_next_catch_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing left to apply or commit (the last lagging batch reached BULK_COMMIT): the next
    catch-up without lag (a search) still finishes the large writer."""
    monkeypatch.setattr(sqlite_papers, "BULK_MIN", 100)
    monkeypatch.setattr(tantivy_index, "BULK_COMMIT", 150)
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW)) as db:
        index = the_index(db)
        await db.papers.upsert(corpus(200))  # 200 >= 150: committed, the writer kept
        assert index._bulk and index._writer is not None and index.seq == 200
        await db.papers.search(compile_query("causal"))
        assert index._writer is None and not index._bulk


def _lines(papers: Sequence[Paper]) -> list[str]:
    return [
        json.dumps(
            {
                "id": p.id,
                "title": p.title,
                "abstract": p.abstract,
                "authors": ", ".join(p.authors),
                "categories": " ".join(p.categories),
                "update_date": "2024-01-01",
            }
        )
        for p in papers
    ]


@pytest.mark.parametrize("bot_wrote_first", [True, False])
async def test_an_import_beside_a_running_bot_breaks_neither_and_the_bot_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bot_wrote_first: bool
) -> None:
    """`paperfeed import` opens the same file while the bot runs: one of them holds Tantivy's
    writer, the other reads; neither fails, and the bot's searches find every imported paper
    once the import has ended (its store closed)."""
    monkeypatch.setattr(sqlite_papers, "BULK_MIN", 100)
    path = str(tmp_path / "p.sqlite3")
    papers = corpus(700)
    async with open_store(path, clock=FakeClock(NOW)) as bot:
        if bot_wrote_first:
            await bot.papers.upsert(papers[:20])  # a poll: the bot holds the writer
        async with open_store(path, clock=FakeClock(NOW)) as importer:
            report = await import_lines(importer, iter(_lines(papers[20:])), batch_size=200)
            assert report.new == 680 and report.bad == 0
            # The bot searches while the importer's store is still open (no errors).
            await bot.papers.search(compile_query("causal"), limit=700)
        assert the_index(bot).ready
        for text in ("causal", "graph OR quantum", "title:causal"):
            page = await bot.papers.search(compile_query(text), limit=700)
            total, expected = await fts5_ids(bot, text)
            assert page.total == total and {h.paper.id for h in page.hits} == expected
        assert (await bot.papers.count()) == 700 - (0 if bot_wrote_first else 20)


@pytest.mark.parametrize("bot_wrote_first", [True, False])
async def test_paperfeed_import_in_its_own_process_beside_a_bot_that_keeps_searching(
    tmp_path: Path, bot_wrote_first: bool
) -> None:
    """Two real processes: `paperfeed import` of 12,000 papers (import-sized batches) while
    this one, the bot, searches all along; the bot holds Tantivy's writer (it wrote first) or
    not (then whichever catches up first takes it, the other reads)."""
    path = str(tmp_path / "p.sqlite3")
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{path}"\n', encoding="utf-8")
    snapshot = tmp_path / "snapshot.jsonl"
    snapshot.write_text("\n".join(_lines(corpus(12_000, seed=3))) + "\n", encoding="utf-8")
    cli = [sys.executable, "-m", "bot", "--config", str(config), "import", str(snapshot)]
    zebra = Paper(id="2502.99999", title="Zebra crossings", sources=frozenset({"arxiv"}))
    if not bot_wrote_first:
        async with open_store(path, clock=FakeClock(NOW)) as before:
            await before.papers.upsert([zebra])
    async with open_store(path, clock=FakeClock(NOW)) as bot:
        if bot_wrote_first:
            await bot.papers.upsert([zebra])
        importing = asyncio.ensure_future(
            asyncio.to_thread(subprocess.run, cli, capture_output=True, text=True, timeout=120)
        )
        searches = 0
        while not importing.done():  # the bot answers all along (from a part of the import)
            page = await bot.papers.search(compile_query("zebra"))
            assert page.total == 1
            searches += 1
            await asyncio.sleep(0.05)
        done = await importing
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert searches > 0
        for text in ("title:causal cat:quant-ph", "walk -random cat:math.PR", '"graph network"'):
            page = await bot.papers.search(compile_query(text), limit=2_000)
            total, expected = await fts5_ids(bot, text)
            assert 0 < page.total == total < 2_000  # below FTS5's cap: every match compared
            assert {h.paper.id for h in page.hits} == expected
        # The searches caught the bot's index up with every imported paper.
        assert the_index(bot).papers() == await bot.papers.count() == 12_001
