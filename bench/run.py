"""paperfeed benchmarks: the command line, and the list of benchmarks it can run.

Usage::

    python bench/run.py                          # full: 100k and 1M papers (tens of minutes)
    python bench/run.py --quick                  # 20k papers, 1k feeds: a couple of minutes
    python bench/run.py --tiny                   # 2k papers, 200 feeds: seconds (used by tests)
    python bench/run.py --sizes 100000 --only search --json

`python -m bench` takes the same arguments. Each benchmark is a module of this package
(`search`, `ingest`, `matching`, `fanout`, `memory`, `interaction`); what they share, from the
settings to the cached corpora and databases, is in `harness`, and the targets and the text
report in `report`.

Every benchmark compares the bot's own code path with a *floor* (the least work that gives the
same answer, written directly against SQLite) and, where one exists, with the *peer way* (how
self-hosted paper bots do it today). `ratio_vs_floor` and `ratio_vs_peer` are always cost
ratios: the bot's time per unit of work divided by the other's, so 1.0 means "as fast", lower
is better. `--json` prints exactly one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import fanout, ingest, interaction, matching, memory, search  # noqa: E402
from bench.harness import DEFAULT_WORKDIR, PRESETS, Benchmark, Context, log  # noqa: E402
from bench.report import evaluate_targets, machine, print_report  # noqa: E402

# In the order they run and appear in the JSON.
REGISTRY: dict[str, Benchmark] = {
    b.name: b
    for b in (
        search.BENCHMARK,
        ingest.BENCHMARK,
        matching.BENCHMARK,
        matching.DAILY_BENCHMARK,
        fanout.BENCHMARK,
        memory.BENCHMARK,
        interaction.BENCHMARK,
    )
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="paperfeed benchmarks")
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument("--quick", action="store_true", help="reduced sizes, about two minutes")
    preset.add_argument("--tiny", action="store_true", help="smallest sizes, seconds (for tests)")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.add_argument("--sizes", help="comma-separated corpus sizes, e.g. 100000,1000000")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"cache and scratch (default {DEFAULT_WORKDIR})",
    )
    parser.add_argument("--only", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--rebuild", action="store_true", help="regenerate cached databases")
    args = parser.parse_args(argv)

    name = "quick" if args.quick else "tiny" if args.tiny else "full"
    settings = replace(PRESETS[name], seed=args.seed)
    if args.sizes:
        settings.sizes = [int(x.replace("_", "")) for x in args.sizes.split(",") if x.strip()]
    selected = list(REGISTRY)
    if args.only:
        selected = [x.strip() for x in args.only.split(",")]
        unknown = [x for x in selected if x not in REGISTRY]
        if unknown:
            parser.error(
                f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(REGISTRY)}"
            )
    args.workdir.mkdir(parents=True, exist_ok=True)
    ctx = Context(settings, args.workdir, rebuild=args.rebuild)

    started = time.perf_counter()
    load_start = os.getloadavg()
    results: dict[str, Any] = {}
    for key in selected:
        log(f"running {key}")
        results[key] = REGISTRY[key].run(ctx)
    doc = {
        # Other work on the machine skews wall times: the load averages say how much there was.
        "machine": {
            **machine(),
            "loadavg_start": [round(x, 2) for x in load_start],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": {
            "preset": settings.preset,
            "sizes": settings.sizes,
            "seed": settings.seed,
            "workdir": str(args.workdir),
        },
        "benchmarks": results,
        "targets": evaluate_targets(results),
        # Benchmarks that could not be measured yet had slots here; every one is measured now,
        # and the key stays so readers of the JSON keep working.
        "pending": {},
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print_report(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
