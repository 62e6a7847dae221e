"""The search as it was before issue #7's changes, timed on the benchmark databases.

Usage::

    python bench/search_before.py [--sizes 100000,1000000] [--reps 20] [--workdir DIR]

Runs, for each query of the search benchmark (`bench/search.py`), the two statements the old
`Store.search` ran for a relevance search: every match joined to its paper row, scored with
bm25 x recency and sorted (LIMIT 10), then a count over the same join; for a cat:-only query,
the category test on every paper, newest first, and the same count. Raw sqlite3 on the cached
database, so it omits the old Python overhead (compiling the query, thread hops, decoding ten
rows): a slight under-estimate of the old latency. Prints one JSON object (milliseconds).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harness import DEFAULT_WORKDIR, PRESETS, Context, percentiles  # noqa: E402
from bench.search import SEARCH_QUERIES  # noqa: E402
from bot.query.compile import compile_query  # noqa: E402
from bot.store.sqlite import search_sql  # noqa: E402

NOW = "2026-01-01T00:00:00Z"


def old_statements(text: str) -> tuple[str, str, dict[str, Any]]:
    compiled = compile_query(text)
    params: dict[str, Any] = {"now": NOW}
    where = []
    for n, group in enumerate(compiled.include_categories, 1):
        params[f"c{n}"] = group[0]
        where.append(
            "EXISTS (SELECT 1 FROM paper_categories pc WHERE pc.paper_pk = p.pk "
            f"AND pc.category = :c{n})"
        )
    if compiled.fts is None:
        source, score, order = "papers p", "0.0", "coalesce(p.published, p.first_seen) DESC"
    else:
        source = "papers_fts JOIN papers p ON p.pk = papers_fts.rowid"
        where.insert(0, "papers_fts MATCH :fts")
        params["fts"] = compiled.fts
        score = f"(-{search_sql.BM25}) * {search_sql.RECENCY}"
        order = "score DESC, p.published DESC"
    where_sql = " AND ".join(where)
    rank = f"SELECT p.*, {score} AS score FROM {source} WHERE {where_sql} ORDER BY {order} LIMIT 10"
    count = f"SELECT count(*) FROM {source} WHERE {where_sql}"
    return rank, count, params


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="time the pre-#7 search statements")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = parser.parse_args(argv)
    ctx = Context(PRESETS["full"], args.workdir)
    out: dict[str, Any] = {}
    for n in (int(x) for x in args.sizes.split(",")):
        db = ctx.database(n)
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        out[str(n)] = {}
        for query in SEARCH_QUERIES:
            rank, count, params = old_statements(query.text)
            conn.execute(rank, params).fetchall()  # warm up
            times = []
            for _ in range(args.reps):
                started = time.perf_counter()
                conn.execute(rank, params).fetchall()
                conn.execute(count, params).fetchone()
                times.append(time.perf_counter() - started)
            out[str(n)][query.name] = {k: round(v, 2) for k, v in percentiles(times).items()}
            print(f"{n:,} {query.name}: {out[str(n)][query.name]}", file=sys.stderr, flush=True)
        conn.close()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
