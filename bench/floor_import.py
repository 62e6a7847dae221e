"""The floor for `paperfeed import`: the least work that fills the same tables from the same file.

Usage::

    python bench/floor_import.py CORPUS.jsonl DATABASE.sqlite3 [--batch 10000]

It creates the database with the real migrations (same tables, indexes and full-text triggers),
then reads the file line by line with `json.loads`, takes only what the tables need without
validating, normalising or merging anything (dates are stored as the snapshot's `update_date`
string), assigns primary keys itself and inserts with `executemany`, one transaction a batch,
with the same connection settings as the store. The ingest benchmark (`bench/ingest.py`) runs
it as a subprocess to compare its wall time and memory with `paperfeed import` of the same file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.store import open_store  # noqa: E402
from bot.store.sqlite import codec  # noqa: E402

COLUMNS = ("pk", *codec.PAPER_COLUMNS)
INSERT_PAPER = (
    f"INSERT INTO papers ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
)
INSERT_CATEGORY = "INSERT OR IGNORE INTO paper_categories (paper_pk, category) VALUES (?, ?)"
NOW = "2026-01-01T00:00:00Z"


def connect(path: Path) -> sqlite3.Connection:
    """A plain connection with the store's settings (WAL, NORMAL sync, foreign keys)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


async def create_schema(path: Path) -> None:
    async with open_store(str(path)):
        pass


def row_from_line(pk: int, obj: dict[str, Any]) -> tuple[tuple[Any, ...], list[str]]:
    parsed = obj.get("authors_parsed") or []
    authors = [" ".join(p for p in (a[1], a[0]) if p) for a in parsed]
    categories = (obj.get("categories") or "").split()
    row = (
        pk,
        obj["id"],
        len(obj.get("versions") or ()) or None,
        obj["title"].strip(),
        (obj.get("abstract") or "").strip(),
        json.dumps(authors),
        ", ".join(authors),
        json.dumps(categories),
        obj.get("update_date"),
        obj.get("update_date"),
        obj.get("doi"),
        obj.get("journal-ref"),
        obj.get("comments"),
        None,
        None,
        None,
        None,
        None,
        None,
        "[]",
        None,
        None,
        None,
        "import",
        NOW,
        NOW,
    )
    return row, categories


def load(corpus: Path, db: Path, batch: int) -> int:
    asyncio.run(create_schema(db))
    conn = connect(db)
    rows: list[tuple[Any, ...]] = []
    cats: list[tuple[int, str]] = []
    pk = 0

    def flush() -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT_PAPER, rows)
        conn.executemany(INSERT_CATEGORY, cats)
        conn.execute("COMMIT")
        rows.clear()
        cats.clear()

    with corpus.open(encoding="utf-8") as f:
        for line in f:
            pk += 1
            row, categories = row_from_line(pk, json.loads(line))
            rows.append(row)
            cats.extend((pk, c) for c in categories)
            if len(rows) >= batch:
                flush()
    if rows:
        flush()
    conn.close()
    return pk


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the floor loader for `paperfeed import`")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("db", type=Path)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args(argv)
    if args.db.exists():
        parser.error(f"{args.db} exists; the floor loads into a new database")
    print(json.dumps({"new": load(args.corpus, args.db, args.batch)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
