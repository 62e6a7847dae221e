"""Papers in PostgreSQL: bulk upserts through a COPY-filled staging table, lookups, search.

Upserts follow the SQLite store's merge rules exactly (the shared `plan_upsert` over the stored
rows, locked with FOR UPDATE so two processes merging the same paper take turns; a paper another
process inserted first is merged into its row in the same upsert). New papers reach `papers` in
one INSERT from arrays, their categories alongside, or in bulk by `COPY` straight into it;
merged ones through `COPY` into a temporary table and one UPDATE. Each paper's tsvector is built from SQLite's own tokenizer (lexemes.py)
and sent in binary, before the transaction opens for bulk batches (see `upsert`).

Search ranks as the SQLite store does (bot/store/sqlite/search_sql.py): the newest RANK_POOL
matches are the candidates; a candidate's tier is how many of the query's title-evidence
expressions its title matches, computed by FTS5 itself on the candidates' titles, so tiers are
identical on both backends; within a tier, field-weighted relevance (ts_rank with the weights
of SQLite's bm25: title 10, authors 4, abstract 1) times the same gentle recency bonus.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from math import inf
from typing import Any

import asyncpg

from bot.clock import Clock
from bot.errors import StoreError
from bot.models import (
    Paper,
    SearchHit,
    SearchPage,
    SortOrder,
    UpsertResult,
)
from bot.query.compile import CompiledQuery
from bot.store.common.upsert import UpsertPlan, merge_batch, plan_upsert
from bot.store.postgres import codec
from bot.store.postgres.connect import JSONB_VERSION
from bot.store.postgres.lexemes import Lexer
from bot.store.postgres.local_index import LocalIndex
from bot.store.postgres.session import Session, Sessions
from bot.store.postgres.tsquery import (
    category_filters,
    category_tests,
    compile_tsquery,
    in_categories,
)
from bot.store.search_index import IndexPage
from bot.store.sqlite.search_sql import RANK_POOL, count_cap

# ts_rank's weights, {D, C, B, A}: abstract (C) 1, authors (B) 4, title (A) 10, as SQLite's bm25.
# Normalisation 1 divides by 1 + log(length), so long abstracts do not win by length alone.
RANK = "ts_rank('{{0, 0.1, 0.4, 1.0}}', p.search, {tsquery}, 1)::float8"
# The title words of a paper's tsvector: what the title index (migration 0008) is built on.
TITLE_VECTOR = "ts_filter(p.search, '{a}')"
# When a paper appeared; the papers_appeared index is on exactly this expression.
APPEARED = "coalesce(p.published, p.first_seen)"
# The SQLite store's recency bonus: at most +10 % for a paper published today, fading over ~6 months.
RECENCY = (
    "(1.0 + 0.1 / (1.0 + greatest(0.0, extract(epoch FROM ({now} - " + APPEARED + "))::float8 "
    "/ 86400.0) / 180.0))"
)
# Titles tiered on a thread rather than the event loop above this many candidates.
_THREAD_TITLES = 200
# Where a window's bounds go in a category-led statement (see `_ranked`).
_LEAD_WINDOW = "<lead window>"
# The relevance pool's first window of keys; the next ones are sized by what it found (`_ranked`).
_FIRST_WINDOW = 16_384

STAGE_COLUMNS = ("seq", "op", *codec.PAPER_COLUMNS, "search")
STAGE_CREATE = (
    "CREATE TEMP TABLE IF NOT EXISTS paper_stage (seq bigint, op text, id text, version integer, "
    "title text, abstract text, authors text, author_text text, categories text, "
    "published timestamptz, updated timestamptz, doi text, journal_ref text, comments text, "
    "upvotes integer, num_comments integer, github_repo text, github_stars integer, "
    "project_page text, ai_summary text, ai_keywords text, thumbnail text, organization text, "
    "hf_submitted_at timestamptz, sources text, first_seen timestamptz, changed_at timestamptz, "
    "search tsvector) ON COMMIT DELETE ROWS"
)


def _staged(column: str) -> str:
    """A staged column as `papers` takes it (JSON text cast back to jsonb)."""
    return f"s.{column}::jsonb" if column in codec.JSON_COLUMNS else f"s.{column}"


_COLUMNS = ", ".join(codec.PAPER_COLUMNS)
STAGED_INSERT = (
    f"INSERT INTO papers ({_COLUMNS}, search) "
    f"SELECT {', '.join(_staged(c) for c in codec.PAPER_COLUMNS)}, s.search "
    "FROM paper_stage s WHERE s.op = 'i' ORDER BY s.seq "
    "ON CONFLICT (id) DO NOTHING RETURNING id"
)
STAGED_UPDATE = (
    f"UPDATE papers p SET ({', '.join(codec.PAPER_COLUMNS[1:])}, search) = "
    f"({', '.join(_staged(c) for c in codec.PAPER_COLUMNS[1:])}, "
    "coalesce(s.search, p.search)) "
    "FROM paper_stage s WHERE s.op = 'u' AND p.id = s.id"
)
STAGED_CATEGORIES = (
    "INSERT INTO paper_categories (paper_pk, category) "
    "SELECT DISTINCT p.pk, lower(c.value) FROM paper_stage s JOIN papers p ON p.id = s.id, "
    "jsonb_array_elements_text(s.categories::jsonb) AS c(value) "
    "ON CONFLICT DO NOTHING"
)


@dataclass(frozen=True)
class _Prepared:
    """A batch's rows by paper id as the papers were given, and the tsvectors made (binary)."""

    rows: dict[str, tuple[Any, ...]]
    vectors: dict[str, bytes]


