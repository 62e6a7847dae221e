"""The publisher against an in-memory target: order, exactly-once, pauses, retries, digests.

The end-to-end versions of these stories run the real discord.py client against the loopback
Discord (tests/discord); these pin the publisher's own decisions, including crashes between a
send and its record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ChannelUnavailable, DeliveryRetryable, MessageRejected
from bot.models import DeliveryState, FeedMode, FeedSpec, Paper
from bot.services.publisher import (
    CLAIM_LEASE,
    Posted,
    Publisher,
    PublishReport,
    RateLimiter,
    delivery_nonce,
    publisher_name,
    retry_delay,
)
from bot.store.interfaces import Database
from tests.factories import NOW, FakeClock, make_paper
from tests.pg.fixtures import backend_params, open_backend


class ProcessKilled(BaseException):
    """Stands for SIGKILL between the send and its record (not an Exception, so nothing catches it)."""


class FakeTarget:
    """Remembers posts by nonce per channel, as Discord does with enforce_nonce."""

    def __init__(self) -> None:
        self.posts: dict[int, list[tuple[str, dict[str, Any]]]] = {}
        self.by_nonce: dict[tuple[int, str], int] = {}
        self.alerts: list[str] = []
        self.fail: dict[int, Exception] = {}
        self.crash_after_send = False
        self.nonce_window_over = False  # Discord only remembers a nonce for minutes
        self.next_id = 1000

    async def send(
        self, channel_id: int, body: dict[str, Any], *, nonce: str, title: str
    ) -> Posted:
        if channel_id in self.fail:
            raise self.fail[channel_id]
        if (channel_id, nonce) in self.by_nonce and not self.nonce_window_over:
            return Posted(self.by_nonce[(channel_id, nonce)])
        self.next_id += 1
        self.by_nonce[(channel_id, nonce)] = self.next_id
        self.posts.setdefault(channel_id, []).append((nonce, body))
        if self.crash_after_send:
            raise ProcessKilled
        return Posted(self.next_id)

    async def find_posted(
        self, channel_id: int, paper_id: str, title: str, since: datetime
    ) -> Posted | None:
        return None

    async def find_digest(
        self, channel_id: int, feed_name: str, day: str, since: datetime
    ) -> Posted | None:
        for nonce, message in self.posts.get(channel_id, []):
            if message["embeds"][0]["title"] == f"{feed_name} {day}":
                return Posted(self.by_nonce[(channel_id, nonce)])
        return None

    async def alert(self, text: str) -> None:
        self.alerts.append(text)

    def knows_channel(self, channel_id: int) -> bool:
        return True


def body(paper: Paper, feed_name: str) -> dict[str, Any]:
    return {"embeds": [{"title": paper.title, "url": paper.url}], "allowed_mentions": {"parse": []}}


def digest(papers: Any, name: str, more: int, day: str) -> dict[str, Any]:
    return {"embeds": [{"title": f"{name} {day}", "description": " | ".join(p.id for p in papers)
                        + f" +{more}"}]}  # fmt: skip


async def no_sleep(_: float) -> None:
    return None


def paper(n: int, upvotes: int | None = None) -> Paper:
    """Paper n, published n hours before NOW (so a lower n is newer)."""
    return make_paper(n, upvotes=upvotes, published=NOW - timedelta(hours=n))


@pytest.fixture(params=backend_params())
async def store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with open_backend(request, request.param, tmp_path / "p.sqlite3", FakeClock()) as s:
        yield s


def publisher(store: Database, target: FakeTarget, clock: FakeClock | None = None) -> Publisher:
    return Publisher(store, target, body, clock or FakeClock(), build_digest=digest,
                     limiter=RateLimiter(sleep=no_sleep), rand=lambda: 0.5)  # fmt: skip


async def feed_with(
    store: Database, name: str, channel: int, papers: list[Paper], **kw: Any
) -> int:
    await store.papers.upsert(papers)
    feed = await store.feeds.add(
        FeedSpec(name=name, channel_id=channel, query="x", **kw), guild_id=1
    )
    await store.outbox.queue((feed.id, p.id) for p in papers)
    return feed.id


async def states(store: Database, feed_id: int) -> list[DeliveryState]:
    return [d.state for d in await store.outbox.deliveries(feed_id=feed_id)]


async def test_sends_oldest_first_and_records_message_ids(store: Database) -> None:
    target = FakeTarget()
    feed_id = await feed_with(store, "a", 10, [paper(1), paper(2), paper(3)])
    report = await publisher(store, target).publish_due()
    assert report.sent == 3
    assert [b["embeds"][0]["title"] for _, b in target.posts[10]] == [
        "Paper 1",
        "Paper 2",
        "Paper 3",
    ]
    deliveries = await store.outbox.deliveries(feed_id=feed_id)
    assert all(d.state is DeliveryState.SENT and d.message_id for d in deliveries)
    assert (await publisher(store, target).publish_due()).sent == 0


async def killed_after_send(target: FakeTarget, send: Callable[[], Awaitable[object]]) -> None:
    """The process killed right after Discord accepted a send, before it was recorded."""
    target.crash_after_send = True
    with pytest.raises(ProcessKilled):
        await send()
    target.crash_after_send = False


async def test_a_crash_between_send_and_record_does_not_post_twice(store: Database) -> None:
    target = FakeTarget()
    feed_id = await feed_with(store, "a", 10, [paper(1)])
    await killed_after_send(target, publisher(store, target).publish_due)
    assert await states(store, feed_id) == [DeliveryState.SENDING]
    restarted = publisher(store, target)
    assert (await restarted.reconcile()).sent == 1
    assert len(target.posts[10]) == 1  # Discord answered the repeated nonce with the same message
    assert await states(store, feed_id) == [DeliveryState.SENT]


async def test_a_crash_before_the_send_loses_nothing(store: Database) -> None:
    target = FakeTarget()
    feed_id = await feed_with(store, "a", 10, [paper(1)])
    await store.outbox.mark_sending(
        [(await store.outbox.deliveries(feed_id=feed_id))[0].id], None, NOW
    )
    assert (await publisher(store, target).reconcile()).sent == 1
    assert len(target.posts[10]) == 1


async def test_a_forbidden_channel_pauses_its_feeds_once_and_others_go_on(store: Database) -> None:
    target = FakeTarget()
    bad = await feed_with(store, "bad", 10, [paper(1), paper(2)])
    bad_too = await feed_with(store, "bad2", 10, [paper(3)])
    good = await feed_with(store, "good", 20, [paper(4)])
    target.fail[10] = ChannelUnavailable("403 Missing Permissions (50013)")
    report = await publisher(store, target).publish_due()
    assert report.sent == 1 and report.paused_channels == [10]
    for feed_id in (bad, bad_too):
        feed = await store.feeds.get(feed_id)
        assert feed is not None and feed.paused and "50013" in (feed.pause_reason or "")
    assert await states(store, bad) == [DeliveryState.QUEUED, DeliveryState.QUEUED]  # not lost
    assert await states(store, good) == [DeliveryState.SENT]
    assert len(target.alerts) == 1 and "bad" in target.alerts[0]
    # paused feeds are not tried again: no further invalid requests
    again = await publisher(store, target).publish_due()
    assert again.paused_channels == []


async def test_a_rejected_message_is_marked_failed_with_its_reason(store: Database) -> None:
    target = FakeTarget()
    feed_id = await feed_with(store, "a", 10, [paper(1), paper(2)])
    target.fail[10] = MessageRejected("400 Invalid Form Body (50035)")
    report = await publisher(store, target).publish_due()
    assert report.failed == 2
    deliveries = await store.outbox.deliveries(feed_id=feed_id)
    assert [d.state for d in deliveries] == [DeliveryState.FAILED] * 2
    assert "50035" in (deliveries[0].error or "")
    assert target.alerts


async def test_transient_failures_back_off_then_succeed(store: Database) -> None:
    clock = FakeClock()
    target = FakeTarget()
    feed_id = await feed_with(store, "a", 10, [paper(1), paper(2)])
    target.fail[10] = DeliveryRetryable("503 Service Unavailable")
    pub = publisher(store, target, clock)
    report = await pub.publish_due()
    assert report.retried == 1  # the channel stops at the first failure this round
    assert await states(store, feed_id) == [DeliveryState.QUEUED, DeliveryState.QUEUED]
    del target.fail[10]
    assert (await pub.publish_due()).sent == 1  # paper 2 was never tried; paper 1 waits
    clock.now += timedelta(minutes=2)
    assert (await pub.publish_due()).sent == 1
    assert await states(store, feed_id) == [DeliveryState.SENT, DeliveryState.SENT]


async def test_paused_feeds_and_digest_feeds_are_not_sent_instantly(store: Database) -> None:
    target = FakeTarget()
    paused = await feed_with(store, "p", 10, [paper(1)])
    await store.feeds.set_paused(paused, True, "by an admin")
    await feed_with(store, "d", 11, [paper(2)], mode=FeedMode.DIGEST)
    assert (await publisher(store, target).publish_due()).sent == 0


async def test_a_digest_posts_one_message_with_the_top_papers_at_its_time(store: Database) -> None:
    clock = FakeClock()
    clock.now = NOW.replace(hour=8, minute=59)
    target = FakeTarget()
    papers = [
        paper(1, upvotes=5),
        paper(2, upvotes=50),
        paper(3, upvotes=None),
        paper(4, upvotes=7),
    ]
    feed_id = await feed_with(store, "daily", 30, papers, mode=FeedMode.DIGEST, digest_size=2,
                              digest_time="09:00")  # fmt: skip
    pub = publisher(store, target, clock)
    assert await pub.publish_digests() == 0
    clock.now = NOW.replace(hour=9, minute=0)
    assert await pub.publish_digests() == 1
    ((_nonce, message),) = target.posts[30]
    assert message["embeds"][0]["description"] == "2611.00002 | 2611.00004 +2"
    by_paper = {d.paper_id: d.state for d in await store.outbox.deliveries(feed_id=feed_id)}
    assert by_paper == {"2611.00002": DeliveryState.SENT, "2611.00004": DeliveryState.SENT,
                        "2611.00001": DeliveryState.SKIPPED, "2611.00003": DeliveryState.SKIPPED}  # fmt: skip
    assert await pub.publish_digests() == 0  # once a day


def test_nonces_are_deterministic_and_short() -> None:
    a = delivery_nonce(1, "2401.01234")
    assert a == delivery_nonce(1, "2401.01234") and a != delivery_nonce(2, "2401.01234")
    assert len(a) <= 25


def test_retry_delay_grows_and_is_capped() -> None:
    delays = [retry_delay(n, 0.5).total_seconds() for n in range(1, 12)]
    assert delays[0] == 30 and delays == sorted(delays) and max(delays) == 3600


async def test_rate_limiter_keeps_below_the_global_limit() -> None:
    t = [0.0]

    async def sleep(s: float) -> None:
        t[0] += s

    limiter = RateLimiter(rate=45, burst=10, clock=lambda: t[0], sleep=sleep)
    for _ in range(100):
        await limiter.acquire()
    assert t[0] >= (100 - 10) / 45 - 1e-9


async def test_stop_takes_no_new_deliveries(store: Database) -> None:
    target = FakeTarget()
    await feed_with(store, "a", 10, [paper(1)])
    pub = publisher(store, target)
    pub.stop()
    assert (await pub.publish_due()).sent == 0
    assert not target.posts


async def test_reconcile_trusts_a_message_found_in_the_channel(store: Database) -> None:
    class Finds(FakeTarget):
        async def find_posted(
            self, channel_id: int, paper_id: str, title: str, since: datetime
        ) -> Posted | None:
            return Posted(4242)

    target = Finds()
    feed_id = await feed_with(store, "a", 10, [paper(1)])
    await store.outbox.mark_sending(
        [(await store.outbox.deliveries(feed_id=feed_id))[0].id], "n", NOW
    )
    await publisher(store, target).reconcile()
    assert not target.posts
    (d,) = await store.outbox.deliveries(feed_id=feed_id)
    assert d.state is DeliveryState.SENT and d.message_id == 4242


async def test_one_channel_never_gets_the_same_paper_twice(store: Database) -> None:
    """Issue 12 item 6: two feeds on one channel (e.g. an import that duplicated them)."""
    target = FakeTarget()
    first = await feed_with(store, "a", 10, [paper(1), paper(2)])
    second = await feed_with(store, "b", 10, [paper(1), paper(2), paper(3)])
    other_channel = await feed_with(store, "c", 11, [paper(1)])
    outcomes: list[str] = []
    pub = Publisher(store, target, body, FakeClock(), limiter=RateLimiter(sleep=no_sleep),
                    on_outcome=lambda outcome, _latency: outcomes.append(outcome))  # fmt: skip
    report = await pub.publish_due()
    assert [b["embeds"][0]["title"] for _, b in target.posts[10]] == [
        "Paper 1",
        "Paper 2",
        "Paper 3",
    ]
    assert len(target.posts[11]) == 1  # another channel still gets it
    assert (report.sent, report.skipped) == (4, 2)
    assert outcomes.count("skipped") == 2
    assert await states(store, first) == [DeliveryState.SENT] * 2
    assert await states(store, other_channel) == [DeliveryState.SENT]
    skipped = await store.outbox.deliveries(feed_id=second)
    assert [(d.paper_id, d.state) for d in skipped] == [
        ("2611.00001", DeliveryState.SKIPPED),
        ("2611.00002", DeliveryState.SKIPPED),
        ("2611.00003", DeliveryState.SENT),
    ]
    assert skipped[0].error == 'already posted to this channel by feed "a"'
    assert (await pub.publish_due()).sent == 0


async def test_a_paper_being_sent_by_another_feed_is_not_sent_again(store: Database) -> None:
    target = FakeTarget()
    first = await feed_with(store, "a", 10, [paper(1)])
    (sending,) = await store.outbox.deliveries(feed_id=first)
    await store.outbox.mark_sending([sending.id], "pf-a", NOW)  # a crash left it in flight
    second = await feed_with(store, "b", 10, [paper(1)])
    report = await publisher(store, target).publish_due()  # takes the abandoned attempt over
    assert (report.sent, report.skipped) == (1, 1)
    (other,) = await store.outbox.deliveries(feed_id=second)
    assert other.state is DeliveryState.SKIPPED and '"a"' in (other.error or "")
    assert [nonce for nonce, _ in target.posts[10]] == ["pf-a"]  # once, as feed a's attempt


async def test_a_digest_leaves_out_papers_the_channel_already_has(store: Database) -> None:
    clock = FakeClock()
    clock.now = NOW.replace(hour=9, minute=0)
    target = FakeTarget()
    await feed_with(store, "instant", 30, [paper(2)])
    digest_feed = await feed_with(store, "daily", 30, [paper(1), paper(2)], mode=FeedMode.DIGEST,
                                  digest_time="09:00")  # fmt: skip
    pub = publisher(store, target, clock)
    assert (await pub.publish_due()).sent == 1
    assert await pub.publish_digests() == 1
    (_, first), (_, posted_digest) = target.posts[30]
    assert first["embeds"][0]["title"] == "Paper 2"
    assert posted_digest["embeds"][0]["description"] == "2611.00001 +0"
    by_paper = {d.paper_id: d.state for d in await store.outbox.deliveries(feed_id=digest_feed)}
    assert by_paper == {"2611.00001": DeliveryState.SENT, "2611.00002": DeliveryState.SKIPPED}


async def test_a_refused_digest_pauses_every_feed_on_its_channel_once(store: Database) -> None:
    """Issue 13: the digest path paused only its own feed, where the instant path pauses the
    channel; the other digest on that channel then tried again and alerted a second time."""
    clock = FakeClock()
    clock.now = NOW.replace(hour=9, minute=0)
    target = FakeTarget()
    daily = await feed_with(store, "daily", 30, [paper(1)], mode=FeedMode.DIGEST,
                            digest_time="09:00")  # fmt: skip
    early = await feed_with(store, "early", 30, [paper(2)], mode=FeedMode.DIGEST,
                              digest_time="08:00")  # fmt: skip
    instant = await feed_with(store, "instant", 30, [paper(3)])
    elsewhere = await feed_with(store, "elsewhere", 31, [paper(4)], mode=FeedMode.DIGEST,
                                digest_time="09:00")  # fmt: skip
    target.fail[30] = ChannelUnavailable("403 Missing Access (50001)")
    assert await publisher(store, target, clock).publish_digests() == 1  # channel 31 still posts
    for feed_id in (daily, early, instant):
        feed = await store.feeds.get(feed_id)
        assert feed is not None and feed.paused and "50001" in (feed.pause_reason or "")
    other = await store.feeds.get(elsewhere)
    assert other is not None and not other.paused
    assert len(target.alerts) == 1
    assert all(f"**{name}**" in target.alerts[0] for name in ("daily", "early", "instant"))
    assert await states(store, daily) == [DeliveryState.QUEUED]  # not lost
    assert await states(store, early) == [DeliveryState.QUEUED]


async def test_a_digest_carries_the_nonce_of_its_feed_and_day(store: Database) -> None:
    clock = FakeClock()
    clock.now = NOW.replace(hour=9, minute=0)
    target = FakeTarget()
    feed_id = await feed_with(store, "daily", 30, [paper(1)], mode=FeedMode.DIGEST,
                              digest_time="09:00")  # fmt: skip
    assert await publisher(store, target, clock).publish_digests() == 1
    ((nonce, _),) = target.posts[30]
    assert nonce == delivery_nonce(feed_id, "2026-11-25", digest=True)
    assert nonce != delivery_nonce(feed_id, "2026-11-25") and len(nonce) <= 25
    # the nonce a digest had before the rule was shared, so an attempt left by an older
    # version is still answered with the message it made
    assert nonce == "pd" + hashlib.sha256(f"{feed_id}:2026-11-25".encode()).hexdigest()[:23]


async def test_outcomes_carry_the_wait_from_queue_to_post(store: Database) -> None:
    """Issue 13: the delivery latency was documented but never recorded, and the papers a full
    digest left out were never counted as skipped."""
    clock = FakeClock()
    clock.now = NOW + timedelta(seconds=90)  # the store queues at NOW
    target = FakeTarget()
    await feed_with(store, "a", 10, [paper(1)])
    await feed_with(store, "daily", 30, [paper(2, upvotes=3), paper(3, upvotes=2),
                    paper(4, upvotes=1)], mode=FeedMode.DIGEST, digest_size=2,
                    digest_time="09:00")  # fmt: skip
    seen: list[tuple[str, float | None]] = []
    pub = Publisher(store, target, body, clock, limiter=RateLimiter(sleep=no_sleep),
                    build_digest=digest,
                    on_outcome=lambda outcome, latency: seen.append((outcome, latency)))  # fmt: skip
    assert (await pub.publish_due()).sent == 1
    assert seen == [("sent", 90.0)]
    clock.now += timedelta(hours=1)
    assert await pub.publish_digests() == 1
    assert seen[1:] == [("sent", 3690.0), ("sent", 3690.0), ("skipped", None)]


async def test_a_refused_or_retried_digest_is_counted(store: Database) -> None:
    clock = FakeClock()
    clock.now = NOW.replace(hour=9, minute=0)
    target = FakeTarget()
    failed = await feed_with(store, "daily", 30, [paper(1), paper(2)], mode=FeedMode.DIGEST,
                             digest_time="09:00")  # fmt: skip
    retried = await feed_with(store, "later", 31, [paper(3)], mode=FeedMode.DIGEST,
                              digest_time="09:00")  # fmt: skip
    target.fail[30] = MessageRejected("400 Invalid Form Body (50035)")
    target.fail[31] = DeliveryRetryable("503 Service Unavailable")
    outcomes: list[str] = []
    pub = Publisher(store, target, body, clock, limiter=RateLimiter(sleep=no_sleep),
                    build_digest=digest, rand=lambda: 0.5,
                    on_outcome=lambda outcome, _latency: outcomes.append(outcome))  # fmt: skip
    assert await pub.publish_digests() == 0
    assert outcomes == ["failed", "failed", "retried"]
    assert await states(store, failed) == [DeliveryState.FAILED] * 2
    assert await states(store, retried) == [DeliveryState.QUEUED]
    assert target.alerts == [
        "The digest of **daily** could not be posted: 400 Invalid Form Body (50035)"
    ]
    del target.fail[31]
    assert await pub.publish_digests() == 1  # the refused digest is settled for the day
    assert await states(store, retried) == [DeliveryState.SENT]


async def daily_feed(store: Database) -> int:
    papers = [paper(1, upvotes=5), paper(2, upvotes=50), paper(3, upvotes=7)]
    return await feed_with(store, "daily", 30, papers, mode=FeedMode.DIGEST, digest_size=2,
                           digest_time="09:00")  # fmt: skip


async def test_a_digest_cut_short_after_its_send_is_found_not_posted_paper_by_paper(
    store: Database,
) -> None:
    feed_id = await daily_feed(store)
    target = FakeTarget()
    await killed_after_send(target, publisher(store, target).publish_digests)
    ((_, digest_post),) = target.posts[30]
    # after Discord's nonce window: only the channel can tell the digest was made
    target.nonce_window_over = True
    restarted = publisher(store, target)
    assert (await restarted.reconcile()).sent == 2
    assert [m for _, m in target.posts[30]] == [digest_post]  # nothing re-posted, one by one
    by_paper = {d.paper_id: d for d in await store.outbox.deliveries(feed_id=feed_id)}
    assert by_paper["2611.00002"].state is DeliveryState.SENT
    assert by_paper["2611.00002"].message_id == by_paper["2611.00003"].message_id == 1001
    assert await store.outbox.last_digest(feed_id) == NOW.date().isoformat()
    assert await restarted.publish_digests() == 0 and len(target.posts[30]) == 1


async def test_a_digest_cut_short_before_its_send_is_posted_once_by_the_digest_path(
    store: Database,
) -> None:
    feed_id = await daily_feed(store)
    candidates = [d for d, _ in await store.outbox.digest_candidates(feed_id)][:2]
    nonce = delivery_nonce(feed_id, NOW.date().isoformat(), digest=True)
    await store.outbox.mark_sending(candidates, nonce, NOW)  # then the crash
    target = FakeTarget()
    restarted = publisher(store, target)
    assert (await restarted.reconcile()).sent == 0 and target.posts == {}
    assert {d.state for d in await store.outbox.deliveries(feed_id=feed_id)} == {
        DeliveryState.QUEUED
    }
    assert await restarted.publish_digests() == 1
    ((sent_nonce, message),) = target.posts[30]
    assert sent_nonce == nonce and message["embeds"][0]["title"] == f"daily {NOW.date()}"


async def switch_mode(store: Database, feed_id: int, mode: FeedMode) -> None:
    """What an admin's edit (the config file, `feeds import`) does to a feed's mode."""
    feed = await store.feeds.get(feed_id)
    assert feed is not None
    await store.feeds.update(feed_id, replace(feed.spec, mode=mode), feed.guild_id)


async def test_a_digest_left_sending_before_its_send_reaches_an_instant_feed_one_by_one(
    store: Database,
) -> None:
    """Known problem: a digest claimed, the crash, then the feed switched to instant. Its
    papers were re-sent one by one with the digest's nonce, so Discord answered every send
    after the first with the first message: all but one paper were marked sent, never posted."""
    feed_id = await daily_feed(store)
    candidates = [d for d, _ in await store.outbox.digest_candidates(feed_id)][:2]
    await store.outbox.mark_sending(candidates, delivery_nonce(feed_id, NOW.date().isoformat(), digest=True),
                                    NOW)  # then the crash  # fmt: skip
    assert await store.outbox.claim_channel(publisher_name(), 30, NOW, NOW + CLAIM_LEASE)  # left
    await switch_mode(store, feed_id, FeedMode.INSTANT)
    target = FakeTarget()
    restarted = publisher(store, target)
    await restarted.reconcile()
    await restarted.publish_due()
    posted = [m["embeds"][0]["url"].rsplit("/", 1)[-1] for _, m in target.posts[30]]
    assert sorted(posted) == ["2611.00001", "2611.00002", "2611.00003"]  # each once, alone
    assert len({nonce for nonce, _ in target.posts[30]}) == 3
    assert set(await states(store, feed_id)) == {DeliveryState.SENT}
    assert await restarted.publish_due() == PublishReport() and len(target.posts[30]) == 3


async def test_a_digest_left_sending_after_its_send_is_not_posted_again_by_an_instant_feed(
    store: Database,
) -> None:
    feed_id = await daily_feed(store)
    target = FakeTarget()
    await killed_after_send(target, publisher(store, target).publish_digests)
    target.nonce_window_over = True
    # SIGKILL runs no `finally`: the claim stays (the same host and pid restarted in place)
    assert await store.outbox.claim_channel(publisher_name(), 30, NOW, NOW + CLAIM_LEASE)
    await switch_mode(store, feed_id, FeedMode.INSTANT)
    restarted = publisher(store, target)
    await restarted.reconcile()
    await restarted.publish_due()
    (_, digest_post), (_, left_out) = target.posts[30]
    assert digest_post["embeds"][0]["title"] == f"daily {NOW.date()}"
    assert left_out["embeds"][0]["url"].endswith("2611.00001")  # not in the digest: posted now
    assert set(await states(store, feed_id)) == {DeliveryState.SENT}


async def test_a_live_publisher_settles_a_dead_ones_digest_in_a_feed_switched_to_instant(
    store: Database,
) -> None:
    """In a cluster no restart runs `reconcile`: the live publisher takes the dead one's
    channel over in its claim round and must look for the digest, not for single papers."""
    feed_id = await daily_feed(store)
    target = FakeTarget()
    await killed_after_send(target, publisher(store, target).publish_digests)
    target.nonce_window_over = True
    # SIGKILL runs no `finally`: the dead publisher's claim on the channel stays behind
    assert await store.outbox.claim_channel("dead:1", 30, NOW, NOW + timedelta(seconds=30))
    await switch_mode(store, feed_id, FeedMode.INSTANT)
    clock = FakeClock()
    clock.advance(minutes=1)  # the dead publisher's claim has expired
    survivor = Publisher(store, target, body, clock, build_digest=digest, name="survivor",
                         limiter=RateLimiter(sleep=no_sleep), rand=lambda: 0.5)  # fmt: skip
    await survivor.publish_due()
    assert [m["embeds"][0].get("url", "digest")[-10:] for _, m in target.posts[30]] == [
        "digest", "2611.00001"
    ]  # fmt: skip
    assert set(await states(store, feed_id)) == {DeliveryState.SENT}


class FindingTarget(FakeTarget):
    """Finds single posts again by their paper's url, as the channel look-up does."""

    async def find_posted(
        self, channel_id: int, paper_id: str, title: str, since: datetime
    ) -> Posted | None:
        for nonce, message in self.posts.get(channel_id, []):
            if message["embeds"][0].get("url", "").endswith(paper_id):
                return Posted(self.by_nonce[(channel_id, nonce)])
        return None


