"""The outbox in SQLite: deliveries owed, the attempt recorded before each send, digests."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.models import Delivery, DeliveryState, DueDelivery, Paper
from bot.store.common import codec as common
from bot.store.sqlite import codec
from bot.store.sqlite.connection import Connections, marks, where

_DUE_COLUMNS = (
    "SELECT d.*, f.channel_id AS channel_id, f.name AS feed_name, f.guild_id AS guild_id "
    "FROM deliveries d JOIN feeds f ON f.id = d.feed_id "
)
# Work a publisher may claim: attempts left in flight, and (unless :in_flight_only) queued
# deliveries due at :now, of active instant feeds. Digests are settled by the digest path.
_WORK = (
    "d.state IN ('queued', 'sending') AND f.paused = 0 AND f.mode = 'instant' "
    "AND (d.state = 'sending' OR (NOT :in_flight_only "
    "AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= :now))) "
)


class SqliteOutbox:
    """The Outbox on SQLite: the deliveries table, with its feeds for where to post."""

    def __init__(self, conns: Connections, clock: Clock) -> None:
        self._conns = conns
        self._clock = clock

    async def queue(self, pairs: Iterable[tuple[int, str]]) -> int:
        """Owe papers to feeds; a (feed, paper) pair is owed once, ever. Returns how many are new."""
        rows = [(feed_id, paper_id, codec.ts(self._clock())) for feed_id, paper_id in pairs]
        return await self._conns.insert_new(
            "INSERT OR IGNORE INTO deliveries (feed_id, paper_id, queued_at) VALUES (?, ?, ?)",
            rows,
        )

    async def deliveries(
        self, *, feed_id: int | None = None, states: Sequence[DeliveryState] | None = None
    ) -> list[Delivery]:
        clause, params = where("feed_id", feed_id, states)
        rows = await self._conns.fetchall(f"SELECT * FROM deliveries{clause} ORDER BY id", params)
        return [codec.delivery_from_row(r) for r in rows]

    async def depth(self) -> int:
        row = await self._conns.fetchone(
            "SELECT count(*) FROM deliveries WHERE state IN ('queued', 'sending')"
        )
        return int(row[0]) if row else 0

    async def due(self, now: datetime, limit: int = 500) -> list[DueDelivery]:
        """Queued deliveries of active instant feeds whose retry time has come, oldest first."""
        rows = await self._conns.fetchall(
            _DUE_COLUMNS + "WHERE d.state = 'queued' AND f.paused = 0 AND f.mode = 'instant' "
            "AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ?) "
            "ORDER BY d.id LIMIT ?",
            (codec.ts(now), limit),
        )
        return [_due(r) for r in rows]

    async def in_flight(self) -> list[DueDelivery]:
        """Deliveries whose send was recorded but whose outcome was not: reconcile these first."""
        rows = await self._conns.fetchall(_DUE_COLUMNS + "WHERE d.state = 'sending' ORDER BY d.id")
        return [_due(r) for r in rows]

    async def mark_sending(
        self, delivery_ids: Sequence[int], nonce: str | None, now: datetime
    ) -> None:
        """Record the attempt before the send, so a crash leaves a trace to reconcile."""
        await self._each(
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
        async with self._conns.transaction():
            conn = self._conns.writer
            await conn.executemany(
                "UPDATE deliveries SET state = 'sent', message_id = ?, thread_id = ?, sent_at = ?, "
                "error = NULL WHERE id = ?",
                [(message_id, thread_id, codec.ts(now), i) for i in delivery_ids],
            )
            await conn.execute(
                "UPDATE feeds SET last_post_at = ? WHERE id IN "
                f"(SELECT feed_id FROM deliveries WHERE id IN ({marks(delivery_ids)}))",
                (codec.ts(now), *delivery_ids),
            )

    async def mark_retry(self, delivery_id: int, error: str, next_attempt_at: datetime) -> None:
        """Back to the queue after a transient failure, not before `next_attempt_at`."""
        await self._each(
            "UPDATE deliveries SET state = 'queued', error = ?, next_attempt_at = ? WHERE id = ?",
            [(error, codec.ts(next_attempt_at), delivery_id)],
        )

    async def requeue(self, delivery_ids: Sequence[int], error: str | None = None) -> None:
        """Undo an attempt that never reached Discord (the feed paused, or shutdown)."""
        await self._each(
            "UPDATE deliveries SET state = 'queued', error = coalesce(?, error) WHERE id = ?",
            [(error, i) for i in delivery_ids],
        )

    async def mark_failed(self, delivery_ids: Sequence[int], error: str) -> None:
        """Discord refused the message for good (e.g. 400); keep the reason for /status."""
        await self._each(
            "UPDATE deliveries SET state = 'failed', error = ? WHERE id = ?",
            [(error, i) for i in delivery_ids],
        )

    async def mark_skipped(self, delivery_ids: Sequence[int], reason: str) -> None:
        await self._each(
            "UPDATE deliveries SET state = 'skipped', error = ? WHERE id = ?",
            [(reason, i) for i in delivery_ids],
        )

    async def _each(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """One statement over many rows, in one transaction."""
        async with self._conns.transaction():
            await self._conns.writer.executemany(sql, rows)

    async def posted_to_channel_by_others(
        self, channel_id: int, paper_ids: Sequence[str], feed_id: int
    ) -> dict[str, str]:
        """Papers that a feed other than `feed_id` sent (or is sending) to this channel, each
        with that feed's name: one channel never gets the same paper twice."""
        if not paper_ids:
            return {}
        rows = await self._conns.fetchall(
            "SELECT d.paper_id AS paper_id, f.name AS feed_name FROM feeds f "
            "JOIN deliveries d ON d.feed_id = f.id "
            "WHERE f.channel_id = ? AND f.id != ? AND d.state IN ('sent', 'sending') "
            "AND d.paper_id IN (SELECT value FROM json_each(?)) ORDER BY d.id DESC",
            (channel_id, feed_id, json.dumps(list(paper_ids))),
        )
        return {str(r["paper_id"]): str(r["feed_name"]) for r in rows}

    async def digest_candidates(self, feed_id: int) -> list[tuple[int, Paper]]:
        """A digest feed's queued papers, best first: most upvoted, then most recent."""
        rows = await self._conns.fetchall(
            "SELECT d.id AS delivery_id, p.* FROM deliveries d JOIN papers p ON p.id = d.paper_id "
            "WHERE d.feed_id = ? AND d.state IN ('queued', 'sending') "
            "ORDER BY coalesce(p.upvotes, -1) DESC, coalesce(p.published, p.first_seen) DESC, d.id",
            (feed_id,),
        )
        return [(int(r["delivery_id"]), codec.paper_from_row(r)) for r in rows]

    async def last_digest(self, feed_id: int) -> str | None:
        row = await self._conns.fetchone(
            "SELECT last_digest_on FROM feeds WHERE id = ?", (feed_id,)
        )
        return str(row[0]) if row and row[0] else None

    async def set_last_digest(self, feed_id: int, day: str) -> None:
        async with self._conns.transaction():
            await self._conns.writer.execute(
                "UPDATE feeds SET last_digest_on = ? WHERE id = ?", (day, feed_id)
            )

    async def counts(self, since: datetime) -> dict[str, int]:
        """Deliveries by state (sent ones only since a time), for status and metrics."""
        rows = await self._conns.fetchall(
            "SELECT state, count(*) AS n FROM deliveries "
            "WHERE state != 'sent' OR sent_at >= ? GROUP BY state",
            (codec.ts(since),),
        )
        return {str(r["state"]): int(r["n"]) for r in rows}

    async def states_by_feed(self, guild_id: int) -> dict[int, dict[str, int]]:
        """Unsent deliveries of one guild's feeds, counted by feed and state (for /status)."""
        rows = await self._conns.fetchall(
            "SELECT d.feed_id AS feed_id, d.state AS state, count(*) AS n FROM deliveries d "
            "JOIN feeds f ON f.id = d.feed_id WHERE f.guild_id = ? AND d.state != 'sent' "
            "GROUP BY d.feed_id, d.state",
            (guild_id,),
        )
        return common.states_by_feed(rows)

    async def claim(
        self,
        owner: str,
        now: datetime,
        until: datetime,
        *,
        limit: int = 500,
        channels: int = 64,
        in_flight_only: bool = False,
        busy: Sequence[int] = (),
    ) -> list[DueDelivery]:
        """Claim channels with work, oldest first, and return their work in id order. SQLite
        has one process: a claim left by its previous run (a crash) is its own, taken back at
        once; the table only keeps the publisher's code one path."""
        params: dict[str, Any] = {
            "now": codec.ts(now), "until": codec.ts(until), "owner": owner,
            "in_flight_only": int(in_flight_only), "channels": channels, "limit": limit,
            "busy": json.dumps(list(busy)),
        }  # fmt: skip
        async with self._conns.transaction():
            conn = self._conns.writer
            async with conn.execute(
                "SELECT f.channel_id AS channel_id FROM deliveries d "
                "JOIN feeds f ON f.id = d.feed_id WHERE "
                + _WORK
                + "AND f.channel_id NOT IN (SELECT value FROM json_each(:busy)) "
                "GROUP BY f.channel_id ORDER BY min(d.id) LIMIT :channels",
                params,
            ) as cur:
                held = [int(r[0]) for r in await cur.fetchall()]
            if not held:
                return []
            await conn.executemany(
                "INSERT INTO channel_claims (channel_id, owner, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (channel_id) DO UPDATE SET owner = excluded.owner, "
                "expires_at = excluded.expires_at",
                [(c, owner, params["until"]) for c in held],
            )
            params["held"] = json.dumps(held)
            async with conn.execute(
                _DUE_COLUMNS + "WHERE " + _WORK + "AND f.channel_id IN "
                "(SELECT value FROM json_each(:held)) ORDER BY d.id LIMIT :limit",
                params,
            ) as cur:
                rows = list(await cur.fetchall())
            idle = set(held) - {int(r["channel_id"]) for r in rows}
            await conn.executemany(  # over `limit`: free for others at once
                "DELETE FROM channel_claims WHERE owner = ? AND channel_id = ?",
                [(owner, c) for c in idle],
            )
        return [_due(r) for r in rows]

    async def claim_channel(
        self, owner: str, channel_id: int, now: datetime, until: datetime
    ) -> bool:
        """Claim one channel; always granted (one process: any older claim is its own)."""
        await self._each(
            "INSERT INTO channel_claims (channel_id, owner, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (channel_id) DO UPDATE SET owner = excluded.owner, "
            "expires_at = excluded.expires_at",
            [(channel_id, owner, codec.ts(until))],
        )
        return True

    async def channels_with_work(self, now: datetime, window: int = 4096) -> int:
        rows = await self._conns.fetchall(
            "SELECT count(DISTINCT w.channel_id) FROM (SELECT f.channel_id AS channel_id "
            "FROM deliveries d JOIN feeds f ON f.id = d.feed_id WHERE " + _WORK + "ORDER BY d.id "
            "LIMIT :window) w",
            {"now": codec.ts(now), "in_flight_only": 0, "window": window},
        )
        return int(rows[0][0]) if rows else 0

    async def renew_claims(self, owner: str, until: datetime) -> set[int]:
        """Extend the owner's claims; a channel taken over meanwhile is no longer listed."""
        async with self._conns.transaction():
            conn = self._conns.writer
            await conn.execute(
                "UPDATE channel_claims SET expires_at = ? WHERE owner = ?",
                (codec.ts(until), owner),
            )
            async with conn.execute(
                "SELECT channel_id FROM channel_claims WHERE owner = ?", (owner,)
            ) as cur:
                return {int(r[0]) for r in await cur.fetchall()}

    async def release_claims(self, owner: str, channel_ids: Iterable[int]) -> None:
        await self._each(
            "DELETE FROM channel_claims WHERE owner = ? AND channel_id = ?",
            [(owner, c) for c in channel_ids],
        )


def _due(row: sqlite3.Row) -> DueDelivery:
    return common.due_from_values(row, delivery=codec.delivery_from_row(row), time=codec.parse_ts)
