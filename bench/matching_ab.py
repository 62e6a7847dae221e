"""The feeds + follows matching pass of another checkout against this one, for before/after figures.

Usage::

    mkdir -p BEFORE && git archive 92ccb6b | tar -x -C BEFORE
    python bench/matching_ab.py BEFORE [--rounds 3] [--reps 5] [--workdir DIR]

One pass is what the poller does for a batch (`queue_matches` without the store): compile every
feed's and follow's query, then `match_everything` of 1,000 new papers against 10,000 feeds and
10,000 follows (the matching benchmark's workload, `bench/matching.py`). Each checkout runs in
a fresh process, so its first pass is cold (nothing compiled or cached by an earlier pass); the
rest of its passes give the warm median. The checkouts take turns, round after round, so both
see the same load on a shared machine; wall and CPU time are both reported, with the load
average at the start and the end. Prints one JSON object (seconds).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def child(tree: Path, reps: int, workdir: Path) -> dict[str, Any]:
    """In a fresh process: the workload, then `reps` passes of the checkout at `tree`."""
    sys.path[:0] = [str(tree)]
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    import bot
    from bench.harness import PRESETS, Context, read_papers
    from bench.matching import make_feed_queries, make_follows
    from bot.models import Feed, FeedOrigin, FeedSpec
    from bot.services.matching import compile_feeds, compile_follows, match_everything

    settings = PRESETS["full"]
    ctx = Context(settings, workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    source = ctx.corpus(settings.poll_papers, seed=ctx.seed + 2)
    papers = [
        replace(p, published=now - timedelta(hours=1 + i % 48))
        for i, p in enumerate(read_papers(source, settings.poll_papers))
    ]
    feeds = [
        Feed(
            id=i + 1,
            spec=FeedSpec(name=f"feed-{i + 1}", channel_id=1000 + i, query=q, categories=cats),
            guild_id=1 + i % 50,
            origin=FeedOrigin.DISCORD,
        )
        for i, (q, cats) in enumerate(make_feed_queries(settings.feeds, ctx.seed))
    ]
    follows = make_follows(settings.feeds, ctx.seed)
    workload = hashlib.sha256(
        repr(([f.spec for f in feeds], follows, [p.id for p in papers])).encode()
    ).hexdigest()[:16]
    shares = "cache" in inspect.signature(compile_feeds).parameters

    passes: list[dict[str, float]] = []
    result: Any = None
    for _ in range(reps):
        wall, cpu = time.perf_counter(), time.process_time()
        cache: dict[str, Any] = {}
        args: tuple[Any, ...] = (cache,) if shares else ()
        compiled_feeds = compile_feeds(feeds, *args)
        compiled_follows = compile_follows(follows, *args)
        compile_wall, compile_cpu = time.perf_counter() - wall, time.process_time() - cpu
        result = match_everything(compiled_feeds, compiled_follows, papers, now)
        passes.append(
            {
                "wall": time.perf_counter() - wall,
                "cpu": time.process_time() - cpu,
                "compile_wall": compile_wall,
                "compile_cpu": compile_cpu,
            }
        )
    pairs, dms = result
    warm = passes[1:] or passes
    return {
        "bot": str(Path(bot.__file__).resolve().parent),
        "workload": workload,
        "pairs": len(pairs),
        "dm_items": len(dms),
        "output": hashlib.sha256(repr(result).encode()).hexdigest()[:16],
        "cold": {k: round(v, 4) for k, v in passes[0].items()},
        "warm_median": {k: round(statistics.median(p[k] for p in warm), 4) for k in warm[0]},
    }


def run_child(tree: Path, reps: int, workdir: Path) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(tree)]
    command += ["--reps", str(reps), "--workdir", str(workdir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # bench.* from this checkout or the other
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("before", nargs="?", type=Path, help="the other checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=5, help="passes per process (first: cold)")
    parser.add_argument("--workdir", type=Path, help="default: the benchmarks' work directory")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # before anything imports bot: it must come from that checkout
        print(json.dumps(child(args.child.resolve(), args.reps, args.workdir)))
        return
    if args.before is None:
        parser.error("give the other checkout")
    if args.workdir is None:
        from bench.harness import DEFAULT_WORKDIR

        args.workdir = DEFAULT_WORKDIR
    trees = {"before": args.before.resolve(), "after": ROOT}
    load_start = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for round_no in range(args.rounds):
        order = list(trees) if round_no % 2 == 0 else list(reversed(trees))
        for name in order:
            runs[name].append(run_child(trees[name], args.reps, args.workdir))
            print(f"round {round_no + 1} {name}: {runs[name][-1]['cold']}", file=sys.stderr)
    first = runs["before"][0]
    for name, found in runs.items():
        for run in found:
            if (run["workload"], run["output"]) != (first["workload"], first["output"]):
                raise SystemExit(f"{name}: a different workload or result; not comparable")

    def summary(found: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            kind: {
                key: round(statistics.median(r[kind][key] for r in found), 4)
                for key in found[0][kind]
            }
            for kind in ("cold", "warm_median")
        } | {"bot": found[0]["bot"]}

    print(
        json.dumps(
            {
                "description": "one matching pass (compile + match_everything), 1,000 papers x "
                "10,000 feeds + 10,000 follows; medians over rounds, one fresh process each",
                "cpu_count": os.cpu_count(),
                "load_average_start": [round(x, 2) for x in load_start],
                "load_average_end": [round(x, 2) for x in os.getloadavg()],
                "rounds": args.rounds,
                "reps_per_process": args.reps,
                "pairs": first["pairs"],
                "dm_items": first["dm_items"],
                "same_output": True,
                **{name: summary(found) for name, found in runs.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    main()
