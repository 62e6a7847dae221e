"""SIGKILL an import at several points: the next open's index holds exactly the stored papers."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.corpus import write_corpus
from bot.query.compile import compile_query
from bot.store.sqlite.database import open_store
from tests.store.sqlite.fts5_reference import fts5_of_stored

N = 40_000  # four import batches of 10,000
QUERIES = ["framework", '"mixture of experts"', "framework -survey", "transform*", "holonomy"]


def _stored(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT count(*) FROM papers").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0  # not created or migrated yet


def _helpers(db: Path) -> list[int]:
    """The index helpers (bot/store/sqlite/index_helper.py) alive for this database."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            line = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(db).encode() in line and any(b"index_helper" in part for part in line):
            found.append(int(entry.name))
    return found


def _start_import(
    tmp_path: Path, *, seed: int, stderr: int, start_new_session: bool = False
) -> tuple[subprocess.Popen[str], Path]:
    """`paperfeed import` of N generated papers into a new file, running; and that file."""
    corpus = io.StringIO()
    write_corpus(N, corpus, seed=seed)
    source = tmp_path / "corpus.jsonl"
    source.write_text(corpus.getvalue(), encoding="utf-8")
    config = tmp_path / "config.toml"
    db = tmp_path / "p.sqlite3"
    config.write_text(f'[database]\npath = "{db}"\n', encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "import", str(source)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        start_new_session=start_new_session,
    )
    return proc, db


@pytest.mark.slow
@pytest.mark.parametrize("stored_first", [1, 10_001, 20_001])
async def test_a_killed_import_loses_nothing_and_shows_nothing_twice(
    tmp_path: Path, stored_first: int
) -> None:
    proc, db = _start_import(tmp_path, seed=5, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    # Killed once the first one, two or three batches are in (not after a time: the import's
    # speed varies), while the next batch is being stored or the index catches up.
    while _stored(db) < stored_first:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    # Its index helper (started at its first batch) dies with it: none keeps the writer.
    while _helpers(db):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    reference = fts5_of_stored(db)
    async with open_store(str(db), create=False) as store:
        stored = await store.papers.count()
        assert 0 < stored < N  # killed mid-import (it takes several seconds)
        for text in QUERIES:
            query = compile_query(text)
            page = await store.papers.search(query, limit=N)
            expected = reference.execute(
                "SELECT id FROM ref WHERE ref MATCH ?", (query.fts,)
            ).fetchall()
            ids = [h.paper.id for h in page.hits]
            assert len(ids) == len(set(ids)), text  # nothing twice
            assert page.total == len(expected), (text, stored)
            assert set(ids) == {r[0] for r in expected}, (text, stored)


@pytest.mark.slow
async def test_ctrl_c_stops_an_import_and_its_helper_cleanly(tmp_path: Path) -> None:
    """Ctrl-C reaches the import's process group, not its index helper (a session of its
    own): the import exits 130 without a traceback, its close tells the helper to commit and
    end, and the index holds what was stored."""
    # Its own process group, as a terminal's job.
    proc, db = _start_import(tmp_path, seed=6, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (_stored(db) > 10_000 and _helpers(db)):  # the helper indexes by now
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "helper" not in err, err
    assert not _helpers(db)
    reference = fts5_of_stored(db)
    async with open_store(str(db), create=False) as store:
        stored = await store.papers.count()
        assert 10_000 < stored < N
        query = compile_query("framework")
        page = await store.papers.search(query, limit=N)
        expected = reference.execute("SELECT id FROM ref WHERE ref MATCH ?", (query.fts,))
        assert sorted(h.paper.id for h in page.hits) == sorted(r[0] for r in expected)
