"""Where an import's CPU goes, per thread: `import_lines` of a corpus in this process.

Usage::

    python bench/import_threads.py CORPUS.jsonl DATABASE.sqlite3 [--no-index]

DATABASE must not exist yet (it is left behind with its `.index`; delete both after). Prints
wall and CPU of the import, peak anonymous and file-backed RSS (sampled every 0.2 s), the live
Python blocks at the peak, and each thread's CPU from `/proc/self/task/*/stat` read at the end
of the import: the main thread, aiosqlite's writer and reader, the executor threads (the index's
tokenizing), Tantivy's threads. Threads that ended before (Tantivy starts new indexing threads
at each commit) count only in the total. Run another checkout's code with
`PYTHONPATH=TREE python bench/import_threads.py ...` to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after PYTHONPATH, so another tree's `bot` wins

import bot.store.sqlite.database as sqlite_database  # noqa: E402
from bot.services.importer import import_lines  # noqa: E402
from bot.sources.snapshot import open_snapshot  # noqa: E402
from bot.store.sqlite.database import open_store  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def threads_cpu() -> dict[str, float]:
    """CPU seconds of each live thread, named as Python names it (else as the kernel does)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
            comm = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        name = "main" if int(tid) == os.getpid() else names.get(int(tid), comm)
        out[f"{name}/{tid}"] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def memory() -> dict[str, int]:
    return {
        line.split(":")[0]: int(line.split()[1])
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith(("RssAnon", "RssFile", "VmHWM"))
    }


async def main(corpus: str, database: str, index: bool) -> None:
    if not index:
        sqlite_database.TANTIVY = False
    stream, raw = open_snapshot(corpus)
    peak = {"RssAnon": 0, "RssFile": 0, "blocks": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            for key, kib in memory().items():
                if key in peak:
                    peak[key] = max(peak[key], kib)
            peak["blocks"] = max(peak["blocks"], sys.getallocatedblocks())

    sampler = threading.Thread(target=sample, name="sample", daemon=True)
    started, cpu = time.perf_counter(), time.process_time()
    try:
        async with open_store(database) as store:
            sampler.start()
            report = await import_lines(store, stream)
            stop.set()
            per_thread = threads_cpu()
            imported = time.perf_counter()
    finally:
        stream.close()
        raw.close()
    wall = time.perf_counter() - started
    print(
        f"index={index} papers={report.loaded} wall={wall:.1f} s (closing {wall - (imported - started):.1f} s) "
        f"cpu={time.process_time() - cpu:.1f} s peak_rss={memory()['VmHWM'] // 1024} MiB "
        f"(anon {peak['RssAnon'] // 1024}, file {peak['RssFile'] // 1024}) "
        f"python_blocks_at_peak={peak['blocks']} load={os.getloadavg()}"
    )
    for name, seconds in sorted(per_thread.items(), key=lambda item: -item[1]):
        if seconds >= 0.05:
            print(f"  {name:44s} {seconds:7.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("database")
    parser.add_argument("--no-index", action="store_true")
    args = parser.parse_args()
    if Path(args.database).exists():
        raise SystemExit(f"{args.database}: exists; give a new file")
    asyncio.run(main(args.corpus, args.database, not args.no_index))
