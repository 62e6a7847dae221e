"""`paperfeed db copy`: a SQLite store moved into PostgreSQL, streamed, idempotent, counted.

The SQLite file is read in one read transaction (a consistent snapshot, even while a bot
writes to it) in batches, on a thread; each batch reaches PostgreSQL in one transaction
through arrays or COPY, with ON CONFLICT DO NOTHING on every table's keys, so running the copy
again adds nothing and a copy interrupted half-way finishes on the next run. Feed, delivery and
source-run ids are kept (users see feed ids; deliveries keep their queue order), and the
identity sequences are moved past them. Paper vectors come along too (new seqs, same order), so
the copy needs no `paperfeed embed`. Delivery history comes along whole, state and message
ids included, so a bot started on the copy owes nothing it already posted.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import StoreError
from bot.models import without_nul
from bot.store.postgres import codec
from bot.store.postgres.database import PostgresDatabase
from bot.store.postgres.papers import (
    STAGE_COLUMNS,
    STAGE_CREATE,
    STAGED_CATEGORIES,
    STAGED_INSERT,
)
from bot.store.postgres.session import Session
from bot.store.sqlite import codec as sqlite_codec

BATCH = 2_000
Progress = Callable[[int], None]  # rows copied so far


@dataclass(frozen=True)
class Table:
    """How one table's rows cross over: its columns, their PostgreSQL types, conversions."""

    name: str
    columns: tuple[str, ...]
    types: tuple[str, ...]  # PostgreSQL types, for unnest(); jsonb travels as text
    order: str
    convert: Callable[[sqlite3.Row], tuple[Any, ...]]
    identity: str | None = None  # a kept id column whose sequence must move past it


def _ts(value: str | None) -> Any:
    return codec.ts(sqlite_codec.parse_ts(value))


def _feed(r: sqlite3.Row) -> tuple[Any, ...]:
    return (r["id"], r["name"], r["guild_id"], r["channel_id"], r["query"], r["categories"],
            r["sources"], r["min_upvotes"], r["mode"], r["digest_time"], r["digest_size"],
            r["backfill"], r["origin"], bool(r["paused"]), r["pause_reason"], _ts(r["created_at"]),
            _ts(r["last_post_at"]), r["last_digest_on"], r["backfill_used"])  # fmt: skip


def _delivery(r: sqlite3.Row) -> tuple[Any, ...]:
    return (r["id"], r["feed_id"], r["paper_id"], r["state"], _ts(r["queued_at"]), r["attempts"],
            r["nonce"], r["message_id"], r["error"], _ts(r["sent_at"]), _ts(r["next_attempt_at"]),
            r["thread_id"], _ts(r["attempted_at"]))  # fmt: skip


def _run(r: sqlite3.Row) -> tuple[Any, ...]:
    return (r["id"], r["source"], _ts(r["started_at"]), _ts(r["finished_at"]), r["fetched"],
            r["new"], r["updated"], r["error"], r["warnings"])  # fmt: skip


def _follow(r: sqlite3.Row) -> tuple[Any, ...]:
    return (r["id"], r["user_id"], r["name"], r["query"], r["mode"], r["time"], r["min_upvotes"],
            bool(r["paused"]), r["pause_reason"], _ts(r["created_at"]))  # fmt: skip


def _dm(r: sqlite3.Row) -> tuple[Any, ...]:
    return (r["id"], r["user_id"], r["paper_id"], r["follow_id"], r["mode"], r["relevance"],
            r["state"], _ts(r["queued_at"]), r["nonce"], _ts(r["attempted_at"]),
            _ts(r["next_attempt_at"]), r["message_id"], _ts(r["sent_at"]), r["error"])  # fmt: skip


