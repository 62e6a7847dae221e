"""The import's main-thread work a paper, phase by phase, for two source trees in one process.

Usage::

    python bench/import_phases.py CORPUS.jsonl [--before TREE] [--lines 30000] [--rounds 3]

Times, in thread CPU (so other threads and processes count less than in wall time), each phase
the main thread runs for a paper during `paperfeed import`: parsing a line into a `Paper`
(`parse_snapshot_line`), the batch's merge (`merge_batch`: NUL check, repeated ids), and
encoding rows (`codec.paper_rows`). Nothing is written: the store's threads are not measured
here (see bench/import_threads.py). With `--before`, that tree's modules are loaded beside
this one's and the two alternate in every round, and the rows of both are compared (they must
be the same). The load average is printed beside each round.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def load(tree: Path) -> tuple[ModuleType, ModuleType, ModuleType]:
    """The snapshot parser, the upsert bookkeeping and the SQLite codec of one tree."""
    for name in [m for m in sys.modules if m == "bot" or m.startswith("bot.")]:
        del sys.modules[name]
    sys.path.insert(0, str(tree))
    try:
        import bot.sources.snapshot as snapshot
        import bot.store.common.upsert as upsert
        import bot.store.sqlite.codec as codec
    finally:
        sys.path.pop(0)
    return snapshot, upsert, codec


def phases(modules: tuple[ModuleType, ...], lines: list[str]) -> tuple[list[float], Any]:
    """µs a line of each phase, and the rows (to compare the trees)."""
    snapshot, upsert, codec = modules
    started = time.thread_time()
    papers = []
    for line in lines:
        try:
            papers.append(snapshot.parse_snapshot_line(line))
        except snapshot.SnapshotLineError:
            continue
    parsed = time.thread_time()
    batch = upsert.merge_batch(papers)
    merged = time.thread_time()
    rows = codec.paper_rows(list(batch.values()), NOW, NOW)
    done = time.thread_time()
    per = 1e6 / len(lines)
    return [(parsed - started) * per, (merged - parsed) * per, (done - merged) * per], rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--before", type=Path, help="another paperfeed checkout to compare")
    parser.add_argument("--lines", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with args.corpus.open(encoding="utf-8", errors="replace") as stream:
        lines = [line for line in itertools.islice(stream, args.lines) if line.strip()]
    trees = [("after", load(ROOT))]
    if args.before is not None:
        trees.insert(0, ("before", load(args.before.resolve())))
    print(f"{len(lines)} lines; µs a line (thread CPU): parse, merge, rows, total")
    for n in range(args.rounds):
        results = []
        for name, modules in trees if n % 2 == 0 else list(reversed(trees)):
            figures, rows = phases(modules, lines)
            results.append(rows)
            print(
                f"round {n + 1} {name:6s} "
                + " ".join(f"{f:6.1f}" for f in figures)
                + f" {sum(figures):6.1f}   load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        if len(results) == 2 and results[0] != results[1]:
            raise SystemExit("the two trees' rows differ")


if __name__ == "__main__":
    main()
