"""An import without the search index, with FTS5's pending-terms memory at its default and ours.

Usage::

    python -m bench.fts_hashsize CORPUS.jsonl WORKDIR [--rounds 2] [--sizes 1048576,33554432]

Each round imports the corpus into a new database once per size (the order alternating between
rounds), each import in a child process so neither inherits the other's memory; prints wall and
CPU seconds of `import_lines` and the load average beside each, then one JSON line with all of
them. Migration 0010 sets 32 MiB (33554432); 1048576 is FTS5's default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bot.services.importer import import_lines
from bot.sources.snapshot import open_snapshot
from bot.store.sqlite.database import open_store


async def _import(corpus: Path, database: Path, hashsize: int) -> dict[str, float]:
    """One import into a new file with FTS5's hashsize set first; its wall and CPU."""
    stream, raw = open_snapshot(str(corpus))
    try:
        async with open_store(str(database), search_index=False) as store:
            conns = store.connections
            async with conns.transaction():
                await conns.writer.execute(
                    "INSERT INTO papers_fts (papers_fts, rank) VALUES ('hashsize', ?)", (hashsize,)
                )
            wall, cpu = time.perf_counter(), time.process_time()
            report = await import_lines(store, stream)
            return {
                "papers": report.loaded,
                "wall_s": round(time.perf_counter() - wall, 2),
                "cpu_s": round(time.process_time() - cpu, 2),
                "load": round(os.getloadavg()[0], 2),
            }
    finally:
        stream.close()
        raw.close()


def _child(corpus: Path, database: Path, hashsize: int) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.fts_hashsize", str(corpus), str(database.parent),
               "--child", str(hashsize), "--database", str(database)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sizes", default="1048576,33554432")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(_import(args.corpus, args.database, args.child))))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    args.workdir.mkdir(parents=True, exist_ok=True)
    results: dict[int, list[dict[str, float]]] = {size: [] for size in sizes}
    for n in range(args.rounds):
        for size in sizes if n % 2 == 0 else list(reversed(sizes)):
            database = args.workdir / f"hashsize-{size}-{n}.sqlite3"
            for stale in args.workdir.glob(database.name + "*"):
                stale.unlink()
            found = _child(args.corpus, database, size)
            results[size].append(found)
            for stale in args.workdir.glob(database.name + "*"):
                stale.unlink()
            print(f"round {n + 1} hashsize {size:>10}: {found}", flush=True)
    print(json.dumps({str(size): runs for size, runs in results.items()}))


if __name__ == "__main__":
    main()
