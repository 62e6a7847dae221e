"""The search index against today's FTS5 search and against the exhaustive floor, side by side.

Usage::

    python -m bench.search_index DB.sqlite3 [--reps N] [--floor-reps N] [--sorted-reps N]
        [--rebuild] [--json OUT]

DB is a store made by `paperfeed import` of a `bench/corpus.py` corpus (its index beside it).
For every query shape of `bench/search.py`, interleaved, it times `papers.search(limit=10)`
three ways: through the Tantivy index (exact ranking, exact totals); through SQLite's FTS5
path as it answers without the index (the newest 2,000 matches ranked, totals capped); and the
exhaustive floor (every match scored by the index's own formula, then sorted). It reports
p50/p95/p99, overlap@10 of the index's page with the floor's (must be 1.0), and, with
`--rebuild`, the time and size of building the index from the stored rows.

Then, alone (`index_alone`), the index's searches once more, `--alone-reps` rounds that each ask
every shape once in turn, with no FTS5 or floor search between them: what a bot that answers
relevance searches from the index sees. In the interleaved pass,
each index search follows an FTS5 one and, in the first `--floor-reps` rounds, a floor that
reads every match (seconds at 1M), which leaves the caches cold for the next search.

With `--sorted-reps N`, the shapes with words newest first and by upvotes (`sort="recent"`,
`"upvotes"`), N rounds, the index's path against FTS5's, interleaved. The store no longer keeps
FTS5 beside a ready index: the first FTS5 search rebuilds it (about a minute at 1M; the next open
with the index drops it again).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import percentiles
from bench.search import SEARCH_QUERIES
from bot.query.compile import compile_query
from bot.store.sqlite.database import index_directory, open_store
from bot.store.sqlite.search_feed import SqliteChangeFeed
from bot.store.tantivy_index import TantivyIndex


def _size(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(
    db: Path,
    reps: int,
    floor_reps: int,
    rebuild: bool,
    alone_reps: int = 0,
    sorted_reps: int = 0,
) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    out: dict[str, Any] = {"database": str(db), "reps": reps, "floor_reps": floor_reps}
    started = time.perf_counter()
    async with open_store(str(db), create=False, clock=lambda: now) as store:
        out["open_s"] = round(time.perf_counter() - started, 3)
        index = store.papers.index
        assert isinstance(index, TantivyIndex) and index.ready, "the index is not ready"
        out["papers"] = await store.papers.count()
        out["database_mib"] = round(db.stat().st_size / 2**20, 1)
        out["index_mib"] = round(_size(index.directory) / 2**20, 1)
        out["rss_open_mib"] = round(_rss_mib(), 1)
        shapes: dict[str, Any] = {}
        for shape in SEARCH_QUERIES:
            query = compile_query(shape.text)

            async def indexed(q: Any = query) -> Any:
                return await store.papers.search(q, limit=10)

            async def fts5(q: Any = query) -> Any:
                return await _on_fts5(store, index, q)

            async def floor(q: Any = query) -> Any:
                if q.fts is None:
                    return await store.papers.search(q, limit=10)
                return await asyncio.to_thread(
                    index.search_now, q, now=now, limit=10, offset=0, since=None,
                    hf_only=False, exhaustive=True,
                )  # fmt: skip

            ways = {"index": indexed, "fts5": fts5, "floor": floor}
            times: dict[str, list[float]] = {name: [] for name in ways}
            last: dict[str, Any] = {}
            for name, way in ways.items():  # warm up
                last[name] = await way()
            for rep in range(reps):
                for name, way in ways.items():
                    if name == "floor" and rep >= floor_reps:
                        continue  # scoring every match of a broad word takes seconds at 1M
                    t0 = time.perf_counter()
                    last[name] = await way()
                    times[name].append(time.perf_counter() - t0)
            got = [h.paper.id for h in last["index"].hits]
            if query.fts is None:
                exact = [h.paper.id for h in last["floor"].hits]
            else:
                by_pk = await store.connections.fetchall(
                    "SELECT pk, id FROM papers WHERE pk IN (SELECT value FROM json_each(?))",
                    (json.dumps([h.pk for h in last["floor"].hits]),),
                )
                ids = {row["pk"]: row["id"] for row in by_pk}
                exact = [ids[h.pk] for h in last["floor"].hits]
            fts5_ids = [h.paper.id for h in last["fts5"].hits]
            shapes[shape.name] = {
                "query": shape.text,
                "total": last["index"].total,
                "fts5_total": last["fts5"].total,
                "fts5_total_exact": last["fts5"].total_exact,
                **{
                    name: {k: round(v, 3) for k, v in percentiles(t).items()}
                    for name, t in times.items()
                },
                "overlap_at_10": len(set(got) & set(exact)) / max(len(exact), 1),
                "same_order": got == exact,
                "fts5_overlap_at_10": len(set(fts5_ids) & set(exact)) / max(len(exact), 1),
            }
            s = shapes[shape.name]
            print(
                f"{shape.name:<14} total={s['total']:<7} index p50/p95/p99="
                f"{s['index']['p50_ms']:.2f}/{s['index']['p95_ms']:.2f}/{s['index']['p99_ms']:.2f} ms  "
                f"fts5 p99={s['fts5']['p99_ms']:.1f}  floor p99={s['floor']['p99_ms']:.1f}  "
                f"overlap@10={s['overlap_at_10']:.2f} same_order={s['same_order']} "
                f"fts5 overlap={s['fts5_overlap_at_10']:.1f}",
                file=sys.stderr,
            )
        out["shapes"] = shapes
        await _alone(store, shapes, alone_reps)
        out["sorted"] = await _sorted(store, index, sorted_reps)
        out["rss_after_searches_mib"] = round(_rss_mib(), 1)
        out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        if rebuild:
            scratch = index_directory(str(db)).with_name(db.name + ".bench-index")
            shutil.rmtree(scratch, ignore_errors=True)
            fresh = TantivyIndex(scratch, SqliteChangeFeed(store.connections))
            t0 = time.perf_counter()
            built = await fresh.rebuild()
            out["rebuild"] = {
                "papers": built,
                "seconds": round(time.perf_counter() - t0, 1),
                "mib": round(_size(scratch) / 2**20, 1),
            }
            await fresh.close()
            shutil.rmtree(scratch, ignore_errors=True)
            print(f"rebuild: {out['rebuild']}", file=sys.stderr)
    return out


async def _on_fts5(store: Any, index: Any, query: Any, sort: str = "relevance") -> Any:
    """The first page as the store answers without its index: on FTS5, which it rebuilds the
    first time (about a minute at 1M papers)."""
    store.papers.index = None
    try:
        return await store.papers.search(query, limit=10, sort=sort)
    finally:
        store.papers.index = index


async def _alone(store: Any, shapes: dict[str, Any], rounds: int) -> None:
    """The index's searches with no other search between them, the shapes taking turns."""
    if rounds <= 0:
        return
    queries = [(shape.name, compile_query(shape.text)) for shape in SEARCH_QUERIES]
    times: dict[str, list[float]] = {name: [] for name, _ in queries}
    for _ in range(rounds):
        for name, query in queries:
            t0 = time.perf_counter()
            await store.papers.search(query, limit=10)
            times[name].append(time.perf_counter() - t0)
    for name, taken in times.items():
        found = {k: round(v, 3) for k, v in percentiles(taken).items()}
        shapes[name]["index_alone"] = found
        print(
            f"{name:<14} alone p50/p95/p99="
            f"{found['p50_ms']:.2f}/{found['p95_ms']:.2f}/{found['p99_ms']:.2f} ms",
            file=sys.stderr,
        )


