"""FTS5 is kept only where no search index answers: dropped beside a ready index, rebuilt
where none is used, and the same triggers as migration 0001 when kept."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from bot.models import Paper
from bot.query.compile import compile_query
from bot.store.sqlite import database as sqlite_database
from bot.store.sqlite.database import open_store
from bot.store.sqlite.fulltext import TRIGGERS, drop_fulltext, fulltext_kept, keep_fulltext
from bot.store.sqlite.migrate import available_migrations
from bot.store.tantivy_index import TantivyIndex
from tests.store.contract.support import NOW, FakeClock
from tests.store.sqlite.fts5_reference import reference_ids

WORDS = ["causal", "graph", "kernel", "sparse", "robot", "quantum", "mixture", "experts"]


def papers(first: int, n: int) -> list[Paper]:
    return [
        Paper(
            id=f"2501.{i:05d}",
            title=f"{WORDS[i % 8]} {WORDS[(i * 3) % 8]} methods",
            abstract=f"we study {WORDS[(i * 5) % 8]} of {WORDS[(i + 1) % 8]} at scale",
            authors=(f"Author {i % 7}",),
            categories=("cs.LG",),
            published=NOW,
            sources=frozenset({"arxiv"}),
        )
        for i in range(first, first + n)
    ]


def fts_ids(path: str, text: str) -> set[str]:
    """What FTS5 in the file itself matches (its postings, not the papers table)."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT p.id FROM papers_fts JOIN papers p ON p.pk = papers_fts.rowid "
            "WHERE papers_fts MATCH ?",
            (compile_query(text).fts,),
        ).fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows}


def test_the_triggers_are_migration_0001s() -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(available_migrations()[0].sql)
    made = dict(
        conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'papers_fts_%'"
        ).fetchall()
    )
    conn.close()

    def squash(sql: str) -> str:
        return re.sub(r"\s+", " ", sql).strip()

    assert {k: squash(v) for k, v in made.items()} == {k: squash(v) for k, v in TRIGGERS.items()}


async def test_dropped_then_kept_again_fts5_holds_every_paper_and_follows_changes(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW), search_index=False) as db:
        await db.papers.upsert(papers(0, 60))
        assert await fulltext_kept(db.connections)
        assert fts_ids(path, "causal") == reference_ids(path, "causal") != set()
        assert await drop_fulltext(db.connections)
        assert not await drop_fulltext(db.connections)  # once
        assert not await fulltext_kept(db.connections)
        assert fts_ids(path, "causal") == set()  # its postings are gone
        # Written while not kept: new, changed and deleted papers.
        await db.papers.upsert(papers(60, 40))
        await db.papers.upsert([replace(p, title="quantum robot") for p in papers(0, 10)])
        async with db.transaction():
            await db.connections.writer.execute("DELETE FROM papers WHERE id = '2501.00011'")
        assert fts_ids(path, "causal") == set()
        assert await keep_fulltext(db.connections)
        assert not await keep_fulltext(db.connections)  # once
        for text in ("causal", "quantum robot", '"mixture of"', "author:author", "graph -kernel"):
            assert fts_ids(path, text) == reference_ids(path, text), text
        # Kept again: it follows changes as before.
        await db.papers.upsert([replace(p, title="zebra") for p in papers(20, 3)])
        assert fts_ids(path, "zebra") == {"2501.00020", "2501.00021", "2501.00022"}


async def test_a_ready_index_drops_fts5_and_an_open_without_it_changes_nothing(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW), search_index=False) as db:
        await db.papers.upsert(papers(0, 30))
    async with open_store(path, clock=FakeClock(NOW)) as db:  # built inline (small)
        assert db.papers.index is not None and db.papers.index.ready
        assert not await fulltext_kept(db.connections)
        await db.papers.upsert(papers(30, 5))
        assert fts_ids(path, "causal") == set()  # nothing written to FTS5 any more
        page = await db.papers.search(compile_query("causal"), limit=100)
        assert {h.paper.id for h in page.hits} == reference_ids(path, "causal")
    async with open_store(path, clock=FakeClock(NOW), search_index=False) as db:
        assert not await fulltext_kept(db.connections)  # a tool's open leaves it as it is


async def test_without_tantivy_fts5_is_rebuilt_and_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW)) as db:
        await db.papers.upsert(papers(0, 50))
        assert not await fulltext_kept(db.connections)
    monkeypatch.setattr(sqlite_database, "TANTIVY", False)
    async with open_store(path, clock=FakeClock(NOW)) as db:
        assert db.papers.index is None
        assert await fulltext_kept(db.connections)
        for sort in ("relevance", "recent"):
            page = await db.papers.search(compile_query("graph"), limit=100, sort=sort)  # type: ignore[arg-type]
            assert {h.paper.id for h in page.hits} == reference_ids(path, "graph"), sort


async def test_an_index_that_cannot_be_opened_gives_fts5_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "p.sqlite3")
    async with open_store(path, clock=FakeClock(NOW)) as db:
        await db.papers.upsert(papers(0, 20))

    async def unusable(self: TantivyIndex, **_: object) -> None:
        raise ValueError("Tantivy refused the folder")  # as its bindings raise: root reads all

    monkeypatch.setattr(TantivyIndex, "open", unusable)
    async with open_store(path, clock=FakeClock(NOW)) as db:
        assert db.papers.index is None
        assert await fulltext_kept(db.connections)
        page = await db.papers.search(compile_query("robot"), limit=100)
        assert {h.paper.id for h in page.hits} == reference_ids(path, "robot") != set()


async def test_a_memory_database_keeps_fts5() -> None:
    async with open_store(":memory:", clock=FakeClock(NOW)) as db:
        await db.papers.upsert(papers(0, 10))
        assert await fulltext_kept(db.connections)
        page = await db.papers.search(compile_query("kernel"), limit=100)
        assert page.total > 0