# In dependency order: feeds and papers before the deliveries that point at them.
TABLES = (
    Table(
        "feeds",
        ("id", "name", "guild_id", "channel_id", "query", "categories", "sources", "min_upvotes",
         "mode", "digest_time", "digest_size", "backfill", "origin", "paused", "pause_reason",
         "created_at", "last_post_at", "last_digest_on", "backfill_used"),
        ("bigint", "text", "bigint", "bigint", "text", "jsonb", "jsonb", "integer", "text", "text",
         "integer", "integer", "text", "boolean", "text", "timestamptz", "timestamptz", "text",
         "integer"),
        "id", _feed, identity="id",
    ),
    Table(
        "deliveries",
        ("id", "feed_id", "paper_id", "state", "queued_at", "attempts", "nonce", "message_id",
         "error", "sent_at", "next_attempt_at", "thread_id", "attempted_at"),
        ("bigint", "bigint", "text", "text", "timestamptz", "integer", "text", "bigint", "text",
         "timestamptz", "timestamptz", "bigint", "timestamptz"),
        "id", _delivery, identity="id",
    ),
    Table(
        "source_runs",
        ("id", "source", "started_at", "finished_at", "fetched", "new", "updated", "error",
         "warnings"),
        ("bigint", "text", "timestamptz", "timestamptz", "integer", "integer", "integer", "text",
         "integer"),
        "id", _run, identity="id",
    ),
    Table("source_state", ("source", "key", "value"), ("text", "text", "text"),
          "source, key", lambda r: (r["source"], r["key"], r["value"])),
    Table("listings_seen", ("listing", "seen_at"), ("text", "timestamptz"), "listing",
          lambda r: (r["listing"], _ts(r["seen_at"]))),
    Table("source_warnings", ("source", "key", "seen_at"), ("text", "text", "timestamptz"),
          "source, key", lambda r: (r["source"], r["key"], _ts(r["seen_at"]))),
    Table(
        "follows",
        ("id", "user_id", "name", "query", "mode", "time", "min_upvotes", "paused",
         "pause_reason", "created_at"),
        ("bigint", "bigint", "text", "text", "text", "text", "integer", "boolean", "text",
         "timestamptz"),
        "id", _follow, identity="id",
    ),
    Table(
        "dm_queue",
        ("id", "user_id", "paper_id", "follow_id", "mode", "relevance", "state", "queued_at",
         "nonce", "attempted_at", "next_attempt_at", "message_id", "sent_at", "error"),
        ("bigint", "bigint", "text", "bigint", "text", "integer", "text", "timestamptz", "text",
         "timestamptz", "timestamptz", "bigint", "timestamptz", "text"),
        "id", _dm, identity="id",
    ),
    Table("dm_members", ("user_id", "last_daily_on", "notice"), ("bigint", "text", "text"),
          "user_id", lambda r: (r["user_id"], r["last_daily_on"], r["notice"])),
    Table("dm_messages", ("nonce", "content", "items"), ("text", "text", "jsonb"), "nonce",
          lambda r: (r["nonce"], r["content"], r["items"])),
    # In write order, so PostgreSQL's new seqs keep it; a paper PostgreSQL already had with a
    # vector keeps that one (paper_id is unique), like every other row it already had.
    Table("paper_vectors", ("paper_id", "model", "vector"), ("text", "text", "bytea"), "seq",
          lambda r: (r["paper_id"], r["model"], bytes(r["vector"]))),
)  # fmt: skip
COUNTED = ("papers", *(t.name for t in TABLES))


@dataclass
class CopyReport:
    """Rows per table: in the SQLite file, in PostgreSQL afterwards, and added by this run."""

    sqlite: dict[str, int] = field(default_factory=dict)
    postgresql: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)

    @property
    def missing(self) -> list[str]:
        """Tables with fewer rows in PostgreSQL than in the SQLite file."""
        return [t for t in COUNTED if self.postgresql.get(t, 0) < self.sqlite.get(t, 0)]


