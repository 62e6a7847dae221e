"""The SQLite `Database`: the repositories over one pair of connections, and maintenance."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from bot.clock import Clock, utcnow
from bot.errors import StoreError
from bot.store.sqlite.connection import MEMORY, Connections, create_private_file, open_connections
from bot.store.sqlite.feeds import SqliteFeeds
from bot.store.sqlite.follows import SqliteDmQueue, SqliteFollows
from bot.store.sqlite.fulltext import drop_fulltext, fulltext_kept, keep_fulltext
from bot.store.sqlite.identify import LocalIdentifies
from bot.store.sqlite.index_helper import SqliteIndexHelper
from bot.store.sqlite.outbox import SqliteOutbox
from bot.store.sqlite.papers import SqlitePapers
from bot.store.sqlite.search_feed import SqliteChangeFeed
from bot.store.sqlite.sources import SqliteSources
from bot.store.sqlite.vectors import SqliteVectors
from bot.store.tantivy_index import AVAILABLE as TANTIVY
from bot.store.tantivy_index import TantivyIndex

log = logging.getLogger(__name__)


class SqliteDatabase:
    """One SQLite file (or `:memory:`), opened by `open_store` and closed when its block ends."""

    def __init__(self, conns: Connections, clock: Clock = utcnow) -> None:
        self._conns = conns
        self.path = conns.path
        self.papers = SqlitePapers(conns, clock)
        self.feeds = SqliteFeeds(conns, clock)
        self.outbox = SqliteOutbox(conns, clock)
        self.sources = SqliteSources(conns, clock)
        self.follows = SqliteFollows(conns, clock)
        self.dms = SqliteDmQueue(conns, clock)
        self.identifies = LocalIdentifies()
        self.vectors = SqliteVectors(conns)

    @property
    def connections(self) -> Connections:
        """The underlying connections, for SQLite-specific tests and tools."""
        return self._conns

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Everything inside commits together or not at all; nesting in one task joins it.

        After the outermost one commits, the search index reads what it changed (a poll's
        batch is stored in one of these, with the deliveries it owes).
        """
        outermost = not self._conns.owns_transaction()
        async with self._conns.transaction():
            yield
        if outermost and self.papers.index is not None:
            await self.papers.index.catch_up()

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
            create_private_file(dest)
        except OSError as exc:
            raise StoreError(f"{dest}: cannot create the backup: {exc.strerror}") from None
        try:
            target = sqlite3.connect(dest)
        except sqlite3.Error as exc:
            dest.unlink(missing_ok=True)
            raise StoreError(f"backup to {dest} failed: {exc}") from None
        try:
            async with self._conns.reading() as conn:
                await conn.backup(target)
        except sqlite3.Error as exc:
            target.close()
            dest.unlink(missing_ok=True)
            raise StoreError(f"backup to {dest} failed: {exc}") from exc
        target.close()
        return dest

    async def integrity_check(self) -> str:
        row = await self._conns.fetchone("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"

    async def check_writable(self, timeout: float = 2.0) -> bool:
        """Prove the database still takes writes (for /healthz) without writing or disturbing anything.

        The probe runs on a separate, short-lived connection so it can never join or roll back a
        transaction in progress on the writer: it takes the write lock (BEGIN IMMEDIATE), which
        fails on a read-only file, a vanished file or a lock nobody releases, then rolls back.
        """
        if self.path == MEMORY or self._conns.in_transaction:
            return True  # nothing on disk to probe, or the writer is writing right now

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


@contextlib.asynccontextmanager
async def open_store(
    path: str,
    *,
    clock: Clock = utcnow,
    create: bool = True,
    search_index: bool = True,
    index_dir: Path | None = None,
    index_helper: bool = False,
) -> AsyncIterator[SqliteDatabase]:
    """Open (creating and migrating if needed) the database; always closes its connections.

    With `search_index`, its search index (in `index_dir`, by default beside the file) is
    opened and caught up (or built) too; with `index_helper` (an import), a helper process
    indexes the import's batches (bot/store/sqlite/index_helper.py).
    """
    conns = await open_connections(path, create=create)
    try:
        database = SqliteDatabase(conns, clock)
        index = await _open_index(database, index_dir, index_helper) if search_index else None
        dropping = _drop_fulltext_when_built(database, index) if index is not None else None
        try:
            yield database
        finally:
            if dropping is not None and not dropping.done():
                dropping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await dropping
            if index is not None:
                await index.close()
    finally:
        await conns.close()


def _drop_fulltext_when_built(
    database: SqliteDatabase, index: TantivyIndex
) -> asyncio.Task[None] | None:
    """FTS5 answers word searches while the index is built; once it is, FTS5 is not kept."""
    if not index.building:
        return None

    async def drop() -> None:
        await index.wait_built()
        if index.ready:
            await _drop_fulltext(database)

    return asyncio.create_task(drop(), name="fulltext-drop")


async def _drop_fulltext(database: SqliteDatabase) -> None:
    try:
        await drop_fulltext(database.connections)
    except sqlite3.Error as exc:  # a read-only file: FTS5 stays as it was, nothing is lost
        log.warning("SQLite's FTS5 is kept: it could not be dropped (%s)", exc)


_said_no_engine = False


def index_directory(path: str) -> Path:
    """Where the search index of a database file lives: beside it (`papers.sqlite3.index`)."""
    found = Path(path)
    return found.with_name(found.name + ".index")


async def _open_index(
    database: SqliteDatabase, folder: Path | None, with_helper: bool = False
) -> TantivyIndex | None:
    """The file's search index, opened and caught up (or being built); None in memory, or
    where Tantivy cannot be installed (FTS5 then answers every search, as before)."""
    global _said_no_engine
    if database.path == MEMORY:
        return None
    if not TANTIVY:
        if not _said_no_engine:
            log.warning("the tantivy package is not installed: searches use SQLite's FTS5")
            _said_no_engine = True
        await keep_fulltext(database.connections)
        return None
    directory = folder if folder is not None else index_directory(database.path)
    helper = functools.partial(SqliteIndexHelper, database.path, directory) if with_helper else None
    index = TantivyIndex(directory, SqliteChangeFeed(database.connections), helper=helper)
    try:
        await index.open()
    except (ValueError, OSError) as exc:  # Tantivy's errors are ValueErrors
        log.error("the search index cannot be used (searches use FTS5): %s", exc)
        await index.close()
        await keep_fulltext(database.connections)
        return None
    if index.ready:
        await _drop_fulltext(database)
    elif not await fulltext_kept(database.connections):
        index.meanwhile = "searches with words wait for it"
    database.papers.index = index
    return index
