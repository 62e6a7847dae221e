"""The outbox in PostgreSQL: deliveries owed, the attempt recorded before each send, digests.

The (feed_id, paper_id) unique key makes queueing idempotent across processes: a second
queue of the same pair, from anywhere, is ignored by the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from bot.clock import Clock
from bot.models import Delivery, DeliveryState, DueDelivery, Paper
from bot.store.common import codec as common
from bot.store.postgres import codec
from bot.store.postgres.session import Session, Sessions

_DUE_COLUMNS = (
    "SELECT d.*, f.channel_id AS channel_id, f.name AS feed_name, f.guild_id AS guild_id "
    "FROM deliveries d JOIN feeds f ON f.id = d.feed_id "
)
# Work a publisher may claim: attempts left in flight, and (unless $2) queued deliveries due
# at $1, of active instant feeds. Digest deliveries are settled by the digest path.
_WORK = (
    "d.state IN ('queued', 'sending') AND NOT f.paused AND f.mode = 'instant' "
    "AND (d.state = 'sending' OR (NOT $2::boolean "
    "AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= $1))) "
)
# The channel every process listens on for "deliveries were queued".
NOTIFY_CHANNEL = "paperfeed_outbox"


class PostgresOutbox:
    """The Outbox on PostgreSQL: the deliveries table, with its feeds for where to post."""

    def __init__(self, sessions: Sessions, clock: Clock, origin: str = "") -> None:
        self._s = sessions
        self._clock = clock
        self._origin = origin  # the NOTIFY payload: lets this process ignore its own news

    async def queue(self, pairs: Iterable[tuple[int, str]]) -> int:
        """Owe papers to feeds; a (feed, paper) pair is owed once, ever. Returns how many are new."""
        rows = list(pairs)
        if not rows:
            return 0

        async def insert(session: Session) -> int:
            status = await session.execute(
                "INSERT INTO deliveries (feed_id, paper_id, queued_at) "
                "SELECT f, p, $3 FROM unnest($1::bigint[], $2::text[]) "
                "WITH ORDINALITY AS u(f, p, n) ORDER BY n ON CONFLICT (feed_id, paper_id) DO NOTHING",
                [f for f, _ in rows],
                [p for _, p in rows],
                codec.ts(self._clock()),
            )
            added = int(status.rsplit(" ", 1)[-1])
            if added:  # delivered at commit, to every publisher listening (a hint, not a promise)
                await session.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, self._origin)
            return added

        return await self._s.write(insert)

    async def deliveries(
        self, *, feed_id: int | None = None, states: Sequence[DeliveryState] | None = None
    ) -> list[Delivery]:
        clauses: list[str] = []
        params: list[Any] = []
        if feed_id is not None:
            params.append(feed_id)
            clauses.append(f"feed_id = ${len(params)}")
        if states:
            params.append([s.value for s in states])
            clauses.append(f"state = ANY(${len(params)}::text[])")
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = await self._s.fetch(f"SELECT * FROM deliveries{where} ORDER BY id", *params)
        return [codec.delivery_from_row(r) for r in rows]

    async def depth(self) -> int:
        return int(
            await self._s.fetchval(
                "SELECT count(*) FROM deliveries WHERE state IN ('queued', 'sending')"
            )
        )

    async def due(self, now: datetime, limit: int = 500) -> list[DueDelivery]:
        """Queued deliveries of active instant feeds whose retry time has come, oldest first."""
        rows = await self._s.fetch(
            _DUE_COLUMNS + "WHERE d.state = 'queued' AND NOT f.paused AND f.mode = 'instant' "
            "AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= $1) "
            "ORDER BY d.id LIMIT $2",
            codec.ts(now),
            limit,
        )
        return [_due(r) for r in rows]

    async def in_flight(self) -> list[DueDelivery]:
        """Deliveries whose send was recorded but whose outcome was not: reconcile these first."""
        rows = await self._s.fetch(_DUE_COLUMNS + "WHERE d.state = 'sending' ORDER BY d.id")
        return [_due(r) for r in rows]

    async def mark_sending(
        self, delivery_ids: Sequence[int], nonce: str | None, now: datetime
    ) -> None:
        """Record the attempt before the send, so a crash leaves a trace to reconcile."""
        await self._s.execute(
            "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, "
            "nonce = coalesce($1, nonce), attempted_at = $2 WHERE id = ANY($3::bigint[])",
            nonce,
            codec.ts(now),
            list(delivery_ids),
        )

    async def mark_sent(
        self,
        delivery_ids: Sequence[int],
        message_id: int,
        now: datetime,
        thread_id: int | None = None,
    ) -> None:
        ids = list(delivery_ids)

        async def record(session: Session) -> None:
            await session.execute(
                "UPDATE deliveries SET state = 'sent', message_id = $1, thread_id = $2, "
                "sent_at = $3, error = NULL WHERE id = ANY($4::bigint[])",
                message_id,
                thread_id,
                codec.ts(now),
                ids,
            )
            await session.execute(
                "UPDATE feeds SET last_post_at = $1 WHERE id IN "
                "(SELECT feed_id FROM deliveries WHERE id = ANY($2::bigint[]))",
                codec.ts(now),
                ids,
            )

        await self._s.write(record)

    async def mark_retry(self, delivery_id: int, error: str, next_attempt_at: datetime) -> None:
        """Back to the queue after a transient failure, not before `next_attempt_at`."""
        await self._s.execute(
            "UPDATE deliveries SET state = 'queued', error = $1, next_attempt_at = $2 "
            "WHERE id = $3",
            error,
            codec.ts(next_attempt_at),
            delivery_id,
        )

    async def requeue(self, delivery_ids: Sequence[int], error: str | None = None) -> None:
        """Undo an attempt that never reached Discord (the feed paused, or shutdown)."""
        await self._s.execute(
            "UPDATE deliveries SET state = 'queued', error = coalesce($1, error) "
            "WHERE id = ANY($2::bigint[])",
            error,
            list(delivery_ids),
        )

    async def mark_failed(self, delivery_ids: Sequence[int], error: str) -> None:
        """Discord refused the message for good (e.g. 400); keep the reason for /status."""
        await self._set_final("failed", delivery_ids, error)

    async def mark_skipped(self, delivery_ids: Sequence[int], reason: str) -> None:
        await self._set_final("skipped", delivery_ids, reason)

    async def _set_final(self, state: str, delivery_ids: Sequence[int], error: str) -> None:
        await self._s.execute(
            "UPDATE deliveries SET state = $1, error = $2 WHERE id = ANY($3::bigint[])",
            state,
            error,
            list(delivery_ids),
        )

    async def posted_to_channel_by_others(
        self, channel_id: int, paper_ids: Sequence[str], feed_id: int
    ) -> dict[str, str]:
        """Papers that a feed other than `feed_id` sent (or is sending) to this channel, each
        with that feed's name: one channel never gets the same paper twice."""
        if not paper_ids:
            return {}
        rows = await self._s.fetch(
            "SELECT d.paper_id AS paper_id, f.name AS feed_name FROM feeds f "
            "JOIN deliveries d ON d.feed_id = f.id "
            "WHERE f.channel_id = $1 AND f.id != $2 AND d.state IN ('sent', 'sending') "
            "AND d.paper_id = ANY($3::text[]) ORDER BY d.id DESC",
            channel_id,
            feed_id,
            list(paper_ids),
        )
        return {str(r["paper_id"]): str(r["feed_name"]) for r in rows}

    async def digest_candidates(self, feed_id: int) -> list[tuple[int, Paper]]:
        """A digest feed's queued papers, best first: most upvoted, then most recent."""
        rows = await self._s.fetch(
            f"SELECT d.id AS delivery_id, {codec.PAPER_SELECT} FROM deliveries d "
            "JOIN papers p ON p.id = d.paper_id "
            "WHERE d.feed_id = $1 AND d.state IN ('queued', 'sending') "
            "ORDER BY coalesce(p.upvotes, -1) DESC, coalesce(p.published, p.first_seen) DESC, d.id",
            feed_id,
        )
        return [(int(r["delivery_id"]), codec.paper_from_row(r)) for r in rows]

    async def last_digest(self, feed_id: int) -> str | None:
        value = await self._s.fetchval("SELECT last_digest_on FROM feeds WHERE id = $1", feed_id)
        return str(value) if value else None

    async def set_last_digest(self, feed_id: int, day: str) -> None:
        await self._s.execute("UPDATE feeds SET last_digest_on = $1 WHERE id = $2", day, feed_id)

    async def counts(self, since: datetime) -> dict[str, int]:
        """Deliveries by state (sent ones only since a time), for status and metrics."""
        rows = await self._s.fetch(
            "SELECT state, count(*) AS n FROM deliveries "
            "WHERE state != 'sent' OR sent_at >= $1 GROUP BY state",
            codec.ts(since),
        )
        return {str(r["state"]): int(r["n"]) for r in rows}

    async def states_by_feed(self, guild_id: int) -> dict[int, dict[str, int]]:
        """Unsent deliveries of one guild's feeds, counted by feed and state (for /status)."""
        rows = await self._s.fetch(
            "SELECT d.feed_id AS feed_id, d.state AS state, count(*) AS n FROM deliveries d "
            "JOIN feeds f ON f.id = d.feed_id WHERE f.guild_id = $1 AND d.state != 'sent' "
            "GROUP BY d.feed_id, d.state",
            guild_id,
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
        """Claim free channels with work, oldest first (SKIP LOCKED: publishers never wait on
        each other), and return their work in id order."""

        async def take(session: Session) -> list[int]:
            # The oldest claimable work, walked in id order and cut at a window so a huge
            # outbox costs a round no more than the window (the partial index on id).
            wanted = await session.fetch(
                "SELECT w.channel_id AS channel_id FROM (SELECT d.id, f.channel_id "
                "FROM deliveries d JOIN feeds f ON f.id = d.feed_id WHERE " + _WORK + "AND "
                "NOT EXISTS (SELECT 1 FROM channel_claims c WHERE c.channel_id = f.channel_id "
                "AND c.owner != $3 AND c.expires_at > $1) AND NOT f.channel_id = ANY($6::bigint[]) "
                "ORDER BY d.id LIMIT $5) w "
                "GROUP BY w.channel_id ORDER BY min(w.id) LIMIT $4",
                codec.ts(now),
                in_flight_only,
                owner,
                channels * 4,  # room to skip past what racing publishers lock first
                max(limit, channels * 32),
                list(busy),
            )
            ids = [int(r["channel_id"]) for r in wanted]
            if not ids:
                return []
            await session.execute(
                "INSERT INTO channel_claims (channel_id, owner, expires_at) "
                "SELECT unnest($1::bigint[]), '', '-infinity' ON CONFLICT DO NOTHING",
                ids,
            )
            taken = await session.fetch(
                "UPDATE channel_claims SET owner = $1, expires_at = $2 WHERE channel_id IN "
                "(SELECT channel_id FROM channel_claims WHERE channel_id = ANY($3::bigint[]) "
                "AND (owner = $1 OR expires_at <= $4) "
                "ORDER BY array_position($3::bigint[], channel_id) LIMIT $5 "
                "FOR UPDATE SKIP LOCKED) RETURNING channel_id",
                owner,
                codec.ts(until),
                ids,
                codec.ts(now),
                channels,
            )
            return [int(r["channel_id"]) for r in taken]

        held = await self._s.write(take)
        if not held:
            return []
        rows = await self._s.fetch(
            _DUE_COLUMNS + "WHERE " + _WORK + "AND f.channel_id = ANY($3::bigint[]) "
            "ORDER BY d.id LIMIT $4",
            codec.ts(now),
            in_flight_only,
            held,
            limit,
        )
        idle = set(held) - {int(r["channel_id"]) for r in rows}
        await self.release_claims(owner, idle)  # over `limit`: free for others at once
        return [_due(r) for r in rows]

    async def claim_channel(
        self, owner: str, channel_id: int, now: datetime, until: datetime
    ) -> bool:
        """Claim one channel unless another publisher holds it unexpired."""
        row = await self._s.write(lambda s: s.fetchrow(
            "INSERT INTO channel_claims AS c (channel_id, owner, expires_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (channel_id) DO UPDATE SET owner = $2, expires_at = $3 "
            "WHERE c.owner = $2 OR c.expires_at <= $4 RETURNING c.channel_id",
            channel_id,
            owner,
            codec.ts(until),
            codec.ts(now),
        ))  # fmt: skip
        return row is not None

    async def channels_with_work(self, now: datetime, window: int = 4096) -> int:
        count = await self._s.fetchval(
            "SELECT count(DISTINCT w.channel_id) FROM (SELECT f.channel_id FROM deliveries d "
            "JOIN feeds f ON f.id = d.feed_id WHERE " + _WORK + "ORDER BY d.id LIMIT $3) w",
            codec.ts(now),
            False,
            window,
        )
        return int(count or 0)

    async def renew_claims(self, owner: str, until: datetime) -> set[int]:
        """Extend the owner's claims; a channel taken over meanwhile is no longer listed."""
        rows = await self._s.write(lambda s: s.fetch(
            "UPDATE channel_claims SET expires_at = $2 WHERE owner = $1 RETURNING channel_id",
            owner,
            codec.ts(until),
        ))  # fmt: skip
        return {int(r["channel_id"]) for r in rows}

    async def release_claims(self, owner: str, channel_ids: Iterable[int]) -> None:
        ids = list(channel_ids)
        if ids:
            await self._s.execute(
                "DELETE FROM channel_claims WHERE owner = $1 AND channel_id = ANY($2::bigint[])",
                owner,
                ids,
            )


def _due(row: asyncpg.Record) -> DueDelivery:
    return common.due_from_values(row, delivery=codec.delivery_from_row(row), time=codec.utc)
