"""Search of another checkout against this one, interleaved on one database, for before/after figures.

Usage::

    mkdir -p BEFORE && git archive e268b1b | tar -x -C BEFORE
    python bench/search_ab.py BEFORE DB [--reps 100] [QUERY ...]

A shared machine's load changes from one minute to the next, so two separate benchmark runs
compare the load as much as the code. Here both versions run in one process, each on its own
connection to the same database, one search of each in turn: the older checkout's
`bot/store/store.py` (`Store.search`, from before the store was split) and this checkout's
`papers.search`; both compile the query with this checkout's compiler. Prints one JSON object
(milliseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.search import SEARCH_QUERIES  # noqa: E402
from bot.models import SearchPage  # noqa: E402
from bot.query.compile import CompiledQuery, compile_query  # noqa: E402
from bot.store import open_store  # noqa: E402

# Multi-word queries, where title evidence has the most to compute.
EXTRA_QUERIES = ("neural network", "graph neural network", "learning framework")


# The old store.py's own imports from its package (`from bot.store import codec`,
# `from bot.store.migrate import migrate`): modules this checkout has moved into
# bot.store.sqlite, so they are loaded from the older checkout while its store.py loads.
_OLD_SIBLINGS = ("codec", "migrate")


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_store_module(checkout: Path) -> Any:
    """The other checkout's store module, loaded under its own name beside this one's."""
    store_dir = checkout / "bot" / "store"
    if not (store_dir / "store.py").is_file():
        raise SystemExit(f"{checkout}: no bot/store/store.py")
    shims: list[str] = []
    try:
        for sibling in _OLD_SIBLINGS:
            name = f"bot.store.{sibling}"
            if name not in sys.modules and (store_dir / f"{sibling}.py").is_file():
                sys.modules[name] = _load(f"before_store_{sibling}", store_dir / f"{sibling}.py")
                shims.append(name)
        return _load("before_store", store_dir / "store.py")
    finally:
        for name in shims:  # this checkout's bot.store stays as it is
            del sys.modules[name]


Search = Callable[..., Awaitable[SearchPage]]


def _search(name: str, store: Any) -> Callable[[CompiledQuery], Awaitable[SearchPage]]:
    """The old Store's `search`, or this checkout's `papers.search`."""
    run: Search = store.search if name == "before" else store.papers.search
    return lambda compiled: run(compiled, limit=10)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def compare(before: Any, db: str, queries: list[str], reps: int) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    results: dict[str, Any] = {}
    async with (
        before.open_store(db, create=False, clock=lambda: now) as old,
        open_store(db, create=False, clock=lambda: now) as new,
    ):
        search_old, search_new = _search("before", old), _search("after", new)
        for text in queries:
            times: dict[str, list[float]] = {"before": [], "after": []}
            total = 0
            for rep in range(reps + 3):  # three warm-up rounds
                for name, search in (("before", search_old), ("after", search_new)):
                    started = time.perf_counter()
                    page = await search(compile_query(text))
                    if rep >= 3:
                        times[name].append((time.perf_counter() - started) * 1000)
                    total = page.total
            results[text] = {"total": total} | {
                name: {
                    "p50_ms": round(statistics.median(v), 2),
                    "p95_ms": _pct(v, 0.95),
                    "p99_ms": _pct(v, 0.99),
                }
                for name, v in times.items()
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="a checkout of the older commit")
    parser.add_argument("db", help="a benchmark database (see bench/run.py --workdir)")
    parser.add_argument("queries", nargs="*", help="default: the search benchmark's queries")
    parser.add_argument("--reps", type=int, default=100)
    args = parser.parse_args()
    queries = args.queries or [q.text for q in SEARCH_QUERIES] + list(EXTRA_QUERIES)
    before = load_store_module(args.before)
    print(json.dumps(asyncio.run(compare(before, args.db, queries, args.reps)), indent=1))


if __name__ == "__main__":
    main()
