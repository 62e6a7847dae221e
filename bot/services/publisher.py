"""Delivery from the outbox to Discord: oldest first, exactly once, and never lost.

The guarantee rests on three steps. Every send is recorded as an attempt (state `sending`)
before it leaves; every send carries a nonce derived from (feed, paper), which Discord uses to
answer a repeated send with the message it already made; and on start, attempts whose outcome
was never recorded are reconciled: the channel's recent messages are checked for the paper and
only then is the send repeated with the same nonce; a retry of an attempt that failed without
an answer (a timeout, a dropped connection) is checked the same way, since Discord remembers a
nonce only for minutes. Failures are sorted by what they mean: a forbidden or missing channel
pauses its feeds at once (no retry storm toward Discord's invalid-request limit), a refused body
marks that delivery failed, anything transient goes back to the queue with exponential backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.errors import ChannelUnavailable, DeliveryRetryable, MessageRejected, StoreError
from bot.models import DueDelivery, Paper
from bot.store.interfaces import Database

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
Body = dict[str, Any]
BodyBuilder = Callable[[Paper, str], Body]  # (paper, feed name) -> message body
# (papers best first, feed name, how many more matched, date label) -> one digest message
DigestBuilder = Callable[[Sequence[Paper], str, int, str], Body]


@dataclass(frozen=True)
class Posted:
    """Where a delivery landed."""

    message_id: int
    thread_id: int | None = None


class DeliveryTarget(Protocol):
    """What the publisher needs from Discord; the Discord layer implements it."""

    async def send(self, channel_id: int, body: Body, *, nonce: str, title: str) -> Posted:
        """Post a message (or, in a forum channel, a post titled `title`)."""
        ...

    async def find_posted(
        self, channel_id: int, paper_id: str, title: str, since: datetime
    ) -> Posted | None:
        """A post of ours in the channel since `since` that carries this paper (by arXiv id)."""
        ...

    async def alert(self, text: str) -> None:
        """Tell the server's admins (the alerts channel); never raises."""
        ...

    def knows_channel(self, channel_id: int) -> bool:
        """Whether posting there needs no extra request first (its kind is already known)."""
        ...


def delivery_nonce(feed_id: int, paper_id: str) -> str:
    """Deterministic per (feed, paper), at most 25 characters, as Discord allows."""
    digest = hashlib.sha256(f"{feed_id}:{paper_id}".encode()).hexdigest()
    return "pf" + digest[:23]


def retry_delay(attempts: int, rand: float) -> timedelta:
    """30 s, 1 min, 2 min ... capped at one hour, with ±20 % jitter."""
    base = min(30.0 * 2 ** max(0, attempts - 1), 3600.0)
    return timedelta(seconds=base * (0.8 + 0.4 * rand))


