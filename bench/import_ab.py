"""`paperfeed import` of one corpus by two source trees, interleaved: wall, CPU, peak RSS.

Usage::

    python bench/import_ab.py CORPUS.jsonl WORKDIR [--before TREE] [--rounds 2] [--no-index]

Each run is `python -m bot import CORPUS --json` as a subprocess into a fresh database in
WORKDIR (deleted afterwards), measured as the ingest benchmark measures it (wall, CPU from
`wait4`, peak RSS from `VmHWM`). `--before` names another checkout of paperfeed (e.g. from
`git archive`) whose code runs with this one's environment; the trees alternate in each round,
so machine load falls on both alike. `--no-index` imports without the Tantivy index (as where
tantivy is not installed), to show what the index costs. The load average is printed beside
every figure: on a shared machine the wall times say more about the load than about the code.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import remove_database, timed_subprocess  # noqa: E402

# Imports without the search index: as if tantivy were not installed.
_NO_INDEX = (
    "import bot.store.sqlite.database as d; d.TANTIVY = False; "
    "from bot.cli import main; raise SystemExit(main())"
)


def run(tree: Path, corpus: Path, workdir: Path, *, index: bool) -> dict[str, Any]:
    db = workdir / "import-ab.sqlite3"
    remove_database(db)
    shutil.rmtree(str(db) + ".index", ignore_errors=True)
    config = workdir / "import-ab.toml"
    config.write_text(f'[database]\npath = "{db}"\n\n[logging]\nlevel = "WARNING"\n')
    env = dict(os.environ, PYTHONPATH=str(tree), PAPERFEED_CONFIG=str(config))
    env.pop("DISCORD_TOKEN", None)
    start = ["-m", "bot"] if index else ["-c", _NO_INDEX]
    cmd = [sys.executable, *start, "import", str(corpus), "--json"]
    load = os.getloadavg()[0]
    # Run from the work folder: `-m bot` from a checkout's root would import that checkout
    # (the current folder comes before PYTHONPATH), whichever tree was asked for.
    result = timed_subprocess(cmd, env=env, cwd=workdir)
    try:
        if result["returncode"] != 0:
            raise RuntimeError(f"import failed: {result['stderr'][-2000:]}")
        report = json.loads(result["stdout"])
    finally:
        remove_database(db)
        shutil.rmtree(str(db) + ".index", ignore_errors=True)
    return {
        "papers": report["new"],
        "wall_s": round(result["wall_s"], 1),
        "cpu_s": round(result["user_s"] + result["system_s"], 1),
        "user_s": round(result["user_s"], 1),
        "system_s": round(result["system_s"], 1),
        "peak_rss_mib": round(result["peak_rss_kib"] / 1024),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--before", type=Path, help="another paperfeed checkout to compare")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-index", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    trees = [("after", ROOT)]
    if args.before is not None:
        trees.insert(0, ("before", args.before.resolve()))
    for n in range(args.rounds):
        for name, tree in trees if n % 2 == 0 else reversed(trees):
            figures = run(tree, args.corpus, args.workdir, index=not args.no_index)
            print(json.dumps({"round": n + 1, "tree": name, **figures}), flush=True)


if __name__ == "__main__":
    main()
