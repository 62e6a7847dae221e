"""What many publishers share through PostgreSQL: Discord's global budget, and a wake-up.

The budget is one token bucket row timed by the server's clock, so processes on hosts whose
clocks differ still share one rate: each request takes a token in one UPDATE, which re-checks
the row under its lock, so two processes never spend the same token. The wake-up is
LISTEN on a connection of its own (outside the pool, which would hand it to other work): the
outbox NOTIFYs when it queues, at commit. A notification is only a hint; the publisher's timer
still polls, so a lost connection or a missed notification delays a delivery, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg

from bot.secrets import DatabaseUrl
from bot.store.postgres.outbox import NOTIFY_CHANNEL
from bot.store.postgres.session import Sessions

log = logging.getLogger(__name__)

# Seconds since the row's last use, refilled at `rate`; never more than `burst` tokens.
_REFILLED = "least($2::float8, tokens + extract(epoch FROM clock_timestamp() - updated_at) * $3)"
RECONNECT_DELAY = 5.0  # seconds between attempts to listen again after a lost connection


class PostgresRestBudget:
    """The `RestBudget` on PostgreSQL: one row per budget in `rest_budget`."""

    def __init__(self, sessions: Sessions) -> None:
        self._s = sessions

    async def take(self, name: str, rate: float, burst: int) -> float:
        """Take one token if the bucket has it (0.0), else say how long until it will."""
        taken = await self._s.execute(
            f"UPDATE rest_budget SET tokens = {_REFILLED} - 1, updated_at = clock_timestamp() "
            f"WHERE name = $1 AND {_REFILLED} >= 1",
            name,
            float(burst),
            rate,
        )
        if taken.endswith(" 1"):
            return 0.0
        have = await self._s.fetchval(
            f"SELECT {_REFILLED} FROM rest_budget WHERE name = $1", name, float(burst), rate
        )
        if have is None:  # first use: a full bucket, then take from it
            await self._s.execute(
                "INSERT INTO rest_budget (name, tokens, updated_at) "
                "VALUES ($1, $2, clock_timestamp()) ON CONFLICT (name) DO NOTHING",
                name,
                float(burst),
            )
            return await self.take(name, rate, burst)
        return max((1.0 - float(have)) / rate, 0.001)


@contextlib.asynccontextmanager
async def watch_outbox(
    url: DatabaseUrl, wake: Callable[[], None], *, ignore: str = ""
) -> AsyncIterator[None]:
    """Call `wake` on every notification but those whose payload is `ignore` (this process's
    own: it wakes itself without the database); reconnect after a lost connection."""
    stopped = asyncio.Event()

    def notified(_conn: Any, _pid: int, _channel: str, payload: object) -> None:
        if not ignore or payload != ignore:
            wake()

    async def listen() -> None:
        while not stopped.is_set():
            conn: asyncpg.Connection[Any] | None = None
            try:
                conn = await asyncpg.connect(
                    url.get(), timeout=10, server_settings={"application_name": "paperfeed"}
                )
                lost = asyncio.Event()
                conn.add_termination_listener(lambda *_, lost=lost: lost.set())
                await conn.add_listener(NOTIFY_CHANNEL, notified)
                wake()  # anything queued while we were not listening
                ends = [asyncio.ensure_future(stopped.wait()), asyncio.ensure_future(lost.wait())]
                try:
                    await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for end in ends:
                        end.cancel()
                if not stopped.is_set():
                    log.warning("lost the PostgreSQL connection that listens for deliveries")
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning(
                    "cannot listen for deliveries on PostgreSQL at %s (%s); polling meanwhile",
                    url.redacted(), type(exc).__name__,
                )  # fmt: skip
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            if not stopped.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopped.wait(), RECONNECT_DELAY)

    task = asyncio.create_task(listen(), name="paperfeed outbox listener")
    try:
        yield
    finally:
        stopped.set()
        try:
            await asyncio.wait_for(task, 5)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
