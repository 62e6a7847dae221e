"""Delivery from the outbox to Discord: oldest first, exactly once, and never lost.

The guarantee rests on three steps. Every send is recorded as an attempt (state `sending`)
before it leaves; every send carries a nonce derived from (feed, paper), or (feed, day) for a
digest, which Discord uses to answer a repeated send with the message it already made; and on
start, attempts whose outcome was never recorded are reconciled: the channel's recent messages
are checked for the paper and only then is the send repeated with the same nonce; a retry of an
attempt that failed without an answer (a timeout, a dropped connection) is checked the same
way, since Discord remembers a nonce only for minutes. Failures are sorted by what they mean: a
forbidden or missing channel pauses every feed on it at once (no retry storm toward Discord's
invalid-request limit), a refused body marks its deliveries failed, anything transient goes
back to the queue with exponential backoff. An instant post and a daily digest are both one
message settling some deliveries, so both go through one routine (`_send`): one nonce rule,
one pause rule, one place that counts.

Any number of publishers may share one outbox (PostgreSQL). Each round a publisher claims
channels, not single deliveries, and sends only there: one channel is in flight in one process
at a time, which keeps each channel's order and pacing and makes the "already in this channel"
check and the send one step. A claim lasts a lease and is renewed while its publisher works; a
crashed publisher's claims expire and another publisher takes them over, with the attempts left
in flight, which it reconciles like a restart does (channel look-up, then the same nonce).
While other publishers are alive (their heartbeats and presence locks), each holds at most a
fair share of the channels with work, so work spreads and a crash stalls only that share; alone,
it claims up to its maximum.
Discord's global limit is per bot, so with several publishers the rate limiter draws on a
budget kept in the database (`SharedRateLimiter`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import logging
import math
import os
import random
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.clock import Clock, MonotonicClock
from bot.errors import (
    ChannelUnavailable,
    DeliveryError,
    DeliveryRetryable,
    MessageRejected,
    StoreError,
)
from bot.models import Delivery, DeliveryState, DueDelivery, FeedMode, Paper
from bot.store.interfaces import Database, OutboxWatch, RestBudget

log = logging.getLogger(__name__)
Body = dict[str, Any]
BodyBuilder = Callable[[Paper, str], Body]  # (paper, feed name) -> message body
# (papers best first, feed name, how many more matched, date label) -> one digest message
DigestBuilder = Callable[[Sequence[Paper], str, int, str], Body]
# (outcome, seconds from queued to sent when the outcome is "sent") -> None; e.g. Metrics.record_delivery
OutcomeObserver = Callable[[str, float | None], None]
PeerCount = Callable[[], Awaitable[int]]  # live publishers in the cluster, this one included


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

    async def find_digest(
        self, channel_id: int, feed_name: str, day: str, since: datetime
    ) -> Posted | None:
        """A digest of ours in the channel since `since` for this feed and day (YYYY-MM-DD)."""
        ...

    async def alert(self, text: str) -> None:
        """Tell the server's admins (the alerts channel); never raises."""
        ...

    def knows_channel(self, channel_id: int) -> bool:
        """Whether posting there needs no extra request first (its kind is already known)."""
        ...


DIGEST_NONCE_PREFIX = "pd"
CLAIM_LEASE = timedelta(seconds=30)  # a crashed publisher's channels wait at most this long
FAIR_SHARE_FLOOR = 4  # channels a publisher may always hold, so a small queue is not trickled


def fair_share(channels_with_work: int, publishers: int, floor: int = FAIR_SHARE_FLOOR) -> int:
    """Channels one of `publishers` may hold at once: an even split, so work spreads and a
    crash stalls only that share until its claims expire."""
    return max(floor, math.ceil(channels_with_work / max(publishers, 1)))


def delivery_nonce(feed_id: int, key: str, *, digest: bool = False) -> str:
    """Deterministic per (feed, paper), or per (feed, day) for a digest, so a repeated send is
    answered with the message already made; at most 25 characters, as Discord allows."""
    prefix = DIGEST_NONCE_PREFIX if digest else "pf"  # a day and a paper id never share a nonce
    return prefix + hashlib.sha256(f"{feed_id}:{key}".encode()).hexdigest()[:23]


