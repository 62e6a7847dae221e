"""bench/search_index_steps.py times each step of an index search, and puts the module back."""

from __future__ import annotations

import io
from pathlib import Path

from bench.corpus import write_corpus
from bench.search_index_steps import run
from bot.services.importer import import_lines
from bot.store import tantivy_index
from bot.store.sqlite.database import open_store


async def test_every_step_is_timed_and_the_module_is_restored(tmp_path: Path) -> None:
    corpus = io.StringIO()
    write_corpus(1_000, corpus, seed=5)
    db = tmp_path / "p.sqlite3"
    async with open_store(str(db)) as store:
        assert (await import_lines(store, corpus.getvalue().splitlines())).new == 1_000
    count, hits = tantivy_index._count, tantivy_index._hits
    result = await run(db, "framework -survey", reps=2)
    assert [mode for mode, _ in result] == ["alone", "after FTS5"] * 2
    for _, p50 in result:
        for step in ("papers.search", "search_now", "count", "pass 1", "rows"):
            assert p50[step] > 0, step
        assert p50["papers.search"] >= p50["search_now"]
    assert (tantivy_index._count, tantivy_index._hits) == (count, hits)