# New papers go in with one statement from arrays (one a column, bound in binary): no staging
# table to write and read back, and their categories follow from what the insert returns. A
# paper another writer inserted first is skipped here and merged afterwards (see `_upsert`).
_ARRAY_TYPES = {
    "search": "tsvector",
    "version": "integer", "upvotes": "integer", "num_comments": "integer",
    "github_stars": "integer", "published": "timestamptz", "updated": "timestamptz",
    "hf_submitted_at": "timestamptz", "first_seen": "timestamptz", "changed_at": "timestamptz",
}  # fmt: skip
_NEW_COLUMNS = (*codec.PAPER_COLUMNS, "search")
INSERT_NEW = (
    f"WITH ins AS (INSERT INTO papers ({_COLUMNS}, search) "
    f"SELECT {', '.join(_staged(c) for c in codec.PAPER_COLUMNS)}, s.search "
    "FROM unnest("
    + ", ".join(f"${i}::{_ARRAY_TYPES.get(c, 'text')}[]" for i, c in enumerate(_NEW_COLUMNS, 1))
    + f") AS s({', '.join(_NEW_COLUMNS)}) "  # unnest yields the rows in the arrays' order
    "ON CONFLICT (id) DO NOTHING RETURNING pk, id, categories), "
    "cats AS (INSERT INTO paper_categories (paper_pk, category) "
    "SELECT DISTINCT ins.pk, lower(c.value) FROM ins, "
    "jsonb_array_elements_text(ins.categories) AS c(value) ON CONFLICT DO NOTHING) "
    "SELECT id FROM ins"
)


# From this many new papers in one upsert they go in by COPY (`_copy_new`): the server's work
# per row is then the floor's, and the driver encodes rows without checking every value.
COPY_NEW_FROM = 1_000
_COPY_COLUMNS = ("pk", *_NEW_COLUMNS)
_JSON_AT = tuple(i for i, c in enumerate(_NEW_COLUMNS) if c in codec.JSON_COLUMNS)
NEW_KEYS = "SELECT nextval(pg_get_serial_sequence('papers', 'pk')) FROM generate_series(1, $1)"
NEW_CATEGORIES = (
    "INSERT INTO paper_categories (paper_pk, category) SELECT DISTINCT c.pk, lower(c.category) "
    "FROM unnest($1::bigint[], $2::text[]) AS c(pk, category)"
)


