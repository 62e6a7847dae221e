"""Paper vectors in PostgreSQL: opaque bytea keyed by paper id, tagged with their model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.store.postgres import codec
from bot.store.postgres.session import Session, Sessions

_APPEARED = "coalesce(p.published, p.first_seen)"


class PostgresVectors:
    """The VectorStore on PostgreSQL."""

    def __init__(self, sessions: Sessions) -> None:
        self._s = sessions

    async def put(self, model: str, vectors: Sequence[tuple[str, bytes]]) -> int:
        pairs = dict(vectors)
        if not pairs:
            return 0
        ids, blobs = list(pairs), list(pairs.values())

        async def work(s: Session) -> int:
            # Delete, then insert: a re-embedded paper takes a new seq, so readers see it.
            await s.execute("DELETE FROM paper_vectors WHERE paper_id = ANY($1::text[])", ids)
            status = await s.execute(
                "INSERT INTO paper_vectors (paper_id, model, vector) "
                "SELECT p.id, $1, v.vector FROM unnest($2::text[], $3::bytea[]) "
                "AS v (paper_id, vector) JOIN papers p ON p.id = v.paper_id "
                "ORDER BY v.paper_id",
                model, ids, blobs,
            )  # fmt: skip
            return int(status.split()[-1])

        return await self._s.write(work)

    async def get(self, model: str, paper_ids: Sequence[str]) -> dict[str, bytes]:
        rows = await self._s.fetch(
            "SELECT paper_id, vector FROM paper_vectors WHERE model = $1 "
            "AND paper_id = ANY($2::text[])",
            model, list(paper_ids),
        )  # fmt: skip
        return {str(r["paper_id"]): bytes(r["vector"]) for r in rows}

    async def have(self, model: str, paper_ids: Sequence[str]) -> set[str]:
        rows = await self._s.fetch(
            "SELECT paper_id FROM paper_vectors WHERE model = $1 AND paper_id = ANY($2::text[])",
            model, list(paper_ids),
        )  # fmt: skip
        return {str(r["paper_id"]) for r in rows}

    @staticmethod
    def _missing_where(since: datetime | None) -> tuple[str, list[Any]]:
        if since is None:
            return "v.paper_id IS NULL", []
        return f"v.paper_id IS NULL AND {_APPEARED} >= $2", [codec.ts(since)]

    async def missing(
        self, model: str, *, since: datetime | None = None, limit: int = 100
    ) -> list[tuple[str, str, str]]:
        where, params = self._missing_where(since)
        rows = await self._s.fetch(
            "SELECT p.id, p.title, p.abstract FROM papers p "
            "LEFT JOIN paper_vectors v ON v.paper_id = p.id AND v.model = $1 "
            f"WHERE {where} ORDER BY {_APPEARED} DESC, p.id LIMIT ${len(params) + 2}",
            model, *params, limit,
        )  # fmt: skip
        return [(str(r["id"]), str(r["title"]), str(r["abstract"])) for r in rows]

    async def count_missing(self, model: str, *, since: datetime | None = None) -> int:
        where, params = self._missing_where(since)
        value = await self._s.fetchval(
            "SELECT count(*) FROM papers p "
            "LEFT JOIN paper_vectors v ON v.paper_id = p.id AND v.model = $1 "
            f"WHERE {where}",
            model, *params,
        )  # fmt: skip
        return int(value or 0)

    async def count(self, model: str) -> int:
        value = await self._s.fetchval("SELECT count(*) FROM paper_vectors WHERE model = $1", model)
        return int(value or 0)

    async def written_after(
        self, model: str, seq: int, limit: int = 10_000
    ) -> list[tuple[int, str, bytes]]:
        rows = await self._s.fetch(
            "SELECT seq, paper_id, vector FROM paper_vectors WHERE model = $1 AND seq > $2 "
            "ORDER BY seq LIMIT $3",
            model, seq, limit,
        )  # fmt: skip
        return [(int(r["seq"]), str(r["paper_id"]), bytes(r["vector"])) for r in rows]

    async def written_in(self, model: str, seqs: Sequence[int]) -> list[tuple[int, str, bytes]]:
        rows = await self._s.fetch(
            "SELECT seq, paper_id, vector FROM paper_vectors WHERE model = $1 "
            "AND seq = ANY($2::bigint[]) ORDER BY seq",
            model, list(seqs),
        )  # fmt: skip
        return [(int(r["seq"]), str(r["paper_id"]), bytes(r["vector"])) for r in rows]
