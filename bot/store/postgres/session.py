"""Who runs which statement on which PostgreSQL connection, and what a failure means.

A transaction is one connection taken from the pool for its whole length, so no other task can
see its rows before it commits, and its rows never mix with another task's: the interfaces'
rule that a read never sees another task's uncommitted writes holds by construction. The task
that opened a transaction (and tasks it starts) finds it in a context variable; its statements
run there, one at a time. Anything else takes a connection of its own for one read, or a
transaction of its own for one write.

Failures become the project's errors, one line each, never a traceback and never the password:
a statement that ran past `statement_timeout` is a StoreError of that operation; a connection
lost because the server restarted or went away is `ConnectionLost`. An operation that owns its
transaction is retried on a lost connection (bounded, with backoff): the server rolled it back,
and every write of the store is idempotent, so trying it again on a fresh connection is safe.
An operation inside a caller's transaction is not retried: the whole transaction failed, and the
caller (a poll, a command) decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from bot.errors import StoreError
from bot.secrets import DatabaseUrl
from bot.store.postgres.connect import scrub

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger(__name__)
T = TypeVar("T")

# A lost connection is tried again this many times, waiting 0.2 s, 0.4 s, ... 3.2 s in between
# (about 6 s in all: long enough for a server restart, short enough for a command).
RETRIES = 5
RETRY_DELAY = 0.2

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.CrashShutdownError,
)

# Everything the driver raises for a statement or a connection.
_DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    *_CONNECTION_ERRORS,
)


class ConnectionLost(StoreError):
    """The server went away (restart, crash, network); a new connection may well work."""


def describe(exc: BaseException, url: DatabaseUrl) -> StoreError:
    """The project's error for a driver's exception: one line, the password scrubbed."""
    if isinstance(exc, StoreError):
        return exc
    text = scrub(str(exc) or type(exc).__name__, url).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, asyncpg.QueryCanceledError):
        return StoreError(f"the database did not finish in time ({line}); try a narrower request")
    if _is_connection_error(exc):
        return ConnectionLost(f"lost the connection to PostgreSQL at {url.redacted()}: {line}")
    return StoreError(f"database error: {line}")


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, _CONNECTION_ERRORS):
        return True
    # A statement on a connection the server already closed.
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)


class Session:
    """One connection lent to one unit of work; its statements take turns (one at a time)."""

    def __init__(self, conn: PoolConnectionProxy[Any], url: DatabaseUrl) -> None:
        self.conn = conn
        self._url = url
        self._turn = asyncio.Lock()
        self.active = True

    async def _run(self, call: Callable[[], Awaitable[T]]) -> T:
        async with self._turn:
            try:
                return await call()
            except _DRIVER_ERRORS as exc:
                raise describe(exc, self._url) from exc

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self._run(lambda: self.conn.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self._run(lambda: self.conn.fetchrow(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._run(lambda: self.conn.fetchval(sql, *args))

    async def execute(self, sql: str, *args: Any) -> str:
        return await self._run(lambda: self.conn.execute(sql, *args))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._run(lambda: self.conn.executemany(sql, rows))

    async def copy_records(
        self, table: str, records: Iterable[Sequence[Any]], columns: Sequence[str]
    ) -> None:
        """COPY rows into a table (binary protocol): the fastest way in."""
        await self._run(
            lambda: self.conn.copy_records_to_table(table, records=records, columns=columns)
        )


# Each task's open transactions, by `Sessions` (a tuple of pairs: immutable, so a task that
# inherits it can never change its parent's).
_current: contextvars.ContextVar[tuple[tuple[Sessions, Session], ...]] = contextvars.ContextVar(
    "paperfeed_postgres_transactions", default=()
)


class Sessions:
    """The pool of one database, handing out sessions as the module docstring describes."""

    def __init__(self, pool: asyncpg.Pool[Any], url: DatabaseUrl) -> None:
        self.pool = pool
        self.url = url

    def in_transaction(self) -> bool:
        """True inside a transaction this task (or one that started it) opened."""
        return self._owned() is not None

    def _owned(self) -> Session | None:
        for owner, session in _current.get():
            if owner is self and session.active:
                return session
        return None

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[PoolConnectionProxy[Any]]:
        try:
            async with self.pool.acquire() as conn:
                yield conn
        except _DRIVER_ERRORS as exc:
            raise describe(exc, self.url) from exc

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """A transaction on a connection of its own; nesting in one task joins the outer one."""
        owned = self._owned()
        if owned is not None:
            yield owned
            return
        async with self._connection() as conn:
            session = Session(conn, self.url)
            token = _current.set((*_current.get(), (self, session)))
            transaction = conn.transaction()
            try:
                await session._run(transaction.start)
                try:
                    yield session
                except BaseException:
                    with contextlib.suppress(Exception):  # a lost connection rolled it back
                        await transaction.rollback()
                    raise
                await session._run(transaction.commit)
            finally:
                session.active = False
                _current.reset(token)

    async def write(self, work: Callable[[Session], Awaitable[T]]) -> T:
        """Run `work` atomically: in the task's open transaction, else in one of its own,
        tried again on a fresh connection if the server went away."""
        owned = self._owned()
        if owned is not None:
            return await work(owned)

        async def attempt() -> T:
            async with self.transaction() as session:
                return await work(session)

        return await self._retrying(attempt)

    async def read(self, work: Callable[[Session], Awaitable[T]]) -> T:
        """Run reads: in the task's open transaction (to see its own writes), else on a
        connection of their own that sees only committed rows."""
        owned = self._owned()
        if owned is not None:
            return await work(owned)

        async def attempt() -> T:
            async with self._connection() as conn:
                return await work(Session(conn, self.url))

        return await self._retrying(attempt)

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        delay = RETRY_DELAY
        for tries in range(RETRIES + 1):
            try:
                return await attempt()
            except ConnectionLost as exc:
                if tries == RETRIES:
                    raise
                log.warning("PostgreSQL connection lost, retrying in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self.read(lambda s: s.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self.read(lambda s: s.fetchrow(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self.read(lambda s: s.fetchval(sql, *args))

    async def execute(self, sql: str, *args: Any) -> str:
        return await self.write(lambda s: s.execute(sql, *args))