async def _insert_new(session: Session, inserts: list[tuple[Any, ...]]) -> set[str]:
    """New papers in one INSERT from arrays, skipping any another writer inserted first."""
    columns = [list(c) for c in zip(*inserts, strict=True)]
    return {r["id"] for r in await session.fetch(INSERT_NEW, *columns)}


async def _copy_new(
    session: Session, inserts: list[tuple[Any, ...]], categories_of: list[tuple[str, ...]]
) -> set[str]:
    """New papers by COPY straight into `papers` (keys drawn first, in the batch's order), their
    categories in one INSERT: a bulk import's rows cost the server what the same rows `COPY`'d
    cost. A paper another writer inserted since we looked fails the COPY: everything returns to
    the savepoint and the papers go in as `_insert_new` does, which skips it."""
    keys = sorted(r[0] for r in await session.fetch(NEW_KEYS, len(inserts)))
    rows = []
    pks: list[int] = []
    categories: list[str] = []
    for pk, row, named in zip(keys, inserts, categories_of, strict=True):
        values = [pk, *row]
        for at in _JSON_AT:  # JSON text made once, sent as binary jsonb (see connect.jsonb_out)
            values[at + 1] = JSONB_VERSION + row[at].encode("utf-8")
        rows.append(values)
        pks += [pk] * len(named)
        categories += named
    await session.execute("SAVEPOINT paper_copy")
    try:
        await session.copy_records("papers", rows, _COPY_COLUMNS)
    except StoreError as exc:
        if not isinstance(exc.__cause__, asyncpg.UniqueViolationError):
            raise
        await session.execute("ROLLBACK TO SAVEPOINT paper_copy")
        return await _insert_new(session, inserts)
    await session.execute("RELEASE SAVEPOINT paper_copy")
    if pks:
        await session.execute(NEW_CATEGORIES, pks, categories)
    return {row[0] for row in inserts}