def is_digest_nonce(nonce: str | None) -> bool:
    """Whether an attempt was a digest (one message for many deliveries), not a single paper."""
    return nonce is not None and nonce.startswith(DIGEST_NONCE_PREFIX)


def digest_title(feed_name: str, day: str) -> str:
    """A digest's title (a forum post's name): the feed and the day, so it can be found again."""
    return f"{feed_name} · {day}"


def publisher_name() -> str:
    """Who holds a claim: host and pid. A container restarted in place (same host name, pid 1)
    takes its own claims back at once instead of waiting for them to expire."""
    return f"{socket.gethostname()}:{os.getpid()}"


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
        clock: MonotonicClock = time.monotonic,
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


class Limiter(Protocol):
    """Paces requests to Discord: `acquire` returns when one more may go."""

    async def acquire(self) -> None: ...


class SharedRateLimiter:
    """The same bucket as `RateLimiter`, kept in the database so that every publisher of a
    cluster draws on it: Discord's 50 requests per second are per bot, not per process.

    A little lower than the single process's (at most 44 requests granted in any second, not
    49): a grant and the request it allows are a database round trip and an event loop apart,
    and that delay varies between processes, so requests granted over a second can reach
    Discord within less than one."""

    def __init__(
        self,
        budget: RestBudget,
        rate: float = 40.0,
        burst: int = 4,
        *,
        name: str = "discord",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._budget = budget
        self._name = name
        self._sleep = sleep

    async def acquire(self) -> None:
        while (wait := await self._budget.take(self._name, self.rate, self.burst)) > 0:
            await self._sleep(wait)


def limiter_for(store: Database) -> Limiter:
    """The shared budget when the store keeps one (PostgreSQL), else one for this process."""
    budget = getattr(store, "rest_budget", None)
    return SharedRateLimiter(budget) if isinstance(budget, RestBudget) else RateLimiter()


def watch_outbox(store: Database, wake: Callable[[], None]) -> AbstractAsyncContextManager[None]:
    """Wake-ups from other processes that queue deliveries, where the store offers them."""
    if isinstance(store, OutboxWatch):
        return store.watch_outbox(wake)
    return contextlib.nullcontext()


@dataclass
class PublishReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0  # already in the channel from another feed, or left out of a full digest
    paused_channels: list[int] = field(default_factory=list)
    more: bool = False  # the round took a full batch: more may be due right now


class Outcome(enum.Enum):
    """How one send settled; SENT and FAILED leave the channel usable for the next message."""

    SENT = "sent"
    FAILED = "failed"
    RETRY = "retry"
    PAUSED = "paused"


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to post and the deliveries it settles: one paper, or a day's digest."""

    deliveries: Sequence[Delivery]
    channel_id: int
    feed_name: str
    nonce: str
    title: str
    rejected: str  # what the admins are told if Discord refuses this message for good
    look_for: tuple[Paper, datetime] | None = None  # an earlier attempt may have posted it


class Publisher:
    """Sends what the outbox owes; one worker per channel so a slow channel never blocks others."""

    def __init__(
        self,
        store: Database,
        target: DeliveryTarget,
        build_body: BodyBuilder,
        clock: Clock,
        *,
        limiter: Limiter | None = None,
        max_channels: int = 64,
        batch_size: int = 500,
        rand: Callable[[], float] = random.random,
        on_outcome: OutcomeObserver | None = None,
        build_digest: DigestBuilder | None = None,
        name: str | None = None,
        lease: timedelta | None = None,
        claim_channels: int | None = None,
        peers: PeerCount | None = None,
    ) -> None:
        self._store = store
        self._target = target
        self._build_body = build_body
        self._clock = clock
        self._limiter = limiter or RateLimiter()
        self._batch_size = batch_size
        self._rand = rand
        self._on_outcome = on_outcome
        self._build_digest = build_digest
        self._stopping = False
        self._lock = asyncio.Lock()
        self._paced_channels: set[int] = set()
        self.name = name or publisher_name()
        self._lease = CLAIM_LEASE if lease is None else lease  # read now: drills shorten it
        # No more channels than it works at once: the rest stay free for other publishers.
        self._claim_channels = claim_channels or max_channels
        self._peers = peers  # None: alone (SQLite), claims only bounded by `claim_channels`
        self._lost: set[int] = set()  # channels another publisher took over during this round

    def stop(self) -> None:
        """Take no new deliveries; those already sending finish and are recorded."""
        self._stopping = True

    async def reconcile(self) -> PublishReport:
        """Settle attempts a crash left unrecorded: found in the channel, or re-sent by nonce.

        Digests are looked for as digests; instant posts only in channels no live publisher
        holds (another one's are taken over by `publish_due` once its claims expire)."""
        async with self._lock:
            report = PublishReport()
            await self._reconcile_digests(report)
            await self._claim_round(report, in_flight_only=True)
            return report

    async def publish_due(self) -> PublishReport:
        """One round over the queue; call it whenever polls queue something, and on a timer."""
        async with self._lock:
            report = PublishReport()
            if self._stopping:
                return report
            taken = await self._claim_round(report, in_flight_only=False)
            report.more = taken >= self._batch_size
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
        report = PublishReport()
        async with self._lock:
            now = self._clock()
            today = now.date().isoformat()
            for feed in await self._store.feeds.list(active_only=True):
                if self._stopping:
                    break
                if (
                    feed.spec.mode is not FeedMode.DIGEST
                    or now.strftime("%H:%M") < feed.spec.digest_time
                    or feed.channel_id in report.paused_channels  # paused earlier this round
                ):
                    continue
                if await self._store.outbox.last_digest(feed.id) == today:
                    continue
                if not await self._claim_channel(feed.channel_id):
                    continue  # another publisher is posting there; it will see to this one too
                try:
                    if await self._store.outbox.last_digest(feed.id) == today:
                        continue  # posted by another publisher since we looked
                    posted += await self._post_digest(feed.id, feed.name, feed.channel_id,
                                                      feed.spec.digest_size, today, report)  # fmt: skip
                finally:
                    await self._store.outbox.release_claims(self.name, [feed.channel_id])
        return posted

    async def _claim_channel(self, channel_id: int) -> bool:
        now = self._clock()
        return await self._store.outbox.claim_channel(self.name, channel_id, now, now + self._lease)

    async def _claim_round(self, report: PublishReport, *, in_flight_only: bool) -> int:
        """Send what claimed channels owe, up to a batch; returns how many deliveries it took.

        A pipeline: each channel is given back as soon as its worker is done, and the free slot
        is filled by claiming another, so one slow channel (waiting out its 5-per-5-s window)
        never holds up the rest."""
        taken = 0
        running: dict[int, asyncio.Task[None]] = {}
        finished: set[int] = set()  # not claimed again this round (a retry waits its backoff)
        self._lost.clear()
        publishers = await self._live_publishers()
        keeper = asyncio.create_task(self._keep_claims(running), name="paperfeed claims")
        failure: BaseException | None = None
        try:
            while True:
                full = taken >= self._batch_size or self._stopping
                room = 0 if full else await self._room(len(running), publishers)
                if room > 0:
                    now = self._clock()
                    items = await self._store.outbox.claim(
                        self.name, now, now + self._lease, limit=self._batch_size - taken,
                        channels=room, in_flight_only=in_flight_only,
                        busy=[*running, *finished],
                    )  # fmt: skip
                    if items and in_flight_only:
                        log.info("reconciling %d delivery attempt(s) left from a previous run",
                                 len(items))  # fmt: skip
                    taken += len(items)
                    for channel_id, work in (await self._by_channel(items)).items():
                        running[channel_id] = asyncio.create_task(
                            self._work_channel(channel_id, work, in_flight_only, report)
                        )
                if not running:
                    return taken
                done, _ = await asyncio.wait(running.values(), return_when=asyncio.FIRST_COMPLETED)
                for channel_id in [c for c, task in running.items() if task in done]:
                    task = running.pop(channel_id)
                    finished.add(channel_id)
                    await self._store.outbox.release_claims(self.name, [channel_id])
                    if task.exception() is not None and failure is None:
                        failure = task.exception()
                if failure is not None:
                    raise failure
        except asyncio.CancelledError:  # shutdown ran out of grace: stop the sends as well
            for task in running.values():
                task.cancel()
            raise
        finally:
            if running:  # a failure: the others finish what they started, then stop
                await asyncio.wait(running.values())
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if running:
                await self._store.outbox.release_claims(self.name, list(running))

    async def _room(self, running: int, publishers: int) -> int:
        """How many more channels to claim: up to `claim_channels`, and with other publishers
        alive no more than a fair share of the channels that have work."""
        room = self._claim_channels - running
        if room > 0 and publishers > 1:
            due = await self._store.outbox.channels_with_work(self._clock())
            room = min(room, fair_share(due, publishers) - running)
        return room

    async def _live_publishers(self) -> int:
        """How many publishers share the outbox now; 1 (no limit) when unknown."""
        if self._peers is None:
            return 1
        try:
            return max(await self._peers(), 1)
        except StoreError as exc:
            log.warning("could not count the live publishers: %s", exc)
            return 1

    async def _by_channel(
        self, items: Sequence[DueDelivery]
    ) -> dict[int, list[tuple[DueDelivery, Paper | None]]]:
        """Claimed work grouped by channel, oldest first, each delivery with its paper."""
        papers = {
            p.id: p for p in await self._store.papers.get_many([i.delivery.paper_id for i in items])
        }
        grouped: dict[int, list[tuple[DueDelivery, Paper | None]]] = defaultdict(list)
        for item in items:
            grouped[item.channel_id].append((item, papers.get(item.delivery.paper_id)))
        return grouped

    async def _work_channel(
        self,
        channel_id: int,
        work: list[tuple[DueDelivery, Paper | None]],
        reconciling: bool,
        report: PublishReport,
    ) -> None:
        """One channel's deliveries in order, until done or the channel is unusable."""
        if (unsettled := await self._digests_left_in_flight(channel_id, work, report)) is None:
            return
        for item, paper in unsettled:
            if self._stopping:  # what is left is reconciled or sent by the next start
                return
            if channel_id in self._lost:  # another publisher owns it now
                return
            if paper is None:  # cannot happen with the foreign key; never crash on it
                await self._store.outbox.mark_failed([item.delivery.id], "paper missing")
                continue
            if not await self._deliver(item, paper, reconciling, report):
                return  # the channel is unusable: stop sending to it at once

    async def _keep_claims(self, running: dict[int, asyncio.Task[None]]) -> None:
        """Renew the claims well before they expire; note any taken over meanwhile (this
        process stalled past its lease), so their workers stop before the next send."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            try:
                held = await self._store.outbox.renew_claims(self.name, self._clock() + self._lease)
            except StoreError as exc:
                log.warning("could not renew the publisher's channel claims: %s", exc)
                continue
            lost = set(running) - held - self._lost
            if lost:
                log.warning("channel(s) %s were taken over by another publisher",
                            ",".join(map(str, sorted(lost))))  # fmt: skip
            self._lost |= lost

    async def _reconcile_digests(self, report: PublishReport) -> None:
        """A digest cut short by a crash is looked for as the digest it was (by its feed and
        day), never re-posted paper by paper: found, its deliveries are sent and the day is
        done; not found, they go back to the queue and the digest path posts them again (or,
        in a feed switched to instant since, the instant path, one by one)."""
        stuck: dict[tuple[int, str], list[DueDelivery]] = defaultdict(list)
        for item in await self._store.outbox.in_flight():
            if is_digest_nonce(item.nonce):
                stuck[(item.delivery.feed_id, str(item.nonce))].append(item)
        for (feed_id, nonce), items in stuck.items():
            first = items[0]
            if not await self._claim_channel(first.channel_id):
                continue  # a live publisher holds the channel; its own reconcile sees to it
            try:
                if not await self._found_digest(feed_id, nonce, items, report):
                    await self._store.outbox.requeue([i.delivery.id for i in items])
            except DeliveryError as exc:  # unknown still; the next start looks again
                log.warning("could not look for the digest of feed %d: %s", feed_id, exc)
            finally:
                await self._store.outbox.release_claims(self.name, [first.channel_id])

    async def _found_digest(
        self, feed_id: int, nonce: str, items: Sequence[DueDelivery], report: PublishReport
    ) -> bool:
        """Look for a digest left in flight in its channel; found, its deliveries are settled
        as sent and its day is done. Raises DeliveryError when the channel cannot tell."""
        first = items[0]
        attempted = first.attempted_at or first.delivery.queued_at
        day = attempted.date().isoformat()
        found = None
        if delivery_nonce(feed_id, day, digest=True) == nonce:  # else nothing to look for
            await self._pace(first.channel_id)
            found = await self._target.find_digest(
                first.channel_id, first.feed_name, day, attempted - timedelta(minutes=5)
            )
        if found is not None:
            await self._settle_sent([i.delivery for i in items], found, report)
            await self._store.outbox.set_last_digest(feed_id, day)
        log.info("digest of feed %d (%s) left in flight: %s", feed_id, day, "found in its channel"
                 if found else "not in its channel, its papers go on")  # fmt: skip
        return found is not None

    async def _digests_left_in_flight(
        self, channel_id: int, work: list[tuple[DueDelivery, Paper | None]], report: PublishReport
    ) -> list[tuple[DueDelivery, Paper | None]] | None:
        """A feed switched from digest to instant may hold a digest attempt a crash left in
        flight: it is looked for as that digest before any of its papers is sent alone (found,
        they are settled; not found, they are sent one by one, each with its own nonce).
        Returns the work still to send; None when the channel cannot tell now."""
        stuck: dict[tuple[int, str], list[DueDelivery]] = defaultdict(list)
        for item, _ in work:
            if item.delivery.state is DeliveryState.SENDING and is_digest_nonce(item.nonce):
                stuck[(item.delivery.feed_id, str(item.nonce))].append(item)
        settled: set[int] = set()
        try:
            for (feed_id, nonce), items in stuck.items():
                if await self._found_digest(feed_id, nonce, items, report):
                    settled.update(i.delivery.id for i in items)
        except DeliveryError as exc:
            await self._could_not_look(channel_id, work[0][0].feed_name, exc, report)
            return None
        return [(item, paper) for item, paper in work if item.delivery.id not in settled]

    async def _posts_left_in_flight(
        self, feed_id: int, name: str, channel_id: int, candidates: list[tuple[int, Paper]],
        report: PublishReport,
    ) -> list[tuple[int, Paper]] | None:  # fmt: skip
        """The mirror case: a feed switched from instant to digest may hold a single post a
        crash left in flight; it is looked for in the channel (found, settled by it) so the
        digest never repeats it. Returns the candidates left; None when the channel cannot
        tell now."""
        alone = {
            i.delivery.id: i
            for i in await self._store.outbox.in_flight()
            if i.delivery.feed_id == feed_id and not is_digest_nonce(i.nonce)
        }
        found_ids: set[int] = set()
        try:
            for delivery_id, paper in candidates:
                if (item := alone.get(delivery_id)) is None:
                    continue
                await self._pace(channel_id)
                since = (item.attempted_at or item.delivery.queued_at) - timedelta(minutes=5)
                found = await self._target.find_posted(channel_id, paper.id, paper.title, since)
                if found is not None:
                    await self._settle_sent([item.delivery], found, report)
                    found_ids.add(delivery_id)
        except DeliveryError as exc:
            await self._could_not_look(channel_id, name, exc, report)
            return None
        return [(d, p) for d, p in candidates if d not in found_ids]

    async def _could_not_look(
        self, channel_id: int, feed_name: str, exc: DeliveryError, report: PublishReport
    ) -> None:
        """A look-up in the channel failed: a refused channel pauses its feeds as a send
        would; anything else leaves the attempts in flight for the next round."""
        if isinstance(exc, ChannelUnavailable):
            await self._pause_channel(channel_id, feed_name, str(exc))
            report.paused_channels.append(channel_id)
        else:
            log.warning("could not look in channel %d for an earlier attempt: %s", channel_id, exc)

    async def _post_digest(
        self, feed_id: int, name: str, channel_id: int, size: int, today: str, report: PublishReport
    ) -> int:
        """One message with the top papers; the rest are counted in it and marked skipped."""
        assert self._build_digest is not None
        candidates = await self._store.outbox.digest_candidates(feed_id)
        elsewhere = await self._store.outbox.posted_to_channel_by_others(
            channel_id, [p.id for _, p in candidates], feed_id
        )
        for delivery_id, paper in candidates:
            if paper.id in elsewhere:
                await self._skip_duplicate(
                    delivery_id, paper.id, channel_id, elsewhere[paper.id], report
                )
        candidates = [(d, p) for d, p in candidates if p.id not in elsewhere]
        unsettled = await self._posts_left_in_flight(feed_id, name, channel_id, candidates, report)
        if unsettled is None:
            return 0  # the channel cannot tell now: the next tick looks again
        candidates = unsettled
        if not candidates:
            await self._store.outbox.set_last_digest(feed_id, today)
            return 0
        chosen, rest = candidates[:size], candidates[size:]
        waiting = {
            d.id: d
            for d in await self._store.outbox.deliveries(
                feed_id=feed_id, states=[DeliveryState.QUEUED, DeliveryState.SENDING]
            )
        }
        message = OutgoingMessage(
            deliveries=[waiting[delivery_id] for delivery_id, _ in chosen],
            channel_id=channel_id,
            feed_name=name,
            nonce=delivery_nonce(feed_id, today, digest=True),
            title=digest_title(name, today),
            rejected=f"The digest of **{name}** could not be posted",
        )
        body = self._build_digest([p for _, p in chosen], name, len(rest), today)
        outcome = await self._send(message, body, report)
        if outcome is Outcome.SENT and rest:
            await self._skip([d for d, _ in rest], f"digest of {today} was full", report)
        if outcome in (Outcome.SENT, Outcome.FAILED):  # settled for today, either way
            await self._store.outbox.set_last_digest(feed_id, today)
        return 1 if outcome is Outcome.SENT else 0

    async def _deliver(
        self, item: DueDelivery, paper: Paper, reconciling: bool, report: PublishReport
    ) -> bool:
        """Send one paper; False when its channel must not be tried again this round."""
        delivery = item.delivery
        # One channel never gets the same paper twice, whatever feeds point at it: a paper that
        # another feed sent (or is sending) here is skipped, naming that feed. The publisher's
        # lock and one worker per channel make this check and the send below one step.
        elsewhere = await self._store.outbox.posted_to_channel_by_others(
            item.channel_id, [paper.id], delivery.feed_id
        )
        if paper.id in elsewhere:
            await self._skip_duplicate(
                delivery.id, paper.id, item.channel_id, elsewhere[paper.id], report
            )
            return True
        # An attempt whose outcome is unknown (a crash, or a timeout or dropped connection after
        # Discord may have made the message) is looked for in the channel before it is sent
        # again: the nonce alone only deduplicates for a few minutes.
        look_for = None
        if reconciling or item.attempted_at is not None:
            look_for = (paper, (item.attempted_at or delivery.queued_at) - timedelta(minutes=5))
        message = OutgoingMessage(
            deliveries=[delivery],
            channel_id=item.channel_id,
            feed_name=item.feed_name,
            # never a digest's nonce: Discord would answer every paper of it with one message
            nonce=item.nonce
            if item.nonce and not is_digest_nonce(item.nonce)
            else delivery_nonce(delivery.feed_id, delivery.paper_id),
            title=paper.title,
            rejected=f"A paper could not be posted to feed **{item.feed_name}** ({paper.id})",
            look_for=look_for,
        )
        outcome = await self._send(message, self._build_body(paper, item.feed_name), report)
        return outcome in (Outcome.SENT, Outcome.FAILED)

    async def _send(self, message: OutgoingMessage, body: Body, report: PublishReport) -> Outcome:
        """Record the attempt, pace, send, and settle the outcome: the one road to Discord."""
        ids = [d.id for d in message.deliveries]
        channel_id = message.channel_id
        try:
            if message.look_for is not None:
                paper, since = message.look_for
                await self._pace(channel_id)
                found = await self._target.find_posted(channel_id, paper.id, paper.title, since)
                if found is not None:  # sent by an earlier attempt; found in the channel
                    await self._settle_sent(message.deliveries, found, report)
                    return Outcome.SENT
            await self._store.outbox.mark_sending(ids, message.nonce, self._clock())
            await self._pace(channel_id)
            posted = await self._target.send(
                channel_id, body, nonce=message.nonce, title=message.title
            )
        except ChannelUnavailable as exc:
            await self._store.outbox.requeue(ids, str(exc))
            await self._pause_channel(channel_id, message.feed_name, str(exc))
            report.paused_channels.append(channel_id)
            return Outcome.PAUSED
        except MessageRejected as exc:
            await self._store.outbox.mark_failed(ids, str(exc))
            report.failed += len(ids)
            self._count("failed", times=len(ids))
            await self._target.alert(f"{message.rejected}: {exc}")
            return Outcome.FAILED
        except DeliveryRetryable as exc:
            if self._stopping:  # cut short by our own shutdown: no backoff, and the next
                await self._store.outbox.requeue(ids, str(exc))  # start looks first
                return Outcome.RETRY
            for delivery in message.deliveries:
                when = self._clock() + retry_delay(delivery.attempts + 1, self._rand())
                await self._store.outbox.mark_retry(delivery.id, str(exc), when)
            report.retried += len(ids)
            self._count("retried", times=len(ids))
            log.warning("delivery %s to channel %d will be retried: %s",
                        ",".join(map(str, ids)), channel_id, exc)  # fmt: skip
            return Outcome.RETRY
        await self._settle_sent(message.deliveries, posted, report)
        return Outcome.SENT

    async def _settle_sent(
        self, deliveries: Sequence[Delivery], posted: Posted, report: PublishReport
    ) -> None:
        """Record where the message landed, and how long each delivery waited for it."""
        now = self._clock()
        await self._store.outbox.mark_sent(
            [d.id for d in deliveries], posted.message_id, now, posted.thread_id
        )
        report.sent += len(deliveries)
        for delivery in deliveries:
            self._count("sent", latency=(now - delivery.queued_at).total_seconds())

    async def _skip(self, delivery_ids: Sequence[int], reason: str, report: PublishReport) -> None:
        """Drop deliveries on purpose, keeping the reason, and count them."""
        await self._store.outbox.mark_skipped(delivery_ids, reason)
        report.skipped += len(delivery_ids)
        self._count("skipped", times=len(delivery_ids))

    async def _skip_duplicate(
        self, delivery_id: int, paper_id: str, channel_id: int, other_feed: str,
        report: PublishReport,
    ) -> None:  # fmt: skip
        """Mark a delivery skipped because another feed already put the paper in its channel."""
        await self._skip([delivery_id], f'already posted to this channel by feed "{other_feed}"',
                         report)  # fmt: skip
        log.info("delivery %d skipped: %s is already in channel %d from feed %r",
                 delivery_id, paper_id, channel_id, other_feed)  # fmt: skip

    async def _pause_channel(self, channel_id: int, feed_name: str, reason: str) -> None:
        """Pause every active feed posting to a channel Discord refuses, and say so once."""
        feeds = [
            f for f in await self._store.feeds.list(active_only=True) if f.channel_id == channel_id
        ]
        for feed in feeds:
            await self._store.feeds.set_paused(feed.id, True, reason)
        names = ", ".join(f"**{f.name}**" for f in feeds) or f"**{feed_name}**"
        log.warning("paused feed(s) %s on channel %d: %s", names, channel_id, reason)
        await self._target.alert(
            f"Paused {names}: Discord refused channel <#{channel_id}> ({reason}). "
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

    def _count(self, outcome: str, *, times: int = 1, latency: float | None = None) -> None:
        """Tell the observer (metrics); an observer that fails must never stop a delivery."""
        if self._on_outcome is None:
            return
        try:
            for _ in range(times):
                self._on_outcome(outcome, latency)
        except Exception:
            log.warning("the delivery observer refused outcome %r", outcome, exc_info=True)