def _insert_sql(table: Table) -> str:
    names = ", ".join(table.columns)
    arrays = ", ".join(
        f"${i}::{'text' if kind == 'jsonb' else kind}[]" for i, kind in enumerate(table.types, 1)
    )
    picks = ", ".join(
        f"u.{c}::jsonb" if kind == "jsonb" else f"u.{c}"
        for c, kind in zip(table.columns, table.types, strict=True)
    )
    return (
        f"INSERT INTO {table.name} ({names}) SELECT {picks} "
        f"FROM unnest({arrays}) AS u({names}) ON CONFLICT DO NOTHING"
    )


class _Reader:
    """The SQLite file in one read transaction, read in batches on a thread."""

    def __init__(self, path: str) -> None:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        try:
            self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("BEGIN")  # one snapshot for the whole copy
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot read the SQLite store: {exc}") from None

    async def count(self, table: str) -> int:
        row = await asyncio.to_thread(
            lambda: self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        )
        return int(row[0])

    async def batches(self, sql: str) -> AsyncIterator[list[sqlite3.Row]]:
        cursor = await asyncio.to_thread(self.conn.execute, sql)
        while rows := await asyncio.to_thread(cursor.fetchmany, BATCH):
            yield rows

    def close(self) -> None:
        self.conn.close()


async def copy_sqlite(
    sqlite_path: str, target: PostgresDatabase, progress: Progress | None = None
) -> CopyReport:
    """Copy every row of the SQLite store at `sqlite_path` that `target` lacks."""
    reader = _Reader(sqlite_path)
    report = CopyReport()
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress(done)

    sessions = target.sessions
    try:
        for name in COUNTED:
            report.sqlite[name] = await reader.count(name)
        papers = 0
        async for rows in reader.batches("SELECT * FROM papers ORDER BY pk"):

            async def load(session: Session, batch: list[sqlite3.Row] = rows) -> int:
                return await _copy_papers(session, target, batch)

            papers += await sessions.write(load)
            advance(len(rows))
        report.added["papers"] = papers
        for table in TABLES:
            sql = _insert_sql(table)
            added = 0
            async for rows in reader.batches(f"SELECT * FROM {table.name} ORDER BY {table.order}"):
                values = [table.convert(r) for r in rows]
                columns = [list(c) for c in zip(*values, strict=True)]
                status = await sessions.execute(sql, *columns)
                added += int(status.rsplit(" ", 1)[-1])
                advance(len(rows))
            if table.identity is not None:
                await sessions.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{table.identity}'), "
                    f"(SELECT coalesce(max({table.identity}), 0) + 1 FROM {table.name}), false)"
                )
            report.added[table.name] = added
        for name in COUNTED:
            report.postgresql[name] = int(await sessions.fetchval(f"SELECT count(*) FROM {name}"))
    finally:
        reader.close()
    return report


async def _copy_papers(session: Session, target: PostgresDatabase, rows: Sequence[Any]) -> int:
    """One batch of papers: staged by COPY, inserted unless known, categories alongside."""
    # A SQLite file may hold NUL characters written before stores removed them.
    papers = [without_nul(sqlite_codec.paper_from_row(r)) for r in rows]
    vectors = await asyncio.to_thread(
        target.lexer.binary_documents,
        ((p.title, ", ".join(p.authors), p.abstract) for p in papers),
    )
    records = [
        (
            seq,
            "i",
            *codec.paper_row(
                paper,
                sqlite_codec.parse_ts(row["first_seen"]) or paper.first_seen,  # type: ignore[arg-type]
                sqlite_codec.parse_ts(row["changed_at"]),  # type: ignore[arg-type]
            ),
            vector,
        )
        for seq, (paper, row, vector) in enumerate(zip(papers, rows, vectors, strict=True))
    ]
    await session.execute(STAGE_CREATE)
    await session.copy_records("paper_stage", records, STAGE_COLUMNS)
    inserted = len(await session.fetch(STAGED_INSERT))
    await session.execute(STAGED_CATEGORIES)
    await session.execute("TRUNCATE paper_stage")
    return inserted
