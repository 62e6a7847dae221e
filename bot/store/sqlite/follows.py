"""Personal follows and the DM queue in SQLite (migration 0005; planned messages' text, 0009)."""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.models import DeliveryState, DmItem, Follow, FollowMode, Paper
from bot.store.common import follows as common
from bot.store.interfaces import KeptItem
from bot.store.sqlite import codec
from bot.store.sqlite.connection import Connections, chunks, marks, where

_WAITING = "('queued', 'sending')"
# The plans of the messages these items (ids as a JSON array) were planned into.
_PLANS_OF_ITEMS = common.drop_plans("id IN (SELECT value FROM json_each(?))")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# An item handed from a follow being paused or removed to another active follow of its member.
_KEEP = (
    "UPDATE dm_queue SET follow_id = ?, mode = ?, relevance = ? "
    "WHERE id = ? AND follow_id = ? AND state = 'queued' AND nonce IS NULL AND EXISTS "
    "(SELECT 1 FROM follows f WHERE f.id = ? AND f.user_id = dm_queue.user_id AND f.paused = 0)"
)


def _follow(row: sqlite3.Row) -> Follow:
    return common.follow_from_values(row, time=codec.parse_ts)


def _item(row: sqlite3.Row) -> DmItem:
    return common.dm_item_from_values(row, time=codec.parse_ts)


class SqliteFollows:
    """The FollowRepository on SQLite."""

    def __init__(self, conns: Connections, clock: Clock) -> None:
        self._conns = conns
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
        async with self._conns.transaction():
            cur = await self._conns.writer.execute(
                "INSERT INTO follows (user_id, name, query, mode, time, min_upvotes, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (user_id, name, query, mode, time, min_upvotes, codec.ts(self._clock())),
            )
            follow = await self.get(int(cur.lastrowid or 0))
        assert follow is not None
        return follow

    async def get(self, follow_id: int) -> Follow | None:
        row = await self._conns.fetchone("SELECT * FROM follows WHERE id = ?", (follow_id,))
        return _follow(row) if row else None

    async def find(self, user_id: int, name: str) -> Follow | None:
        row = await self._conns.fetchone(
            "SELECT * FROM follows WHERE user_id = ? AND name = ?", (user_id, name)
        )
        return _follow(row) if row else None

    async def list(
        self, *, user_id: int | None = None, active_only: bool = False
    ) -> builtins.list[Follow]:
        clauses: list[str] = []
        params: list[Any] = []
        if user_id is not None:
            clauses.append("user_id = ?")
            params.append(user_id)
        if active_only:
            clauses.append("paused = 0")
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = await self._conns.fetchall(f"SELECT * FROM follows{where} ORDER BY id", params)
        return [_follow(r) for r in rows]

    async def remove(self, follow_id: int, *, keep: Sequence[KeptItem] = ()) -> bool:
        async with self._conns.transaction():
            conn = self._conns.writer
            await self._keep(follow_id, keep)
            await conn.execute(
                "DELETE FROM dm_queue WHERE follow_id = ? AND state = 'queued' AND nonce IS NULL",
                (follow_id,),
            )
            cur = await conn.execute("DELETE FROM follows WHERE id = ?", (follow_id,))
            return (cur.rowcount or 0) > 0

    async def set_paused(
        self,
        follow_id: int,
        paused: bool,
        reason: str | None = None,
        *,
        keep: Sequence[KeptItem] = (),
    ) -> None:
        async with self._conns.transaction():
            conn = self._conns.writer
            await conn.execute(
                "UPDATE follows SET paused = ?, pause_reason = ? WHERE id = ?",
                (int(paused), reason if paused else None, follow_id),
            )
            if paused:
                await self._keep(follow_id, keep)
                await conn.execute(
                    "UPDATE dm_queue SET state = 'skipped', error = ? "
                    "WHERE follow_id = ? AND state = 'queued' AND nonce IS NULL",
                    (reason or "follow paused", follow_id),
                )

    async def _keep(self, follow_id: int, keep: Sequence[KeptItem]) -> None:
        """Hand the follow's still-unplanned items that another active follow of the member
        matches over to that follow (the transaction's writer lock keeps both still so)."""
        if keep:
            await self._conns.writer.executemany(_KEEP, [(f, m, r, i, follow_id, f)
                                                         for i, f, m, r in keep])  # fmt: skip

    async def pause_member(self, user_id: int, reason: str) -> int:
        async with self._conns.transaction():
            cur = await self._conns.writer.execute(
                "UPDATE follows SET paused = 1, pause_reason = ? WHERE user_id = ? AND paused = 0",
                (reason, user_id),
            )
            return cur.rowcount or 0

    async def forget(self, user_id: int) -> int:
        async with self._conns.transaction():
            conn = self._conns.writer
            await conn.execute(common.drop_plans("user_id = ?"), (user_id,))
            await conn.execute("DELETE FROM dm_queue WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM dm_members WHERE user_id = ?", (user_id,))
            cur = await conn.execute("DELETE FROM follows WHERE user_id = ?", (user_id,))
            return cur.rowcount or 0

    async def set_notice(self, user_id: int, text: str) -> None:
        async with self._conns.transaction():
            await self._conns.writer.execute(
                "INSERT INTO dm_members (user_id, notice) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET notice = excluded.notice",
                (user_id, text),
            )

    async def take_notice(self, user_id: int) -> str | None:
        async with self._conns.transaction():
            row = await self._conns.fetchone(
                "SELECT notice FROM dm_members WHERE user_id = ?", (user_id,)
            )
            if row is None or row[0] is None:
                return None
            await self._conns.writer.execute(
                "UPDATE dm_members SET notice = NULL WHERE user_id = ?", (user_id,)
            )
            return str(row[0])

    async def last_daily(self, user_id: int) -> str | None:
        row = await self._conns.fetchone(
            "SELECT last_daily_on FROM dm_members WHERE user_id = ?", (user_id,)
        )
        return str(row[0]) if row and row[0] else None

    async def set_last_daily(self, user_ids: Sequence[int], day: str) -> None:
        if not user_ids:
            return
        async with self._conns.transaction():
            await self._conns.writer.executemany(
                "INSERT INTO dm_members (user_id, last_daily_on) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET last_daily_on = excluded.last_daily_on",
                [(u, day) for u in user_ids],
            )

    async def counts(self) -> dict[str, int]:
        row = await self._conns.fetchone(
            "SELECT count(*), coalesce(sum(paused = 0), 0), count(DISTINCT user_id) FROM follows"
        )
        assert row is not None
        return {"follows": int(row[0]), "active": int(row[1]), "members": int(row[2])}


