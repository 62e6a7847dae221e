"""The scale simulation runs end to end on a tiny size (no timing asserted: bench/cluster.py
measures, this checks it can, and that what it reports holds: all posted, once, no 429s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_cluster_bench_drains_everything_once_without_429s(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "cluster.json"
    env = {**os.environ, "PAPERFEED_TEST_POSTGRES_URL": postgres_admin_url,
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "bench.cluster", "--guilds", "20", "--feeds", "400",
         "--papers", "20", "--match-rate", "0.05", "--publishers", "1,2", "--db-seconds", "0.5",
         "--drain", "20", "--channels", "10", "--json", str(out)],
        cwd=ROOT, env=env, check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert result["fan_out"]["feeds"] == 400 and result["fan_out"]["deliveries"] > 0
    assert [d["publishers"] for d in result["database_side"]] == [1, 2]
    for run in result["drain"]:
        assert run["sent"] == run["posted"] == 20
        assert run["duplicates"] == 0 and run["responses_429"] == 0
