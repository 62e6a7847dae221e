"""bench/fts_hashsize.py imports a corpus once per FTS5 hashsize, each in a child process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from bench.corpus import write_corpus


def test_each_size_imports_every_paper_and_leaves_no_database(tmp_path: Path) -> None:
    text = io.StringIO()
    write_corpus(300, text, seed=5)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(text.getvalue(), encoding="utf-8")
    work = tmp_path / "work"
    command = [sys.executable, "-m", "bench.fts_hashsize", str(corpus), str(work),
               "--rounds", "1", "--sizes", "1048576,4194304"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(found) == {"1048576", "4194304"}
    for runs in found.values():
        assert len(runs) == 1
        assert runs[0]["papers"] == 300
        assert runs[0]["wall_s"] > 0 and runs[0]["cpu_s"] > 0
    assert list(work.iterdir()) == []
