"""Resident memory of a process after an import-sized write, with the import's writer kept or
given back (issue 19): what a long-running bot holds once the import is over.

Usage::

    python -m bench.bulk_writer_rss CORPUS.jsonl [--papers N] [--rounds R]

Each round runs two child processes, one per way, alternating which goes first: each imports
N papers of CORPUS (a snapshot-format file, bench/corpus.py) into a fresh SQLite store in
import-sized batches (the index takes its large writer), then makes one search (a catch-up
without lag: the import is over), and reads VmRSS and RssAnon from /proc. "keep" is the
behaviour before the fix (the large writer stays until close), "end" the current one.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import proc_status_kib


def rss() -> dict[str, float]:
    """VmRSS and RssAnon of this process, MiB."""
    status = proc_status_kib()
    return {key: status[key] / 1024 for key in ("VmRSS", "RssAnon") if key in status}


async def child(corpus: str, papers: int, keep: bool) -> dict[str, object]:
    from bot.query.compile import compile_query
    from bot.services.importer import import_lines
    from bot.store import open_store
    from bot.store.tantivy_index import TantivyIndex

    if keep:  # the behaviour before the fix: the import's writer stays until close

        async def kept(self: TantivyIndex) -> None:
            return None

        TantivyIndex._end_bulk = kept  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="pf-bulk-rss-") as tmp:
        async with open_store(str(Path(tmp) / "p.sqlite3")) as store:
            with open(corpus, encoding="utf-8") as lines:
                await import_lines(store, itertools.islice(lines, papers))
            after_import = rss()
            await store.papers.search(compile_query("neural"))  # the import is over
            index = store.papers.index
            bulk = isinstance(index, TantivyIndex) and index._bulk
            return {"keep": keep, "after_import": after_import, "after_search": rss(),
                    "bulk_writer_held": bulk}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--papers", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", choices=["keep", "end"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.corpus, args.papers, args.child == "keep"))))
        return
    for n in range(args.rounds):
        ways = ["keep", "end"] if n % 2 == 0 else ["end", "keep"]
        for way in ways:
            command = [sys.executable, "-m", "bench.bulk_writer_rss", args.corpus,
                       "--papers", str(args.papers), "--child", way]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            found = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{way:4}  after import {found['after_import']['VmRSS']:6.0f} MiB  "
                f"after the search {found['after_search']['VmRSS']:6.0f} MiB "
                f"(anon {found['after_search']['RssAnon']:6.0f})  "
                f"writer held: {found['bulk_writer_held']}  load {os.getloadavg()[0]:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