class RateLimiter:
    """A token bucket below Discord's global 50 requests per second, shared by all sends.

    At most `burst + rate` requests can start in any one second (49 by default), so even a
    full bucket spent at once stays under the limit, whatever window Discord measures in.
    """

    def __init__(
        self,
        rate: float = 44.0,
        burst: int = 5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1 - 1e-9:  # float dust must not strand a waiter
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                await self._sleep(max((1 - self._tokens) / self.rate, 0.001))


@dataclass
class PublishReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0  # already in the channel from another feed
    paused_channels: list[int] = field(default_factory=list)
    more: bool = False  # the round took a full batch: more may be due right now


class Publisher:
    """Sends what the outbox owes; one worker per channel so a slow channel never blocks others."""

    def __init__(
        self,
        store: Database,
        target: DeliveryTarget,
        build_body: BodyBuilder,
        clock: Clock,
        *,
        limiter: RateLimiter | None = None,
        max_channels: int = 16,
        batch_size: int = 500,
        rand: Callable[[], float] = random.random,
        on_outcome: Callable[[str], None] | None = None,
        build_digest: DigestBuilder | None = None,
    ) -> None:
        self._store = store
        self._target = target
        self._build_body = build_body
        self._clock = clock
        self._limiter = limiter or RateLimiter()
        self._channel_slots = asyncio.Semaphore(max_channels)
        self._batch_size = batch_size
        self._rand = rand
        self._on_outcome = on_outcome
        self._build_digest = build_digest
        self._stopping = False
        self._lock = asyncio.Lock()
        self._paced_channels: set[int] = set()

    def stop(self) -> None:
        """Take no new deliveries; those already sending finish and are recorded."""
        self._stopping = True

    async def reconcile(self) -> PublishReport:
        """Settle attempts a crash left unrecorded: found in the channel, or re-sent by nonce."""
        async with self._lock:
            pending = await self._store.outbox.in_flight()
            if pending:
                log.info(
                    "reconciling %d delivery attempt(s) left from a previous run", len(pending)
                )
            return await self._publish(pending, reconciling=True)

    async def publish_due(self) -> PublishReport:
        """One round over the queue; call it whenever polls queue something, and on a timer."""
        async with self._lock:
            if self._stopping:
                return PublishReport()
            due = await self._store.outbox.due(self._clock(), self._batch_size)
            report = await self._publish(due, reconciling=False)
            report.more = len(due) >= self._batch_size
            if report.sent or report.failed or report.paused_channels:
                log.info(
                    "delivery batch: sent=%d failed=%d retried=%d paused_channels=%d",
                    report.sent, report.failed, report.retried, len(report.paused_channels),
                )  # fmt: skip
            return report

    async def publish_digests(self) -> int:
        """Post each digest feed's daily message once its UTC time has come; returns how many."""
        if self._build_digest is None or self._stopping:
            return 0
        posted = 0
        async with self._lock:
            now = self._clock()
            today = now.date().isoformat()
            for feed in await self._store.feeds.list(active_only=True):
                if (
                    feed.spec.mode.value != "digest"
                    or now.strftime("%H:%M") < feed.spec.digest_time
                ):
                    continue
                if await self._store.outbox.last_digest(feed.id) == today:
                    continue
                posted += await self._post_digest(feed.id, feed.name, feed.channel_id,
                                                  feed.spec.digest_size, today)  # fmt: skip
        return posted

    async def _post_digest(
        self, feed_id: int, name: str, channel_id: int, size: int, today: str
    ) -> int:
        """One message with the top papers; the rest are counted in it and marked skipped."""
        assert self._build_digest is not None
        candidates = await self._store.outbox.digest_candidates(feed_id)
        elsewhere = await self._store.outbox.posted_to_channel_by_others(
            channel_id, [p.id for _, p in candidates], feed_id
        )
        for delivery_id, paper in candidates:
            if paper.id in elsewhere:
                await self._skip_duplicate(delivery_id, paper.id, channel_id, elsewhere[paper.id])
        candidates = [(d, p) for d, p in candidates if p.id not in elsewhere]
        if not candidates:
            await self._store.outbox.set_last_digest(feed_id, today)
            return 0
        chosen, rest = candidates[:size], candidates[size:]
        ids = [delivery_id for delivery_id, _ in chosen]
        body = self._build_digest([p for _, p in chosen], name, len(rest), today)
        nonce = "pd" + hashlib.sha256(f"{feed_id}:{today}".encode()).hexdigest()[:23]
        await self._store.outbox.mark_sending(ids, nonce, self._clock())
        try:
            await self._pace(channel_id)
            posted = await self._target.send(
                channel_id, body, nonce=nonce, title=f"{name} · {today}"
            )
        except ChannelUnavailable as exc:
            await self._store.outbox.requeue(ids, str(exc))
            feeds = [f for f in await self._store.feeds.list(active_only=True) if f.id == feed_id]
            for feed in feeds:
                await self._store.feeds.set_paused(feed.id, True, str(exc))
            await self._target.alert(f"Paused **{name}**: Discord refused <#{channel_id}> ({exc}).")
            return 0
        except MessageRejected as exc:
            await self._store.outbox.mark_failed(ids, str(exc))
            await self._target.alert(f"The digest of **{name}** could not be posted: {exc}")
            await self._store.outbox.set_last_digest(feed_id, today)
            return 0
        except DeliveryRetryable as exc:
            await self._store.outbox.requeue(ids, str(exc))
            log.warning("digest of feed %d will be retried: %s", feed_id, exc)
            return 0
        await self._store.outbox.mark_sent(ids, posted.message_id, self._clock(), posted.thread_id)
        if rest:
            await self._store.outbox.mark_skipped(
                [delivery_id for delivery_id, _ in rest], f"digest of {today} was full"
            )
        await self._store.outbox.set_last_digest(feed_id, today)
        self._count("sent")
        return 1

    async def _publish(self, items: Sequence[DueDelivery], *, reconciling: bool) -> PublishReport:
        report = PublishReport()
        if not items:
            return report
        papers = {
            p.id: p for p in await self._store.papers.get_many([i.delivery.paper_id for i in items])
        }
        by_channel: dict[int, list[DueDelivery]] = defaultdict(list)
        for item in items:
            by_channel[item.channel_id].append(item)

        async def work(channel_id: int, queue: list[DueDelivery]) -> None:
            async with self._channel_slots:
                for item in queue:
                    if self._stopping:  # what is left is reconciled or sent by the next start
                        return
                    paper = papers.get(item.delivery.paper_id)
                    if paper is None:  # cannot happen with the foreign key; never crash on it
                        await self._store.outbox.mark_failed([item.delivery.id], "paper missing")
                        continue
                    if not await self._deliver(item, paper, reconciling, report):
                        return  # the channel is unusable: stop sending to it at once

        await asyncio.gather(*(work(c, q) for c, q in by_channel.items()))
        return report

    async def _deliver(
        self, item: DueDelivery, paper: Paper, reconciling: bool, report: PublishReport
    ) -> bool:
        """Send one delivery; False when its channel must not be tried again this round."""
        delivery = item.delivery
        nonce = item.nonce or delivery_nonce(delivery.feed_id, delivery.paper_id)
        # One channel never gets the same paper twice, whatever feeds point at it: a paper that
        # another feed sent (or is sending) here is skipped, naming that feed. The publisher's
        # lock and one worker per channel make this check and the send below one step.
        elsewhere = await self._store.outbox.posted_to_channel_by_others(
            item.channel_id, [paper.id], delivery.feed_id
        )
        if paper.id in elsewhere:
            await self._skip_duplicate(delivery.id, paper.id, item.channel_id, elsewhere[paper.id])
            report.skipped += 1
            return True
        try:
            # An attempt whose outcome is unknown (a crash, or a timeout or dropped connection
            # after Discord may have made the message) is looked for in the channel before it
            # is sent again: the nonce alone only deduplicates for a few minutes.
            if reconciling or item.attempted_at is not None:
                since = (item.attempted_at or delivery.queued_at) - timedelta(minutes=5)
                await self._pace(item.channel_id)
                found = await self._target.find_posted(
                    item.channel_id, paper.id, paper.title, since
                )
                if found is not None:
                    await self._store.outbox.mark_sent(
                        [delivery.id], found.message_id, self._clock(), found.thread_id
                    )
                    report.sent += 1
                    self._count("sent")  # sent by an earlier attempt; found in the channel
                    return True
            body = self._build_body(paper, item.feed_name)
            await self._store.outbox.mark_sending([delivery.id], nonce, self._clock())
            await self._pace(item.channel_id)
            posted = await self._target.send(item.channel_id, body, nonce=nonce, title=paper.title)
        except ChannelUnavailable as exc:
            await self._store.outbox.requeue([delivery.id], str(exc))
            await self._pause_channel(item, str(exc))
            report.paused_channels.append(item.channel_id)
            return False
        except MessageRejected as exc:
            await self._store.outbox.mark_failed([delivery.id], str(exc))
            report.failed += 1
            self._count("failed")
            await self._target.alert(
                f"A paper could not be posted to feed **{item.feed_name}** ({paper.id}): {exc}"
            )
            return True
        except DeliveryRetryable as exc:
            if self._stopping:  # cut short by our own shutdown: no backoff, and the next
                await self._store.outbox.requeue([delivery.id], str(exc))  # start looks first
                return False
            when = self._clock() + retry_delay(delivery.attempts + 1, self._rand())
            await self._store.outbox.mark_retry(delivery.id, str(exc), when)
            report.retried += 1
            self._count("retried")
            log.warning(
                "delivery %d to channel %d will be retried: %s", delivery.id, item.channel_id, exc
            )
            return False
        except StoreError:
            raise
        await self._store.outbox.mark_sent(
            [delivery.id], posted.message_id, self._clock(), posted.thread_id
        )
        report.sent += 1
        self._count("sent")
        return True

    async def _skip_duplicate(
        self, delivery_id: int, paper_id: str, channel_id: int, other_feed: str
    ) -> None:
        """Mark a delivery skipped because another feed already put the paper in its channel."""
        await self._store.outbox.mark_skipped(
            [delivery_id], f'already posted to this channel by feed "{other_feed}"'
        )
        log.info("delivery %d skipped: %s is already in channel %d from feed %r",
                 delivery_id, paper_id, channel_id, other_feed)  # fmt: skip
        self._count("skipped")

    async def _pause_channel(self, item: DueDelivery, reason: str) -> None:
        """Pause every active feed posting to a channel Discord refuses, and say so once."""
        feeds = [
            f
            for f in await self._store.feeds.list(active_only=True)
            if f.channel_id == item.channel_id
        ]
        for feed in feeds:
            await self._store.feeds.set_paused(feed.id, True, reason)
        names = ", ".join(f"**{f.name}**" for f in feeds) or f"**{item.feed_name}**"
        log.warning("paused feed(s) %s on channel %d: %s", names, item.channel_id, reason)
        await self._target.alert(
            f"Paused {names}: Discord refused channel <#{item.channel_id}> ({reason}). "
            "Fix the bot's access, then `/feed resume`."
        )

    async def _pace(self, channel_id: int) -> None:
        """One token per request to Discord; the first use of a channel costs two when the target
        must look its type up first (before the gateway's cache holds it)."""
        if channel_id not in self._paced_channels:
            self._paced_channels.add(channel_id)
            if not self._target.knows_channel(channel_id):
                await self._limiter.acquire()
        await self._limiter.acquire()

    def _count(self, outcome: str) -> None:
        """Tell the observer (metrics); an observer that fails must never stop a delivery."""
        if self._on_outcome is None:
            return
        try:
            self._on_outcome(outcome)
        except Exception:
            log.warning("the delivery observer refused outcome %r", outcome, exc_info=True)
