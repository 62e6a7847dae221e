"""Paper vectors in SQLite: opaque BLOBs keyed by paper id, tagged with their model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.store.sqlite import codec
from bot.store.sqlite.connection import Connections, chunks, marks

_APPEARED = "coalesce(p.published, p.first_seen)"


class SqliteVectors:
    """The VectorStore on SQLite."""

    def __init__(self, conns: Connections) -> None:
        self._conns = conns

    async def put(self, model: str, vectors: Sequence[tuple[str, bytes]]) -> int:
        written = 0
        async with self._conns.transaction():
            conn = self._conns.writer
            for paper_id, blob in dict(vectors).items():
                # Delete, then insert: a re-embedded paper takes a new seq, so readers see it.
                await conn.execute("DELETE FROM paper_vectors WHERE paper_id = ?", (paper_id,))
                cur = await conn.execute(
                    "INSERT INTO paper_vectors (paper_id, model, vector) "
                    "SELECT id, ?, ? FROM papers WHERE id = ?",
                    (model, blob, paper_id),
                )
                written += cur.rowcount
        return written

    async def get(self, model: str, paper_ids: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for part in chunks(list(paper_ids)):
            rows = await self._conns.fetchall(
                f"SELECT paper_id, vector FROM paper_vectors WHERE model = ? "
                f"AND paper_id IN ({marks(part)})",
                (model, *part),
            )
            found.update((str(r["paper_id"]), bytes(r["vector"])) for r in rows)
        return found

    async def have(self, model: str, paper_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for part in chunks(list(paper_ids)):
            rows = await self._conns.fetchall(
                f"SELECT paper_id FROM paper_vectors WHERE model = ? AND paper_id IN ({marks(part)})",
                (model, *part),
            )
            found.update(str(r["paper_id"]) for r in rows)
        return found

    def _missing_where(self, since: datetime | None) -> tuple[str, tuple[object, ...]]:
        where = "v.paper_id IS NULL"
        params: tuple[object, ...] = ()
        if since is not None:
            where += f" AND {_APPEARED} >= ?"
            params = (codec.ts(since),)
        return where, params

    async def missing(
        self, model: str, *, since: datetime | None = None, limit: int = 100
    ) -> list[tuple[str, str, str]]:
        where, params = self._missing_where(since)
        rows = await self._conns.fetchall(
            "SELECT p.id, p.title, p.abstract FROM papers p "
            "LEFT JOIN paper_vectors v ON v.paper_id = p.id AND v.model = ? "
            f"WHERE {where} ORDER BY {_APPEARED} DESC, p.id LIMIT ?",
            (model, *params, limit),
        )
        return [(str(r["id"]), str(r["title"]), str(r["abstract"])) for r in rows]

    async def count_missing(self, model: str, *, since: datetime | None = None) -> int:
        where, params = self._missing_where(since)
        row = await self._conns.fetchone(
            "SELECT count(*) FROM papers p "
            "LEFT JOIN paper_vectors v ON v.paper_id = p.id AND v.model = ? "
            f"WHERE {where}",
            (model, *params),
        )
        return int(row[0]) if row else 0

    async def count(self, model: str) -> int:
        row = await self._conns.fetchone(
            "SELECT count(*) FROM paper_vectors WHERE model = ?", (model,)
        )
        return int(row[0]) if row else 0

    async def written_after(
        self, model: str, seq: int, limit: int = 10_000
    ) -> list[tuple[int, str, bytes]]:
        rows = await self._conns.fetchall(
            "SELECT seq, paper_id, vector FROM paper_vectors WHERE model = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (model, seq, limit),
        )
        return [(int(r["seq"]), str(r["paper_id"]), bytes(r["vector"])) for r in rows]

    async def written_in(self, model: str, seqs: Sequence[int]) -> list[tuple[int, str, bytes]]:
        found: list[tuple[int, str, bytes]] = []
        for start in range(0, len(seqs), 500):
            part = list(seqs[start : start + 500])
            rows = await self._conns.fetchall(
                f"SELECT seq, paper_id, vector FROM paper_vectors WHERE model = ? "
                f"AND seq IN ({marks(part)}) ORDER BY seq",
                (model, *part),
            )
            found.extend((int(r["seq"]), str(r["paper_id"]), bytes(r["vector"])) for r in rows)
        return found