class SqliteDmQueue:
    """The DmQueue on SQLite."""

    def __init__(self, conns: Connections, clock: Clock) -> None:
        self._conns = conns
        self._clock = clock

    async def queue(self, items: Iterable[tuple[int, str, int, FollowMode, int]]) -> int:
        now = codec.ts(self._clock())
        rows = [(u, p, f, m, r, now) for u, p, f, m, r in items]
        return await self._conns.insert_new(
            "INSERT OR IGNORE INTO dm_queue (user_id, paper_id, follow_id, mode, relevance, "
            "queued_at) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )

    async def items(
        self, *, user_id: int | None = None, states: Sequence[DeliveryState] | None = None
    ) -> list[DmItem]:
        clause, params = where("user_id", user_id, states)
        rows = await self._conns.fetchall(f"SELECT * FROM dm_queue{clause} ORDER BY id", params)
        return [_item(r) for r in rows]

    async def daily_due(self, now: datetime) -> list[int]:
        rows = await self._conns.fetchall(
            "SELECT DISTINCT f.user_id FROM follows f "
            "LEFT JOIN dm_members m ON m.user_id = f.user_id "
            "WHERE f.paused = 0 AND f.mode = 'daily' AND f.time <= ? "
            "AND (m.last_daily_on IS NULL OR m.last_daily_on < ?) ORDER BY f.user_id",
            (now.strftime("%H:%M"), now.date().isoformat()),
        )
        return [int(r[0]) for r in rows]

    async def instant_due(self, now: datetime, window: timedelta) -> list[int]:
        rows = await self._conns.fetchall(
            "SELECT q.user_id FROM dm_queue q WHERE q.state = 'queued' AND q.nonce IS NULL "
            "AND q.mode = 'instant' AND EXISTS (SELECT 1 FROM follows f "
            "WHERE f.user_id = q.user_id AND f.paused = 0) "
            "GROUP BY q.user_id HAVING min(q.queued_at) <= ? ORDER BY q.user_id",
            (codec.ts(now - window),),
        )
        return [int(r[0]) for r in rows]

    async def candidates(
        self, user_ids: Sequence[int], mode: FollowMode, *, limit: int | None = None
    ) -> dict[int, list[tuple[DmItem, Paper]]]:
        """Ranked here rather than in SQL: a join would read each paper's whole row once per
        member it is owed to; this reads the queue's small rows and each paper once."""
        out: dict[int, list[tuple[DmItem, Paper]]] = {u: [] for u in user_ids}
        # (id, user_id, paper_id, follow_id, relevance, queued_at), as plain tuples: fast to sort
        waiting: list[tuple[Any, ...]] = []
        for part in chunks([str(u) for u in user_ids]):
            rows = await self._conns.fetchall(
                "SELECT id, user_id, paper_id, follow_id, relevance, queued_at FROM dm_queue "
                f"WHERE user_id IN ({marks(part)}) AND state = 'queued' AND nonce IS NULL "
                "AND mode = ?",
                (*[int(u) for u in part], mode),
            )
            waiting.extend(tuple(r) for r in rows)
        wanted = list({r[2] for r in waiting})
        papers: dict[str, Paper] = {}
        for part in chunks(wanted):
            rows = await self._conns.fetchall(
                f"SELECT * FROM papers WHERE id IN ({marks(part)})", part
            )
            papers.update((str(r["id"]), codec.paper_from_row(r)) for r in rows)
        # Per member: most upvoted, then most relevant, then newest, then first queued.
        votes = {pid: -(p.upvotes if p.upvotes is not None else -1) for pid, p in papers.items()}
        age = {pid: -(p.published or p.first_seen or _EPOCH).timestamp()
               for pid, p in papers.items()}  # fmt: skip
        waiting.sort(key=lambda r: (r[1], votes[r[2]], -r[4], age[r[2]], r[0]))
        taken = 0
        previous = None
        for row_id, user_id, paper_id, follow_id, relevance, queued in waiting:
            if user_id != previous:
                previous, taken = user_id, 0
            if limit is not None and taken >= limit:
                continue
            taken += 1
            queued_at = codec.parse_ts(queued)
            assert queued_at is not None
            item = DmItem(
                id=row_id, user_id=user_id, paper_id=paper_id, mode=mode,
                state=DeliveryState.QUEUED, queued_at=queued_at, follow_id=follow_id,
                relevance=relevance,
            )  # fmt: skip
            out[user_id].append((item, papers[paper_id]))
        return out

    async def count_waiting(
        self, user_ids: Sequence[int], mode: FollowMode
    ) -> dict[int, tuple[int, int]]:
        out = dict.fromkeys(user_ids, (0, 0))
        for part in chunks([str(u) for u in user_ids]):
            rows = await self._conns.fetchall(
                f"SELECT user_id, count(*), max(id) FROM dm_queue WHERE user_id IN ({marks(part)}) "
                "AND state = 'queued' AND nonce IS NULL AND mode = ? GROUP BY user_id",
                (*[int(u) for u in part], mode),
            )
            out.update((int(r[0]), (int(r[1]), int(r[2]))) for r in rows)
        return out

    async def drop_unplanned(
        self, user_ids: Sequence[int], mode: FollowMode, reason: str, up_to_id: int
    ) -> int:
        dropped = 0
        async with self._conns.transaction():
            for part in chunks([str(u) for u in user_ids]):
                cur = await self._conns.writer.execute(
                    "UPDATE dm_queue SET state = 'skipped', error = ? "
                    f"WHERE user_id IN ({marks(part)}) AND state = 'queued' AND nonce IS NULL "
                    "AND mode = ? AND id <= ?",
                    (reason, *[int(u) for u in part], mode, up_to_id),
                )
                dropped += cur.rowcount or 0
        return dropped

    async def plan(
        self,
        messages: Sequence[tuple[str, Sequence[int]]],
        texts: Mapping[str, str | None] | None = None,
    ) -> None:
        pairs = [[i, nonce] for nonce, ids in messages for i in ids]
        if not pairs:
            return
        texts = texts or {}
        plans = [[nonce, texts.get(nonce), list(ids)] for nonce, ids in messages if ids]
        async with self._conns.transaction():  # one statement each: a day's plan is 100,000s
            await self._conns.writer.execute(
                "UPDATE dm_queue SET nonce = json_extract(j.value, '$[1]') FROM json_each(?) j "
                "WHERE dm_queue.id = json_extract(j.value, '$[0]')",
                (json.dumps(pairs),),
            )
            await self._conns.writer.execute(
                "INSERT OR REPLACE INTO dm_messages (nonce, content, items) "
                "SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), "
                "json_extract(j.value, '$[2]') FROM json_each(?) j",
                (json.dumps(plans),),
            )

    async def message_plans(self, nonces: Sequence[str]) -> dict[str, tuple[str | None, list[int]]]:
        out: dict[str, tuple[str | None, list[int]]] = {}
        for part in chunks(list(dict.fromkeys(nonces))):
            rows = await self._conns.fetchall(
                f"SELECT nonce, content, items FROM dm_messages WHERE nonce IN ({marks(part)})",
                part,
            )
            out.update((str(r[0]), (r[1], [int(i) for i in json.loads(r[2])])) for r in rows)
        return out

    async def drop_waiting(self, reason: str) -> int:
        async with self._conns.transaction():
            conn = self._conns.writer
            await conn.execute(common.drop_plans(f"state IN {_WAITING}"))
            cur = await conn.execute(
                f"UPDATE dm_queue SET state = 'skipped', error = ? WHERE state IN {_WAITING}",
                (reason,),
            )
            return cur.rowcount or 0

    async def planned(self, now: datetime, *, in_flight: bool) -> list[DmItem]:
        if in_flight:
            rows = await self._conns.fetchall(
                "SELECT * FROM dm_queue WHERE state = 'sending' ORDER BY id"
            )
        else:
            rows = await self._conns.fetchall(
                "SELECT * FROM dm_queue WHERE state = 'queued' AND nonce IS NOT NULL "
                "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id",
                (codec.ts(now),),
            )
        return [_item(r) for r in rows]

    async def mark_sending(self, item_ids: Sequence[int], now: datetime) -> None:
        await self._each(
            "UPDATE dm_queue SET state = 'sending', attempted_at = ? WHERE id = ?",
            [(codec.ts(now), i) for i in item_ids],
        )

    async def mark_sent(self, item_ids: Sequence[int], message_id: int, now: datetime) -> None:
        await self._each(
            "UPDATE dm_queue SET state = 'sent', message_id = ?, sent_at = ?, error = NULL "
            "WHERE id = ?",
            [(message_id, codec.ts(now), i) for i in item_ids],
            settled=item_ids,
        )

    async def mark_retry(self, item_ids: Sequence[int], error: str, when: datetime) -> None:
        await self._each(
            "UPDATE dm_queue SET state = 'queued', error = ?, next_attempt_at = ? WHERE id = ?",
            [(error, codec.ts(when), i) for i in item_ids],
        )

    async def mark_failed(self, item_ids: Sequence[int], error: str) -> None:
        await self._each(
            "UPDATE dm_queue SET state = 'failed', error = ? WHERE id = ?",
            [(error, i) for i in item_ids],
            settled=item_ids,
        )

    async def mark_skipped(self, item_ids: Sequence[int], reason: str) -> None:
        await self._each(
            "UPDATE dm_queue SET state = 'skipped', error = ? WHERE id = ?",
            [(reason, i) for i in item_ids],
            settled=item_ids,
        )

    async def refuse(self, user_id: int, item_ids: Sequence[int], error: str) -> None:
        async with self._conns.transaction():
            conn = self._conns.writer
            await conn.execute(_PLANS_OF_ITEMS, (json.dumps(list(item_ids)),))
            await conn.execute(
                common.drop_plans(f"user_id = ? AND state IN {_WAITING}"), (user_id,)
            )
            await conn.executemany(
                "UPDATE dm_queue SET state = 'refused', error = ? WHERE id = ?",
                [(error, i) for i in item_ids],
            )
            await conn.execute(
                f"UPDATE dm_queue SET state = 'skipped', error = ? "
                f"WHERE user_id = ? AND state IN {_WAITING}",
                (error, user_id),
            )

    async def counts(self, since: datetime) -> dict[str, int]:
        row = await self._conns.fetchone(
            "SELECT count(DISTINCT CASE WHEN state = 'sent' AND sent_at >= ? "
            "THEN coalesce(nonce, id) END), "
            "count(DISTINCT CASE WHEN state = 'refused' THEN coalesce(nonce, id) END), "
            f"coalesce(sum(state IN {_WAITING}), 0) FROM dm_queue",
            (codec.ts(since),),
        )
        assert row is not None
        return {"sent": int(row[0]), "refused": int(row[1]), "waiting": int(row[2])}

    async def _each(
        self, sql: str, rows: Sequence[tuple[Any, ...]], *, settled: Sequence[int] = ()
    ) -> None:
        """`settled`: items whose message is done, so its kept plan goes too."""
        async with self._conns.transaction():
            if settled:
                await self._conns.writer.execute(_PLANS_OF_ITEMS, (json.dumps(list(settled)),))
            await self._conns.writer.executemany(sql, rows)
