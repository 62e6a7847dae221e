"""Papers in SQLite: staged bulk upserts, lookups, and running the search plans."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.errors import SearchIndexBuilding, StoreError
from bot.models import (
    Paper,
    SearchHit,
    SearchPage,
    SortOrder,
    UpsertResult,
)
from bot.query.compile import CompiledQuery
from bot.store.common.upsert import merge_batch, plan_upsert
from bot.store.matcher import BatchMatcher
from bot.store.search_index import IndexPage, SearchIndex
from bot.store.sqlite import codec
from bot.store.sqlite.connection import Connections, chunks, marks
from bot.store.sqlite.fulltext import fulltext_kept, keep_fulltext
from bot.store.sqlite.search_sql import build_search, count_cap, prefer_category_listing

log = logging.getLogger(__name__)

# Upserts stage their rows in a temporary table, then reach `papers` in one statement each:
# with one INSERT/UPDATE per row (executemany), every row runs in its own statement savepoint,
# and FTS5 writes its pending index to disk at each savepoint, one-paper segments that it must
# merge again later; bulk loads were 3x slower. Rows carry a batch tag so upserts never mix.
_COLUMNS = ", ".join(codec.PAPER_COLUMNS)
_STAGE_CREATE = f"CREATE TEMP TABLE IF NOT EXISTS paper_batch (batch INTEGER NOT NULL, {_COLUMNS})"
_STAGED_ROW = "(" + ", ".join("?" for _ in range(len(codec.PAPER_COLUMNS) + 1)) + ")"
# Rows staged per INSERT statement, and papers encoded between two turns of the event loop.
# Between two statements (or two rows of one executemany) the writer's thread gives the GIL
# back while SQLite works and must take it again; with the main thread parsing the next batch,
# each retake can wait for the interpreter's switch interval (5 ms), and a statement's result
# waits for the event loop: an import batch spent ~0.4 s staging 10,000 rows one by one
# (~0.2 s alone), and its BEGIN waited ~0.1 s for the next batch's rows to be encoded. SQLite
# takes up to 32,766 parameters a statement since 3.32 (999 before).
_STAGED_AT_ONCE = (
    400 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999 // (len(codec.PAPER_COLUMNS) + 1)
)
_ENCODE_STEP = 500
_STAGED_INSERT = (
    f"INSERT INTO papers ({_COLUMNS}) "
    f"SELECT {_COLUMNS} FROM temp.paper_batch WHERE batch = ? ORDER BY rowid"
)
_STAGED_UPDATE = (
    f"UPDATE papers SET ({', '.join(codec.PAPER_COLUMNS[1:])}) = "
    f"({', '.join(f'b.{c}' for c in codec.PAPER_COLUMNS[1:])}) "
    "FROM temp.paper_batch AS b WHERE b.batch = ? AND papers.id = b.id"
)
_STAGED_CATEGORIES = (
    "INSERT OR IGNORE INTO paper_categories (paper_pk, category) "
    "SELECT p.pk, c.value FROM temp.paper_batch AS b JOIN papers AS p ON p.id = b.id, "
    "json_each(b.categories) AS c WHERE b.batch = ?"
)
_STAGE_CLEAR = "DELETE FROM temp.paper_batch WHERE batch = ?"
_batch_tags = itertools.count(1)
# Papers in one upsert from which it is an import's batch (polls store a few hundred).
BULK_MIN = 5_000
# While the search index is built (and FTS5 is not kept), a search of the papers since a time,
# newest first, is answered by the in-memory matcher when the window holds at most this many.
WINDOW_MAX = 50_000


class SqlitePapers:
    """The PaperRepository on SQLite with its FTS5 index."""

    def __init__(self, conns: Connections, clock: Clock) -> None:
        self._conns = conns
        self._clock = clock
        # The search index relevance searches use when it is ready (set by `open_store`).
        self.index: SearchIndex | None = None

    async def upsert(self, papers: Iterable[Paper]) -> UpsertResult:
        """Insert new papers and merge known ones, in one transaction; report what was new or changed."""
        batch = merge_batch(papers)
        if not batch:
            return UpsertResult()
        now = self._clock()
        # An import's papers are nearly all new: their rows are encoded before the write lock
        # is taken, while the batch before is being written, in steps that let the writer have
        # its next statement meanwhile (see _STAGED_AT_ONCE).
        fresh = await _rows_by_id(batch, now) if len(batch) >= BULK_MIN else {}
        async with self._conns.transaction():
            existing = await self._by_id(list(batch))
            plan = plan_upsert(batch, existing)
            # New papers are first seen now.
            new = [p for op, p in plan.staged if op == "i"]
            inserts = [fresh[p.id] for p in new] if fresh else codec.paper_rows(new, now, now)
            updates = codec.paper_rows([p for op, p in plan.staged if op == "u"], now, now)
            await self._write_staged(_STAGED_INSERT, inserts)
            for chunk in chunks(plan.recategorised):
                await self._conns.writer.execute(
                    "DELETE FROM paper_categories WHERE paper_pk IN "
                    f"(SELECT pk FROM papers WHERE id IN ({marks(chunk)}))",
                    chunk,
                )
            # Categories of updated papers are inserted again: unchanged ones are ignored.
            await self._write_staged(_STAGED_UPDATE, updates)
            # A vector embedded from the old text is missing again, so it is re-embedded.
            for chunk in chunks(plan.retexted):
                await self._conns.writer.execute(
                    f"DELETE FROM paper_vectors WHERE paper_id IN ({marks(chunk)})", chunk
                )
        if self.index is not None and not self._conns.owns_transaction():
            # An import-sized batch lets the index commit later (every BULK_COMMIT papers).
            await self.index.catch_up(lag=len(batch) >= BULK_MIN)
        return plan.result()

    async def _write_staged(self, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Stage full paper rows, apply `statement` to them at once, add their categories."""
        if not rows:
            return
        tag = next(_batch_tags)
        conn = self._conns.writer
        await conn.execute(_STAGE_CREATE)
        tagged = [(tag, *row) for row in rows]
        full = len(tagged) - len(tagged) % _STAGED_AT_ONCE
        if full:
            await conn.executemany(
                _stage_rows(_STAGED_AT_ONCE),
                [_flat(tagged[i : i + _STAGED_AT_ONCE]) for i in range(0, full, _STAGED_AT_ONCE)],
            )
        if full < len(tagged):
            await conn.execute(_stage_rows(len(tagged) - full), _flat(tagged[full:]))
        await conn.execute(statement, (tag,))
        await conn.execute(_STAGED_CATEGORIES, (tag,))
        await conn.execute(_STAGE_CLEAR, (tag,))

    async def _by_id(self, ids: Sequence[str]) -> dict[str, Paper]:
        """The stored papers among these ids, by id (one statement however many ids)."""
        rows = await self._conns.fetchall(
            "SELECT * FROM papers WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
        )
        return {row["id"]: codec.paper_from_row(row) for row in rows}

    async def get(self, paper_id: str) -> Paper | None:
        row = await self._conns.fetchone("SELECT * FROM papers WHERE id = ?", (paper_id,))
        return codec.paper_from_row(row) if row else None

    async def get_many(self, ids: Sequence[str]) -> list[Paper]:
        """Papers by id, in the order asked, skipping unknown ids."""
        found = await self._by_id(list(dict.fromkeys(ids)))
        return [found[i] for i in ids if i in found]

    async def count(self) -> int:
        row = await self._conns.fetchone("SELECT count(*) FROM papers")
        return int(row[0]) if row else 0

    async def search(
        self,
        query: CompiledQuery,
        *,
        limit: int = 10,
        offset: int = 0,
        since: datetime | None = None,
        sort: SortOrder = "relevance",
        hf_only: bool = False,
    ) -> SearchPage:
        """Rank papers for a compiled query: title evidence first, then bm25 x a gentle recency.

        Searches with words go to the search index when it is ready (exact ranking and totals,
        bot/store/search_index.py), whatever the order; while it is built, to FTS5 if FTS5 is
        still kept (bot/store/sqlite/fulltext.py), else they are refused until it is done.
        Searches without words (categories only) run on the tables.
        """
        index = self.index
        if query.fts is not None and index is not None:
            if index.ready:
                now = self._clock()
                if sort == "relevance":
                    found = await index.search(
                        query, now=now, limit=limit, offset=offset, since=since, hf_only=hf_only
                    )
                    return await self._indexed_page(found)
                return await self._indexed_sorted(
                    index, query, sort, now=now, limit=limit, offset=offset, since=since,
                    hf_only=hf_only,
                )  # fmt: skip
            if not await fulltext_kept(self._conns):
                if sort == "recent" and since is not None:  # a new feed's backfill, a preview
                    window = await self._window_matches(query, since, hf_only)
                    if window is not None:
                        hits = tuple(SearchHit(p, 0.0) for p in window[offset : offset + limit])
                        return SearchPage(total=len(window), hits=hits)
                raise SearchIndexBuilding(
                    "the search index is being built (a minute or two a million papers); "
                    "searches with words work again when it is done"
                )
        elif query.fts is not None and not await fulltext_kept(self._conns):
            await keep_fulltext(self._conns)  # opened without its index (tools, tests)
        plan = build_search(
            query,
            now=self._clock(),
            limit=limit,
            offset=offset,
            since=since,
            sort=sort,
            hf_only=hf_only,
        )
        conns = self._conns
        try:
            if query.fts is not None:
                rows = await conns.fetchall(plan.rows.sql, plan.rows.params)
                if rows and plan.pool is not None and rows[0]["pool_size"] < plan.pool:
                    return _page(rows[0]["pool_size"], rows)  # the pool held every match
                total = await self._count(plan.count.sql, plan.count.params)
                cap = count_cap(limit, offset)
                if total > cap:
                    return replace(_page(cap, rows), total_exact=False)
                return _page(total, rows)
            total = await self._count(plan.count.sql, plan.count.params)
            if not total:
                return _page(0, [])
            listing = plan.rows
            if plan.by_category is not None:
                papers = await self._count("SELECT max(pk) FROM papers", {})
                if prefer_category_listing(
                    sort, limit=limit, offset=offset, papers=papers, total=total
                ):
                    listing = plan.by_category
            return _page(total, await conns.fetchall(listing.sql, listing.params))
        except sqlite3.OperationalError as exc:
            # The compiler only emits quoted strings, so this is a bug, not user input: say so.
            log.error("search failed for compiled query %r: %s", query.fts, exc)
            raise StoreError(
                "the search could not be run; this is a bug, please report it"
            ) from exc

    async def search_index_built(self) -> bool:
        index = self.index
        if index is None:  # FTS5 answers
            return True
        await index.wait_built()
        return index.ready

    async def _indexed_page(self, found: IndexPage) -> SearchPage:
        """The index's page as papers, read from the database in the index's order."""
        if not found.hits:
            return SearchPage(total=found.total, hits=())
        rows = await self._conns.fetchall(
            "SELECT * FROM papers WHERE pk IN (SELECT value FROM json_each(?))",
            (json.dumps([hit.pk for hit in found.hits]),),
        )
        by_pk = {int(row["pk"]): row for row in rows}
        hits = tuple(
            SearchHit(codec.paper_from_row(by_pk[hit.pk]), hit.score)
            for hit in found.hits
            if hit.pk in by_pk  # a paper deleted since the index read the log is never shown
        )
        return SearchPage(total=found.total, hits=hits)

    async def _window_matches(
        self, query: CompiledQuery, since: datetime, hf_only: bool
    ) -> list[Paper] | None:
        """Newest first, the papers since a time that the query matches, found by the feeds'
        in-memory matcher: what answers a recent window while the index is built (None when
        the window holds too many papers for that)."""
        papers = await self.recent(since, WINDOW_MAX + 1)
        if len(papers) > WINDOW_MAX:
            return None
        if hf_only:
            papers = [p for p in papers if p.upvotes is not None]
        matched = set(await asyncio.to_thread(_matched_ids, papers, query))
        return [p for p in papers if p.id in matched]

    async def _indexed_sorted(
        self,
        index: SearchIndex,
        query: CompiledQuery,
        sort: SortOrder,
        *,
        now: datetime,
        limit: int,
        offset: int,
        since: datetime | None,
        hf_only: bool,
    ) -> SearchPage:
        """A search with words in another order than relevance ("recent", "upvotes"), from the
        search index and the papers table.

        "recent": the index's own page (newest first, then relevance, then the higher key).
        "upvotes": the upvotes live only here, so the matches Hugging Face knows (the index's
        `hf`: upvotes is not null) are listed by the index and sorted here (most upvoted, then
        newest, then the higher key), then the other matches follow, newest first, from the
        index. Every hit's score is its relevance as the index reports it (cheap: a page's keys
        scored once). Upvotes are counts, never below zero: the papers Hugging Face knows all
        come before the others, as coalesce(upvotes, -1) orders them."""
        if sort == "recent":
            found = await index.search_recent(
                query, now=now, limit=limit, offset=offset, since=since, hf_only=hf_only
            )
            return await self._indexed_page(found)
        keys = await index.matching_keys(query, since=since, hf_only=hf_only, hf=True)
        known = len(keys)
        hits: tuple[SearchHit, ...] = ()
        if offset < known and limit > 0:
            hits = await self._most_upvoted(
                index, query, keys, now=now, limit=min(limit, known - offset), offset=offset,
                since=since, hf_only=hf_only,
            )  # fmt: skip
        # The page's places past the known ones are the others' first places, newest first.
        taken = max(min(known, offset + limit) - offset, 0)
        if hf_only:  # no other match
            return SearchPage(total=known, hits=hits)
        rest = await index.search_recent(
            query, now=now, limit=limit - taken, offset=max(offset - known, 0), since=since,
            hf_only=hf_only, hf=False,
        )  # fmt: skip
        others = await self._indexed_page(rest)
        return SearchPage(total=known + rest.total, hits=hits + others.hits)

    async def _most_upvoted(
        self,
        index: SearchIndex,
        query: CompiledQuery,
        keys: Sequence[int],
        *,
        now: datetime,
        limit: int,
        offset: int,
        since: datetime | None,
        hf_only: bool,
    ) -> tuple[SearchHit, ...]:
        """A page of these papers, most upvoted first, then newest, then the higher key, each
        scored by its relevance (a paper deleted since the index read it is left out)."""
        rows = await self._conns.fetchall(
            "SELECT * FROM papers WHERE pk IN (SELECT value FROM json_each(?)) "
            "ORDER BY upvotes DESC, coalesce(published, first_seen) DESC, pk DESC "
            "LIMIT ? OFFSET ?",
            (json.dumps(list(keys)), limit, offset),
        )
        scores = await index.relevance(
            query, [int(row["pk"]) for row in rows], now=now, since=since, hf_only=hf_only
        )
        return tuple(
            SearchHit(codec.paper_from_row(row), scores.get(int(row["pk"]), 0.0)) for row in rows
        )

    async def _count(self, sql: str, params: dict[str, Any]) -> int:
        row = await self._conns.fetchone(sql, params)
        return int(row[0] or 0) if row else 0

    async def recent(self, since: datetime, limit: int = 5000) -> list[Paper]:
        """Papers that appeared since a time, newest first (what a new feed's backfill looks at)."""
        rows = await self._conns.fetchall(
            "SELECT * FROM papers WHERE coalesce(published, first_seen) >= ? "
            "ORDER BY coalesce(published, first_seen) DESC LIMIT ?",
            (codec.ts(since), limit),
        )
        return [codec.paper_from_row(r) for r in rows]

    async def top(self, since: datetime, limit: int = 10) -> list[Paper]:
        """The most upvoted Hugging Face papers that appeared since a time."""
        rows = await self._conns.fetchall(
            "SELECT * FROM papers WHERE upvotes IS NOT NULL "
            "AND coalesce(hf_submitted_at, published, first_seen) >= ? "
            "ORDER BY upvotes DESC, published DESC LIMIT ?",
            (codec.ts(since), limit),
        )
        return [codec.paper_from_row(r) for r in rows]


