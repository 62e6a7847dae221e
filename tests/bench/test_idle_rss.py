"""bench/idle_rss.py runs a real `paperfeed run` on a small store and reads its memory."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bench.corpus import write_corpus
from bench.idle_rss import run
from bot.services.importer import import_lines
from bot.store.sqlite.database import open_store


@pytest.mark.slow
async def test_it_reads_the_memory_idle_and_after_every_search_shape(tmp_path: Path) -> None:
    corpus = io.StringIO()
    write_corpus(300, corpus, seed=5)
    db = tmp_path / "p.sqlite3"
    async with open_store(str(db)) as store:
        assert (await import_lines(store, corpus.getvalue().splitlines())).new == 300
    result = await run(db, idle=0.1, rounds=1)
    assert result["searches"] == 10 and result["exit_code"] == 0
    for when in ("after_start", "idle", "after_searches", "idle_after_searches"):
        figures = result[when]
        assert 10 < figures["VmRSS"] <= figures["VmHWM"]
        assert figures["RssAnon"] > 0 and figures["index_mapped"] >= 0
    assert result["after_searches"]["index_mapped"] > 0  # the searches read the index
