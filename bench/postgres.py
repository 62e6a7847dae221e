"""PostgreSQL figures (issue 14): import against the COPY floor, search against the raw
tsvector statement and against SQLite, side by side in one run.

Usage::

    eval "$(tests/pg/start-postgres.sh)"
    python -m bench.postgres --papers 100000 [--repeat 30] [--json results.json] [--no-search]
        [--no-sqlite]

Each size gets fresh databases on the server named by $PAPERFEED_TEST_POSTGRES_URL (dropped at
the end) and a SQLite file in a temporary folder, all filled from the same synthetic arXiv
snapshot (bench/corpus.py):

* import: `import_lines` (what `paperfeed import` runs: parse, merge, lexemes, COPY, insert)
  into PostgreSQL, and the same into SQLite (unless --no-sqlite); with the CPU seconds it took
  this process and, when $PAPERFEED_TEST_POSTGRES_PID names a server on this machine, the
  server's processes (read from /proc);
* floor: the very rows the import wrote (tsvectors included), copied out of the first database
  and timed going into a second, empty, migrated one with `COPY` (papers, then categories):
  the least work PostgreSQL itself must do for them, indexes included;
* search: each query shape of bench/search.py, `papers.search(limit=10)` on PostgreSQL and on
  SQLite, and the raw statement (`search @@ q ORDER BY ts_rank LIMIT 10`, or newest ten for
  categories only), interleaved, p50 and p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import asyncpg

from bench.corpus import write_corpus
from bench.pg_admin import admin_execute, database_url
from bench.search import SEARCH_QUERIES
from bot.query import compile_query
from bot.services.importer import import_lines
from bot.store import open_store
from bot.store.postgres.database import open_postgres
from bot.store.postgres.lexemes import Lexer
from bot.store.postgres.migrate import migrate
from bot.store.postgres.tsquery import category_filters, compile_tsquery


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _timed(work: Awaitable[Any]) -> float:
    start = time.perf_counter()
    await work
    return (time.perf_counter() - start) * 1000


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int, *, children_of: bool = False) -> float:
    """CPU seconds of a process (with its reaped children), or of the live children of one."""
    total = 0
    for entry in Path("/proc").iterdir() if children_of else [Path(f"/proc/{pid}")]:
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if not children_of:
            total += sum(int(f) for f in fields[11:15])
        elif int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def _cpu() -> dict[str, float]:
    """CPU seconds so far: this process and the server's processes."""
    times = os.times()
    out = {"python": times.user + times.system + times.children_user + times.children_system}
    server = os.environ.get("PAPERFEED_TEST_POSTGRES_PID", "")
    if server.isdigit() and Path(f"/proc/{server}").exists():
        root = int(server)
        out["server"] = _proc_cpu(root) + _proc_cpu(root, children_of=True)
    return out


