"""Stories of issue 5 with the real discord.py client against the loopback Discord."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.models import DeliveryState, FeedMode
from bot.services.feeds import create_feed
from bot.services.publisher import delivery_nonce
from tests.discord.conftest import Harness, make_paper
from tests.factories import NOW, make_feed_spec
from tests.pg.fixtures import backend_params

# The stories that cover posting, digests and exactly-once run on PostgreSQL as well.
ON_BOTH_BACKENDS = pytest.mark.parametrize("harness", backend_params(), indirect=True)


async def add_feed(h: Harness, name: str, channel: int, query: str, **kw: object) -> int:
    world = h.fake.world
    assert world is not None
    spec = make_feed_spec(name, channel, query=query, backfill=0, **kw)
    feed, _ = await create_feed(h.store, spec, guild_id=world.guild.id, now=NOW)
    return feed.id


@ON_BOTH_BACKENDS
async def test_text_and_forum_feeds_receive_matching_papers_once(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    text_feed = await add_feed(h, "causal", world.papers.id, "causal")
    forum_feed = await add_feed(h, "diffusion", world.forum.id, "diffusion")
    papers = [
        make_paper(1, "Causal discovery with interventions"),
        make_paper(2, "Video diffusion transformers"),
        make_paper(3, "Causal diffusion models"),
        make_paper(4, "Nothing that matches"),
    ]
    await h.poll_and_deliver(papers)
    messages = await h.fake.wait_for_messages(world.papers, 2)
    titles = [m.embeds[0]["title"] for m in messages]
    assert len(titles) == 2 and all("Causal" in t for t in titles)
    assert all(m.request.get("allowed_mentions") == {"parse": []} for m in messages)
    threads = h.fake.threads(world.forum)
    assert sorted(t.name for t in threads) == [
        "Causal diffusion models",
        "Video diffusion transformers",
    ]
    # the same poll again, a restart-like second round: nothing posted twice
    await h.poll_and_deliver(papers)
    await h.bot.publisher.reconcile()
    assert len(h.fake.messages(world.papers)) == 2
    assert len(h.fake.threads(world.forum)) == 2
    for feed_id in (text_feed, forum_feed):
        assert {d.state for d in await h.store.outbox.deliveries(feed_id=feed_id)} == {
            DeliveryState.SENT
        }


async def test_a_forbidden_channel_pauses_only_its_feed_with_one_alert(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    blocked = await add_feed(h, "blocked", world.readonly.id, "causal")
    fine = await add_feed(h, "fine", world.papers.id, "causal")
    await h.poll_and_deliver([make_paper(10, "Causal A"), make_paper(11, "Causal B")])
    await h.fake.wait_for_messages(world.papers, 2)
    feed = await h.store.feeds.get(blocked)
    assert feed is not None and feed.paused and "50013" in (feed.pause_reason or "")
    alerts = await h.fake.wait_for_messages(h.alerts_channel, 1)
    assert len(alerts) == 1 and "blocked" in alerts[0].content
    assert not alerts[0].pings.any
    # the blocked feed's papers are kept, not lost, and no more requests hit the channel
    queued = await h.store.outbox.deliveries(feed_id=blocked)
    assert [d.state for d in queued] == [DeliveryState.QUEUED, DeliveryState.QUEUED]
    before = h.fake.invalid_request_count()
    await h.bot.publisher.publish_due()
    assert h.fake.invalid_request_count() == before <= 2
    assert {d.state for d in await h.store.outbox.deliveries(feed_id=fine)} == {DeliveryState.SENT}


async def test_hostile_titles_ping_nobody(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await add_feed(h, "all", world.papers.id, "attention")
    hostile = make_paper(
        20, "@everyone attention <@&123> is [all](https://evil.example) you need @here"
    )
    await h.poll_and_deliver([hostile])
    (message,) = await h.fake.wait_for_messages(world.papers, 1)
    assert not message.pings.any
    assert "](https://evil.example)" not in message.embeds[0]["title"]


@ON_BOTH_BACKENDS
async def test_a_digest_feed_posts_one_message_at_its_time(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await add_feed(h, "daily", world.papers.id, "graph", mode=FeedMode.DIGEST, digest_time="11:00",
                   digest_size=2)  # fmt: skip
    await h.poll_and_deliver([make_paper(30 + i, f"Graph paper {i}", upvotes=i) for i in range(4)])
    assert h.fake.messages(world.papers) == []  # digests wait for their time
    assert await h.bot.publisher.publish_digests() == 1
    (digest,) = await h.fake.wait_for_messages(world.papers, 1)
    text = " ".join(e.get("description", "") for e in digest.embeds)
    assert "Graph paper 3" in text and "Graph paper 2" in text and "Graph paper 0" not in text
    assert await h.bot.publisher.publish_digests() == 0


@ON_BOTH_BACKENDS
async def test_a_kill_between_send_and_record_posts_nothing_twice(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    feed_id = await add_feed(h, "k", world.papers.id, "causal")
    await h.poll_and_deliver([make_paper(40, "Causal K")])
    await h.fake.wait_for_messages(world.papers, 1)
    # pretend the process died after Discord made the message but before it was recorded
    (delivery,) = await h.store.outbox.deliveries(feed_id=feed_id)
    await h.store.outbox.mark_sending([delivery.id], None, NOW)
    assert (await h.bot.publisher.reconcile()).sent == 1
    assert len(h.fake.messages(world.papers)) == 1


async def switched_digest(h: Harness, channel: int) -> int:
    """A digest feed with four papers queued (two fit its digest), switched to instant later."""
    feed_id = await add_feed(h, "daily", channel, "graph", mode=FeedMode.DIGEST,
                             digest_time="11:00", digest_size=2)  # fmt: skip
    await h.poll_and_deliver([make_paper(50 + i, f"Graph paper {i}", upvotes=i) for i in range(4)])
    return feed_id


async def to_instant(h: Harness, feed_id: int) -> None:
    feed = await h.store.feeds.get(feed_id)
    assert feed is not None
    await h.store.feeds.update(feed_id, replace(feed.spec, mode=FeedMode.INSTANT), feed.guild_id)


@ON_BOTH_BACKENDS
async def test_a_digest_killed_before_its_send_reaches_a_feed_switched_to_instant_once(
    harness: Harness,
) -> None:
    """Known problem: the papers of a digest left `sending` were re-sent alone with the
    digest's nonce after the switch, and Discord answered them all with the first message."""
    h = harness
    world = h.fake.world
    assert world is not None
    feed_id = await switched_digest(h, world.papers.id)
    chosen = [d for d, _ in await h.store.outbox.digest_candidates(feed_id)][:2]
    nonce = delivery_nonce(feed_id, NOW.date().isoformat(), digest=True)
    await h.store.outbox.mark_sending(chosen, nonce, NOW)  # then SIGKILL
    await to_instant(h, feed_id)
    await h.bot.publisher.reconcile()
    await h.bot.publisher.publish_due()
    messages = await h.fake.wait_for_messages(world.papers, 4)
    assert sorted(m.embeds[0]["title"] for m in messages) == [f"Graph paper {i}" for i in range(4)]
    await h.bot.publisher.publish_due()
    assert len(h.fake.messages(world.papers)) == 4
    sent = await h.store.outbox.deliveries(feed_id=feed_id)
    assert {d.state for d in sent} == {DeliveryState.SENT}
    assert len({d.message_id for d in sent}) == 4


