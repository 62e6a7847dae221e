"""Gateway IDENTIFYs on PostgreSQL, shared by every gateway process of a cluster.

A bucket's slot is decided under a transaction-level advisory lock on (namespace, bucket), so
two processes never both take it, and the lock is released by COMMIT or by a lost connection.
Times are the server's `clock_timestamp()`: the machines' own clocks never enter the decision.
A waiting process holds no lock and no connection; it sleeps and asks again.
"""

from __future__ import annotations

from bot.store.postgres.session import Session, Sessions

# The advisory lock namespace of identify buckets ("iden" in ASCII); the bucket is the second key.
IDENTIFY_LOCK = 0x6964656E
BUSY_RETRY = 0.05  # seconds before asking again while another process holds the bucket


class PostgresIdentifies:
    """The IdentifyLedger on PostgreSQL: `identify_buckets` and `gateway_identifies`."""

    def __init__(self, sessions: Sessions) -> None:
        self._s = sessions

    async def claim_identify(self, bucket: int, shard_id: int, window: float, holder: str) -> float:
        async def claim(s: Session) -> float:
            if not await s.fetchval(
                "SELECT pg_try_advisory_xact_lock($1, $2)", IDENTIFY_LOCK, bucket
            ):
                return BUSY_RETRY
            wait = await s.fetchval(
                "SELECT extract(epoch FROM identified_at + make_interval(secs => $2)"
                " - clock_timestamp()) FROM identify_buckets WHERE bucket = $1",
                bucket,
                window,
            )
            if wait is not None and float(wait) > 0:
                return float(wait)
            await s.execute(
                "INSERT INTO identify_buckets (bucket, identified_at) VALUES ($1, clock_timestamp())"
                " ON CONFLICT (bucket) DO UPDATE SET identified_at = EXCLUDED.identified_at",
                bucket,
            )
            await s.execute(
                "INSERT INTO gateway_identifies (shard_id, holder, at)"
                " VALUES ($1, $2, clock_timestamp())",
                shard_id,
                holder,
            )
            await s.execute(
                "DELETE FROM gateway_identifies WHERE at < clock_timestamp() - interval '2 days'"
            )
            return 0.0

        return await self._s.write(claim)

    async def identifies_within(self, seconds: float) -> int:
        count = await self._s.fetchval(
            "SELECT count(*) FROM gateway_identifies"
            " WHERE at > clock_timestamp() - make_interval(secs => $1)",
            seconds,
        )
        return int(count)
