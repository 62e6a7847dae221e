"""FTS5's full text, kept only while no search index answers the word searches.

Once the Tantivy index (bot/store/tantivy_index.py) is in use it answers every search with
words, whatever the order asked; keeping FTS5 in step as well cost an import a quarter of its
CPU and the file a third of its size (docs/benchmarks.md, issue 19). So a SQLite file keeps one
of the two: when the index is ready, FTS5's triggers are dropped and its postings deleted; where
no index is used (no tantivy wheel, an in-memory database, an index that cannot be opened), FTS5
is rebuilt from the papers and its triggers are made again. Whether the triggers exist is the
state, and each change is one transaction: a kill leaves one state or the other, never half.
"""

from __future__ import annotations

import logging
import sqlite3

from bot.errors import StoreError
from bot.store.sqlite.connection import Connections

log = logging.getLogger(__name__)

# Migration 0001's triggers, as they were made there (kept in step with it by a test).
TRIGGERS = {
    "papers_fts_insert": """
CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN
    INSERT INTO papers_fts (rowid, title, author_text, abstract)
    VALUES (new.pk, new.title, new.author_text, new.abstract);
END""",
    "papers_fts_delete": """
CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN
    INSERT INTO papers_fts (papers_fts, rowid, title, author_text, abstract)
    VALUES ('delete', old.pk, old.title, old.author_text, old.abstract);
END""",
    "papers_fts_update": """
CREATE TRIGGER papers_fts_update AFTER UPDATE OF title, author_text, abstract ON papers BEGIN
    INSERT INTO papers_fts (papers_fts, rowid, title, author_text, abstract)
    VALUES ('delete', old.pk, old.title, old.author_text, old.abstract);
    INSERT INTO papers_fts (rowid, title, author_text, abstract)
    VALUES (new.pk, new.title, new.author_text, new.abstract);
END""",
}
_KEPT = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'papers_fts_%'"


async def fulltext_kept(conns: Connections) -> bool:
    """Whether FTS5 holds every paper and is kept in step (its triggers exist)."""
    row = await conns.fetchone(_KEPT)
    return bool(row and row[0])


async def drop_fulltext(conns: Connections) -> bool:
    """Stop keeping FTS5 and delete its postings; whether it was kept until now."""
    async with conns.transaction():
        row = await (await conns.writer.execute(_KEPT)).fetchone()
        if not (row and row[0]):
            return False
        some = await (await conns.writer.execute("SELECT 1 FROM papers LIMIT 1")).fetchone()
        for name in TRIGGERS:
            await conns.writer.execute(f"DROP TRIGGER IF EXISTS {name}")
        await conns.writer.execute("INSERT INTO papers_fts (papers_fts) VALUES ('delete-all')")
    if some:  # a new database has nothing to say
        log.info("the search index answers every word search: SQLite's FTS5 is no longer kept")
    return True


async def keep_fulltext(conns: Connections) -> bool:
    """Rebuild FTS5 from the papers and keep it in step again; whether it had to be rebuilt."""
    try:
        return await _keep(conns)
    except sqlite3.Error as exc:  # a read-only file: searches with words cannot be answered
        raise StoreError(
            f"{conns.path}: SQLite's FTS5 full text cannot be rebuilt: {exc}"
        ) from None


async def _keep(conns: Connections) -> bool:
    async with conns.transaction():
        writer = conns.writer
        row = await (await writer.execute(_KEPT)).fetchone()
        if row and row[0] == len(TRIGGERS):
            return False
        counted = await (await writer.execute("SELECT count(*) FROM papers")).fetchone()
        papers = int(counted[0]) if counted else 0
        if papers:
            log.warning(
                "no search index in use: rebuilding SQLite's FTS5 full text of %d papers "
                "(searches wait for it; about a minute a million papers)",
                papers,
            )
        for name in TRIGGERS:
            await writer.execute(f"DROP TRIGGER IF EXISTS {name}")
        await writer.execute("INSERT INTO papers_fts (papers_fts) VALUES ('rebuild')")
        for sql in TRIGGERS.values():
            await writer.execute(sql)
    return True
