"""Opening PostgreSQL: an asyncpg pool with timeouts, migrated before anyone uses it.

Every error that leaves here is a StoreError whose text names the server by its redacted URL;
the password never appears in a message, a log line or an exception chain.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from bot.errors import StoreError
from bot.secrets import DatabaseUrl
from bot.store.postgres.lexemes import tsvector_from_binary
from bot.store.postgres.migrate import migrate

log = logging.getLogger(__name__)

APPLICATION_NAME = "paperfeed"
DEFAULT_STATEMENT_TIMEOUT = 30.0  # seconds; one slow statement fails alone, the bot goes on
CONNECT_TIMEOUT = 10.0

# What the driver raises when the server cannot be reached or refuses us.
CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    ValueError,  # a URL the driver cannot read (config validation catches most)
)


# jsonb's binary form: a version byte, then the JSON text.
JSONB_VERSION = b"\x01"


def jsonb_out(value: Any) -> bytes:
    """A Python value as binary jsonb; bytes are taken as binary jsonb already (no JSON value
    is bytes), so a bulk COPY can send JSON it made once without the driver encoding it again."""
    if isinstance(value, bytes):
        return value
    return JSONB_VERSION + json.dumps(value, ensure_ascii=False).encode("utf-8")


def jsonb_in(data: bytes) -> Any:
    return json.loads(data[1:])


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    """jsonb columns in and out as Python lists and dicts, in binary (a COPY takes nothing
    else); tsvectors sent in binary too (the store builds them, lexemes.tsvector_binary), so the
    server reads rather than parses them."""
    await conn.set_type_codec(
        "jsonb", encoder=jsonb_out, decoder=jsonb_in, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "tsvector",
        encoder=bytes,
        decoder=tsvector_from_binary,
        schema="pg_catalog",
        format="binary",
    )


def scrub(text: str, url: DatabaseUrl) -> str:
    """`text` with the URL's password removed, should a driver message ever quote it."""
    secret = url.get()
    password = _password_of(secret)
    text = text.replace(secret, url.redacted())
    return text.replace(password, "***") if password else text


def _password_of(url: str) -> str:
    """The password in the URL's user part, if any (for scrubbing only)."""
    authority = url.partition("://")[2].split("/", 1)[0].split("?", 1)[0]
    userinfo = authority.rpartition("@")[0]
    return userinfo.partition(":")[2] if ":" in userinfo else ""


def connect_error(url: DatabaseUrl, exc: BaseException) -> StoreError:
    """One line that says which server (redacted) and why, e.g. "connection refused"."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if isinstance(exc, TimeoutError):
        reason = f"no answer within {CONNECT_TIMEOUT:g} s"
    reason = scrub(reason or type(exc).__name__, url).strip().splitlines()[0]
    return StoreError(f"cannot connect to PostgreSQL at {url.redacted()}: {reason}")


async def create_pool(
    url: DatabaseUrl,
    *,
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
    min_size: int = 1,
    max_size: int = 10,
) -> asyncpg.Pool[Any]:
    """A pool whose connections carry the application name and a server-side statement timeout."""
    settings = {
        "application_name": APPLICATION_NAME,
        "statement_timeout": str(int(statement_timeout * 1000)),  # milliseconds
        # asyncpg prepares every statement; after five runs PostgreSQL may switch to a generic
        # plan that cannot see the tsquery or key window, and picks a bitmap over every match
        # (10-20x slower for broad searches, docs/benchmarks.md). Plan each run for its values.
        "plan_cache_mode": "force_custom_plan",
    }
    try:
        pool: asyncpg.Pool[Any] = await asyncpg.create_pool(
            url.get(),
            min_size=min_size,
            max_size=max_size,
            timeout=CONNECT_TIMEOUT,
            server_settings=settings,
            init=_init_connection,
        )
    except CONNECT_ERRORS as exc:
        raise connect_error(url, exc) from None
    return pool


@contextlib.asynccontextmanager
async def open_pool(
    url: DatabaseUrl | str, *, migrate_schema: bool = True, **options: Any
) -> AsyncIterator[asyncpg.Pool[Any]]:
    """Open the pool, bring the schema up to date, and always close the pool afterwards."""
    url = url if isinstance(url, DatabaseUrl) else DatabaseUrl(url)
    pool = await create_pool(url, **options)
    try:
        if migrate_schema:
            try:
                async with pool.acquire() as conn:
                    version = await migrate(conn)
            except CONNECT_ERRORS as exc:
                raise connect_error(url, exc) from None
            log.debug("PostgreSQL schema at version %d", version)
        yield pool
    finally:
        await pool.close()
