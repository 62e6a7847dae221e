"""bench/search_index_ab.py loads an earlier commit's search beside today's; their pages agree.

The earlier commit is the one before the pool and count changes: the same pages, order and
scores included, on a small corpus (a page that differs fails the bench and this test).
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from bench.corpus import write_corpus
from bench.harness import ROOT
from bench.search_index_ab import load_before, run
from bot.services.importer import import_lines
from bot.store.sqlite.database import open_store

BEFORE = "0dd77be"


def _has(rev: str) -> bool:
    found = subprocess.run(["git", "cat-file", "-e", f"{rev}^{{commit}}"], cwd=ROOT, check=False)
    return found.returncode == 0


@pytest.mark.skipif(not _has(BEFORE), reason="not a git checkout with that history")
async def test_the_earlier_search_gives_the_same_pages(tmp_path: Path) -> None:
    corpus = io.StringIO()
    write_corpus(2_000, corpus, seed=5)
    db = tmp_path / "p.sqlite3"
    async with open_store(str(db)) as store:
        assert (await import_lines(store, corpus.getvalue().splitlines())).new == 2_000
    scratch = tmp_path / "before"
    scratch.mkdir()
    result = await run(db, load_before(BEFORE, scratch), reps=1)
    assert len(result) == 10
    for name, row in result.items():
        assert row["same_pages"], name
        assert row["after"]["p50_ms"] > 0
        assert row["after_cpu_p50_ms"] >= 0 and row["before_cpu_p50_ms"] >= 0
