"""What a local search index reads from PostgreSQL: the changes by transaction, and the papers.

Many processes, each with its own index, read the same database, so nothing here is pruned by a
reader; each keeps its own watermark (`paperfeed.json` in its index directory). The order is the
id of the transaction that last changed a paper's indexed fields (`papers.change_xid` and
`paper_tombstones.change_xid`, set by migration 0010's triggers), never a sequence: a sequence
number is taken before its transaction commits, so a reader could see 11 while 10 is still
open, advance past 10 and skip it forever.

The watermark (`head`) is one below the oldest transaction still running on the server
(``pg_snapshot_xmin(pg_current_snapshot())``): every transaction with a smaller id has ended,
committed or not, so a row marked at or below the watermark that is not visible now never will
be, and one that is, is read by the next `changed`. A transaction that takes a lower id and
commits after a higher one is simply not below the watermark until it ends. The price: one long
transaction anywhere on the server holds every index back until it ends (searches meanwhile
still find everything older). A restored dump starts again from low ids: the watermark then falls
below what an index recorded, and the index is rebuilt (TantivyIndex.open).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from bot.store.postgres.session import Sessions
from bot.store.tantivy_index import IndexDoc

_COLUMNS = (
    "pk, title, author_text, abstract, categories, "
    "floor(extract(epoch FROM coalesce(published, first_seen)))::bigint AS appeared, "
    "upvotes IS NOT NULL AS hf"
)
# Below this, every transaction has ended (see the module docstring).
HEAD = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1"
CHANGED = (
    "SELECT pk FROM papers WHERE change_xid > $1::bigint::text::xid8 "
    "AND change_xid <= $2::bigint::text::xid8 "
    "UNION SELECT paper_pk FROM paper_tombstones WHERE change_xid > $1::bigint::text::xid8 "
    "AND change_xid <= $2::bigint::text::xid8"
)


class PostgresChangeFeed:
    """The `ChangeFeed` of a PostgreSQL store (migration 0010's transaction marks)."""

    def __init__(self, sessions: Sessions) -> None:
        self._s = sessions

    async def head(self) -> int:
        """The watermark: every change marked at or below it is committed and visible, or never will be."""
        return int(await self._s.fetchval(HEAD))

    async def changed(self, after: int, upto: int) -> list[int]:
        rows = await self._s.fetch(CHANGED, after, upto)
        return [int(r[0]) for r in rows]

    async def documents(self, pks: Sequence[int]) -> list[IndexDoc]:
        rows = await self._s.fetch(
            f"SELECT {_COLUMNS} FROM papers WHERE pk = ANY($1::bigint[])", list(pks)
        )
        return [_doc(r) for r in rows]

    async def scan(self, after_pk: int, limit: int) -> list[IndexDoc]:
        rows = await self._s.fetch(
            f"SELECT {_COLUMNS} FROM papers WHERE pk > $1 ORDER BY pk LIMIT $2", after_pk, limit
        )
        return [_doc(r) for r in rows]

    async def count(self) -> int:
        return int(await self._s.fetchval("SELECT count(*) FROM papers"))

    async def identity(self) -> str:
        """Which database this is (its oid and name): an index made from another one, or from
        this name before it was dropped and restored, must not be used."""
        return str(
            await self._s.fetchval(
                "SELECT oid::text || ':' || datname FROM pg_database "
                "WHERE datname = current_database()"
            )
        )

    async def forget(self, upto: int) -> None:
        """Nothing: other processes read the same marks (tombstones are a few rows, kept)."""


def _doc(r: asyncpg.Record) -> IndexDoc:
    return IndexDoc(
        pk=int(r["pk"]),
        title=r["title"] or "",
        authors=r["author_text"] or "",
        abstract=r["abstract"] or "",
        categories=tuple(r["categories"] or ()),
        appeared=int(r["appeared"] or 0),
        hf=bool(r["hf"]),
    )
