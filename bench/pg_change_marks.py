"""What migration 0010's change marks cost a bulk import into PostgreSQL (issue 19).

Usage::

    eval "$(tests/pg/start-postgres.sh)"
    python -m bench.pg_change_marks --papers 100000 --work "$WORK" [--rounds 2]
    python -m bench.pg_change_marks --server --papers 100000 [--rounds 3]

Each round imports the corpus (bench/corpus.py, seed 14, from `--work` as bench.pg_search keeps
it) with `import_lines` into two fresh databases: one as migrated (`marks`: the change_xid
column, its index and the triggers that set it) and one with those three removed again
(`none`: the schema before 0010), in alternating order, so both see the same machine load.

`--server` times only the server's side, which is where the marks cost: one INSERT ... SELECT of
n generated papers (GIN and every other index included) into `papers`, emptied between runs,
for three schemas in turn: `none`, `marks` (as migrated: a BEFORE INSERT trigger) and `default`
(the insert trigger replaced by a column default of pg_current_xact_id()).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import asyncpg

from bench.pg_admin import admin_execute, recreate_database
from bench.pg_search import _lines, corpus_file
from bot.services.importer import import_lines
from bot.store.postgres.database import open_postgres

WITHOUT_MARKS = (
    "DROP TRIGGER papers_change_insert ON papers",
    "DROP TRIGGER papers_change_update ON papers",
    "DROP INDEX papers_change_xid",
    "ALTER TABLE papers DROP COLUMN change_xid",
)


async def import_once(admin: str, n: int, work: Path, marks: bool) -> float:
    """Seconds `import_lines` takes for the corpus of n papers into a fresh database."""
    name = f"bench_marks_{'on' if marks else 'off'}"
    url = await recreate_database(admin, name)
    try:
        async with open_postgres(url) as pg:
            if not marks:
                for statement in WITHOUT_MARKS:
                    await pg.sessions.execute(statement)
            start = time.perf_counter()
            report = await import_lines(pg, _lines(corpus_file(n, work)))
            seconds = time.perf_counter() - start
        assert report.new == n, report
        return seconds
    finally:
        await admin_execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


GENERATED_INSERT = (
    "INSERT INTO papers (id, title, abstract, author_text, first_seen, changed_at, search) "
    "SELECT 'g' || g, 'Generated title ' || g, repeat('words of an abstract ', 50), "
    "'Ada Lovelace, Alan Turing', now(), now(), "
    "setweight(to_tsvector('simple', 'generated title ' || g), 'A') "
    "FROM generate_series(1, $1) AS g"
)
VARIANTS = {
    "none": WITHOUT_MARKS,
    "marks": (),
    "default": (
        "DROP TRIGGER papers_change_insert ON papers",
        "ALTER TABLE papers ALTER COLUMN change_xid SET DEFAULT pg_current_xact_id()",
    ),
}


async def run_server(admin: str, n: int, rounds: int) -> dict[str, object]:
    """Server seconds of one INSERT ... SELECT of n papers, per schema variant, interleaved."""
    urls = {}
    conns = {}
    try:
        for variant, statements in VARIANTS.items():
            urls[variant] = await recreate_database(admin, f"bench_marks_{variant}")
            async with open_postgres(urls[variant]) as pg:  # migrated
                for statement in statements:
                    await pg.sessions.execute(statement)
            conns[variant] = await asyncpg.connect(urls[variant])
        times: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for r in range(rounds):
            order = list(VARIANTS) if r % 2 == 0 else list(reversed(VARIANTS))
            for variant in order:
                conn = conns[variant]
                await conn.execute("TRUNCATE papers CASCADE")
                await conn.execute("CHECKPOINT")
                start = time.perf_counter()
                await conn.execute(GENERATED_INSERT, n)
                times[variant].append(time.perf_counter() - start)
                print(f"  round {r + 1}, {variant}: {times[variant][-1]:.2f} s", file=sys.stderr)
        medians = {v: statistics.median(t) for v, t in times.items()}
        return {
            "papers": n,
            "rounds": rounds,
            "seconds": {v: [round(x, 2) for x in t] for v, t in times.items()},
            "median": {v: round(m, 2) for v, m in medians.items()},
            "ratio_to_none": {v: round(m / medians["none"], 3) for v, m in medians.items()},
            "load_average": os.getloadavg(),
        }
    finally:
        for conn in conns.values():
            await conn.close()
        await admin_execute(
            admin, *(f"DROP DATABASE IF EXISTS bench_marks_{v} WITH (FORCE)" for v in VARIANTS)
        )


async def run(admin: str, n: int, work: Path, rounds: int) -> dict[str, object]:
    times: dict[str, list[float]] = {"marks": [], "none": []}
    for r in range(rounds):
        for marks in (True, False) if r % 2 == 0 else (False, True):
            seconds = await import_once(admin, n, work, marks)
            times["marks" if marks else "none"].append(seconds)
            print(f"  round {r + 1}, {'marks' if marks else 'none'}: {seconds:.1f} s",
                  file=sys.stderr)  # fmt: skip
    marks, none = statistics.median(times["marks"]), statistics.median(times["none"])
    return {
        "papers": n,
        "rounds": rounds,
        "seconds": {k: [round(s, 1) for s in v] for k, v in times.items()},
        "median_marks": round(marks, 1),
        "median_none": round(none, 1),
        "ratio": round(marks / none, 3),
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--server", action="store_true", help="the server's side only")
    args = parser.parse_args(argv)
    admin = os.environ.get("PAPERFEED_TEST_POSTGRES_URL", "")
    if not admin:
        print('pg_change_marks: start a server first: eval "$(tests/pg/start-postgres.sh)"',
              file=sys.stderr)  # fmt: skip
        return 2
    if args.server:
        result = asyncio.run(run_server(admin, args.papers, args.rounds))
    elif args.work is None:
        parser.error("--work is needed (where the corpus is)")
    else:
        result = asyncio.run(run(admin, args.papers, args.work, args.rounds))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
