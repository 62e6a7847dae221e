"""What FTS5 matches among a file's stored papers, from an FTS5 table made apart from the store
(which keeps no FTS5 beside its search index): the reference the index tests compare with."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.query.compile import compile_query
from bot.store.common.tokens import TOKENIZE


def fts5_of_stored(db: str | Path) -> sqlite3.Connection:
    """An in-memory FTS5 table `ref` (id, title, author_text, abstract) of the file's papers."""
    reference = sqlite3.connect(":memory:")
    reference.execute(
        "CREATE VIRTUAL TABLE ref USING fts5 (id UNINDEXED, title, author_text, abstract, "
        f"tokenize = '{TOKENIZE}')"
    )
    stored = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = stored.execute("SELECT id, title, author_text, abstract FROM papers").fetchall()
    finally:
        stored.close()
    reference.executemany("INSERT INTO ref VALUES (?, ?, ?, ?)", rows)
    return reference


def reference_ids(db: str | Path, text: str) -> set[str]:
    """The ids of the stored papers FTS5 would match for a query."""
    reference = fts5_of_stored(db)
    try:
        found = reference.execute(
            "SELECT id FROM ref WHERE ref MATCH ?", (compile_query(text).fts,)
        ).fetchall()
    finally:
        reference.close()
    return {row[0] for row in found}