@ON_BOTH_BACKENDS
async def test_a_digest_killed_after_its_send_is_not_repeated_by_a_feed_switched_to_instant(
    harness: Harness,
) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    feed_id = await switched_digest(h, world.papers.id)
    assert await h.bot.publisher.publish_digests() == 1
    (digest,) = await h.fake.wait_for_messages(world.papers, 1)
    # SIGKILL before the record: the digest's two stay `sending`, the other two queued
    deliveries = await h.store.outbox.deliveries(feed_id=feed_id)
    await h.store.outbox.mark_sending(
        [d.id for d in deliveries if d.state is DeliveryState.SENT], None, NOW
    )
    await h.store.outbox.requeue([d.id for d in deliveries if d.state is DeliveryState.SKIPPED])
    await to_instant(h, feed_id)
    await h.bot.publisher.reconcile()
    await h.bot.publisher.publish_due()
    messages = await h.fake.wait_for_messages(world.papers, 3)
    assert messages[0].id == digest.id
    assert sorted(m.embeds[0]["title"] for m in messages[1:]) == ["Graph paper 0", "Graph paper 1"]
    sent = await h.store.outbox.deliveries(feed_id=feed_id)
    assert {d.state for d in sent} == {DeliveryState.SENT}
    assert sum(d.message_id == digest.id for d in sent) == 2


