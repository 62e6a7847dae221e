"""Personal follows and the DM queue in PostgreSQL (migration 0004; planned messages' text, 0011).

The (user_id, paper_id) unique key makes queueing idempotent across processes, as the
deliveries key is for feeds.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bot.clock import Clock
from bot.models import DeliveryState, DmItem, Follow, FollowMode, Paper
from bot.store.common import follows as common
from bot.store.interfaces import KeptItem
from bot.store.postgres import codec
from bot.store.postgres.session import Session, Sessions

_WAITING = "('queued', 'sending')"
# The plans of the messages these items ($1, bigint[]) were planned into.
_PLANS_OF_ITEMS = common.drop_plans("id = ANY($1::bigint[])")


def _follow(row: asyncpg.Record) -> Follow:
    return common.follow_from_values(row, time=codec.utc)


def _item(row: asyncpg.Record) -> DmItem:
    return common.dm_item_from_values(row, time=codec.utc)


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def _keep(session: Session, follow_id: int, keep: Sequence[KeptItem]) -> None:
    """Hand the follow's still-unplanned items that another active follow of the member matches
    over to that follow. The new follows are locked first (FOR SHARE), so a pause of one of them
    committing meanwhile is either seen here or waits and then drops what was handed to it."""
    if not keep:
        return
    await session.execute(
        "SELECT 1 FROM follows WHERE id = ANY($1::bigint[]) ORDER BY id FOR SHARE",
        sorted({f for _, f, _, _ in keep}),
    )
    await session.execute(
        "UPDATE dm_queue q SET follow_id = k.f, mode = k.m, relevance = k.r "
        "FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[]) AS k(i, f, m, r) "
        "JOIN follows f ON f.id = k.f AND NOT f.paused "
        "WHERE q.id = k.i AND q.follow_id = $5 AND q.user_id = f.user_id "
        "AND q.state = 'queued' AND q.nonce IS NULL",
        [k[0] for k in keep], [k[1] for k in keep], [k[2] for k in keep], [k[3] for k in keep],
        follow_id,
    )  # fmt: skip


class PostgresFollows:
    """The FollowRepository on PostgreSQL."""

    def __init__(self, sessions: Sessions, clock: Clock) -> None:
        self._s = sessions
        self._clock = clock

    async def add(
        self,
        user_id: int,
        name: str,
        query: str,
        *,
        mode: FollowMode = "daily",
        time: str = "08:00",
        min_upvotes: int = 0,
    ) -> Follow:
        row = await self._s.fetchrow(
            "INSERT INTO follows (user_id, name, query, mode, time, min_upvotes, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
            user_id, name, query, mode, time, min_upvotes, codec.ts(self._clock()),
        )  # fmt: skip
        assert row is not None
        return _follow(row)

    async def get(self, follow_id: int) -> Follow | None:
        row = await self._s.fetchrow("SELECT * FROM follows WHERE id = $1", follow_id)
        return _follow(row) if row else None

    async def find(self, user_id: int, name: str) -> Follow | None:
        row = await self._s.fetchrow(
            "SELECT * FROM follows WHERE user_id = $1 AND name = $2", user_id, name
        )
        return _follow(row) if row else None

    async def list(
        self, *, user_id: int | None = None, active_only: bool = False
    ) -> builtins.list[Follow]:
        clauses: list[str] = []
        params: list[Any] = []
        if user_id is not None:
            params.append(user_id)
            clauses.append(f"user_id = ${len(params)}")
        if active_only:
            clauses.append("NOT paused")
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = await self._s.fetch(f"SELECT * FROM follows{where} ORDER BY id", *params)
        return [_follow(r) for r in rows]

    async def remove(self, follow_id: int, *, keep: Sequence[KeptItem] = ()) -> bool:
        async def work(session: Session) -> bool:
            await _keep(session, follow_id, keep)
            await session.execute(
                "DELETE FROM dm_queue WHERE follow_id = $1 AND state = 'queued' AND nonce IS NULL",
                follow_id,
            )
            return _count(await session.execute("DELETE FROM follows WHERE id = $1", follow_id)) > 0

        return await self._s.write(work)

    async def set_paused(
        self,
        follow_id: int,
        paused: bool,
        reason: str | None = None,
        *,
        keep: Sequence[KeptItem] = (),
    ) -> None:
        async def work(session: Session) -> None:
            await session.execute(
                "UPDATE follows SET paused = $1, pause_reason = $2 WHERE id = $3",
                paused, reason if paused else None, follow_id,
            )  # fmt: skip
            if paused:
                await _keep(session, follow_id, keep)
                await session.execute(
                    "UPDATE dm_queue SET state = 'skipped', error = $2 "
                    "WHERE follow_id = $1 AND state = 'queued' AND nonce IS NULL",
                    follow_id, reason or "follow paused",
                )  # fmt: skip

        await self._s.write(work)

    async def pause_member(self, user_id: int, reason: str) -> int:
        status = await self._s.execute(
            "UPDATE follows SET paused = true, pause_reason = $1 WHERE user_id = $2 AND NOT paused",
            reason,
            user_id,
        )
        return _count(status)

    async def forget(self, user_id: int) -> int:
        async def work(session: Session) -> int:
            await session.execute(common.drop_plans("user_id = $1"), user_id)
            await session.execute("DELETE FROM dm_queue WHERE user_id = $1", user_id)
            await session.execute("DELETE FROM dm_members WHERE user_id = $1", user_id)
            return _count(await session.execute("DELETE FROM follows WHERE user_id = $1", user_id))

        return await self._s.write(work)

    async def set_notice(self, user_id: int, text: str) -> None:
        await self._s.execute(
            "INSERT INTO dm_members (user_id, notice) VALUES ($1, $2) "
            "ON CONFLICT (user_id) DO UPDATE SET notice = excluded.notice",
            user_id, text,
        )  # fmt: skip

    async def take_notice(self, user_id: int) -> str | None:
        # One statement reads and clears it, so two processes never both tell it.
        value = await self._s.fetchval(
            "UPDATE dm_members m SET notice = NULL FROM "
            "(SELECT user_id, notice FROM dm_members WHERE user_id = $1 FOR UPDATE) old "
            "WHERE m.user_id = old.user_id AND old.notice IS NOT NULL RETURNING old.notice",
            user_id,
        )
        return str(value) if value is not None else None

    async def last_daily(self, user_id: int) -> str | None:
        value = await self._s.fetchval(
            "SELECT last_daily_on FROM dm_members WHERE user_id = $1", user_id
        )
        return str(value) if value else None

    async def set_last_daily(self, user_ids: Sequence[int], day: str) -> None:
        if not user_ids:
            return
        await self._s.execute(
            "INSERT INTO dm_members (user_id, last_daily_on) SELECT u, $2 FROM unnest($1::bigint[]) u "
            "ON CONFLICT (user_id) DO UPDATE SET last_daily_on = excluded.last_daily_on",
            list(user_ids), day,
        )  # fmt: skip

    async def counts(self) -> dict[str, int]:
        row = await self._s.fetchrow(
            "SELECT count(*) AS n, count(*) FILTER (WHERE NOT paused) AS active, "
            "count(DISTINCT user_id) AS members FROM follows"
        )
        assert row is not None
        return {"follows": int(row["n"]), "active": int(row["active"]),
                "members": int(row["members"])}  # fmt: skip


class PostgresDmQueue:
    """The DmQueue on PostgreSQL."""

    def __init__(self, sessions: Sessions, clock: Clock) -> None:
        self._s = sessions
        self._clock = clock

    async def queue(self, items: Iterable[tuple[int, str, int, FollowMode, int]]) -> int:
        rows = list(items)
        if not rows:
            return 0
        status = await self._s.execute(
            "INSERT INTO dm_queue (user_id, paper_id, follow_id, mode, relevance, queued_at) "
            "SELECT u, p, f, m, r, $6 FROM unnest($1::bigint[], $2::text[], $3::bigint[], "
            "$4::text[], $5::int[]) WITH ORDINALITY AS x(u, p, f, m, r, n) "
            "ORDER BY n ON CONFLICT (user_id, paper_id) DO NOTHING",
            [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
            [r[3] for r in rows], [r[4] for r in rows], codec.ts(self._clock()),
        )  # fmt: skip
        return _count(status)

    async def items(
        self, *, user_id: int | None = None, states: Sequence[DeliveryState] | None = None
    ) -> list[DmItem]:
        clauses: list[str] = []
        params: list[Any] = []
        if user_id is not None:
            params.append(user_id)
            clauses.append(f"user_id = ${len(params)}")
        if states:
            params.append([s.value for s in states])
            clauses.append(f"state = ANY(${len(params)}::text[])")
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = await self._s.fetch(f"SELECT * FROM dm_queue{where} ORDER BY id", *params)
        return [_item(r) for r in rows]

    async def daily_due(self, now: datetime) -> list[int]:
        rows = await self._s.fetch(
            "SELECT DISTINCT f.user_id FROM follows f "
            "LEFT JOIN dm_members m ON m.user_id = f.user_id "
            "WHERE NOT f.paused AND f.mode = 'daily' AND f.time <= $1 "
            "AND (m.last_daily_on IS NULL OR m.last_daily_on < $2) ORDER BY f.user_id",
            now.strftime("%H:%M"), now.date().isoformat(),
        )  # fmt: skip
        return [int(r[0]) for r in rows]

    async def instant_due(self, now: datetime, window: timedelta) -> list[int]:
        rows = await self._s.fetch(
            "SELECT q.user_id FROM dm_queue q WHERE q.state = 'queued' AND q.nonce IS NULL "
            "AND q.mode = 'instant' AND EXISTS (SELECT 1 FROM follows f "
            "WHERE f.user_id = q.user_id AND NOT f.paused) "
            "GROUP BY q.user_id HAVING min(q.queued_at) <= $1 ORDER BY q.user_id",
            codec.ts(now - window),
        )
        return [int(r[0]) for r in rows]

    async def candidates(
        self, user_ids: Sequence[int], mode: FollowMode, *, limit: int | None = None
    ) -> dict[int, list[tuple[DmItem, Paper]]]:
        out: dict[int, list[tuple[DmItem, Paper]]] = {u: [] for u in user_ids}
        if not user_ids:
            return out
        rows = await self._s.fetch(
            "SELECT * FROM (SELECT q.*, row_number() OVER (PARTITION BY q.user_id "
            "ORDER BY coalesce(p.upvotes, -1) DESC, q.relevance DESC, "
            "coalesce(p.published, p.first_seen) DESC, q.id) AS rank "
            "FROM dm_queue q JOIN papers p ON p.id = q.paper_id "
            "WHERE q.user_id = ANY($1::bigint[]) AND q.state = 'queued' "
            "AND q.nonce IS NULL AND q.mode = $2) ranked "
            "WHERE $3::int IS NULL OR rank <= $3::int ORDER BY user_id, rank",
            list(user_ids), mode, limit,
        )  # fmt: skip
        items = [_item(r) for r in rows]
        # Members share papers: each is read once and the same object handed to every member.
        wanted = list(dict.fromkeys(i.paper_id for i in items))
        paper_rows = await self._s.fetch(
            f"SELECT {codec.PAPER_SELECT} FROM papers p WHERE p.id = ANY($1::text[])", wanted
        )
        papers = {str(r["id"]): codec.paper_from_row(r) for r in paper_rows}
        for item in items:
            out[item.user_id].append((item, papers[item.paper_id]))
        return out

    async def count_waiting(
        self, user_ids: Sequence[int], mode: FollowMode
    ) -> dict[int, tuple[int, int]]:
        out = dict.fromkeys(user_ids, (0, 0))
        rows = await self._s.fetch(
            "SELECT user_id, count(*), max(id) FROM dm_queue WHERE user_id = ANY($1::bigint[]) "
            "AND state = 'queued' AND nonce IS NULL AND mode = $2 GROUP BY user_id",
            list(user_ids), mode,
        )  # fmt: skip
        out.update((int(r[0]), (int(r[1]), int(r[2]))) for r in rows)
        return out

    async def drop_unplanned(
        self, user_ids: Sequence[int], mode: FollowMode, reason: str, up_to_id: int
    ) -> int:
        status = await self._s.execute(
            "UPDATE dm_queue SET state = 'skipped', error = $1 WHERE user_id = ANY($2::bigint[]) "
            "AND state = 'queued' AND nonce IS NULL AND mode = $3 AND id <= $4",
            reason, list(user_ids), mode, up_to_id,
        )  # fmt: skip
        return _count(status)

    async def plan(
        self,
        messages: Sequence[tuple[str, Sequence[int]]],
        texts: Mapping[str, str | None] | None = None,
    ) -> None:
        nonces = [nonce for nonce, ids in messages for _ in ids]
        ids = [i for _, item_ids in messages for i in item_ids]
        if not ids:
            return
        texts = texts or {}
        planned = [(nonce, list(item_ids)) for nonce, item_ids in messages if item_ids]

        async def work(session: Session) -> None:
            await session.execute(
                "UPDATE dm_queue q SET nonce = x.nonce FROM "
                "unnest($1::bigint[], $2::text[]) AS x(id, nonce) WHERE q.id = x.id",
                ids, nonces,
            )  # fmt: skip
            await session.execute(
                "INSERT INTO dm_messages (nonce, content, items) "
                "SELECT n, c, i::jsonb FROM unnest($1::text[], $2::text[], $3::text[]) AS x(n, c, i) "
                "ON CONFLICT (nonce) DO UPDATE SET content = excluded.content, items = excluded.items",
                [n for n, _ in planned], [texts.get(n) for n, _ in planned],
                [json.dumps(i) for _, i in planned],
            )  # fmt: skip

        await self._s.write(work)

    async def message_plans(self, nonces: Sequence[str]) -> dict[str, tuple[str | None, list[int]]]:
        rows = await self._s.fetch(
            "SELECT nonce, content, items::text FROM dm_messages WHERE nonce = ANY($1::text[])",
            list(dict.fromkeys(nonces)),
        )
        return {str(r[0]): (r[1], [int(i) for i in json.loads(r[2])]) for r in rows}

    async def drop_waiting(self, reason: str) -> int:
        async def work(session: Session) -> int:
            await session.execute(common.drop_plans(f"state IN {_WAITING}"))
            return _count(await session.execute(
                f"UPDATE dm_queue SET state = 'skipped', error = $1 WHERE state IN {_WAITING}",
                reason,
            ))  # fmt: skip

        return await self._s.write(work)

    async def planned(self, now: datetime, *, in_flight: bool) -> list[DmItem]:
        if in_flight:
            rows = await self._s.fetch("SELECT * FROM dm_queue WHERE state = 'sending' ORDER BY id")
        else:
            rows = await self._s.fetch(
                "SELECT * FROM dm_queue WHERE state = 'queued' AND nonce IS NOT NULL "
                "AND (next_attempt_at IS NULL OR next_attempt_at <= $1) ORDER BY id",
                codec.ts(now),
            )
        return [_item(r) for r in rows]

    async def mark_sending(self, item_ids: Sequence[int], now: datetime) -> None:
        await self._s.execute(
            "UPDATE dm_queue SET state = 'sending', attempted_at = $2 WHERE id = ANY($1::bigint[])",
            list(item_ids), codec.ts(now),
        )  # fmt: skip

    async def mark_sent(self, item_ids: Sequence[int], message_id: int, now: datetime) -> None:
        async def work(session: Session) -> None:
            await session.execute(_PLANS_OF_ITEMS, list(item_ids))
            await session.execute(
                "UPDATE dm_queue SET state = 'sent', message_id = $2, sent_at = $3, error = NULL "
                "WHERE id = ANY($1::bigint[])",
                list(item_ids), message_id, codec.ts(now),
            )  # fmt: skip

        await self._s.write(work)

    async def mark_retry(self, item_ids: Sequence[int], error: str, when: datetime) -> None:
        await self._s.execute(
            "UPDATE dm_queue SET state = 'queued', error = $2, next_attempt_at = $3 "
            "WHERE id = ANY($1::bigint[])",
            list(item_ids), error, codec.ts(when),
        )  # fmt: skip

    async def mark_failed(self, item_ids: Sequence[int], error: str) -> None:
        await self._set_state(item_ids, "failed", error)

    async def mark_skipped(self, item_ids: Sequence[int], reason: str) -> None:
        await self._set_state(item_ids, "skipped", reason)

    async def _set_state(self, item_ids: Sequence[int], state: str, error: str) -> None:
        """A settled state: the items' message is done, so its kept plan goes too."""

        async def work(session: Session) -> None:
            await session.execute(_PLANS_OF_ITEMS, list(item_ids))
            await session.execute(
                "UPDATE dm_queue SET state = $2, error = $3 WHERE id = ANY($1::bigint[])",
                list(item_ids), state, error,
            )  # fmt: skip

        await self._s.write(work)

    async def refuse(self, user_id: int, item_ids: Sequence[int], error: str) -> None:
        async def work(session: Session) -> None:
            await session.execute(_PLANS_OF_ITEMS, list(item_ids))
            await session.execute(
                common.drop_plans(f"user_id = $1 AND state IN {_WAITING}"), user_id
            )
            await session.execute(
                "UPDATE dm_queue SET state = 'refused', error = $2 WHERE id = ANY($1::bigint[])",
                list(item_ids), error,
            )  # fmt: skip
            await session.execute(
                f"UPDATE dm_queue SET state = 'skipped', error = $2 "
                f"WHERE user_id = $1 AND state IN {_WAITING}",
                user_id, error,
            )  # fmt: skip

        await self._s.write(work)

    async def counts(self, since: datetime) -> dict[str, int]:
        row = await self._s.fetchrow(
            "SELECT count(DISTINCT coalesce(nonce, id::text)) FILTER "
            "(WHERE state = 'sent' AND sent_at >= $1) AS sent, "
            "count(DISTINCT coalesce(nonce, id::text)) FILTER (WHERE state = 'refused') AS refused, "
            f"count(*) FILTER (WHERE state IN {_WAITING}) AS waiting FROM dm_queue",
            codec.ts(since),
        )
        assert row is not None
        return {"sent": int(row["sent"]), "refused": int(row["refused"]),
                "waiting": int(row["waiting"])}  # fmt: skip