async def measure(
    admin: str, n: int, repeat: int, work: Path, search: bool = True, sqlite: bool = True
) -> dict[str, Any]:
    lines_file = work / f"corpus_{n}.jsonl"
    with lines_file.open("w", encoding="utf-8") as out:
        write_corpus(n, out, seed=14)
    lines = lines_file.read_text("utf-8").splitlines()
    main_db, floor_db = f"bench_pg_{n}", f"bench_pg_floor_{n}"
    await admin_execute(admin, f"DROP DATABASE IF EXISTS {main_db}", f"CREATE DATABASE {main_db}",
                 f"DROP DATABASE IF EXISTS {floor_db}", f"CREATE DATABASE {floor_db}")  # fmt: skip
    result: dict[str, Any] = {"papers": n, "load_average_before": os.getloadavg()[0]}
    try:
        async with open_postgres(database_url(admin, main_db)) as pg:
            before, start = _cpu(), time.perf_counter()
            report = await import_lines(pg, lines)
            result["import_pg_s"] = time.perf_counter() - start
            after = _cpu()
            result["import_cpu_s"] = {k: round(after[k] - before[k], 2) for k in after}
            assert report.new == n, report
        # The floor: the same rows, COPY'd into an empty migrated database.
        src = await asyncpg.connect(database_url(admin, main_db))
        dst = await asyncpg.connect(database_url(admin, floor_db))
        try:
            await migrate(dst)
            papers, categories = io.BytesIO(), io.BytesIO()
            await src.copy_from_table("papers", output=papers, format="binary")
            await src.copy_from_table("paper_categories", output=categories, format="binary")
            papers.seek(0)
            categories.seek(0)
            before, start = _cpu(), time.perf_counter()
            async with dst.transaction():
                await dst.copy_to_table("papers", source=papers, format="binary")
                await dst.copy_to_table("paper_categories", source=categories, format="binary")
            result["floor_copy_s"] = time.perf_counter() - start
            if "server" in before:
                result["floor_server_cpu_s"] = round(_cpu()["server"] - before["server"], 2)
            for conn in (src, dst):
                await conn.execute("VACUUM ANALYZE")
        finally:
            await src.close()
            await dst.close()
        result["import_vs_floor"] = result["floor_copy_s"] / result["import_pg_s"]
        lite_path = work / f"bench_{n}.sqlite3"
        lite_path.unlink(missing_ok=True)
        if sqlite or search:
            async with open_store(str(lite_path)) as lite:
                start = time.perf_counter()
                await import_lines(lite, lines)
                result["import_sqlite_s"] = time.perf_counter() - start
        result["load_average_after"] = os.getloadavg()[0]
        if search:
            result["search"] = await _search(admin, main_db, lite_path, repeat)
    finally:
        await admin_execute(admin, f"DROP DATABASE IF EXISTS {main_db} WITH (FORCE)",
                     f"DROP DATABASE IF EXISTS {floor_db} WITH (FORCE)")  # fmt: skip
    return result


async def _search(admin: str, db: str, lite_path: Path, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lexer = Lexer()
    raw = await asyncpg.connect(database_url(admin, db))
    try:
        async with open_postgres(database_url(admin, db)) as pg, open_store(str(lite_path)) as lite:
            for shape in SEARCH_QUERIES:
                query = compile_query(shape.text)
                compiled = compile_tsquery(query, lexer)
                args: list[Any] = []
                where = category_filters(query, "p.pk", args)
                if compiled.text is not None:
                    args.append(compiled.text)
                    q = f"${len(args)}::tsquery"
                    sql = (f"SELECT p.id FROM papers p WHERE p.search @@ {q} AND "
                           f"{' AND '.join(where) or 'true'} "
                           f"ORDER BY ts_rank(p.search, {q}) DESC LIMIT 10")  # fmt: skip
                else:
                    sql = (f"SELECT p.id FROM papers p WHERE {' AND '.join(where)} "
                           "ORDER BY coalesce(p.published, p.first_seen) DESC LIMIT 10")  # fmt: skip
                times: dict[str, list[float]] = {"pg": [], "raw": [], "sqlite": []}
                for _ in range(repeat):
                    times["pg"].append(await _timed(pg.papers.search(query, limit=10)))
                    times["raw"].append(await _timed(raw.fetch(sql, *args)))
                    times["sqlite"].append(await _timed(lite.papers.search(query, limit=10)))
                total = (await pg.papers.search(query, limit=1)).total
                out[shape.name] = {
                    "query": shape.text,
                    "matches": total,
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--papers", type=int, nargs="+", default=[100_000])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-search", action="store_true", help="measure the import only")
    parser.add_argument("--no-sqlite", action="store_true", help="no SQLite import to compare")
    args = parser.parse_args(argv)
    admin = os.environ.get("PAPERFEED_TEST_POSTGRES_URL", "")
    if not admin:
        print('bench.postgres: start a server first: eval "$(tests/pg/start-postgres.sh)"',
              file=sys.stderr)  # fmt: skip
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="paperfeed-bench-pg-") as work:
        for n in args.papers:
            print(f"bench.postgres: {n:,} papers", file=sys.stderr)
            results.append(
                asyncio.run(
                    measure(
                        admin, n, args.repeat, Path(work), not args.no_search, not args.no_sqlite
                    )
                )
            )
            print(json.dumps({k: v for k, v in results[-1].items() if k != "search"}),
                  file=sys.stderr)  # fmt: skip
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
