"""Ingest throughput: `papers.upsert` batch by batch, and the full `paperfeed import`.

The floor for batches is a plain sqlite3 connection running `executemany` INSERTs of rows
encoded beforehand into the same tables (triggers and indexes included), interleaved with the
store batch by batch. The floor for the full import is `bench/floor_import.py` on the same
corpus file, run as a subprocess like `paperfeed import` itself.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bench.floor_import import INSERT_CATEGORY, INSERT_PAPER, connect
from bench.harness import Benchmark, Context, log, ratio, read_papers, remove_database
from bot.models import Paper
from bot.store import open_store
from bot.store.sqlite import codec


async def _ingest_run(
    ctx: Context, papers: list[Paper], batch_size: int, label: str
) -> dict[str, Any]:
    """papers.upsert vs raw executemany, batch by batch, into two fresh databases."""
    store_db = ctx.workdir / f"ingest-{label}-store.sqlite3"
    floor_db = ctx.workdir / f"ingest-{label}-floor.sqlite3"
    for db in (store_db, floor_db):
        remove_database(db)
    async with open_store(str(floor_db)):
        pass
    floor = connect(floor_db)
    now = datetime.now(UTC)
    store_s = 0.0
    floor_s = 0.0
    async with open_store(str(store_db)) as store:
        next_pk = 1
        for start in range(0, len(papers), batch_size):
            batch = papers[start : start + batch_size]
            # The floor's rows are prepared outside its timing: it only pays for SQLite.
            rows = []
            cats = []
            for paper in batch:
                rows.append((next_pk, *codec.paper_row(replace(paper, first_seen=now), now, now)))
                cats.extend((next_pk, c) for c in paper.categories)
                next_pk += 1
            started = time.perf_counter()
            result = await store.papers.upsert(batch)
            store_s += time.perf_counter() - started
            assert len(result.new) == len(batch), "ingest papers must be new"
            started = time.perf_counter()
            floor.execute("BEGIN IMMEDIATE")
            floor.executemany(INSERT_PAPER, rows)
            floor.executemany(INSERT_CATEGORY, cats)
            floor.execute("COMMIT")
            floor_s += time.perf_counter() - started
    floor.close()
    for db in (store_db, floor_db):
        remove_database(db)
    n = len(papers)
    return {
        "batch_size": batch_size,
        "batches": -(-n // batch_size),
        "papers": n,
        "papers_per_s": round(n / store_s),
        "floor_papers_per_s": round(n / floor_s),
        "share_of_floor": round(floor_s / store_s, 3),
        "ratio_vs_floor": ratio(store_s, floor_s),
    }


def measure(ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    poll_n = s.poll_batches * 100
    import_n = s.import_batches * s.import_batch_size
    # Papers the databases never saw: the tail of a corpus generated with another seed.
    source = ctx.corpus(max(poll_n, import_n), seed=ctx.seed + 1)
    papers = read_papers(source, max(poll_n, import_n))
    log(f"ingest: {s.poll_batches} batches of 100, {s.import_batches} of {s.import_batch_size}")
    poll = asyncio.run(_ingest_run(ctx, papers[:poll_n], 100, "poll"))
    log(f"ingest poll batches: {poll}")
    bulk = asyncio.run(_ingest_run(ctx, papers[:import_n], s.import_batch_size, "import"))
    log(f"ingest import batches: {bulk}")
    full: dict[str, Any] = {}
    for n in s.sizes:
        ctx.database(n)
        figures = dict(ctx.imports[n])
        floor = ctx.floor_import(n)
        figures["floor"] = floor
        figures["ratio_vs_floor"] = ratio(figures["wall_s"], floor["wall_s"])
        full[str(n)] = figures
        log(f"full import {n:,}: {figures['wall_s']} s (floor {floor['wall_s']} s)")
    return {
        "description": "papers.upsert into a fresh database vs raw executemany INSERTs "
        "(same tables, triggers, indexes); full import = `paperfeed import` subprocess",
        "poll_batch": poll,
        "import_batch": bulk,
        "full_import": full,
        "ratio_vs_floor": max(
            poll["ratio_vs_floor"],
            bulk["ratio_vs_floor"],
            *(f["ratio_vs_floor"] for f in full.values()),
        ),
    }


BENCHMARK = Benchmark(
    "ingest", "papers/s through papers.upsert; full `paperfeed import` time and RSS", measure
)
