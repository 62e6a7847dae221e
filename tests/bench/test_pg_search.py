"""bench/pg_search.py on a tiny corpus: it reuses what it imported, and both backends agree.

No timing is asserted; the figures are measured by running the module (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import asyncpg
import pytest

from bench import pg_search
from bench.search import SEARCH_QUERIES

pytestmark = pytest.mark.postgresql
N = 300


async def test_search_and_matching_run_and_the_databases_are_reused(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    args = argparse.Namespace(
        papers=[N], work=tmp_path, fresh=False, repeat=2, raw_repeat=1,
        feeds=40, poll_papers=60, match_reps=1, index=True, busy=True,
    )  # fmt: skip
    try:
        url = await pg_search.prepare_pg(postgres_admin_url, N, tmp_path)
        conn = await asyncpg.connect(url)
        try:  # a mark that survives only if the next run reuses the database
            await conn.execute(
                "INSERT INTO source_state (source, key, value) VALUES ('bench', 'mark', '1')"
            )
        finally:
            await conn.close()
        results = await pg_search.run(postgres_admin_url, args)
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT value FROM source_state WHERE source = 'bench'")
            assert await conn.fetchval("SELECT count(*) FROM papers") == N
        finally:
            await conn.close()
    finally:
        admin = await asyncpg.connect(postgres_admin_url)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {pg_search.db_name(N)} WITH (FORCE)")
        finally:
            await admin.close()
    search = results[0]["search"]
    assert set(search) == {shape.name for shape in SEARCH_QUERIES}
    for shape in search.values():
        assert shape["same_total_as_sqlite"], shape
        assert {"pg_p99", "raw_p99", "sqlite_p99", "index_p99", "matches"} <= set(shape)
        assert shape["index_same_top10_as_sqlite"], shape  # one engine, the same papers
    assert results[0]["index_open_seconds"] >= 0
    assert (tmp_path / "pg-index-300.0" / "paperfeed.json").exists()
    matching = results[1]["matching"]
    assert matching["feeds"] == 40 and matching["papers"] == 60 and matching["pairs_queued"] > 0
