"""Where one search's time goes: each step of `papers.search` through the index, timed alone
and right after an FTS5 search of the same words (as `bench.search_index` interleaves them).

Usage::

    python -m bench.search_index_steps DB.sqlite3 [--query TEXT] [--reps N]

DB is a store made by `paperfeed import` of a `bench/corpus.py` corpus, its index beside it.
Each round runs `papers.search(limit=10)` with the steps wrapped: the whole call, the index's
catch-up check, `search_now` (its thread's CPU beside its wall time), the exact count on its
own thread (wall and CPU: wall above CPU is time that thread waited, for a core or the GIL),
each ranking pass (`_hits`: the tier's pool, the recent band) and the page's rows. It prints
the p50 of each, in ms, per mode; the modes alternate, twice each.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.query.compile import compile_query
from bot.store import tantivy_index
from bot.store.sqlite.database import open_store
from bot.store.tantivy_index import TantivyIndex


async def run(db: Path, text: str, reps: int) -> list[tuple[str, dict[str, float]]]:
    now = datetime.now(UTC).replace(microsecond=0)
    async with open_store(str(db), create=False, clock=lambda: now) as store:
        index = store.papers.index
        assert isinstance(index, TantivyIndex) and index.ready, "the index is not ready"
        query = compile_query(text)
        seen: dict[str, list[float]] = {}

        def note(name: str, seconds: float) -> None:
            seen.setdefault(name, []).append(seconds)

        def timed_async(name: str, call: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
            async def wrapped(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return await call(*args, **kwargs)
                finally:
                    note(name, time.perf_counter() - t0)

            return wrapped

        def timed(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                t0, c0 = time.perf_counter(), time.thread_time()
                try:
                    return call(*args, **kwargs)
                finally:
                    note(name, time.perf_counter() - t0)
                    note(f"{name} CPU", time.thread_time() - c0)

            return wrapped

        patched: list[tuple[Any, str, Any]] = [
            (index, "catch_up", timed_async("catch-up", index.catch_up)),
            (index, "search_now", timed("search_now", index.search_now)),
            (store.papers, "_indexed_page", timed_async("rows", store.papers._indexed_page)),
            (tantivy_index, "_count", timed("count", tantivy_index._count)),
        ]
        ranked = tantivy_index._hits

        def hits(*args: Any) -> Any:
            t0 = time.perf_counter()
            found = ranked(*args)
            passes.append(time.perf_counter() - t0)
            return found

        passes: list[float] = []
        patched.append((tantivy_index, "_hits", hits))
        saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
        for owner, name, value in patched:
            setattr(owner, name, value)
        try:
            return await _rounds(store, index, query, reps, seen, passes)
        finally:  # the module's functions back as they were (a test runs this in its process)
            for owner, name, value in saved:
                setattr(owner, name, value)


async def _rounds(
    store: Any,
    index: TantivyIndex,
    query: Any,
    reps: int,
    seen: dict[str, list[float]],
    passes: list[float],
) -> list[tuple[str, dict[str, float]]]:
    """Each mode's p50s, ms, in the order run (also printed)."""
    out: list[tuple[str, dict[str, float]]] = []

    async def fts5() -> None:
        store.papers.index = None
        try:
            await store.papers.search(query, limit=10)
        finally:
            store.papers.index = index

    for mode in ("alone", "after FTS5") * 2:
        rounds: list[dict[str, float]] = []
        for rep in range(reps + 1):
            if mode != "alone":
                await fts5()
            seen.clear()
            passes.clear()
            t0 = time.perf_counter()
            await store.papers.search(query, limit=10)
            whole = time.perf_counter() - t0
            if rep:  # the first round warms up
                row = {name: sum(values) for name, values in seen.items()}
                row["papers.search"] = whole
                for n, spent in enumerate(passes):
                    row[f"pass {n + 1}"] = spent
                rounds.append(row)
        names = ["papers.search", "catch-up", "search_now", "search_now CPU", "count"]
        names += ["count CPU", *sorted(k for k in rounds[0] if k.startswith("pass ")), "rows"]
        p50 = {
            name: sorted(r.get(name, 0.0) for r in rounds)[len(rounds) // 2] * 1000
            for name in names
        }
        print(f"{mode:<11} " + "  ".join(f"{k} {v:.2f}" for k, v in p50.items()), flush=True)
        out.append((mode, p50))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--query", default="framework -survey")
    parser.add_argument("--reps", type=int, default=40)
    args = parser.parse_args(argv)
    asyncio.run(run(args.database, args.query, args.reps))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
