"""bench/search_index.py runs end to end on a small corpus, and the index's pages are exact there.

No timing is asserted; the overlap with the exhaustive floor is (it must be 1.0 at any size).
"""

from __future__ import annotations

import io
from pathlib import Path

from bench.corpus import write_corpus
from bench.search_index import run
from bench.search_index_pairs import PHRASES
from bench.search_index_pairs import run as run_pairs
from bot.services.importer import import_lines
from bot.store.sqlite.database import open_store


async def test_the_bench_runs_and_every_shape_matches_the_floor(tmp_path: Path) -> None:
    corpus = io.StringIO()
    write_corpus(3_000, corpus, seed=3)
    db = tmp_path / "p.sqlite3"
    async with open_store(str(db)) as store:
        report = await import_lines(store, corpus.getvalue().splitlines())
        assert report.new == 3_000
    result = await run(db, reps=2, floor_reps=1, rebuild=True, alone_reps=3, sorted_reps=2)
    assert result["papers"] == 3_000 and result["rebuild"]["papers"] == 3_000
    assert len(result["shapes"]) == 10
    for name, shape in result["shapes"].items():
        assert shape["overlap_at_10"] == 1.0 and shape["same_order"], name
        assert shape["index"]["p99_ms"] > 0
        assert 0 < shape["index_alone"]["p50_ms"] <= shape["index_alone"]["p99_ms"], name
    # Newest first and by upvotes, the shapes with words: the index counts what FTS5 counts
    # (where FTS5's count is exact; it stops at its cap).
    assert len(result["sorted"]) == 2 * 9
    for key, found in result["sorted"].items():
        assert found["index"]["p99_ms"] > 0 and found["fts5"]["p99_ms"] > 0, key
        if found["fts5_total_exact"]:
            assert found["total"] == found["fts5_total"], key
        else:
            assert found["total"] > found["fts5_total"], key


async def test_the_pairs_bench_runs_and_both_ways_give_the_same_page(tmp_path: Path) -> None:
    corpus = io.StringIO()
    write_corpus(1_000, corpus, seed=5)
    db = tmp_path / "p.sqlite3"
    async with open_store(str(db)) as store:
        await import_lines(store, corpus.getvalue().splitlines())
    result = await run_pairs(db, reps=2)
    assert result['"mixture of experts"']["total"] > 0
    for phrase in PHRASES:
        assert result[phrase]["same_page"], phrase
        assert result[phrase]["pairs"]["p99_ms"] > 0
