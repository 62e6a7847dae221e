"""Opening the SQLite file, and the one rule for who may read and write through which connection.

Writes go through one writer connection and take turns: `transaction()` holds a lock and a
`BEGIN IMMEDIATE` for the task that opened it, and nested calls in that task join it.

Reads must never see another task's uncommitted writes: a publisher that saw a delivery queued
by a poll that then rolls back would post a paper the database no longer owes. So a read from a
task that owns the open transaction runs on the writer (it must see its own writes); any other
read runs on a second, query-only connection, which in WAL mode sees the last commit and never
waits for the writer. An in-memory database cannot have a second connection: there, a read
from a task that does not own the transaction waits for the write lock instead.

Which task owns which transaction is kept in one module-level context variable holding the
`Connections` whose transaction the current task opened; tasks started inside a transaction
inherit it, as they inherit any context.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from bot.errors import StoreError
from bot.store.sqlite.migrate import migrate

MEMORY = ":memory:"
Params = Sequence[Any] | dict[str, Any]

_owned: contextvars.ContextVar[tuple[Connections, ...]] = contextvars.ContextVar(
    "paperfeed_sqlite_transactions", default=()
)


class Connections:
    """The writer and reader connections of one database, and the write lock between tasks."""

    def __init__(
        self, writer: aiosqlite.Connection, reader: aiosqlite.Connection | None, path: str
    ) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()
        self.in_transaction = False

    def each(self) -> tuple[aiosqlite.Connection, ...]:
        """Every open connection, the writer first (for SQLite-specific tests and tools)."""
        return (self._writer,) if self._reader is None else (self._writer, self._reader)

    def owns_transaction(self) -> bool:
        """Whether the current task opened (or inherited) this database's open transaction."""
        return self in _owned.get()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Everything inside commits together or not at all; nesting in one task joins it.

        Transactions take turns (a lock): a delivery recorded while a poll's transaction is open
        must not become part of it, or a rollback of the poll would forget that it was sent.
        """
        if self.owns_transaction():
            yield
            return
        async with self._lock:
            token = _owned.set((*_owned.get(), self))
            self.in_transaction = True
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    await self._writer.rollback()
                    raise
                await self._writer.commit()
            except sqlite3.Error as exc:
                raise StoreError(f"database error: {exc}") from exc
            finally:
                self.in_transaction = False
                _owned.reset(token)

    @property
    def writer(self) -> aiosqlite.Connection:
        """The writer connection, for statements inside this task's own transaction."""
        if not self.owns_transaction():
            raise RuntimeError("a write outside the task's transaction; use transaction()")
        return self._writer

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """A connection that shows committed data, plus this task's own uncommitted writes."""
        if self.owns_transaction():
            yield self._writer
        elif self._reader is not None:
            yield self._reader
        else:
            async with self._lock:
                yield self._writer

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self.reading() as conn, conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self.reading() as conn, conn.execute(sql, params) as cur:
            return await cur.fetchone()

    async def insert_new(self, sql: str, rows: Sequence[Params]) -> int:
        """Run an `INSERT OR IGNORE` for every row in one transaction; how many rows were new."""
        if not rows:
            return 0
        async with self.transaction():
            conn = self.writer
            before = conn.total_changes
            await conn.executemany(sql, rows)
            return conn.total_changes - before

    async def close(self) -> None:
        """Close the reader first, so the writer, closing last, checkpoints the WAL."""
        try:
            if self._reader is not None:
                await self._reader.close()
        finally:
            await self._writer.close()


def chunks(items: Sequence[str], size: int = 500) -> Iterable[list[str]]:
    """Ids in slices well under SQLite's limit on bound variables per statement."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def where(
    column: str, value: object | None, states: Sequence[enum.Enum] | None
) -> tuple[str, list[Any]]:
    """A WHERE clause (or "") for listings filtered by one column's value and some states."""
    clauses: list[str] = []
    params: list[Any] = []
    if value is not None:
        clauses.append(f"{column} = ?")
        params.append(value)
    if states:
        clauses.append(f"state IN ({marks(states)})")
        params.extend(s.value for s in states)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def marks(items: Sequence[object]) -> str:
    """`?, ?, ?` for an IN (...) list of these items."""
    return ", ".join("?" for _ in items)


def create_private_file(path: Path) -> None:
    """Create an empty file that only its owner can read and write."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)


async def _configure(conn: aiosqlite.Connection) -> None:
    conn.row_factory = sqlite3.Row
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute("PRAGMA busy_timeout = 5000")
    await conn.execute("PRAGMA synchronous = NORMAL")
    # Temporary tables (an upsert's staged rows: ~12 MB for an import batch) in memory, not in
    # a temporary file: ~2 % of an import's CPU at 300k papers.
    await conn.execute("PRAGMA temp_store = MEMORY")


async def _connect(path: str) -> aiosqlite.Connection:
    try:
        return await aiosqlite.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"{Path(path)}: cannot open the database: {exc}") from None


async def open_connections(path: str, *, create: bool) -> Connections:
    """Open (creating and migrating if needed) the writer, then the reader; the caller closes."""
    db_path = Path(path)
    if path != MEMORY and not db_path.exists():
        if not create:
            raise StoreError(
                f"{db_path}: no database here (run `paperfeed import` or `poll` first)"
            )
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            create_private_file(db_path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreError(f"{db_path}: cannot create the database: {exc.strerror}") from None
    writer = await _connect(path)
    reader = None
    try:
        try:
            await _configure(writer)
            await migrate(writer)
            if path != MEMORY:
                reader = await _connect(path)
                await _configure(reader)
                await reader.execute("PRAGMA query_only = ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{db_path}: not a usable paperfeed database: {exc}") from None
    except BaseException:
        if reader is not None:
            await reader.close()
        await writer.close()
        raise
    return Connections(writer, reader, path)