def _matched_ids(papers: Sequence[Paper], query: CompiledQuery) -> tuple[str, ...]:
    with BatchMatcher(papers) as matcher:
        return matcher.match(query)


def _page(total: int, rows: Sequence[sqlite3.Row]) -> SearchPage:
    hits = tuple(SearchHit(codec.paper_from_row(r), float(r["score"])) for r in rows)
    return SearchPage(total=total, hits=hits)


async def _rows_by_id(batch: Mapping[str, Paper], now: datetime) -> dict[str, tuple[Any, ...]]:
    """Each paper's row as a new paper first seen `now`, by id, encoded _ENCODE_STEP at a time."""
    papers = list(batch.values())
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(papers), _ENCODE_STEP):
        rows += codec.paper_rows(papers[start : start + _ENCODE_STEP], now, now)
        await asyncio.sleep(0)
    return dict(zip(batch, rows, strict=True))


@functools.lru_cache(maxsize=8)
def _stage_rows(rows: int) -> str:
    """The INSERT that stages `rows` rows in one statement, in their order."""
    values = ", ".join([_STAGED_ROW] * rows)
    return f"INSERT INTO temp.paper_batch (batch, {_COLUMNS}) VALUES {values}"


def _flat(rows: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    return tuple(itertools.chain.from_iterable(rows))
