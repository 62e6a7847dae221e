"""How the semantic service behaves over a real SQLite store at scale (issue 17).

    python bench/semantic_store.py [--papers 100000] [--json]

Fills a fresh SQLite file with N papers (short synthetic titles, inserted in bulk) and N random
unit vectors stored through the store's VectorStore, then measures what a running bot pays:
loading every vector into the in-memory index (`Semantic.refresh`, a cold start), a `/related`
(`Semantic.related`, top 10) and catching up with 100 vectors written by another process.
The vectors are random, so this measures speed, not quality (docs/semantic.md has quality).
No model is loaded: a stand-in embedder of the same dimension is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.semantic.vectors import to_blob
from bot.services.semantic import Semantic
from bot.store import open_store

DIM = 384
MODEL = "bench-random@0"


class RandomEmbedder:
    """Same shape as the real model; never called for papers here."""

    model_id = MODEL
    dim = DIM

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rng = np.random.default_rng(len(texts))
        m = rng.standard_normal((len(texts), DIM)).astype(np.float32)
        return m / np.linalg.norm(m, axis=1, keepdims=True)


def fill_papers(path: Path, n: int) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO papers (id, title, first_seen, changed_at) VALUES (?, ?, ?, ?)",
            ((f"b{i:07d}", f"Paper {i}", "2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z")
             for i in range(n)),
        )  # fmt: skip
    conn.close()


async def run(n: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="paperfeed-bench-"))
    path = folder / "p.sqlite3"
    async with open_store(str(path)):
        pass  # create and migrate
    t = time.perf_counter()
    fill_papers(path, n)
    rng = np.random.default_rng(7)
    async with open_store(str(path)) as store:
        for start in range(0, n, 5000):
            m = rng.standard_normal((min(5000, n - start), DIM)).astype(np.float32)
            m /= np.linalg.norm(m, axis=1, keepdims=True)
            await store.vectors.put(
                MODEL, [(f"b{start + i:07d}", to_blob(row)) for i, row in enumerate(m)]
            )
        fill_s = time.perf_counter() - t
        semantic = Semantic(store, RandomEmbedder())  # type: ignore[arg-type]
        t = time.perf_counter()
        loaded = await semantic.refresh()
        load_s = time.perf_counter() - t
        assert loaded == n
        times = []
        for i in range(30):
            t = time.perf_counter()
            related = await semantic.related(f"b{(i * 7919) % n:07d}", 10)
            times.append(time.perf_counter() - t)
            assert len(related) == 10
        extra = rng.standard_normal((100, DIM)).astype(np.float32)
        await store.vectors.put(MODEL, [(f"b{i:07d}", to_blob(r)) for i, r in enumerate(extra)])
        t = time.perf_counter()
        caught = await semantic.refresh()
        catch_s = time.perf_counter() - t
    return {
        "papers": n,
        "fill_s": round(fill_s, 1),
        "cold_load_s": round(load_s, 2),
        "related_p50_ms": round(statistics.median(times) * 1000, 1),
        "related_max_ms": round(max(times) * 1000, 1),
        "catch_up_100_ms": round(catch_s * 1000, 1),
        "caught": caught,
        "db_mb": round(path.stat().st_size / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.papers))
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
