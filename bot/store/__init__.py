"""The only package that speaks SQL: the interfaces, the SQLite and PostgreSQL backends and the
batch matcher.

Callers type against `bot.store.interfaces`; `open_store` is the one way to open a database,
used by the composition roots: given the `[database]` configuration it opens PostgreSQL when a
URL is set and the SQLite file otherwise; given a path, that SQLite file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Protocol, overload

from bot.clock import Clock, utcnow
from bot.secrets import DatabaseUrl
from bot.store.index_slots import IndexPlan
from bot.store.interfaces import ClusterStore, Database
from bot.store.sqlite.database import SqliteDatabase
from bot.store.sqlite.database import open_store as open_sqlite

__all__ = ["DatabaseLocation", "IndexPlan", "cluster_store", "open_store"]


class DatabaseLocation(Protocol):
    """Where the database is: a PostgreSQL URL when set, else the SQLite file (`[database]`)."""

    @property
    def path(self) -> str: ...

    @property
    def url(self) -> DatabaseUrl | None: ...


@overload
def open_store(
    target: DatabaseLocation,
    *,
    clock: Clock = utcnow,
    create: bool = True,
    index: IndexPlan | None = None,
) -> contextlib.AbstractAsyncContextManager[Database]: ...


@overload
def open_store(
    target: str | os.PathLike[str],
    *,
    clock: Clock = utcnow,
    create: bool = True,
    index: IndexPlan | None = None,
) -> contextlib.AbstractAsyncContextManager[SqliteDatabase]: ...


def open_store(
    target: DatabaseLocation | str | os.PathLike[str],
    *,
    clock: Clock = utcnow,
    create: bool = True,
    index: IndexPlan | None = None,
) -> contextlib.AbstractAsyncContextManager[Database]:
    """Open (creating and migrating if needed) the configured database; always closes it.

    `create` is SQLite's: a missing file is made unless it is False. A PostgreSQL database
    must exist (the server's administrator creates it); its schema is made on first use.
    `index` says where the search index is and, on PostgreSQL, how this process uses one
    (none without it); a SQLite file keeps its index beside it unless told otherwise.
    """
    folder = index.path if index is not None else None
    helper = index is not None and index.helper
    if isinstance(target, str | os.PathLike):
        return open_sqlite(
            os.fspath(target), clock=clock, create=create, index_dir=folder, index_helper=helper
        )
    if target.url is not None:
        return _open_postgres(target.url, clock, index)
    return open_sqlite(
        target.path, clock=clock, create=create, index_dir=folder, index_helper=helper
    )


@contextlib.asynccontextmanager
async def _open_postgres(
    url: DatabaseUrl, clock: Clock, index: IndexPlan | None
) -> AsyncIterator[Database]:
    # Imported here: a SQLite install never loads the PostgreSQL driver.
    from bot.store.postgres.database import open_postgres

    async with open_postgres(url, clock=clock, index=index) as database:
        yield database


def cluster_store(database: Database) -> ClusterStore | None:
    """The heartbeats and leases of a shared (PostgreSQL) database; None for a SQLite file."""
    found: ClusterStore | None = getattr(database, "cluster", None)
    return found
