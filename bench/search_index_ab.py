"""The Tantivy search of an earlier commit against today's, interleaved on the same index.

Usage::

    python -m bench.search_index_ab DB.sqlite3 --before REV [--reps N]

DB is a store made by `paperfeed import` of a `bench/corpus.py` corpus, its index beside it.
The two search modules of REV (`bot/store/search_index.py` and `bot/store/tantivy_index.py`)
are read with `git show` into a scratch folder and imported beside today's; for every query
shape of `bench/search.py`, `papers.search(limit=10)` runs through each in turn (the store,
the index files and the page reads shared), and it prints p50/p95/p99 in ms for both and
whether the pages (ids, scores, totals) are identical, and the median CPU time of a search
(every thread of the process: the work done, which the machine's load does not inflate as
it does the wall time).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import ROOT, percentiles
from bench.search import SEARCH_QUERIES
from bot.query.compile import compile_query
from bot.store.sqlite.database import open_store

OLD_SEARCH, OLD_TANTIVY = "paperfeed_before_search_index", "paperfeed_before_tantivy_index"


def load_before(rev: str, scratch: Path) -> Any:
    """REV's TantivyIndex class, imported from its own two modules."""

    def show(path: str) -> str:
        return subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout

    (scratch / f"{OLD_SEARCH}.py").write_text(show("bot/store/search_index.py"))
    tantivy_text = show("bot/store/tantivy_index.py").replace(
        "from bot.store.search_index import", f"from {OLD_SEARCH} import"
    )
    (scratch / f"{OLD_TANTIVY}.py").write_text(tantivy_text)
    sys.path.insert(0, str(scratch))
    return importlib.import_module(OLD_TANTIVY).TantivyIndex


async def run(db: Path, before: Any, reps: int) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    out: dict[str, Any] = {}
    async with open_store(str(db), create=False, clock=lambda: now) as store:
        index: Any = store.papers.index
        assert index is not None and index.ready, "the index is not ready"
        ways = {"before": functools.partial(before.search_now, index), "after": index.search_now}
        for shape in SEARCH_QUERIES:
            query = compile_query(shape.text)
            times: dict[str, list[float]] = {name: [] for name in ways}
            cpu: dict[str, list[float]] = {name: [] for name in ways}
            pages: dict[str, Any] = {}
            for rep in range(reps + 1):  # the first round warms up
                for name, way in ways.items():
                    index.search_now = way
                    t0, c0 = time.perf_counter(), time.process_time()
                    page = await store.papers.search(query, limit=10)
                    if rep:
                        times[name].append(time.perf_counter() - t0)
                        cpu[name].append(time.process_time() - c0)
                    pages[name] = (page.total, [(h.paper.id, h.score) for h in page.hits])
            index.search_now = ways["after"]
            row: dict[str, Any] = {name: percentiles(t) for name, t in times.items()}
            for name, spent in cpu.items():  # every thread's CPU: the work, whatever the load
                row[f"{name}_cpu_p50_ms"] = round(sorted(spent)[len(spent) // 2] * 1000, 2)
            row["same_pages"] = pages["before"] == pages["after"]
            row["total"] = pages["after"][0]
            out[shape.name] = row

            def ms(p: dict[str, float]) -> str:
                return f"{p['p50_ms']:.1f}/{p['p95_ms']:.1f}/{p['p99_ms']:.1f}"

            print(
                f"{shape.name:<14} total={row['total']:<7} before {ms(row['before']):<18} "
                f"after {ms(row['after']):<18} CPU p50 {row['before_cpu_p50_ms']:.1f} -> "
                f"{row['after_cpu_p50_ms']:.1f}  same pages={row['same_pages']}",
                flush=True,
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--before", required=True, help="the git revision to compare against")
    parser.add_argument("--reps", type=int, default=60)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="paperfeed-ab-") as scratch:
        before = load_before(args.before, Path(scratch))
        result = asyncio.run(run(args.database, before, args.reps))
    return 0 if all(row["same_pages"] for row in result.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