class PostgresPapers:
    """The PaperRepository on PostgreSQL with its tsvector column and GIN index."""

    def __init__(self, sessions: Sessions, lexer: Lexer, clock: Clock) -> None:
        self._s = sessions
        self._lexer = lexer
        self._clock = clock
        # Done when the latest upsert that owns its transaction has finished (see `upsert`).
        self._last_turn: asyncio.Future[None] | None = None
        # This process's local search index, when it has one (set by `open_postgres`).
        self.index: LocalIndex | None = None

    async def upsert(self, papers: Iterable[Paper]) -> UpsertResult:
        """Insert new papers and merge known ones, in one transaction; report what was new or changed.

        The rows and lexemes of the papers as given are made first, outside the transaction, so
        a bulk import's next batch is made while the server still writes the one before it.
        Upserts that own their transaction then take turns in the order they were called (the
        import's batches land in file order); one inside a caller's transaction runs at once.
        """
        batch = merge_batch(papers)
        if not batch:
            return UpsertResult()
        now = self._clock()
        if self._s.in_transaction():
            prepared = await self._prepare(batch, now)
            return await self._s.write(lambda s: self._upsert(s, batch, prepared, now))
        loop = asyncio.get_running_loop()
        previous, mine = self._last_turn, loop.create_future()
        self._last_turn = mine
        try:
            prepared = await self._prepare(batch, now)
            if previous is not None:
                await asyncio.wait([previous])  # not cancelled with us: others wait on it too
            result = await self._s.write(lambda s: self._upsert(s, batch, prepared, now))
            if self.index is not None:
                self.index.written()  # committed: this process's next search reads it
            return result
        finally:
            mine.set_result(None)
            if self._last_turn is mine:
                self._last_turn = None

    async def _prepare(self, batch: dict[str, Paper], now: datetime) -> _Prepared:
        """Rows and tsvectors of the papers as given (what a new paper is stored as), for those
        whose words the store does not hold yet: a re-import prepares nothing it already has."""
        fresh = list(batch.values())
        if len(batch) > _THREAD_TITLES:  # a bulk load: worth one read to skip known words
            stored = {
                r["id"]: (r["title"], r["author_text"], r["abstract"])
                for r in await self._s.fetch(
                    "SELECT id, title, author_text, abstract FROM papers WHERE id = ANY($1::text[])",
                    list(batch),
                )
            }
            fresh = [p for p in fresh if stored.get(p.id) != _words(p)]
        rows = {p.id: codec.paper_row(p, now, now) for p in fresh}
        vectors = dict(zip((p.id for p in fresh), await self._lex(fresh), strict=True))
        return _Prepared(rows, vectors)

    async def _lex(self, papers: Iterable[Paper]) -> list[bytes]:
        texts = [_words(p) for p in papers]
        if len(texts) > _THREAD_TITLES:
            return await asyncio.to_thread(self._lexer.binary_documents, texts)
        return self._lexer.binary_documents(texts)

    async def _upsert(
        self, session: Session, batch: dict[str, Paper], prepared: _Prepared, now: datetime
    ) -> UpsertResult:
        existing = await self._locked(session, list(batch))
        plan = plan_upsert(batch, existing)
        inserted = await self._write(session, plan, existing, batch, prepared, now)
        raced = [i for i in plan.new_ids if i not in inserted]
        if not raced:
            return plan.result(inserted)
        # Another writer inserted these between our read and our insert, and committed (the
        # insert waited for it): merge into its rows now, as if they had been there first.
        again = {i: batch[i] for i in raced}
        existing = await self._locked(session, raced)
        retry = plan_upsert(again, existing)
        await self._write(session, retry, existing, again, prepared, now)
        first = plan.result(inserted)
        return UpsertResult(
            new=first.new,
            updated=(*first.updated, *retry.updated_ids),
            unchanged=first.unchanged - len(raced) + retry.unchanged + len(retry.new_ids),
            changed=(*first.changed, *retry.changed_ids),
        )

    async def _locked(self, session: Session, ids: list[str]) -> dict[str, Paper]:
        """The stored rows of these papers, locked until commit (in id order: no deadlocks)."""
        rows = await session.fetch(
            f"SELECT {codec.PAPER_SELECT} FROM papers p WHERE p.id = ANY($1::text[]) "
            "ORDER BY p.id FOR UPDATE",
            ids,
        )
        return {row["id"]: codec.paper_from_row(row) for row in rows}

    async def _write(
        self,
        session: Session,
        plan: UpsertPlan,
        existing: dict[str, Paper],
        batch: dict[str, Paper],
        prepared: _Prepared,
        now: datetime,
    ) -> set[str]:
        """Insert the plan's new papers from arrays, update known ones through a COPY-filled
        staging table; the ids inserted."""
        if not plan.staged:
            return set()

        def wanted(op: str, paper: Paper) -> bool:  # a new tsvector, else the stored one stays
            return op == "i" or _text_changed(existing[paper.id], paper)

        def given(paper: Paper) -> bytes | None:  # made for the words as given, if they are these
            return None if _text_changed(batch[paper.id], paper) else prepared.vectors.get(paper.id)

        # Lexemes now only for words nobody prepared: a merge mixing stored and given fields
        # (a new title over a stored abstract), or a paper that changed since it was prepared.
        missing = [p for op, p in plan.staged if wanted(op, p) and given(p) is None]
        lexed = dict(zip((p.id for p in missing), await self._lex(missing), strict=True))

        def vector(op: str, paper: Paper) -> bytes | None:
            if not wanted(op, paper):
                return None
            ready = given(paper)
            return lexed[paper.id] if ready is None else ready

        new = [p for op, p in plan.staged if op == "i"]
        inserts = [
            (prepared.rows.get(p.id) or codec.paper_row(p, now, now)) + (vector("i", p),)
            for p in new
        ]
        inserted: set[str] = set()
        if len(inserts) >= COPY_NEW_FROM:
            inserted = await _copy_new(session, inserts, [p.categories for p in new])
        elif inserts:
            inserted = await _insert_new(session, inserts)
        updates = []
        for seq, (op, paper) in enumerate(plan.staged):
            if op == "i":
                continue
            updates.append((seq, op, *codec.paper_row(paper, now, now), vector(op, paper)))
        if not updates:
            return inserted
        await session.execute(STAGE_CREATE)
        await session.copy_records("paper_stage", updates, STAGE_COLUMNS)
        if plan.recategorised:
            await session.execute(
                "DELETE FROM paper_categories WHERE paper_pk IN "
                "(SELECT pk FROM papers WHERE id = ANY($1::text[]))",
                plan.recategorised,
            )
        if plan.retexted:  # embedded from the old text: missing again, so it is re-embedded
            await session.execute(
                "DELETE FROM paper_vectors WHERE paper_id = ANY($1::text[])", plan.retexted
            )
        await session.execute(STAGED_UPDATE)
        await session.execute(STAGED_CATEGORIES)
        await session.execute("TRUNCATE paper_stage")
        return inserted

    async def _by_id(self, ids: Sequence[str]) -> dict[str, Paper]:
        rows = await self._s.fetch(
            f"SELECT {codec.PAPER_SELECT} FROM papers p WHERE p.id = ANY($1::text[])", list(ids)
        )
        return {row["id"]: codec.paper_from_row(row) for row in rows}

    async def get(self, paper_id: str) -> Paper | None:
        row = await self._s.fetchrow(
            f"SELECT {codec.PAPER_SELECT} FROM papers p WHERE p.id = $1", paper_id
        )
        return codec.paper_from_row(row) if row else None

    async def get_many(self, ids: Sequence[str]) -> list[Paper]:
        """Papers by id, in the order asked, skipping unknown ids."""
        found = await self._by_id(list(dict.fromkeys(ids)))
        return [found[i] for i in ids if i in found]

    async def count(self) -> int:
        return int(await self._s.fetchval("SELECT count(*) FROM papers"))

    async def search_index_built(self) -> bool:
        return True  # PostgreSQL's full text answers while a local index is built

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
        """Rank papers for a compiled query: title evidence first, then relevance x recency.

        Relevance searches with words go to this process's local index when it can answer
        (bot/store/postgres/local_index.py); the rest, and all of them meanwhile, run here.
        """
        if query.fts is not None and sort == "relevance" and self.index is not None:
            found = await self.index.search(
                query, now=self._clock(), limit=limit, offset=offset, since=since, hf_only=hf_only
            )
            if found is not None:
                return await self._indexed_page(found)
        compiled = compile_tsquery(query, self._lexer)
        if compiled.matches_nothing:
            return SearchPage(total=0, hits=())
        args: list[Any] = []
        where: list[str] = []
        if compiled.title_text is not None:
            # Only title words: the same test on the title index, exact without a recheck.
            args.append(compiled.title_text)
            where.append(f"{TITLE_VECTOR} @@ ${len(args)}::tsquery")
        elif compiled.index_text is not None:
            # A phrase: its words found by the index, the phrase itself tested on each row
            # (as a function call, which the planner does not hand to the index).
            args += [compiled.index_text, compiled.text]
            where.append(
                f"p.search @@ ${len(args) - 1}::tsquery "
                f"AND ts_match_vq(p.search, ${len(args)}::tsquery)"
            )
        elif compiled.text is not None:
            args.append(compiled.text)
            where.append(f"p.search @@ ${len(args)}::tsquery")
        # The first category group apart: a window of a relevance search may be led by it.
        lead: str | None = None
        if query.include_categories:
            lead = category_tests(query.include_categories[0], args)
            where.append(in_categories("p.pk", lead))
            lead_at = len(where) - 1
        where += category_filters(query, "p.pk", args, skip_includes=1)
        if since is not None:
            args.append(codec.ts(since))
            where.append(f"{APPEARED} >= ${len(args)}")
        if hf_only:
            where.append("p.upvotes IS NOT NULL")
        where_sql = " AND ".join(where) if where else "true"
        # The same, with the paper's key taken from the category's keys in the window.
        led_sql = None
        if lead is not None:
            led_where = [*where]
            led_where[lead_at] = (
                "p.pk = ANY(ARRAY(SELECT pc.paper_pk FROM paper_categories pc "
                f"WHERE ({lead}) AND {_LEAD_WINDOW}))"
            )
            led_sql = " AND ".join(led_where)
        count_sql = f"SELECT count(*) FROM papers p WHERE {where_sql}"
        count_args = list(args)
        cap = count_cap(limit, offset)
        if compiled.text is not None:
            # With words, count at most one match past the cap, as the SQLite store does.
            count_args.append(cap + 1)
            count_sql = (
                f"SELECT count(*) FROM (SELECT 1 FROM papers p WHERE {where_sql} "
                f"LIMIT ${len(count_args)}) AS c"
            )
        args.append(codec.ts(self._clock()))
        relevance = "0.0"
        if compiled.text is not None:
            recency = RECENCY.format(now=f"${len(args)}::timestamptz")
            args.append(compiled.rank_text)
            rank = RANK.format(tsquery=f"${len(args)}::tsquery")
            relevance = f"{rank} * {recency}"
        if compiled.text is not None and sort == "relevance":
            return await self._ranked(
                query,
                where_sql,
                args,
                relevance,
                compiled.title_hint,
                limit,
                offset,
                lead,
                led_sql,
                title_only=compiled.title_text is not None,
            )
        order = {
            "relevance": f"{APPEARED} DESC",  # no words: newest
            "recent": f"{APPEARED} DESC, score DESC",
            "upvotes": f"coalesce(p.upvotes, -1) DESC, {APPEARED} DESC",
        }[sort]
        if compiled.text is None:
            args.pop()  # no relevance, so no time: every parameter must be used
        n = len(args)
        rows_sql = (
            f"SELECT {codec.PAPER_SELECT}, {relevance} AS score FROM papers p "
            f"WHERE {where_sql} ORDER BY {order} LIMIT ${n + 1} OFFSET ${n + 2}"
        )

        async def run(session: Session) -> SearchPage:
            total = int(await session.fetchval(count_sql, *count_args))
            if not total:
                return SearchPage(total=0, hits=())
            rows = await session.fetch(rows_sql, *args, limit, offset)
            hits = tuple(_hit(r) for r in rows)
            if compiled.text is not None and total > cap:
                return SearchPage(total=cap, hits=hits, total_exact=False)
            return SearchPage(total=total, hits=hits)

        return await self._s.read(run)

    async def _indexed_page(self, found: IndexPage) -> SearchPage:
        """The index's page as papers, read in the index's order (a paper deleted since the
        index last caught up is left out)."""
        if not found.hits:
            return SearchPage(total=found.total, hits=())
        rows = await self._s.fetch(
            f"SELECT p.pk, {codec.PAPER_SELECT} FROM papers p WHERE p.pk = ANY($1::bigint[])",
            [hit.pk for hit in found.hits],
        )
        by_pk = {int(r["pk"]): codec.paper_from_row(r) for r in rows}
        hits = tuple(SearchHit(by_pk[h.pk], h.score) for h in found.hits if h.pk in by_pk)
        return SearchPage(total=found.total, hits=hits)

    async def _ranked(
        self,
        query: CompiledQuery,
        where_sql: str,
        args: list[Any],
        relevance: str,
        title_hint: str | None,
        limit: int,
        offset: int,
        lead: str | None = None,
        led_sql: str | None = None,
        title_only: bool = False,
    ) -> SearchPage:
        """Relevance: rank the newest `pool` matches by tier, then relevance x recency.

        `lead` tests the first category group of the query and `led_sql` is `where_sql` with
        that group's papers listed from the category index in the window (see `candidates`).
        """
        pool = max(RANK_POOL, limit + offset)
        # Titles only where one may hold title evidence: tiering every candidate's title
        # with FTS5 cost more than the rest of a broad search together.
        title = "NULL::text"
        window_args = [*args]
        # A query made only of title words with one title-evidence expression: every match
        # holds it in its title, so every candidate has tier 1 and none needs FTS5.
        uniform = title_only and len(query.title_evidence) == 1
        if query.title_evidence and title_hint is not None and not uniform:
            window_args.append(title_hint)
            title = f"CASE WHEN p.search @@ ${len(window_args)}::tsquery THEN p.title END"
        n = len(window_args)
        # The newest matches of one window of keys (pk > lower), newest first; relevance only
        # for those kept (MATERIALIZED: computed after the LIMIT, not for every match).
        pick = f"SELECT p.pk, {title} AS title, p.published, {relevance} AS rel FROM pool p "
        columns = "p.pk, p.title, p.published, p.first_seen, p.search"
        in_window = f"{where_sql} AND p.pk > ${n + 1} AND p.pk <= ${n + 2}"
        bounds = f"pc.paper_pk > ${n + 1} AND pc.paper_pk <= ${n + 2}"
        # With categories, the first window also counts the first group's papers in it.
        share = "0"
        if lead is not None:
            share = f"(SELECT count(*) FROM paper_categories pc WHERE ({lead}) AND {bounds})"
        first_pick = pick.replace(" FROM pool", f", {share} AS lead_keys FROM pool")
        first_sql = (
            f"WITH pool AS MATERIALIZED (SELECT {columns} FROM papers p WHERE {in_window} "
            f"ORDER BY p.pk DESC LIMIT ${n + 3}) {first_pick}ORDER BY p.pk DESC"
        )

        # Later windows are sized to hold the rest of the pool, so every match in them is
        # wanted: listing them apart from the LIMIT keeps the planner from walking the key
        # index backwards for matches it overestimates (weights and phrases: 5x slower). Each
        # match is scored as it is read: fetching the kept ones again by key cost more (a
        # random heap visit each) than scoring the few past the pool.
        def rest(where: str) -> str:
            return (
                f"WITH hits AS MATERIALIZED (SELECT p.pk, {title} AS title, p.published, "
                f"{relevance} AS rel FROM papers p WHERE {where} AND p.pk > ${n + 1} "
                f"AND p.pk <= ${n + 2}) SELECT * FROM hits ORDER BY pk DESC LIMIT ${n + 3}"
            )

        rest_sql = rest(where_sql)
        led_rest_sql = rest(led_sql.replace(_LEAD_WINDOW, bounds)) if led_sql else None

        async def candidates(session: Session) -> list[asyncpg.Record]:
            # Walk newest first in windows of keys until one past the pool is found: a broad
            # query stops in the first window; the next window is sized from the matches
            # seen so far to finish the pool (x1.5), and one that found none looks 8x
            # further. Each window is a bounded scan, where one statement over every match
            # would read each matching row (a heap visit each) to find the newest.
            #
            # With categories, a later window is led by the category when that reads fewer
            # rows: its papers' keys come from the category index (no heap) and only those
            # rows are read and tested for the words, instead of every row of the window (or
            # every row holding the words). The first window tells the category's share c and
            # the share d of papers matching everything; the words alone then hold about d / c,
            # so the category leads when c < d / c. (`framework cat:cs.CV` at 1M: 15 % of
            # papers in cs.CV, 4.5 % matching, a window read 2-3x faster.)
            top = upper = int(await session.fetchval("SELECT coalesce(max(pk), 0) FROM papers"))
            width = _FIRST_WINDOW
            found: list[asyncpg.Record] = []
            led = False
            while upper > 0 and len(found) <= pool:
                lower = max(0, upper - width)
                need = pool + 1 - len(found)
                first = upper == top
                sql = first_sql if first else (led_rest_sql if led_rest_sql and led else rest_sql)
                got = await session.fetch(sql, *window_args, lower, upper, need)
                if first and got and led_rest_sql is not None:
                    span = upper - lower
                    share, matched = int(got[0]["lead_keys"]) / span, len(got) / span
                    led = share * share < matched
                found += got
                upper = lower
                density = len(found) / (top - upper)
                missing = pool + 1 - len(found)
                width = max(int(missing / density * 1.5), width * 2) if density else width * 8
            return found

        rows = await self._s.read(candidates)
        # One past the pool means more matches than the pool (and the count's cap) holds.
        total, exact = (pool, False) if len(rows) > pool else (len(rows), True)
        rows = rows[:pool]
        if not rows:
            return SearchPage(total=total, hits=(), total_exact=exact)
        titles = {int(r["pk"]): str(r["title"]) for r in rows if r["title"] is not None}
        evidence = query.title_evidence
        if uniform:
            tiers = dict.fromkeys((int(r["pk"]) for r in rows), 1)
        elif len(titles) > _THREAD_TITLES:
            tiers = await asyncio.to_thread(self._lexer.title_tiers, titles, evidence)
        else:
            tiers = self._lexer.title_tiers(titles, evidence)
        scored = []
        for r in rows:
            rel = float(r["rel"])
            # The tier first; within it relevance x recency squashed below 1, so the score
            # itself orders the results (tier 2 with any relevance beats tier 1).
            score = tiers.get(int(r["pk"]), 0) + rel / (1.0 + rel)
            published = r["published"].timestamp() if r["published"] is not None else -inf
            scored.append((score, published, int(r["pk"])))
        scored.sort(reverse=True)
        page = scored[offset : offset + limit]
        if not page:
            return SearchPage(total=total, hits=(), total_exact=exact)
        found = await self._s.fetch(
            f"SELECT p.pk, {codec.PAPER_SELECT} FROM papers p WHERE p.pk = ANY($1::bigint[])",
            [pk for _, _, pk in page],
        )
        by_pk = {int(r["pk"]): codec.paper_from_row(r) for r in found}
        hits = tuple(SearchHit(by_pk[pk], score) for score, _, pk in page if pk in by_pk)
        return SearchPage(total=total, hits=hits, total_exact=exact)

    async def recent(self, since: datetime, limit: int = 5000) -> list[Paper]:
        """Papers that appeared since a time, newest first (what a new feed's backfill looks at)."""
        rows = await self._s.fetch(
            f"SELECT {codec.PAPER_SELECT} FROM papers p WHERE {APPEARED} >= $1 "
            f"ORDER BY {APPEARED} DESC LIMIT $2",
            codec.ts(since),
            limit,
        )
        return [codec.paper_from_row(r) for r in rows]

    async def top(self, since: datetime, limit: int = 10) -> list[Paper]:
        """The most upvoted Hugging Face papers that appeared since a time."""
        rows = await self._s.fetch(
            f"SELECT {codec.PAPER_SELECT} FROM papers p WHERE p.upvotes IS NOT NULL "
            "AND coalesce(p.hf_submitted_at, p.published, p.first_seen) >= $1 "
            "ORDER BY p.upvotes DESC, p.published DESC NULLS LAST LIMIT $2",
            codec.ts(since),
            limit,
        )
        return [codec.paper_from_row(r) for r in rows]


def _text_changed(old: Paper, new: Paper) -> bool:
    return (old.title, old.authors, old.abstract) != (new.title, new.authors, new.abstract)


def _words(paper: Paper) -> tuple[str, str, str]:
    """The searchable text as stored: title, author_text, abstract."""
    return (paper.title, ", ".join(paper.authors), paper.abstract)


def _hit(row: asyncpg.Record) -> SearchHit:
    return SearchHit(codec.paper_from_row(row), float(row["score"]))
