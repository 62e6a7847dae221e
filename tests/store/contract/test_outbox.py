"""The outbox: a paper owed once ever, attempts recorded, outcomes kept, digests and counts."""

from __future__ import annotations

from datetime import timedelta

from bot.models import DeliveryState, Feed, FeedMode, FeedSpec
from bot.store.interfaces import Database
from tests.store.contract.support import NOW, paper


async def owed(db: Database, *paper_ids: str, name: str = "f", **kw: object) -> Feed:
    """A feed in guild 1 that is owed these papers (stored first)."""
    await db.papers.upsert([paper(p) for p in paper_ids])
    feed = await db.feeds.add(FeedSpec(name=name, channel_id=7, query="x", **kw), guild_id=1)  # type: ignore[arg-type]
    await db.outbox.queue([(feed.id, p) for p in paper_ids])
    return feed


async def test_a_paper_is_owed_to_a_feed_once_ever(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001"), paper("2401.00002")])
    feed = await db.feeds.add(FeedSpec(name="f", channel_id=1, query="x"), guild_id=1)
    assert await db.outbox.queue([(feed.id, "2401.00001"), (feed.id, "2401.00002")]) == 2
    assert await db.outbox.queue([(feed.id, "2401.00001")]) == 0
    assert await db.outbox.queue([]) == 0
    queued = await db.outbox.deliveries(feed_id=feed.id, states=[DeliveryState.QUEUED])
    assert [d.paper_id for d in queued] == ["2401.00001", "2401.00002"]
    assert all(d.queued_at == NOW and d.attempts == 0 for d in queued)
    assert await db.outbox.depth() == 2
    await db.feeds.remove(feed.id)
    assert await db.outbox.depth() == 0  # cascade


async def test_an_attempt_is_recorded_then_its_outcome(db: Database) -> None:
    feed = await owed(db, "2401.00001", "2401.00002")
    first, second = await db.outbox.due(NOW)
    assert (first.channel_id, first.feed_name, first.guild_id) == (7, "f", 1)
    await db.outbox.mark_sending([first.delivery.id], "nonce-1", NOW)
    (flying,) = await db.outbox.in_flight()
    assert flying.delivery.id == first.delivery.id and flying.nonce == "nonce-1"
    assert flying.attempted_at == NOW and flying.delivery.attempts == 1
    assert [d.delivery.id for d in await db.outbox.due(NOW)] == [second.delivery.id]
    await db.outbox.mark_sent([first.delivery.id], 555, NOW, thread_id=9)
    assert await db.outbox.in_flight() == []
    (sent,) = await db.outbox.deliveries(feed_id=feed.id, states=[DeliveryState.SENT])
    assert sent.message_id == 555 and sent.sent_at == NOW
    stored = await db.feeds.get(feed.id)
    assert stored is not None and stored.last_post_at == NOW


async def test_retries_wait_their_time_and_failures_keep_their_reason(db: Database) -> None:
    feed = await owed(db, "2401.00001", "2401.00002", "2401.00003")
    a, b, c = (d.delivery.id for d in await db.outbox.due(NOW))
    await db.outbox.mark_sending([a, b, c], None, NOW)
    await db.outbox.mark_retry(a, "HTTP 503", NOW + timedelta(minutes=5))
    await db.outbox.mark_failed([b], "HTTP 400")
    await db.outbox.mark_skipped([c], "over the digest size")
    assert await db.outbox.due(NOW) == []
    (later,) = await db.outbox.due(NOW + timedelta(minutes=5))
    assert later.delivery.id == a and later.delivery.error == "HTTP 503"
    by_id = {d.id: d for d in await db.outbox.deliveries(feed_id=feed.id)}
    assert by_id[b].state is DeliveryState.FAILED and by_id[b].error == "HTTP 400"
    assert by_id[c].state is DeliveryState.SKIPPED
    await db.outbox.mark_sending([a], None, NOW)
    await db.outbox.requeue([a])
    (back,) = await db.outbox.deliveries(feed_id=feed.id, states=[DeliveryState.QUEUED])
    assert back.error == "HTTP 503" and back.attempts == 2  # requeue without a reason keeps it


async def test_paused_and_digest_feeds_are_never_due(db: Database) -> None:
    paused = await owed(db, "2401.00001", name="paused")
    await db.feeds.set_paused(paused.id, True)
    await owed(db, "2401.00002", name="digest", mode=FeedMode.DIGEST)
    assert await db.outbox.due(NOW) == []
    assert await db.outbox.depth() == 2


async def test_digest_candidates_best_first_and_the_last_digest_day(db: Database) -> None:
    await db.papers.upsert(
        [paper("2401.00001", upvotes=2), paper("2401.00002", upvotes=9), paper("2401.00003")]
    )
    feed = await owed(db, "2401.00001", "2401.00002", "2401.00003", mode=FeedMode.DIGEST)
    candidates = await db.outbox.digest_candidates(feed.id)
    assert [p.id for _, p in candidates] == ["2401.00002", "2401.00001", "2401.00003"]
    assert await db.outbox.last_digest(feed.id) is None
    await db.outbox.set_last_digest(feed.id, "2026-11-27")
    assert await db.outbox.last_digest(feed.id) == "2026-11-27"


async def test_counts_by_state_and_by_feed(db: Database) -> None:
    feed = await owed(db, "2401.00001", "2401.00002", "2401.00003")
    a, b, _ = (d.delivery.id for d in await db.outbox.due(NOW))
    await db.outbox.mark_sent([a], 1, NOW - timedelta(days=2))
    await db.outbox.mark_failed([b], "HTTP 400")
    assert await db.outbox.counts(NOW - timedelta(days=1)) == {"failed": 1, "queued": 1}
    assert await db.outbox.counts(NOW - timedelta(days=3)) == {
        "failed": 1,
        "queued": 1,
        "sent": 1,
    }
    assert await db.outbox.states_by_feed(1) == {feed.id: {"failed": 1, "queued": 1}}
    assert await db.outbox.states_by_feed(2) == {}


async def test_papers_another_feed_sent_to_the_channel_are_named(db: Database) -> None:
    first = await owed(db, "2401.00001", "2401.00002", "2401.00003", name="first")
    second = await owed(db, "2401.00001", "2401.00002", "2401.00003", name="second")
    elsewhere = await db.feeds.add(FeedSpec(name="other", channel_id=8, query="x"), guild_id=1)
    await db.outbox.queue([(elsewhere.id, "2401.00003")])
    by_paper = {d.paper_id: d.id for d in await db.outbox.deliveries(feed_id=first.id)}
    await db.outbox.mark_sending([by_paper["2401.00001"]], None, NOW)
    await db.outbox.mark_sent([by_paper["2401.00001"]], 111, NOW)
    await db.outbox.mark_sending([by_paper["2401.00002"]], "n", NOW)  # in flight counts too
    (other,) = await db.outbox.deliveries(feed_id=elsewhere.id)
    await db.outbox.mark_sending([other.id], None, NOW)
    await db.outbox.mark_sent([other.id], 112, NOW)  # another channel: does not count
    ids = ["2401.00001", "2401.00002", "2401.00003"]
    assert await db.outbox.posted_to_channel_by_others(7, ids, second.id) == {
        "2401.00001": "first",
        "2401.00002": "first",
    }
    assert await db.outbox.posted_to_channel_by_others(7, ids, first.id) == {}  # its own
    assert await db.outbox.posted_to_channel_by_others(7, [], second.id) == {}
