"""The paper store: every SQL statement the program runs against its database lives here."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import aiosqlite

from bot.errors import StoreError
from bot.models import (
    Delivery,
    DeliveryState,
    Feed,
    FeedOrigin,
    FeedSpec,
    Paper,
    SearchHit,
    SearchPage,
    SourceHealth,
    SourceRun,
    UpsertResult,
    feed_relevant_change,
    merge_papers,
)
from bot.store import codec
from bot.store.migrate import migrate

if TYPE_CHECKING:
    from bot.query import CompiledQuery

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SortOrder = Literal["relevance", "recent", "upvotes"]

# bm25 column weights: title, authors, abstract.
_BM25 = "bm25(papers_fts, 10.0, 4.0, 1.0)"
# A gentle recency tie-break: at most +10 % for a paper published today, fading over ~6 months.
_RECENCY = "(1.0 + 0.1 / (1.0 + max(0.0, julianday(:now) - julianday(coalesce(p.published, p.first_seen))) / 180.0))"
# The most _RECENCY can multiply a score by (a hair above 1.1, against rounding).
_RECENCY_MAX = 1.1000001
# Relevance ranks at most this many matches: the newest ones (highest pk, the order papers
# arrived in). Ranking costs a bm25 evaluation per match (3-20 us), so without a bound a word
# found in a third of a million papers takes most of a second to rank; with it, tens of ms.
# Queries with fewer matches are ranked exactly; `total` always counts every match. See
# docs/benchmarks.md for what the bound costs in ranking quality.
_RANK_POOL = 2_000
_SQL_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
# Upserts stage their rows in a temporary table, then reach `papers` in one statement each:
# with one INSERT/UPDATE per row (executemany), every row runs in its own statement savepoint,
# and FTS5 writes its pending index to disk at each savepoint, one-paper segments that it must
# merge again later; bulk loads were 3x slower. Rows carry a batch tag so upserts never mix.
_COLUMNS = ", ".join(codec.PAPER_COLUMNS)
_STAGE_CREATE = f"CREATE TEMP TABLE IF NOT EXISTS paper_batch (batch INTEGER NOT NULL, {_COLUMNS})"
_STAGE_ROWS = (
    f"INSERT INTO temp.paper_batch (batch, {_COLUMNS}) "
    f"VALUES (?, {', '.join('?' for _ in codec.PAPER_COLUMNS)})"
)
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


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DueDelivery:
    """A delivery with what the publisher needs to send it: where and for which feed."""

    delivery: Delivery
    channel_id: int
    feed_name: str
    guild_id: int | None
    nonce: str | None
    thread_id: int | None
    attempted_at: datetime | None


def _due(row: sqlite3.Row) -> DueDelivery:
    return DueDelivery(
        delivery=codec.delivery_from_row(row),
        channel_id=int(row["channel_id"]),
        feed_name=str(row["feed_name"]),
        guild_id=row["guild_id"],
        nonce=row["nonce"],
        thread_id=row["thread_id"],
        attempted_at=codec.parse_ts(row["attempted_at"]),
    )


class Store:
    """One aiosqlite connection, opened by `open_store` and closed when its block ends."""

    def __init__(self, conn: aiosqlite.Connection, path: str, clock: Clock = utcnow) -> None:
        self._conn = conn
        self.path = path
        self._clock = clock
        self._in_transaction = False
        self._write_lock = asyncio.Lock()
        # True inside this store's transaction, for the task (context) that opened it.
        self._owner: contextvars.ContextVar[bool] = contextvars.ContextVar(
            f"paperfeed_store_{id(self)}", default=False
        )

    # -- transactions -------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Everything inside commits together or not at all.

        One connection serves every task, so transactions take turns (a lock): a delivery
        recorded while a poll's transaction is open must not become part of it, or a rollback
        of the poll would forget that the message was sent. Nesting within one task joins the
        outer transaction.
        """
        if self._owner.get():
            yield
            return
        async with self._write_lock:
            token = self._owner.set(True)
            self._in_transaction = True
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    await self._conn.rollback()
                    raise
                await self._conn.commit()
            except sqlite3.Error as exc:
                raise StoreError(f"database error: {exc}") from exc
            finally:
                self._in_transaction = False
                self._owner.reset(token)

    async def _fetchall(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[sqlite3.Row]:
        async with self._conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def _fetchone(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> sqlite3.Row | None:
        async with self._conn.execute(sql, params) as cur:
            return await cur.fetchone()

    # -- papers -------------------------------------------------------------------------------

    async def upsert_papers(self, papers: Iterable[Paper]) -> UpsertResult:
        """Insert new papers and merge known ones, in one transaction; report what was new or changed."""
        batch: dict[str, Paper] = {}
        for paper in papers:  # the same paper twice in one batch merges first
            batch[paper.id] = merge_papers(batch[paper.id], paper) if paper.id in batch else paper
        if not batch:
            return UpsertResult()
        now = self._clock()
        async with self.transaction():
            existing = await self._papers_by_id(list(batch))
            inserts: list[tuple[Any, ...]] = []
            updates: list[tuple[Any, ...]] = []
            recategorised: list[str] = []
            new_ids: list[str] = []
            updated_ids: list[str] = []
            changed_ids: list[str] = []
            unchanged = 0
            for paper_id, incoming in batch.items():
                old = existing.get(paper_id)
                if old is None:
                    inserts.append(codec.paper_row(incoming, now, now))  # first seen: now
                    new_ids.append(paper_id)
                    continue
                merged = merge_papers(old, incoming)
                if merged == old:
                    unchanged += 1
                    continue
                updates.append(codec.paper_row(merged, now, now))
                changed_ids.append(paper_id)
                if merged.categories != old.categories:
                    recategorised.append(paper_id)
                if feed_relevant_change(old, merged):
                    updated_ids.append(paper_id)
            await self._write_staged(_STAGED_INSERT, inserts)
            for chunk in _chunks(recategorised):
                await self._conn.execute(
                    "DELETE FROM paper_categories WHERE paper_pk IN "
                    f"(SELECT pk FROM papers WHERE id IN ({_marks(chunk)}))",
                    chunk,
                )
            # Categories of updated papers are inserted again: unchanged ones are ignored.
            await self._write_staged(_STAGED_UPDATE, updates)
        return UpsertResult(
            new=tuple(new_ids),
            updated=tuple(updated_ids),
            unchanged=unchanged,
            changed=tuple(changed_ids),
        )

    async def _write_staged(self, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Stage full paper rows, apply `statement` to them at once, add their categories."""
        if not rows:
            return
        tag = next(_batch_tags)
        await self._conn.execute(_STAGE_CREATE)
        await self._conn.executemany(_STAGE_ROWS, [(tag, *row) for row in rows])
        await self._conn.execute(statement, (tag,))
        await self._conn.execute(_STAGED_CATEGORIES, (tag,))
        await self._conn.execute(_STAGE_CLEAR, (tag,))

    async def _papers_by_id(self, ids: Sequence[str]) -> dict[str, Paper]:
        """The stored papers among these ids, by id (one statement however many ids)."""
        rows = await self._fetchall(
            "SELECT * FROM papers WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
        )
        return {row["id"]: codec.paper_from_row(row) for row in rows}

    async def get_paper(self, paper_id: str) -> Paper | None:
        row = await self._fetchone("SELECT * FROM papers WHERE id = ?", (paper_id,))
        return codec.paper_from_row(row) if row else None

    async def get_papers(self, ids: Sequence[str]) -> list[Paper]:
        """Papers by id, in the order asked, skipping unknown ids."""
        found = await self._papers_by_id(list(dict.fromkeys(ids)))
        return [found[i] for i in ids if i in found]

    async def count_papers(self) -> int:
        row = await self._fetchone("SELECT count(*) FROM papers")
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

        A title that holds every query word beats one that holds some, whatever the abstracts
        say; one holding them close together, or as the phrase, beats that. Within a tier, bm25
        with field weights, times the recency bonus, decides.

        Relevance ranks the newest `_RANK_POOL` matches (all of them when there are fewer):
        bm25 and the title tier inside the full-text index first, then papers' rows only for
        the candidates above the page's last one in tier, or in its tier with bm25 within the
        recency bonus of it, since no other can reach the page.
        """
        now = codec.ts(self._clock())
        params: dict[str, Any] = {"now": now, "limit": limit, "offset": offset}
        needs_row = since is not None or hf_only
        if query.fts is not None:
            # Counting and candidate search stay inside the index unless a filter needs the row.
            joins: list[str] = []
            where, params = _filters(
                query, since, hf_only, params, pk="papers_fts.rowid", joins=joins
            )
            where.insert(0, "papers_fts MATCH :fts")
            params["fts"] = query.fts
            source = "papers_fts"
            if needs_row:
                source += " JOIN papers p ON p.pk = papers_fts.rowid"
            source = " ".join([source, *joins])
        else:
            where, params = _filters(query, since, hf_only, params)
            source = "papers p"
        where_sql = " AND ".join(where) if where else "1"
        count_sql = f"SELECT count(*) FROM {source} WHERE {where_sql}"
        count_params = params
        if query.fts is None:
            # Only cat: filters: count (and maybe list) from the category index instead of
            # testing every paper. Its own parameters: the names differ from `where`'s.
            count_params = dict(params)
            in_categories = _in_categories(query, since, hf_only, count_params)
            count_sql = f"SELECT count(*) FROM {in_categories}"
        if query.fts is not None and sort == "relevance":
            params["pool"] = max(_RANK_POOL, limit + offset)
            params["last"] = max(limit + offset - 1, 0)
            params["boost"] = _RECENCY_MAX
            # Title evidence, each set read from the index over the pool's rowid range only.
            evidence, tier = "", "0"
            for n, expression in enumerate(query.title_evidence):
                params[f"t{n}"] = expression
                evidence += (
                    f"t{n} AS MATERIALIZED (SELECT rowid AS pk FROM papers_fts "
                    f"WHERE papers_fts MATCH :t{n} AND rowid >= (SELECT min(pk) FROM pool)), "
                )
                tier += f" + (pool.pk IN (SELECT pk FROM t{n}))"
            relevance = f"(ranked.rel * {_RECENCY})"
            select = (
                f"WITH pool AS MATERIALIZED (SELECT papers_fts.rowid AS pk, -{_BM25} AS rel "
                f"FROM {source} WHERE {where_sql} ORDER BY papers_fts.rowid DESC LIMIT :pool), "
                f"{evidence}"
                f"ranked AS MATERIALIZED (SELECT pk, rel, {tier} AS tier FROM pool), "
                "cut AS (SELECT tier, rel FROM ranked ORDER BY tier DESC, rel DESC "
                "LIMIT 1 OFFSET :last) "
                # The tier first; within it bm25 x recency, squashed below 1 so the score
                # itself orders the results (tier 2 with any relevance beats tier 1).
                f"SELECT p.*, ranked.tier + {relevance} / (1.0 + {relevance}) AS score, "
                "(SELECT count(*) FROM pool) AS pool_size "
                "FROM ranked JOIN papers p ON p.pk = ranked.pk, "
                "(SELECT coalesce(max(tier), -1) AS tier, coalesce(max(rel), 0.0) AS rel FROM cut) AS c "
                "WHERE ranked.tier > c.tier OR (ranked.tier = c.tier AND ranked.rel * :boost >= c.rel) "
                "ORDER BY score DESC, p.published DESC LIMIT :limit OFFSET :offset"
            )
        else:
            full, score = source, "0.0"
            if query.fts is not None:
                score = f"(-{_BM25}) * {_RECENCY}"
                if not needs_row:
                    full += " JOIN papers p ON p.pk = papers_fts.rowid"
            order = {
                "relevance": "coalesce(p.published, p.first_seen) DESC",  # no words: newest
                "recent": "coalesce(p.published, p.first_seen) DESC, score DESC",
                "upvotes": "coalesce(p.upvotes, -1) DESC, coalesce(p.published, p.first_seen) DESC",
            }[sort]
            select = (
                f"SELECT p.*, {score} AS score FROM {full} WHERE {where_sql} "
                f"ORDER BY {order} LIMIT :limit OFFSET :offset"
            )
        try:
            if query.fts is not None:
                rows = await self._fetchall(select, params)
                if rows and "pool" in params and rows[0]["pool_size"] < params["pool"]:
                    return _page(rows[0]["pool_size"], rows)  # the pool held every match
                count = await self._fetchone(count_sql, count_params)
                return _page(int(count[0]) if count else 0, rows)
            count = await self._fetchone(count_sql, count_params)
            total = int(count[0]) if count else 0
            if total:
                # Newest first can walk the papers_appeared index, visiting about
                # (limit + offset) x papers / total entries; listing the category's papers
                # and sorting them costs about `total`. Take the cheaper; upvotes must sort.
                row = await self._fetchone("SELECT max(pk) FROM papers")
                papers = int(row[0] or 0) if row else 0
                if sort == "upvotes" or (limit + offset) * papers > total * total:
                    order = "coalesce(p.published, p.first_seen) || '' DESC"  # not the index
                    if sort == "upvotes":
                        order = "coalesce(p.upvotes, -1) DESC, " + order
                    select = (
                        "SELECT p.*, 0.0 AS score FROM papers p WHERE p.pk IN "
                        f"(SELECT c.pk FROM {in_categories}) ORDER BY {order} "
                        "LIMIT :limit OFFSET :offset"
                    )
                    params = count_params
            rows = await self._fetchall(select, params) if total else []
        except sqlite3.OperationalError as exc:
            # The compiler only emits quoted strings, so this is a bug, not user input: say so.
            log.error("search failed for compiled query %r: %s", query.fts, exc)
            raise StoreError(
                "the search could not be run; this is a bug, please report it"
            ) from exc
        return _page(total, rows)

    async def recent_papers(self, since: datetime, limit: int = 5000) -> list[Paper]:
        """Papers that appeared since a time, newest first (what a new feed's backfill looks at)."""
        rows = await self._fetchall(
            "SELECT * FROM papers WHERE coalesce(published, first_seen) >= ? "
            "ORDER BY coalesce(published, first_seen) DESC LIMIT ?",
            (codec.ts(since), limit),
        )
        return [codec.paper_from_row(r) for r in rows]

    async def top_papers(self, since: datetime, limit: int = 10) -> list[Paper]:
        """The most upvoted Hugging Face papers that appeared since a time."""
        rows = await self._fetchall(
            "SELECT * FROM papers WHERE upvotes IS NOT NULL "
            "AND coalesce(hf_submitted_at, published, first_seen) >= ? "
            "ORDER BY upvotes DESC, published DESC LIMIT ?",
            (codec.ts(since), limit),
        )
        return [codec.paper_from_row(r) for r in rows]

    # -- feeds --------------------------------------------------------------------------------

    async def add_feed(
        self,
        spec: FeedSpec,
        *,
        guild_id: int | None,
        origin: FeedOrigin = FeedOrigin.DISCORD,
        backfill_used: int | None = None,
    ) -> Feed:
        """Store a new feed; a name already used in the guild is a StoreError.

        `backfill_used` defaults to all of it: a feed added without its backfill takes no
        backlog later either (`feeds import --no-backfill`).
        """
        used = spec.backfill if backfill_used is None else backfill_used
        try:
            async with self.transaction():
                cur = await self._conn.execute(
                    "INSERT INTO feeds (name, guild_id, channel_id, query, categories, sources, "
                    "min_upvotes, mode, digest_time, digest_size, backfill, origin, created_at, "
                    "backfill_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*_spec_values(spec, guild_id), origin.value, codec.ts(self._clock()), used),
                )
                feed_id = cur.lastrowid
        except (StoreError, sqlite3.IntegrityError) as exc:
            if "UNIQUE" in str(exc):
                raise StoreError(f'a feed named "{spec.name}" already exists here') from None
            raise
        feed = await self.get_feed(int(feed_id or 0))
        assert feed is not None
        return feed

    async def update_feed(self, feed_id: int, spec: FeedSpec, guild_id: int | None) -> None:
        async with self.transaction():
            await self._conn.execute(
                "UPDATE feeds SET name = ?, guild_id = ?, channel_id = ?, query = ?, categories = ?, "
                "sources = ?, min_upvotes = ?, mode = ?, digest_time = ?, digest_size = ?, "
                "backfill = ? WHERE id = ?",
                (*_spec_values(spec, guild_id), feed_id),
            )

    async def get_feed(self, feed_id: int) -> Feed | None:
        row = await self._fetchone("SELECT * FROM feeds WHERE id = ?", (feed_id,))
        return codec.feed_from_row(row) if row else None

    async def find_feed(self, name: str, guild_id: int | None) -> Feed | None:
        """A feed by name within one guild (None = config feeds not yet bound to a guild)."""
        row = await self._fetchone(
            "SELECT * FROM feeds WHERE name = ? AND coalesce(guild_id, 0) = ?",
            (name, guild_id or 0),
        )
        return codec.feed_from_row(row) if row else None

    async def list_feeds(
        self, *, guild_id: int | None = None, active_only: bool = False
    ) -> list[Feed]:
        sql = "SELECT * FROM feeds"
        clauses: list[str] = []
        params: list[Any] = []
        if guild_id is not None:
            clauses.append("guild_id = ?")
            params.append(guild_id)
        if active_only:
            clauses.append("paused = 0")
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        rows = await self._fetchall(sql + " ORDER BY id", params)
        return [codec.feed_from_row(r) for r in rows]

    async def remove_feed(self, feed_id: int) -> bool:
        async with self.transaction():
            cur = await self._conn.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))
            return (cur.rowcount or 0) > 0

    async def set_feed_paused(self, feed_id: int, paused: bool, reason: str | None = None) -> None:
        async with self.transaction():
            await self._conn.execute(
                "UPDATE feeds SET paused = ?, pause_reason = ? WHERE id = ?",
                (int(paused), reason if paused else None, feed_id),
            )

    async def sync_config_feeds(self, specs: Sequence[FeedSpec]) -> tuple[list[Feed], list[Feed]]:
        """Make the file-managed feeds equal the config's [[feeds]]; return (added, removed)."""
        current = {f.name: f for f in await self.list_feeds() if f.origin is FeedOrigin.CONFIG}
        wanted = {s.name: s for s in specs}
        added: list[Feed] = []
        removed = [f for name, f in current.items() if name not in wanted]
        for feed in removed:
            await self.remove_feed(feed.id)
        for name, spec in wanted.items():
            if name in current:
                if current[name].spec != spec:
                    await self.update_feed(current[name].id, spec, current[name].guild_id)
            else:
                added.append(
                    await self.add_feed(
                        spec, guild_id=None, origin=FeedOrigin.CONFIG, backfill_used=0
                    )
                )
        return added, removed

    async def backfill_left(self) -> dict[int, int]:
        """Active feeds that may still take old papers (backlog), with how many."""
        rows = await self._fetchall(
            "SELECT id, backfill - backfill_used AS left FROM feeds "
            "WHERE paused = 0 AND backfill > backfill_used"
        )
        return {int(r["id"]): int(r["left"]) for r in rows}

    async def use_backfill(self, feed_id: int, count: int) -> None:
        """Count old papers queued to a feed against its `backfill`."""
        if count <= 0:
            return
        async with self.transaction():
            await self._conn.execute(
                "UPDATE feeds SET backfill_used = backfill_used + ? WHERE id = ?", (count, feed_id)
            )

    async def bind_feed_guild(self, feed_id: int, guild_id: int) -> None:
        """Record the guild of a config feed once Discord tells us where its channel lives."""
        async with self.transaction():
            await self._conn.execute(
                "UPDATE feeds SET guild_id = ? WHERE id = ? AND guild_id IS NULL",
                (guild_id, feed_id),
            )

    # -- deliveries (the outbox) --------------------------------------------------------------

    async def queue_deliveries(self, pairs: Iterable[tuple[int, str]]) -> int:
        """Owe papers to feeds; a (feed, paper) pair is owed once, ever. Returns how many are new."""
        rows = [(feed_id, paper_id, codec.ts(self._clock())) for feed_id, paper_id in pairs]
        if not rows:
            return 0
        async with self.transaction():
            before = self._conn.total_changes
            await self._conn.executemany(
                "INSERT OR IGNORE INTO deliveries (feed_id, paper_id, queued_at) VALUES (?, ?, ?)",
                rows,
            )
            return self._conn.total_changes - before

    async def deliveries(
        self, *, feed_id: int | None = None, states: Sequence[DeliveryState] | None = None
    ) -> list[Delivery]:
        clauses: list[str] = []
        params: list[Any] = []
        if feed_id is not None:
            clauses.append("feed_id = ?")
            params.append(feed_id)
        if states:
            clauses.append(f"state IN ({_marks(states)})")
            params.extend(s.value for s in states)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = await self._fetchall(f"SELECT * FROM deliveries{where} ORDER BY id", params)
        return [codec.delivery_from_row(r) for r in rows]

    async def queue_depth(self) -> int:
        row = await self._fetchone(
            "SELECT count(*) FROM deliveries WHERE state IN ('queued', 'sending')"
        )
        return int(row[0]) if row else 0

    # -- publishing from the outbox -----------------------------------------------------------

    async def due_deliveries(self, now: datetime, limit: int = 500) -> list[DueDelivery]:
        """Queued deliveries of active instant feeds whose retry time has come, oldest first."""
        rows = await self._fetchall(
            "SELECT d.*, f.channel_id AS channel_id, f.name AS feed_name, f.guild_id AS guild_id "
            "FROM deliveries d JOIN feeds f ON f.id = d.feed_id "
            "WHERE d.state = 'queued' AND f.paused = 0 AND f.mode = 'instant' "
            "AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ?) "
            "ORDER BY d.id LIMIT ?",
            (codec.ts(now), limit),
        )
        return [_due(r) for r in rows]

    async def in_flight_deliveries(self) -> list[DueDelivery]:
        """Deliveries whose send was recorded but whose outcome was not: reconcile these first."""
        rows = await self._fetchall(
            "SELECT d.*, f.channel_id AS channel_id, f.name AS feed_name, f.guild_id AS guild_id "
            "FROM deliveries d JOIN feeds f ON f.id = d.feed_id "
            "WHERE d.state = 'sending' ORDER BY d.id"
        )
        return [_due(r) for r in rows]

    async def mark_sending(
        self, delivery_ids: Sequence[int], nonce: str | None, now: datetime
    ) -> None:
        """Record the attempt before the send, so a crash leaves a trace to reconcile."""
        async with self.transaction():
            await self._conn.executemany(
                "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, "
                "nonce = coalesce(?, nonce), attempted_at = ? WHERE id = ?",
                [(nonce, codec.ts(now), i) for i in delivery_ids],
            )

    async def mark_sent(
        self,
        delivery_ids: Sequence[int],
        message_id: int,
        now: datetime,
        thread_id: int | None = None,
    ) -> None:
        async with self.transaction():
            await self._conn.executemany(
                "UPDATE deliveries SET state = 'sent', message_id = ?, thread_id = ?, sent_at = ?, "
                "error = NULL WHERE id = ?",
                [(message_id, thread_id, codec.ts(now), i) for i in delivery_ids],
            )
            await self._conn.execute(
                "UPDATE feeds SET last_post_at = ? WHERE id IN "
                f"(SELECT feed_id FROM deliveries WHERE id IN ({_marks(delivery_ids)}))",
                (codec.ts(now), *delivery_ids),
            )

    async def mark_retry(self, delivery_id: int, error: str, next_attempt_at: datetime) -> None:
        """Back to the queue after a transient failure, not before `next_attempt_at`."""
        async with self.transaction():
            await self._conn.execute(
                "UPDATE deliveries SET state = 'queued', error = ?, next_attempt_at = ? WHERE id = ?",
                (error, codec.ts(next_attempt_at), delivery_id),
            )

    async def requeue(self, delivery_ids: Sequence[int], error: str | None = None) -> None:
        """Undo an attempt that never reached Discord (the feed paused, or shutdown)."""
        async with self.transaction():
            await self._conn.executemany(
                "UPDATE deliveries SET state = 'queued', error = coalesce(?, error) WHERE id = ?",
                [(error, i) for i in delivery_ids],
            )

    async def mark_failed(self, delivery_ids: Sequence[int], error: str) -> None:
        """Discord refused the message for good (e.g. 400); keep the reason for /status."""
        async with self.transaction():
            await self._conn.executemany(
                "UPDATE deliveries SET state = 'failed', error = ? WHERE id = ?",
                [(error, i) for i in delivery_ids],
            )

    async def mark_skipped(self, delivery_ids: Sequence[int], reason: str) -> None:
        async with self.transaction():
            await self._conn.executemany(
                "UPDATE deliveries SET state = 'skipped', error = ? WHERE id = ?",
                [(reason, i) for i in delivery_ids],
            )

    async def posted_to_channel_by_others(
        self, channel_id: int, paper_ids: Sequence[str], feed_id: int
    ) -> dict[str, str]:
        """Papers that a feed other than `feed_id` sent (or is sending) to this channel, each
        with that feed's name: one channel never gets the same paper twice."""
        if not paper_ids:
            return {}
        rows = await self._fetchall(
            "SELECT d.paper_id AS paper_id, f.name AS feed_name FROM feeds f "
            "JOIN deliveries d ON d.feed_id = f.id "
            "WHERE f.channel_id = ? AND f.id != ? AND d.state IN ('sent', 'sending') "
            "AND d.paper_id IN (SELECT value FROM json_each(?)) ORDER BY d.id DESC",
            (channel_id, feed_id, json.dumps(list(paper_ids))),
        )
        return {str(r["paper_id"]): str(r["feed_name"]) for r in rows}

    async def digest_candidates(self, feed_id: int) -> list[tuple[int, Paper]]:
        """A digest feed's queued papers, best first: most upvoted, then most recent."""
        rows = await self._fetchall(
            "SELECT d.id AS delivery_id, p.* FROM deliveries d JOIN papers p ON p.id = d.paper_id "
            "WHERE d.feed_id = ? AND d.state IN ('queued', 'sending') "
            "ORDER BY coalesce(p.upvotes, -1) DESC, coalesce(p.published, p.first_seen) DESC, d.id",
            (feed_id,),
        )
        return [(int(r["delivery_id"]), codec.paper_from_row(r)) for r in rows]

    async def set_last_digest(self, feed_id: int, day: str) -> None:
        async with self.transaction():
            await self._conn.execute(
                "UPDATE feeds SET last_digest_on = ? WHERE id = ?", (day, feed_id)
            )

    async def last_digest(self, feed_id: int) -> str | None:
        row = await self._fetchone("SELECT last_digest_on FROM feeds WHERE id = ?", (feed_id,))
        return str(row[0]) if row and row[0] else None

    async def delivery_counts(self, since: datetime) -> dict[str, int]:
        """Deliveries by state (sent ones only since a time), for status and metrics."""
        rows = await self._fetchall(
            "SELECT state, count(*) AS n FROM deliveries "
            "WHERE state != 'sent' OR sent_at >= ? GROUP BY state",
            (codec.ts(since),),
        )
        return {str(r["state"]): int(r["n"]) for r in rows}

    # -- source runs and health ---------------------------------------------------------------

    async def record_run(self, run: SourceRun) -> None:
        async with self.transaction():
            await self._conn.execute(
                "INSERT INTO source_runs (source, started_at, finished_at, fetched, new, updated, "
                "error, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run.source, codec.ts(run.started_at), codec.ts(run.finished_at), run.fetched,
                 run.new, run.updated, run.error, run.warnings),
            )  # fmt: skip

    async def source_runs(self, source: str, limit: int = 50) -> list[SourceRun]:
        """The latest runs of a source, newest first."""
        rows = await self._fetchall(
            "SELECT * FROM source_runs WHERE source = ? ORDER BY id DESC LIMIT ?", (source, limit)
        )
        return [
            SourceRun(
                source=r["source"],
                started_at=codec.parse_ts(r["started_at"]) or self._clock(),
                finished_at=codec.parse_ts(r["finished_at"]) or self._clock(),
                fetched=r["fetched"],
                new=r["new"],
                updated=r["updated"],
                error=r["error"],
                warnings=r["warnings"],
            )
            for r in rows
        ]

    async def source_health(self, source: str) -> SourceHealth:
        """Last success, last error and the run of failures since, from the recorded runs."""
        runs = await self.source_runs(source, limit=200)
        failures = 0
        for run in runs:
            if run.error is None:
                break
            failures += 1
        last_ok = next((r for r in runs if r.error is None), None)
        last_bad = next((r for r in runs if r.error is not None), None)
        return SourceHealth(
            source=source,
            last_run=runs[0].finished_at if runs else None,
            last_success=last_ok.finished_at if last_ok else None,
            last_error=last_bad.error if last_bad else None,
            last_error_at=last_bad.finished_at if last_bad else None,
            consecutive_failures=failures,
            warnings=runs[0].warnings if runs else 0,
        )

    async def last_new_paper_at(self, source: str) -> datetime | None:
        """When a run of this source last brought an unseen id (for the stale check)."""
        row = await self._fetchone(
            "SELECT max(finished_at) FROM source_runs WHERE source = ? AND new > 0", (source,)
        )
        return codec.parse_ts(row[0]) if row and row[0] else None

    async def seen_listings(self, source: str, listings: Sequence[str]) -> set[str]:
        """Which of a source's listings the bot has read before (all, after an upgrade)."""
        rows = await self._fetchall(
            "SELECT listing FROM listings_seen WHERE listing IN (SELECT value FROM json_each(?))",
            (json.dumps([*listings, f"{source}/*"]),),
        )
        seen = {str(r["listing"]) for r in rows}
        return set(listings) if f"{source}/*" in seen else seen

    async def mark_listings_seen(self, source: str, listings: Sequence[str], now: datetime) -> None:
        """Remember listings as read; the upgrade's wildcard gives way to their names."""
        async with self.transaction():
            await self._conn.executemany(
                "INSERT OR IGNORE INTO listings_seen (listing, seen_at) VALUES (?, ?)",
                [(listing, codec.ts(now)) for listing in listings],
            )
            await self._conn.execute(
                "DELETE FROM listings_seen WHERE listing = ?", (f"{source}/*",)
            )

    async def note_warnings(self, source: str, keys: Sequence[str], now: datetime) -> set[str]:
        """Keep this poll's warnings; return those the previous poll did not have."""
        async with self.transaction():
            rows = await self._fetchall(
                "SELECT key FROM source_warnings WHERE source = ?", (source,)
            )
            known = {str(r["key"]) for r in rows}
            await self._conn.execute(
                "DELETE FROM source_warnings WHERE source = ? AND key NOT IN "
                "(SELECT value FROM json_each(?))",
                (source, json.dumps(list(keys))),
            )
            await self._conn.executemany(
                "INSERT OR IGNORE INTO source_warnings (source, key, seen_at) VALUES (?, ?, ?)",
                [(source, key, codec.ts(now)) for key in keys],
            )
        return set(keys) - known

    async def get_state(self, source: str, key: str) -> str | None:
        row = await self._fetchone(
            "SELECT value FROM source_state WHERE source = ? AND key = ?", (source, key)
        )
        return str(row[0]) if row else None

    async def set_state(self, source: str, key: str, value: str) -> None:
        async with self.transaction():
            await self._conn.execute(
                "INSERT INTO source_state (source, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (source, key) DO UPDATE SET value = excluded.value",
                (source, key, value),
            )

    # -- maintenance --------------------------------------------------------------------------

    async def backup(self, destination: str | os.PathLike[str]) -> Path:
        """A consistent copy of the live database (SQLite online backup), readable by the owner only."""
        dest = Path(destination)
        if dest.exists():
            raise StoreError(f"{dest}: already exists; choose a new file name")
        # Nothing is created but the copy itself: a typo in the folder must not become a folder.
        folder = dest.parent
        if not folder.exists():
            raise StoreError(f"{folder}: no such folder; create it first (mkdir -p {folder})")
        if not folder.is_dir():
            raise StoreError(f"{folder}: not a folder")
        try:
            _create_private_file(dest)
        except OSError as exc:
            raise StoreError(f"{dest}: cannot create the backup: {exc.strerror}") from None
        try:
            target = sqlite3.connect(dest)
        except sqlite3.Error as exc:
            dest.unlink(missing_ok=True)
            raise StoreError(f"backup to {dest} failed: {exc}") from None
        try:
            await self._conn.backup(target)
        except sqlite3.Error as exc:
            target.close()
            dest.unlink(missing_ok=True)
            raise StoreError(f"backup to {dest} failed: {exc}") from exc
        target.close()
        return dest

    async def integrity_check(self) -> str:
        row = await self._fetchone("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"

    # -- health (used by bot.web's /healthz) ---------------------------------------------------

    async def check_writable(self, timeout: float = 2.0) -> bool:
        """Prove the database still takes writes (for /healthz) without writing or disturbing anything.

        The probe runs on a second, short-lived connection so it can never join or roll back a
        transaction in progress on this one: it takes the write lock (BEGIN IMMEDIATE), which
        fails on a read-only file, a vanished file or a lock nobody releases, then rolls back.
        """
        if self.path == ":memory:" or self._in_transaction:
            return True  # nothing on disk to probe, or this connection is writing right now

        def probe() -> None:
            uri = Path(self.path).resolve().as_uri() + "?mode=rw"
            conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
            finally:
                conn.close()

        try:
            await asyncio.to_thread(probe)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: not writable: {exc}") from None
        return True

    # -- reader commands --------------------------------------------------------------------------

    async def delivery_states_by_feed(self, guild_id: int) -> dict[int, dict[str, int]]:
        """Unsent deliveries of one guild's feeds, counted by feed and state (for /status)."""
        rows = await self._fetchall(
            "SELECT d.feed_id AS feed_id, d.state AS state, count(*) AS n FROM deliveries d "
            "JOIN feeds f ON f.id = d.feed_id WHERE f.guild_id = ? AND d.state != 'sent' "
            "GROUP BY d.feed_id, d.state",
            (guild_id,),
        )
        out: dict[int, dict[str, int]] = {}
        for row in rows:
            out.setdefault(int(row["feed_id"]), {})[str(row["state"])] = int(row["n"])
        return out


def _filters(
    query: CompiledQuery,
    since: datetime | None,
    hf_only: bool,
    params: dict[str, Any],
    *,
    pk: str = "p.pk",
    joins: list[str] | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """WHERE clauses for the parts of a query that live outside the full-text index.

    Category tests compare with `pk` (the paper's key as the query names it); `since` and
    `hf_only` read the paper's row as `p`. Given a `joins` list, a group that is one exact
    category becomes a join appended there instead (a paper has that category at most once):
    a seek in the (paper_pk, category) index per row, about twice as fast as EXISTS.
    """
    where: list[str] = []
    n = 0
    for group in query.include_categories:
        if joins is not None and len(group) == 1 and "." in group[0]:
            n += 1
            params[f"c{n}"] = group[0]
            joins.append(
                f"CROSS JOIN paper_categories pc{n} "
                f"ON pc{n}.paper_pk = {pk} AND pc{n}.category = :c{n}"
            )
            continue
        parts = []
        for category in group:
            n += 1
            parts.append(_category_test(category, f"c{n}", params))
        where.append(
            f"EXISTS (SELECT 1 FROM paper_categories pc WHERE pc.paper_pk = {pk} AND "
            f"({' OR '.join(parts)}))"
        )
    if query.exclude_categories:
        parts = []
        for category in query.exclude_categories:
            n += 1
            parts.append(_category_test(category, f"c{n}", params))
        where.append(
            f"NOT EXISTS (SELECT 1 FROM paper_categories pc WHERE pc.paper_pk = {pk} AND "
            f"({' OR '.join(parts)}))"
        )
    if since is not None:
        where.append("coalesce(p.published, p.first_seen) >= :since")
        params["since"] = codec.ts(since)
    if hf_only:
        where.append("p.upvotes IS NOT NULL")
    return where, params


def _page(total: int, rows: Sequence[sqlite3.Row]) -> SearchPage:
    hits = tuple(SearchHit(codec.paper_from_row(r), float(r["score"])) for r in rows)
    return SearchPage(total=total, hits=hits)


def _in_categories(
    query: CompiledQuery, since: datetime | None, hf_only: bool, params: dict[str, Any]
) -> str:
    """`FROM ... WHERE` text for the papers passing a cat:-only query, as `c.pk`.

    The first category group is read from `paper_categories` (its primary key starts with the
    category); every other filter is tested on those papers only.
    """
    first, rest = query.include_categories[0], query.include_categories[1:]
    tests = [_category_test(c, f"g{n}", params) for n, c in enumerate(first, 1)]
    # One exact category lists each paper once; alternatives or an archive may repeat one.
    distinct = "DISTINCT " if len(first) > 1 or "." not in first[0] else ""
    source = (
        f"(SELECT {distinct}pc.paper_pk AS pk FROM paper_categories pc "
        f"WHERE {' OR '.join(tests)}) AS c"
    )
    others, _ = _filters(replace(query, include_categories=rest), since, hf_only, params, pk="c.pk")
    if since is not None or hf_only:
        source += " JOIN papers p ON p.pk = c.pk"
    return f"{source} WHERE {' AND '.join(others) if others else '1'}"


def _category_test(category: str, name: str, params: dict[str, Any]) -> str:
    """`cs.LG` is one category; `cs` (no dot) is the whole archive."""
    params[name] = category
    if "." in category:
        return f"pc.category = :{name}"
    params[name + "_like"] = category + ".%"
    return f"(pc.category = :{name} OR pc.category LIKE :{name}_like)"


def _spec_values(spec: FeedSpec, guild_id: int | None) -> tuple[Any, ...]:
    return (
        spec.name,
        guild_id,
        spec.channel_id,
        spec.query,
        json.dumps(list(spec.categories)),
        json.dumps(list(spec.sources)),
        spec.min_upvotes,
        spec.mode.value,
        spec.digest_time,
        spec.digest_size,
        spec.backfill,
    )


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _SQL_CHUNK):
        yield list(items[start : start + _SQL_CHUNK])


def _marks(items: Sequence[object]) -> str:
    return ", ".join("?" for _ in items)


def _create_private_file(path: Path) -> None:
    """Create an empty file that only its owner can read and write."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)


async def _configure(conn: aiosqlite.Connection) -> None:
    conn.row_factory = sqlite3.Row
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute("PRAGMA busy_timeout = 5000")
    await conn.execute("PRAGMA synchronous = NORMAL")


@contextlib.asynccontextmanager
async def open_store(
    path: str, *, clock: Clock = utcnow, create: bool = True
) -> AsyncIterator[Store]:
    """Open (creating and migrating if needed) the database; always closes the connection."""
    db_path = Path(path)
    if path != ":memory:" and not db_path.exists():
        if not create:
            raise StoreError(
                f"{db_path}: no database here (run `paperfeed import` or `poll` first)"
            )
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _create_private_file(db_path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreError(f"{db_path}: cannot create the database: {exc.strerror}") from None
    try:
        conn = await aiosqlite.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"{db_path}: cannot open the database: {exc}") from None
    try:
        try:
            await _configure(conn)
            await migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{db_path}: not a usable paperfeed database: {exc}") from None
        yield Store(conn, path, clock)
    finally:
        await conn.close()