async def test_an_instant_post_left_sending_in_a_feed_switched_to_digest_is_not_in_its_digest(
    store: Database,
) -> None:
    """The mirror case: a paper posted alone, the crash before the record, the feed switched to
    digest: the digest must not carry the paper the channel already has."""
    feed_id = await feed_with(store, "daily", 30, [paper(1, upvotes=5), paper(2, upvotes=9)],
                              digest_size=5, digest_time="09:00")  # fmt: skip
    target = FindingTarget()
    await killed_after_send(target, publisher(store, target).publish_due)
    target.nonce_window_over = True
    await switch_mode(store, feed_id, FeedMode.DIGEST)
    restarted = publisher(store, target)
    await restarted.reconcile()
    assert await restarted.publish_digests() == 1
    (_, alone), (_, digest_post) = target.posts[30]
    assert alone["embeds"][0]["url"].endswith("2611.00001")  # the oldest delivery went first
    assert digest_post["embeds"][0]["description"] == "2611.00002 +0"
    by_paper = {d.paper_id: d for d in await store.outbox.deliveries(feed_id=feed_id)}
    assert by_paper["2611.00001"].message_id == 1001 and by_paper["2611.00002"].message_id == 1002
    assert {d.state for d in by_paper.values()} == {DeliveryState.SENT}