async def _sorted(store: Any, index: Any, rounds: int) -> dict[str, Any]:
    """Searches with words newest first and by upvotes: the index (with the papers table for
    upvotes) against FTS5's path, interleaved; the same total and first page's ids each time."""
    found: dict[str, Any] = {}
    if rounds <= 0:
        return found
    for shape in SEARCH_QUERIES:
        query = compile_query(shape.text)
        if query.fts is None:
            continue  # no words: neither path changed
        for sort in ("recent", "upvotes"):

            async def indexed(q: Any = query, s: Any = sort) -> Any:
                return await store.papers.search(q, limit=10, sort=s)

            async def fts5(q: Any = query, s: Any = sort) -> Any:
                return await _on_fts5(store, index, q, sort=s)

            times: dict[str, list[float]] = {"index": [], "fts5": []}
            last = {"index": await indexed(), "fts5": await fts5()}
            for _ in range(rounds):
                for name, way in (("index", indexed), ("fts5", fts5)):
                    t0 = time.perf_counter()
                    last[name] = await way()
                    times[name].append(time.perf_counter() - t0)
            key = f"{shape.name}/{sort}"
            found[key] = {
                "total": last["index"].total,
                "fts5_total": last["fts5"].total,
                "fts5_total_exact": last["fts5"].total_exact,
                **{
                    n: {k: round(v, 3) for k, v in percentiles(t).items()} for n, t in times.items()
                },
                "same_page": [h.paper.id for h in last["index"].hits]
                == [h.paper.id for h in last["fts5"].hits],
            }
            f = found[key]
            print(
                f"{key:<22} total={f['total']:<7} index p50/p99={f['index']['p50_ms']:.2f}/"
                f"{f['index']['p99_ms']:.2f} ms  fts5 p50/p99={f['fts5']['p50_ms']:.1f}/"
                f"{f['fts5']['p99_ms']:.1f} ms  same_page={f['same_page']}",
                file=sys.stderr,
            )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--floor-reps", type=int, default=20)
    parser.add_argument("--alone-reps", type=int, help="rounds of the alone pass (default: --reps)")
    parser.add_argument("--sorted-reps", type=int, default=0, help="rounds of the sorted pass")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = asyncio.run(
        run(
            args.database,
            args.reps,
            min(args.floor_reps, args.reps),
            args.rebuild,
            args.reps if args.alone_reps is None else args.alone_reps,
            args.sorted_reps,
        )
    )
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
