"""Claims on the outbox: a publisher takes channels, with their work, and gives them back."""

from __future__ import annotations

from datetime import timedelta

from bot.models import FeedMode, FeedSpec
from bot.store.interfaces import Database
from tests.store.contract.support import NOW, paper

LEASE = NOW + timedelta(seconds=30)


async def feed_on(db: Database, name: str, channel: int, *paper_ids: str, **kw: object) -> int:
    await db.papers.upsert([paper(p) for p in paper_ids])
    spec = FeedSpec(name=name, channel_id=channel, query="x", **kw)  # type: ignore[arg-type]
    feed = await db.feeds.add(spec, guild_id=1)
    await db.outbox.queue([(feed.id, p) for p in paper_ids])
    return feed.id


async def test_a_claim_returns_due_work_and_attempts_in_flight_of_instant_feeds(
    db: Database,
) -> None:
    a = await feed_on(db, "a", 10, "2401.00001", "2401.00002")
    await feed_on(db, "digest", 20, "2401.00003", mode=FeedMode.DIGEST)
    b = await feed_on(db, "b", 30, "2401.00004")
    await db.feeds.set_paused(b, True, "gone")
    first, second = await db.outbox.deliveries(feed_id=a)
    await db.outbox.mark_sending([first.id], "pf-1", NOW)  # left in flight by a crash
    await db.outbox.mark_retry(second.id, "503", NOW + timedelta(minutes=1))
    # digests and paused feeds are no publisher's instant work; the retry is not due yet
    work = await db.outbox.claim("p1", NOW, LEASE)
    assert [(w.delivery.id, w.nonce, w.channel_id) for w in work] == [(first.id, "pf-1", 10)]
    await db.outbox.release_claims("p1", [10])
    later = await db.outbox.claim("p1", NOW + timedelta(minutes=2), LEASE)
    assert [w.delivery.id for w in later] == [first.id, second.id]
    assert await db.outbox.claim("p1", NOW, LEASE, in_flight_only=True) != []


async def test_in_flight_only_leaves_queued_work(db: Database) -> None:
    await feed_on(db, "a", 10, "2401.00001")
    assert await db.outbox.claim("p1", NOW, LEASE, in_flight_only=True) == []
    assert len(await db.outbox.claim("p1", NOW, LEASE)) == 1


async def test_channels_are_taken_oldest_first_up_to_the_limits(db: Database) -> None:
    for n, channel in enumerate((30, 10, 20)):
        await feed_on(db, f"f{n}", channel, f"2401.0000{n}")
    work = await db.outbox.claim("p1", NOW, LEASE, channels=2)
    assert [w.channel_id for w in work] == [30, 10]
    await db.outbox.release_claims("p1", [30, 10])
    (only,) = await db.outbox.claim("p1", NOW, LEASE, limit=1)  # a row limit
    assert only.channel_id == 30


async def test_claims_are_renewed_and_released(db: Database) -> None:
    await feed_on(db, "a", 10, "2401.00001")
    await db.outbox.claim("p1", NOW, LEASE)
    assert await db.outbox.renew_claims("p1", LEASE + timedelta(seconds=30)) == {10}
    await db.outbox.release_claims("p1", [10])
    assert await db.outbox.renew_claims("p1", LEASE) == set()
    assert await db.outbox.claim_channel("p1", 99, NOW, LEASE)
    assert await db.outbox.renew_claims("p1", LEASE) == {99}


async def test_channels_with_work_counts_every_channel_owed_instant_work_claimed_or_not(
    db: Database,
) -> None:
    assert await db.outbox.channels_with_work(NOW) == 0
    a = await feed_on(db, "a", 10, "2401.00001", "2401.00002")
    await feed_on(db, "a2", 10, "2401.00003")  # a second feed on the same channel
    await feed_on(db, "b", 20, "2401.00004")
    await feed_on(db, "digest", 30, "2401.00005", mode=FeedMode.DIGEST)
    paused = await feed_on(db, "paused", 40, "2401.00006")
    await db.feeds.set_paused(paused, True, "gone")
    later = await feed_on(db, "later", 50, "2401.00007")
    (retry,) = await db.outbox.deliveries(feed_id=later)
    await db.outbox.mark_retry(retry.id, "503", NOW + timedelta(minutes=1))
    assert await db.outbox.channels_with_work(NOW) == 2
    await db.outbox.claim("p1", NOW, LEASE, channels=1)  # held by a publisher: still owed
    first, _ = await db.outbox.deliveries(feed_id=a)
    await db.outbox.mark_sending([first.id], "pf-1", NOW)  # in flight: still owed
    assert await db.outbox.channels_with_work(NOW) == 2
    assert await db.outbox.channels_with_work(NOW + timedelta(minutes=2)) == 3
    assert await db.outbox.channels_with_work(NOW, window=1) == 1  # a bounded look
