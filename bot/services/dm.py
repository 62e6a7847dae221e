"""Delivery of personal follows by DM: daily at the member's time, instant after a short window.

Exactly once rests on the same three steps as channel delivery (bot.services.publisher), moved
one step earlier: a DM is *planned* before anything is sent: its papers get the message's nonce
in one transaction that also marks the day's DM as done, so a restart never plans a second DM
for the same day or the same papers. Each send is recorded (`sending`) before it leaves and
carries that nonce; on start, DMs whose outcome was not recorded are looked for among the
bot's DMs with the member by nonce, and only sent again when not found. A refused DM (the
member's DMs are closed) pauses all their follows, drops what waited for them and leaves a
notice for their next command: one request, never a retry. A message sent again is the one
first built: the plan keeps its text and its papers' order beside the nonce.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.clock import Clock
from bot.errors import DeliveryRetryable, DmRefused, MessageRejected
from bot.models import DmItem, FollowMode, Paper
from bot.services.follows import DMS_CLOSED, DMS_CLOSED_NOTICE, DirectMessenger, FollowSettings
from bot.services.publisher import Body, Limiter, RateLimiter, retry_delay
from bot.store.interfaces import Database

log = logging.getLogger(__name__)
# (papers best first, how many more matched, heading) -> the DM's messages, in order, each paper
# one embed, each message within Discord's limits (≤ 10 embeds, ≤ 6,000 characters).
DmBuilder = Callable[[Sequence[Paper], int, str], list[Body]]
# ("sent" | "refused" | "failed" | "retried", how many messages) -> None; e.g. Metrics
DmObserver = Callable[[str, int], None]
MAX_EMBEDS = 10
FULL = "the daily DM was full"


def dm_nonce(user_id: int, key: str, part: int) -> str:
    """Deterministic per (member, DM, message), at most 25 characters as Discord allows."""
    return "dm" + hashlib.sha256(f"{user_id}:{key}:{part}".encode()).hexdigest()[:23]


def daily_heading(day: str) -> str:
    return f"Your papers for {day}"


INSTANT_HEADING = "New papers for your follows"


@dataclass
class DmReport:
    """What one round did, counted in messages (one DM may be several messages)."""

    sent: int = 0
    refused: int = 0
    failed: int = 0
    retried: int = 0
    members: int = 0  # members whose DM was planned this round


@dataclass(frozen=True)
class _Message:
    user_id: int
    nonce: str
    items: tuple[DmItem, ...]
    body: Body | None  # None: rebuild from the papers (a resend after a restart)
    text: str | None = None  # the planned text, when `kept` (None: a message with none)
    kept: bool = False  # the plan's text and order were kept (planned since store 0009/0011)


class DmPublisher:
    """Plans and sends members' DMs; one round at a time (a lock), sends paced by a limiter."""

    def __init__(
        self,
        store: Database,
        messenger: DirectMessenger,
        build: DmBuilder,
        clock: Clock,
        settings: FollowSettings | None = None,
        *,
        limiter: Limiter | None = None,
        rand: Callable[[], float] = random.random,
        on_outcome: DmObserver | None = None,
        concurrency: int = 8,
    ) -> None:
        self._store = store
        self._messenger = messenger
        self._build = build
        self._clock = clock
        self.settings = settings or FollowSettings()
        self._limiter = limiter or RateLimiter()
        self._rand = rand
        self._on_outcome = on_outcome
        self._slots = asyncio.Semaphore(concurrency)
        self._lock = asyncio.Lock()
        self._stopping = False

    def stop(self) -> None:
        """Start no new sends; those under way finish and are recorded."""
        self._stopping = True

    async def reconcile(self) -> DmReport:
        """Settle DMs a crash left `sending`: found by nonce, or sent again with it."""
        async with self._lock:
            report = DmReport()
            left = await self._store.dms.planned(self._clock(), in_flight=True)
            if left:
                log.info("reconciling %d DM item(s) left from a previous run", len(left))
            await self._send_all(await self._regroup(left), report)
            return report

    async def run_once(self) -> DmReport:
        """One round: planned DMs whose (re)try is due, then daily and instant DMs now due."""
        async with self._lock:
            report = DmReport()
            if self._stopping:
                return report
            now = self._clock()
            planned = await self._store.dms.planned(now, in_flight=False)
            await self._send_all(await self._regroup(planned), report)
            daily = await self.plan_daily(now)
            instant = await self.plan_instant(now)
            report.members = len({m.user_id for m in daily + instant})
            await self._send_all(daily + instant, report)
            if report.sent or report.refused or report.failed:
                log.info("DM round: members=%d sent=%d refused=%d failed=%d retried=%d",
                         report.members, report.sent, report.refused, report.failed,
                         report.retried)  # fmt: skip
            return report

    async def plan_daily(self, now: datetime) -> list[_Message]:
        """Plan today's DM of every member whose time has come: their best `daily_size`
        papers; the rest are counted in the DM and dropped. The plan and "done today" commit
        together, so a restart across the minute never plans a second one."""
        users = await self._store.dms.daily_due(now)
        if not users:
            return []
        day = now.date().isoformat()
        size = self.settings.daily_size
        waiting = await self._store.dms.count_waiting(users, "daily")
        full = [u for u in users if waiting[u][0] > size]
        found = await self._store.dms.candidates(users, "daily", limit=size)
        messages: list[_Message] = []
        for user_id in users:
            chosen = found.get(user_id, [])
            more = max(0, waiting[user_id][0] - len(chosen))
            if chosen:
                messages.extend(self._split(user_id, f"d{day}", chosen, more, daily_heading(day)))
        seen = max((top for _, top in waiting.values()), default=0)  # later ones stay
        async with self._store.transaction():
            await self._store.dms.plan(*_plans(messages))
            if full:  # what did not fit is counted in the DM and dropped, never sent later
                await self._store.dms.drop_unplanned(full, "daily", FULL, seen)
            await self._store.follows.set_last_daily(users, day)
        return messages

    async def plan_instant(self, now: datetime) -> list[_Message]:
        """Plan one DM per member whose oldest instant match has waited the window."""
        users = await self._store.dms.instant_due(now, self.settings.instant_window)
        if not users:
            return []
        found = await self._store.dms.candidates(users, "instant")
        messages: list[_Message] = []
        for user_id in users:
            ranked = found.get(user_id, [])
            if ranked:
                key = f"i{min(item.id for item, _ in ranked)}"
                messages.extend(self._split(user_id, key, ranked, 0, INSTANT_HEADING))
        async with self._store.transaction():
            await self._store.dms.plan(*_plans(messages))
        return messages

    def _split(
        self,
        user_id: int,
        key: str,
        ranked: Sequence[tuple[DmItem, Paper]],
        more: int,
        heading: str,
    ) -> list[_Message]:
        """The builder's messages, each with the items whose papers it carries (one embed each)."""
        bodies = self._build([p for _, p in ranked], more, heading)
        out: list[_Message] = []
        start = 0
        for part, body in enumerate(bodies):
            count = len(body.get("embeds", []))
            items = tuple(item for item, _ in ranked[start : start + count])
            start += count
            if items:
                out.append(_Message(user_id, dm_nonce(user_id, key, part), items, body))
        if start < len(ranked):  # a builder that left papers out: they still get sent
            rest = ranked[start:]
            out.append(_Message(user_id, dm_nonce(user_id, key, len(bodies)),
                                tuple(i for i, _ in rest), None, kept=True))  # fmt: skip
        return out

    async def _send_all(self, messages: Sequence[_Message], report: DmReport) -> None:
        """Each member's messages in order, members side by side; a refusal stops a member."""
        by_user: dict[int, list[_Message]] = defaultdict(list)
        for message in messages:
            by_user[message.user_id].append(message)

        async def member(queue: list[_Message]) -> None:
            async with self._slots:
                for message in queue:
                    if self._stopping or not await self._send(message, report):
                        return

        await asyncio.gather(*(member(q) for q in by_user.values()))

    async def _body(self, message: _Message) -> Body:
        if message.body is not None:
            return message.body
        papers = await self._store.papers.get_many([i.paper_id for i in message.items])
        if message.kept:  # as first built: its papers in the planned order, its text
            rank = {item.paper_id: n for n, item in enumerate(message.items)}
            papers.sort(key=lambda p: rank[p.id])
            heading = ""
        else:  # planned before the store kept plans: the best guess at the first message
            papers.sort(key=lambda p: -(p.upvotes or -1))
            mode: FollowMode = message.items[0].mode
            heading = (
                INSTANT_HEADING
                if mode == "instant"
                else daily_heading(message.items[0].queued_at.date().isoformat())
            )
        bodies = self._build(papers, 0, heading)
        if len(bodies) != 1:
            log.warning("a resent DM was rebuilt as %d messages; sending the first", len(bodies))
        if not message.kept:
            return bodies[0]
        body = {k: v for k, v in bodies[0].items() if k != "content"}
        if message.text is not None:
            body["content"] = message.text
        return body

    async def _send(self, message: _Message, report: DmReport) -> bool:
        """Record, send, settle one message; False when the member must not be tried again."""
        ids = [i.id for i in message.items]
        user_id = message.user_id
        try:
            body = await self._body(message)
            if any(i.attempted_at is not None for i in message.items):
                await self._limiter.acquire()
                found = await self._messenger.find_dm(user_id, message.nonce)
                if found is not None:  # an earlier attempt reached the member
                    await self._store.dms.mark_sent(ids, found.message_id, self._clock())
                    self._settled("sent", report)
                    return True
            await self._store.dms.mark_sending(ids, self._clock())
            await self._limiter.acquire()
            posted = await self._messenger.send_dm(user_id, body, nonce=message.nonce)
        except DmRefused as exc:
            async with self._store.transaction():
                await self._store.dms.refuse(user_id, ids, DMS_CLOSED)
                await self._store.follows.pause_member(user_id, DMS_CLOSED)
                await self._store.follows.set_notice(user_id, DMS_CLOSED_NOTICE)
            log.info("member %d does not take DMs (%s): their follows are paused", user_id, exc)
            self._settled("refused", report)
            return False
        except MessageRejected as exc:
            await self._store.dms.mark_failed(ids, str(exc))
            log.warning("a DM to member %d was rejected: %s", user_id, exc)
            self._settled("failed", report)
            return True
        except DeliveryRetryable as exc:
            now = self._clock()
            # Cut short by our own shutdown: no backoff; the next start looks for it first.
            when = now if self._stopping else now + retry_delay(1, self._rand())
            await self._store.dms.mark_retry(ids, str(exc), when)
            log.warning("a DM to member %d will be retried: %s", user_id, exc)
            self._settled("retried", report)
            return False
        await self._store.dms.mark_sent(ids, posted.message_id, self._clock())
        self._settled("sent", report)
        return True

    async def _regroup(self, items: Sequence[DmItem]) -> list[_Message]:
        """Planned items back into their messages, by nonce, in the order they were planned,
        each with the text and paper order its plan kept."""
        groups: dict[tuple[int, str], list[DmItem]] = defaultdict(list)
        for item in items:
            assert item.nonce is not None
            groups[(item.user_id, item.nonce)].append(item)
        kept = await self._store.dms.message_plans([n for _, n in groups]) if groups else {}
        out: list[_Message] = []
        for (user_id, nonce), group in groups.items():
            plan = kept.get(nonce)
            if plan is None:
                out.append(_Message(user_id, nonce, tuple(group), None))
                continue
            text, order = plan
            rank = {item_id: n for n, item_id in enumerate(order)}
            group.sort(key=lambda i: (rank.get(i.id, len(rank)), i.id))
            out.append(_Message(user_id, nonce, tuple(group), None, text, kept=True))
        return out

    def _settled(self, outcome: str, report: DmReport) -> None:
        setattr(report, outcome, getattr(report, outcome) + 1)
        if self._on_outcome is None:
            return
        try:
            self._on_outcome(outcome, 1)
        except Exception:
            log.warning("the DM observer refused outcome %r", outcome, exc_info=True)


def _plans(
    messages: Sequence[_Message],
) -> tuple[list[tuple[str, list[int]]], dict[str, str | None]]:
    """What the store keeps of planned messages: items in order by nonce, and each text."""
    items = [(m.nonce, [i.id for i in m.items]) for m in messages]
    texts = {m.nonce: m.body.get("content") if m.body is not None else None for m in messages}
    return items, texts
