"""What the search index reads from a SQLite file: the change log and the papers' indexed fields."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

import orjson

from bot.store.sqlite.connection import Connections
from bot.store.tantivy_index import IndexDoc

# `appeared` as Unix seconds, converted by SQLite on the reader's thread (second precision, UTC:
# codec.ts), not by Python on the event loop's: an import reads back every paper it stores.
_COLUMNS = (
    "pk, title, author_text, abstract, categories, "
    "coalesce(CAST(strftime('%s', coalesce(published, first_seen)) AS INTEGER), 0) AS appeared, "
    "upvotes IS NOT NULL AS hf"
)


class SqliteChangeFeed:
    """The `ChangeFeed` of a SQLite store (migration 0007's `search_changes` log)."""

    def __init__(self, conns: Connections) -> None:
        self._conns = conns

    async def head(self) -> int:
        """The last change's number; AUTOINCREMENT keeps it after the log is pruned."""
        row = await self._conns.fetchone(
            "SELECT seq FROM sqlite_sequence WHERE name = 'search_changes'"
        )
        return int(row[0]) if row else 0

    async def changed(self, after: int, upto: int) -> list[int]:
        rows = await self._conns.fetchall(
            "SELECT DISTINCT paper_pk FROM search_changes WHERE seq > ? AND seq <= ?",
            (after, upto),
        )
        return [int(r[0]) for r in rows]

    async def documents(self, pks: Sequence[int]) -> list[IndexDoc]:
        rows = await self._conns.fetchall(
            f"SELECT {_COLUMNS} FROM papers WHERE pk IN (SELECT value FROM json_each(?))",
            (json.dumps(list(pks)),),
        )
        return [_doc(r) for r in rows]

    async def scan(self, after_pk: int, limit: int) -> list[IndexDoc]:
        rows = await self._conns.fetchall(
            f"SELECT {_COLUMNS} FROM papers WHERE pk > ? ORDER BY pk LIMIT ?", (after_pk, limit)
        )
        return [_doc(r) for r in rows]

    async def count(self) -> int:
        row = await self._conns.fetchone("SELECT count(*) FROM papers")
        return int(row[0]) if row else 0

    async def forget(self, upto: int) -> None:
        """Drop the log up to what the index has applied (skipped inside another transaction)."""
        if self._conns.owns_transaction():
            return
        async with self._conns.transaction():
            await self._conns.writer.execute("DELETE FROM search_changes WHERE seq <= ?", (upto,))


def _doc(r: sqlite3.Row) -> IndexDoc:
    return IndexDoc(
        pk=r["pk"],
        title=r["title"] or "",
        authors=r["author_text"] or "",
        abstract=r["abstract"] or "",
        categories=tuple(orjson.loads(r["categories"] or "[]")),
        appeared=r["appeared"],
        hf=bool(r["hf"]),
    )
