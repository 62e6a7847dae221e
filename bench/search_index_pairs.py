"""A common-word phrase through the abstract's word pairs against the word phrase, one index.

Usage::

    python -m bench.search_index_pairs DB.sqlite3 [--reps N] [--json OUT]

DB's index must have the pairs field (schema 2). In one process, interleaved rep by rep, each
phrase is searched (`search_now`, limit 10, as `/search` runs it after its catch-up) twice:
as this code asks it (the pairs) and with the pairs switched off (the word phrase, as before
issue 19's change, on the same index files). Also the abstract alone, counted, both ways: what
the pairs change. Reports p50/p95/p99 in ms, whether both ways give the same page (keys, order, total), and the
largest difference of a reported score between them (float rounding: the pairs' boost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tantivy

from bench.harness import percentiles
from bot.query.compile import compile_query
from bot.store.sqlite.database import open_store
from bot.store.tantivy_index import TantivyIndex, Translation, _count

PHRASES = ['"mixture of experts"', '"state of the art"', '"learning to rank"', '"of the"']


def _words_only(self: Translation, words: list[str]) -> tantivy.Query | None:
    return None


async def run(db: Path, reps: int) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    out: dict[str, Any] = {"database": str(db), "reps": reps}
    async with open_store(str(db), create=False, clock=lambda: now) as store:
        index = store.papers.index
        assert isinstance(index, TantivyIndex) and index.ready, "the index is not ready"
        assert index._index is not None
        pairs = Translation._pairs
        for text in PHRASES:
            query = compile_query(text)
            words = index._tokens(text.strip('"'))
            times: dict[str, list[float]] = {k: [] for k in ("pairs", "words", "abs_p", "abs_w")}
            pages = {}
            for _ in range(reps):
                for way in ("pairs", "words"):
                    Translation._pairs = pairs if way == "pairs" else _words_only  # type: ignore[method-assign]
                    try:
                        t0 = time.perf_counter()
                        page = index.search_now(
                            query, now=now, limit=10, offset=0, since=None, hf_only=False
                        )
                        times[way].append(time.perf_counter() - t0)
                        pages[way] = page
                        searcher = index._index.searcher()
                        translation = Translation(index._schema, searcher, index._tokens)
                        alone = translation._in_field("abstract", words, prefix=False)
                        assert alone is not None
                        t0 = time.perf_counter()
                        _count(searcher, alone)
                        key = "abs_p" if way == "pairs" else "abs_w"
                        times[key].append(time.perf_counter() - t0)
                    finally:
                        Translation._pairs = pairs  # type: ignore[method-assign]
            row: dict[str, Any] = {
                k: {q: round(ms, 2) for q, ms in percentiles(v).items()} for k, v in times.items()
            }
            row["total"] = pages["pairs"].total
            both = zip(pages["pairs"].hits, pages["words"].hits, strict=True)
            row["same_page"] = [h.pk for h in pages["pairs"].hits] == [
                h.pk for h in pages["words"].hits
            ] and pages["pairs"].total == pages["words"].total
            row["score_diff_max"] = max((abs(a.score - b.score) for a, b in both), default=0.0)
            out[text] = row
            print(text, json.dumps(row), file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    out = asyncio.run(run(args.database, args.reps))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
