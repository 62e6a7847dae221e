"""The PostgreSQL `Database`: the repositories over one pool, and maintenance."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import asyncpg

from bot.clock import Clock, utcnow
from bot.errors import StoreError
from bot.secrets import DatabaseUrl
from bot.store.index_slots import IndexPlan
from bot.store.postgres.cluster import PostgresCluster
from bot.store.postgres.connect import open_pool
from bot.store.postgres.feeds import PostgresFeeds
from bot.store.postgres.follows import PostgresDmQueue, PostgresFollows
from bot.store.postgres.identify import PostgresIdentifies
from bot.store.postgres.lexemes import Lexer
from bot.store.postgres.local_index import open_local_index
from bot.store.postgres.outbox import PostgresOutbox
from bot.store.postgres.papers import PostgresPapers
from bot.store.postgres.publishing import PostgresRestBudget, watch_outbox
from bot.store.postgres.session import Session, Sessions
from bot.store.postgres.sources import PostgresSources
from bot.store.postgres.vectors import PostgresVectors


def backup_hint(url: DatabaseUrl) -> str:
    """`db backup` on PostgreSQL: one line saying what to use instead."""
    return (
        "paperfeed db backup copies SQLite files; back up PostgreSQL with its own tools, e.g. "
        f"pg_dump --format=custom --file=paperfeed.dump '{url.redacted()}'"
    )


class PostgresDatabase:
    """One PostgreSQL database through a pool, opened by `open_postgres`."""

    def __init__(self, pool: asyncpg.Pool[Any], url: DatabaseUrl, clock: Clock = utcnow) -> None:
        self.url = url
        self._sessions = Sessions(pool, url)
        self._lexer = Lexer()
        self.papers = PostgresPapers(self._sessions, self._lexer, clock)
        self.feeds = PostgresFeeds(self._sessions, clock)
        self._origin = secrets.token_hex(8)  # tells this process's NOTIFYs from others'
        self.outbox = PostgresOutbox(self._sessions, clock, self._origin)
        self.sources = PostgresSources(self._sessions, clock)
        self.follows = PostgresFollows(self._sessions, clock)
        self.dms = PostgresDmQueue(self._sessions, clock)
        self.rest_budget = PostgresRestBudget(self._sessions)
        self.identifies = PostgresIdentifies(self._sessions)
        self.vectors = PostgresVectors(self._sessions)
        self.cluster = PostgresCluster(self._sessions)

    def watch_outbox(self, wake: Callable[[], None]) -> AbstractAsyncContextManager[None]:
        """Wake the publisher when any process queues deliveries (LISTEN/NOTIFY)."""
        return watch_outbox(self.url, wake, ignore=self._origin)

    @property
    def lexer(self) -> Lexer:
        """SQLite's tokenizer, for tools that write papers in bulk (db copy)."""
        return self._lexer

    @property
    def sessions(self) -> Sessions:
        """The pool and its transactions, for PostgreSQL-specific tools (db copy) and tests."""
        return self._sessions

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Everything inside commits together or not at all; nesting in one task joins it.

        After the outermost one commits, this process's next search catches up first, so it
        finds what was written here (a poll's batch is stored in one of these).
        """
        outermost = not self._sessions.in_transaction()
        async with self._sessions.transaction():
            yield
        if outermost and self.papers.index is not None:
            self.papers.index.written()

    async def backup(self, destination: str | os.PathLike[str]) -> Path:
        raise StoreError(backup_hint(self.url))

    async def integrity_check(self) -> str:
        """PostgreSQL checks its own pages; "ok" means the server answers and the schema is there."""
        found = await self._sessions.fetchval("SELECT to_regclass('papers') IS NOT NULL")
        return "ok" if found else "the papers table is missing"

    async def check_writable(self, timeout: float = 2.0) -> bool:
        """True when the server takes writes (not a read-only standby or session)."""

        async def probe(session: Session) -> bool:
            return bool(
                await session.fetchval(
                    "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'"
                )
            )

        if not await self._sessions.read(probe):
            raise StoreError(f"PostgreSQL at {self.url.redacted()}: read-only, takes no writes")
        return True

    def close(self) -> None:
        self._lexer.close()


@contextlib.asynccontextmanager
async def open_postgres(
    url: DatabaseUrl | str,
    *,
    clock: Clock = utcnow,
    index: IndexPlan | None = None,
    **pool_options: Any,
) -> AsyncIterator[PostgresDatabase]:
    """Open the pool, migrate the schema, and always close both afterwards.

    With an `index` plan, this process's local search index too (bot/store/postgres/local_index.py).
    """
    url = url if isinstance(url, DatabaseUrl) else DatabaseUrl(url)
    async with open_pool(url, **pool_options) as pool:
        database = PostgresDatabase(pool, url, clock)
        try:
            if index is not None and index.mode != "off":
                database.papers.index = await open_local_index(database.sessions, index)
            yield database
        finally:
            if database.papers.index is not None:
                await database.papers.index.close()
            database.close()
