"""bench/bulk_writer_rss.py imports an import-sized batch in a child and reads its memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.corpus import write_corpus
from bot.store.sqlite.papers import BULK_MIN


def _child(corpus: Path, way: str) -> dict[str, object]:
    command = [sys.executable, "-m", "bench.bulk_writer_rss", str(corpus),
               "--papers", str(BULK_MIN + 200), "--child", way]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


@pytest.mark.slow
def test_the_import_writer_is_held_only_in_the_way_before_the_fix(tmp_path: Path) -> None:
    text = io.StringIO()
    write_corpus(BULK_MIN + 200, text, seed=3)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(text.getvalue(), encoding="utf-8")
    kept, ended = _child(corpus, "keep"), _child(corpus, "end")
    # One batch of BULK_MIN or more takes the large writer; only the old way still holds it.
    assert kept["bulk_writer_held"] is True and ended["bulk_writer_held"] is False
    for found in (kept, ended):
        for when in ("after_import", "after_search"):
            figures = found[when]
            assert isinstance(figures, dict)
            assert figures["VmRSS"] > 10 and 0 < figures["RssAnon"] <= figures["VmRSS"]
