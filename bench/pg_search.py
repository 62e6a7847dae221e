"""PostgreSQL search and feed matching at 100k and 1M papers (issue 14), beside SQLite.

Usage::

    eval "$(tests/pg/start-postgres.sh)"
    python -m bench.pg_search --papers 100000 1000000 --work "$WORK" [--json out.json]

Search: each query shape of bench/search.py, timed interleaved: `papers.search(limit=10)` on
PostgreSQL (`pg`), the raw statement on the same database (`raw`: `search @@ q ORDER BY
ts_rank LIMIT 10`, newest ten for categories only, no count) and `papers.search` on SQLite;
p50 and p99 in ms. `--index` adds `index`: `papers.search` on PostgreSQL through a process's
local Tantivy index (issue 19; built once into `--work`/pg-index-<n>.0, its build time said);
`--busy` times each of its searches as a bot's search meets it on a server with other writers:
another transaction takes an id just before, and the search's catch-up check runs (as for any
search over a second after the last catch-up). Matching: what `queue_matches` runs for one poll, phase by phase, for
10,000 feeds x 1,000 new papers on an otherwise empty PostgreSQL database: every active feed
listed from the store, the new papers read, `compile_feeds` + `match_batch` (the figure
bench/matching.py gives on SQLite: `matching_seconds`), the pairs queued in the outbox.

Importing a million papers takes many minutes on each backend, so the databases are kept and
reused: the corpus (bench/corpus.py, seed 14) and the SQLite file live in `--work`, the
PostgreSQL database is ``bench_pgsearch_<n>`` on the server of $PAPERFEED_TEST_POSTGRES_URL; an
existing one holding exactly n papers is used as it is (`--fresh` rebuilds). `--prepare pg` or
`--prepare sqlite` only fills that side (the two can run in parallel), then exits.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.corpus import write_corpus
from bench.matching import make_feed_queries
from bench.pg_admin import admin_execute, database_url, recreate_database
from bench.search import SEARCH_QUERIES
from bot.models import FeedSpec
from bot.query import compile_query
from bot.services.importer import import_lines
from bot.services.matching import compile_feeds, match_batch, queue_matches
from bot.sources.snapshot import parse_snapshot_line
from bot.store import IndexPlan, open_store
from bot.store.postgres.database import open_postgres
from bot.store.postgres.lexemes import Lexer
from bot.store.postgres.tsquery import category_filters, compile_tsquery

SEED = 14


def db_name(n: int) -> str:
    return f"bench_pgsearch_{n}"


def corpus_file(n: int, work: Path) -> Path:
    """The seeded corpus of n papers, written once (atomically) and reused."""
    path = work / f"corpus_{n}_seed{SEED}.jsonl"
    if not path.exists():
        partial = path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as out:
            write_corpus(n, out, seed=SEED)
        partial.rename(path)
    return path


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as lines:
        yield from lines


async def _pg_count(admin: str, n: int) -> int | None:
    conn = await asyncpg.connect(admin)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db_name(n)):
            return None
    finally:
        await conn.close()
    conn = await asyncpg.connect(database_url(admin, db_name(n)))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM papers"))
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()


async def prepare_pg(admin: str, n: int, work: Path, fresh: bool = False) -> str:
    """The PostgreSQL database holding the corpus of n papers (imported if not already)."""
    url = database_url(admin, db_name(n))
    if not fresh and await _pg_count(admin, n) == n:
        return url
    await recreate_database(admin, db_name(n))
    path = corpus_file(n, work)
    start = time.perf_counter()
    async with open_postgres(url) as pg:
        report = await import_lines(pg, _lines(path))
    print(f"pg_search: imported {report.new:,} into PostgreSQL in "
          f"{time.perf_counter() - start:.0f} s", file=sys.stderr)  # fmt: skip
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return url


async def prepare_sqlite(n: int, work: Path, fresh: bool = False) -> Path:
    """The SQLite file holding the corpus of n papers (imported if not already)."""
    path = work / f"bench_{n}_seed{SEED}.sqlite3"
    if path.exists() and not fresh:
        async with open_store(str(path)) as lite:
            if await lite.papers.count() == n:
                return path
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    corpus = corpus_file(n, work)
    start = time.perf_counter()
    async with open_store(str(path)) as lite:
        report = await import_lines(lite, _lines(corpus))
    print(f"pg_search: imported {report.new:,} into SQLite in "
          f"{time.perf_counter() - start:.0f} s", file=sys.stderr)  # fmt: skip
    return path


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _timed(work: Awaitable[Any]) -> float:
    start = time.perf_counter()
    await work
    return (time.perf_counter() - start) * 1000


def raw_statement(text: str, lexer: Lexer) -> tuple[str, list[Any], str]:
    """The raw tsvector statement for a query (top ten by ts_rank), and its exact count."""
    query = compile_query(text)
    compiled = compile_tsquery(query, lexer)
    args: list[Any] = []
    where = category_filters(query, "p.pk", args)
    if compiled.text is not None:
        args.append(compiled.text)
        where.insert(0, f"p.search @@ ${len(args)}::tsquery")
        order = f"ts_rank(p.search, ${len(args)}::tsquery) DESC"
    else:
        order = "coalesce(p.published, p.first_seen) DESC"
    where_sql = " AND ".join(where)
    return (
        f"SELECT p.id FROM papers p WHERE {where_sql} ORDER BY {order} LIMIT 10",
        args,
        f"SELECT count(*) FROM papers p WHERE {where_sql}",
    )


async def measure_search(
    url: str,
    lite_path: Path,
    repeat: int,
    raw_repeat: int,
    index: Path | None = None,
    about: dict[str, Any] | None = None,
    busy: bool = False,
) -> dict[str, Any]:
    """Each query shape: pg, raw and sqlite interleaved (and index, with one); p50 and p99 (ms),
    matches, total said. `about` gets how long the index took to open (or build); `busy`: see
    the module docstring."""
    out: dict[str, Any] = {}
    lexer = Lexer()
    raw = await asyncpg.connect(url)
    plan = None if index is None else IndexPlan(index, "serve", inline_max=10**9)
    try:
        start = time.perf_counter()
        async with (
            open_postgres(url, index=plan) as pgi,
            open_postgres(url) as pg,
            open_store(str(lite_path)) as lite,
        ):
            if plan is not None and about is not None:
                about["index_open_seconds"] = round(time.perf_counter() - start, 1)
                print(f"  index: {about['index_open_seconds']} s to open or build", file=sys.stderr)
            if busy and pgi.papers.index is not None:
                pgi.papers.index._fresh_for = 0.0  # every search checks the watermark first
            for shape in SEARCH_QUERIES:
                query = compile_query(shape.text)
                sql, args, count_sql = raw_statement(shape.text, lexer)
                times: dict[str, list[float]] = {"pg": [], "raw": [], "sqlite": []}
                if plan is not None:
                    times["index"] = []
                for _ in range(2):  # warm both caches
                    await pg.papers.search(query, limit=10)
                    await lite.papers.search(query, limit=10)
                    if plan is not None:
                        await pgi.papers.search(query, limit=10)
                for n in range(repeat):
                    times["pg"].append(await _timed(pg.papers.search(query, limit=10)))
                    if n < raw_repeat:
                        times["raw"].append(await _timed(raw.fetch(sql, *args)))
                    times["sqlite"].append(await _timed(lite.papers.search(query, limit=10)))
                    if plan is not None:
                        if busy:  # a write elsewhere on the server moves the watermark
                            await raw.fetchval("SELECT pg_current_xact_id()")
                        times["index"].append(await _timed(pgi.papers.search(query, limit=10)))
                page = await pg.papers.search(query, limit=10)
                lite_page = await lite.papers.search(query, limit=10)
                same_index: dict[str, bool] = {}
                if plan is not None:
                    index_page = await pgi.papers.search(query, limit=10)
                    same_index["index_same_top10_as_sqlite"] = [
                        h.paper.id for h in index_page.hits
                    ] == [h.paper.id for h in lite_page.hits]
                out[shape.name] = {
                    "query": shape.text,
                    "matches": int(await raw.fetchval(count_sql, *args)),
                    "total": page.total,
                    "total_exact": page.total_exact,
                    "same_total_as_sqlite": (page.total, page.total_exact)
                    == (lite_page.total, lite_page.total_exact),
                    "same_top10_as_sqlite": [h.paper.id for h in page.hits]
                    == [h.paper.id for h in lite_page.hits],
                    **same_index,
                    **{
                        f"{k}_{name}": round(_pct(v, q), 2)
                        for k, v in times.items()
                        for name, q in (("p50", 0.5), ("p99", 0.99))
                    },
                }
                print(f"  {shape.name}: {out[shape.name]}", file=sys.stderr)
    finally:
        await raw.close()
        lexer.close()
    return out


async def measure_matching(
    admin: str, feeds: int, papers: int, reps: int, seed: int = SEED
) -> dict[str, Any]:
    """`queue_matches` for one poll of `papers` new papers against `feeds` feeds on PostgreSQL."""
    name = "bench_pgsearch_matching"
    url = await recreate_database(admin, name)
    now = datetime.now(UTC)
    text = io.StringIO()
    write_corpus(papers, text, seed=seed + 2)
    batch = [
        replace(
            parse_snapshot_line(line),
            published=now - timedelta(hours=1 + i % 48),
            sources=frozenset({"arxiv"}),
        )
        for i, line in enumerate(text.getvalue().splitlines())
    ]
    result: dict[str, Any] = {"feeds": feeds, "papers": len(batch), "reps": reps}
    try:
        async with open_postgres(url, clock=lambda: now) as pg:
            for i, (query, cats) in enumerate(make_feed_queries(feeds, seed)):
                spec = FeedSpec(name=f"feed-{i + 1}", channel_id=1000 + i, query=query,
                                categories=cats)  # fmt: skip
                await pg.feeds.add(spec, guild_id=1 + i % 50)
            await pg.papers.upsert(batch)
            ids = [p.id for p in batch]
            raw = await asyncpg.connect(url)
            phases: dict[str, list[float]] = {
                k: [] for k in ("list", "read", "compile", "match", "queue", "total")
            }
            try:
                for _ in range(reps):
                    # What queue_matches runs for a poll, phase by phase.
                    await raw.execute("TRUNCATE deliveries")
                    t0 = time.perf_counter()
                    listed = await pg.feeds.list(active_only=True)
                    t1 = time.perf_counter()
                    new = await pg.papers.get_many(ids)
                    t2 = time.perf_counter()
                    compiled = compile_feeds(listed)
                    t3 = time.perf_counter()
                    pairs = await asyncio.to_thread(match_batch, compiled, new, now)
                    t4 = time.perf_counter()
                    queued = await pg.outbox.queue(pairs)
                    t5 = time.perf_counter()
                    for key, seconds in zip(
                        phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0), strict=True
                    ):
                        phases[key].append(seconds)
                await raw.execute("TRUNCATE deliveries")
                start = time.perf_counter()
                assert await queue_matches(pg, ids, now) == queued  # the same, in one call
                whole = time.perf_counter() - start
            finally:
                await raw.close()
            result |= {
                "pairs_queued": queued,
                "matching_seconds": round(
                    statistics.median(
                        c + m for c, m in zip(phases["compile"], phases["match"], strict=True)
                    ),
                    3,
                ),
                **{f"{k}_seconds": round(statistics.median(v), 3) for k, v in phases.items()},
                "queue_matches_seconds": round(whole, 3),
            }
    finally:
        await admin_execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print(f"  matching: {result}", file=sys.stderr)
    return result


async def run(admin: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for n in args.papers:
        print(f"pg_search: {n:,} papers", file=sys.stderr)
        url = await prepare_pg(admin, n, args.work, args.fresh)
        lite = await prepare_sqlite(n, args.work, args.fresh)
        raw_repeat = args.repeat if n <= 100_000 else min(args.repeat, args.raw_repeat)
        index = args.work / f"pg-index-{n}" if getattr(args, "index", False) else None
        about: dict[str, Any] = {}
        busy = getattr(args, "busy", False)
        search = await measure_search(url, lite, args.repeat, raw_repeat, index, about, busy)
        results.append(
            {"papers": n, "raw_repeat": raw_repeat, "busy": busy, **about, "search": search}
        )
    if args.feeds:
        matching = await measure_matching(admin, args.feeds, args.poll_papers, args.match_reps)
        results.append({"matching": matching})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--papers", type=int, nargs="+", default=[100_000])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--prepare", choices=("pg", "sqlite"))
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--raw-repeat", type=int, default=5, help="raw runs past 100k papers")
    parser.add_argument("--feeds", type=int, default=10_000, help="0: no matching figure")
    parser.add_argument("--poll-papers", type=int, default=1_000)
    parser.add_argument("--match-reps", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--index", action="store_true", help="add the local Tantivy index")
    parser.add_argument("--busy", action="store_true", help="index: writes elsewhere, each checks")
    args = parser.parse_args(argv)
    admin = os.environ.get("PAPERFEED_TEST_POSTGRES_URL", "")
    if not admin:
        print('pg_search: start a server first: eval "$(tests/pg/start-postgres.sh)"',
              file=sys.stderr)  # fmt: skip
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    if args.prepare:
        for n in args.papers:
            if args.prepare == "pg":
                asyncio.run(prepare_pg(admin, n, args.work, args.fresh))
            else:
                asyncio.run(prepare_sqlite(n, args.work, args.fresh))
        return 0
    text = json.dumps(asyncio.run(run(admin, args)), indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