async def test_slash_feed_add_needs_manage_channels(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    refused = await h.fake.invoke(
        "feed add", {"name": "x", "query": "causal"}, member=world.alice, force=True
    )
    await h.fake.wait_for_callback(refused)
    assert await h.store.feeds.list() == []
    done = await h.fake.invoke(
        "feed add", {"name": "causal", "query": "causal -survey"}, member=world.mod
    )
    original = await h.fake.wait_for_original(done)
    assert "will post to" in original.content
    (feed,) = await h.store.feeds.list(guild_id=world.guild.id)
    assert feed.name == "causal" and feed.channel_id == world.papers.id


async def test_posts_carry_link_buttons_and_arxivs_comment_line(harness: Harness) -> None:
    """Text channels and forum posts both get the buttons; the fake Discord validates them."""
    h = harness
    world = h.fake.world
    assert world is not None
    await add_feed(h, "causal", world.papers.id, "causal")
    await add_feed(h, "forum", world.forum.id, "causal")
    paper = make_paper(
        7, "Causal transport", comments="12 pages, 5 figures", github_repo="https://github.com/a/b"
    )
    await h.poll_and_deliver([paper])
    (message,) = await h.fake.wait_for_messages(world.papers, 1)
    (thread,) = h.fake.threads(world.forum)
    (starter,) = h.fake.messages(thread)
    for posted in (message, starter):
        (row,) = posted.components
        assert row["type"] == 1
        assert [(b["type"], b["style"], b["label"], b["url"]) for b in row["components"]] == [
            (2, 5, "Abstract", "https://arxiv.org/abs/2611.00007"),
            (2, 5, "PDF", "https://arxiv.org/pdf/2611.00007"),
            (2, 5, "Hugging Face", "https://huggingface.co/papers/2611.00007"),
            (2, 5, "Code", "https://github.com/a/b"),
        ]
        embed = posted.embeds[0]
        assert "*12 pages, 5 figures*" in embed["description"]
        assert embed["footer"]["text"].endswith("· via Hugging Face · arXiv:2611.00007v1")
    assert message.embeds[0]["footer"]["text"].startswith("causal · ")
    assert starter.embeds[0]["footer"]["text"].startswith("forum · ")


@ON_BOTH_BACKENDS
async def test_two_feeds_on_one_channel_post_a_paper_once(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    first = await add_feed(h, "causal", world.papers.id, "causal")
    second = await add_feed(h, "causal-copy", world.papers.id, "causal OR discovery")
    await h.poll_and_deliver([make_paper(8, "Causal discovery at scale")])
    await h.fake.wait_for_messages(world.papers, 1)
    await h.poll_and_deliver([make_paper(8, "Causal discovery at scale")])
    assert len(h.fake.messages(world.papers)) == 1
    states = [d.state for f in (first, second) for d in await h.store.outbox.deliveries(feed_id=f)]
    assert sorted(s.value for s in states) == ["sent", "skipped"]
