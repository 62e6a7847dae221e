"""Discord faults against the bot as `paperfeed run` wires it (metrics included), in-process.

403 and 404 in the middle of a fan-out, a 429 storm, 5xx bursts, an answer lost after Discord
made the message, a gateway drop and resume, an invalid session, a late interaction. In every
story: nothing is posted twice, nothing owed is lost, and the invalid requests (401, 403, 429)
stay far below Discord's ban threshold of 10,000 per 10 minutes (budget here: < 100).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord.http
import pytest

from tests.fakes.discord import Perm
from tests.reliability.conftest import LiveBot
from tests.reliability.support import db_rows, duplicates, make_paper, posts_by_pair, record_figures

INVALID_BUDGET = 100  # per 10 minutes, in these tests; Discord bans at 10,000


def check_budget(live: LiveBot, story: str, **figures: Any) -> int:
    invalid = live.fake.invalid_request_count(window=600)
    assert invalid < INVALID_BUDGET, f"{invalid} invalid requests in 10 minutes"
    record_figures(f"discord-faults/{story}", invalid_requests_10min=invalid, **figures)
    return invalid


def assert_once(live: LiveBot) -> None:
    dupes = duplicates(posts_by_pair(live.fake))
    assert not dupes, f"posted twice: {dupes}"


async def test_403_and_404_mid_fan_out_pause_only_their_feeds(live: LiveBot) -> None:
    fake = live.fake
    chans = [(await fake.create_channel(f"fan-{n}", notify=False)).id for n in range(4)]
    ok1, forbidden, deleted, ok2 = chans
    feeds = [await live.feed(f"fan-{n}", c) for n, c in enumerate(chans)]
    papers = [make_paper(n) for n in range(1, 11)]
    await live.owe(feeds, papers)

    async def break_after(channel: int, n: int, action: Any) -> None:
        await fake.wait_until(lambda: len(fake.messages(channel)) >= n, timeout=10)
        await action(channel)

    breakers = asyncio.gather(
        break_after(forbidden, 3, fake.forbid_channel),
        break_after(deleted, 4, lambda c: fake.delete_channel(c, notify=False)),
    )
    report = await live.bot.publisher.publish_due()
    await breakers
    assert sorted(report.paused_channels) == sorted([forbidden, deleted])

    for feed_id, channel in zip(feeds, chans, strict=True):
        feed = await live.store.feeds.get(feed_id)
        assert feed is not None
        posted = len(fake.messages(channel, include_deleted=True))
        states = await live.states(feed_id)
        if channel in (ok1, ok2):
            assert not feed.paused and states == {"sent": 10}
            continue
        # paused with Discord's reason, what was posted is recorded, the rest kept (not failed)
        assert feed.paused
        assert ("50013" if channel == forbidden else "10003") in (feed.pause_reason or "")
        assert states == {"sent": posted, "queued": 10 - posted}
    alerts = fake.messages(live.alerts)
    assert len(alerts) == 2 and not any(a.pings.any for a in alerts)
    assert sorted("fan-1" in a.content for a in alerts) == [False, True]  # one alert each
    # one refused request per broken channel, no retry storm: another round asks nothing of them
    before = fake.request_count()
    await live.bot.publisher.publish_due()
    assert fake.request_count() == before
    assert fake.invalid_request_count() == 1  # the 403; a 404 is not an invalid request

    # the admin fixes the permission and resumes: the rest arrives, nothing twice
    await fake.set_overwrite(forbidden, fake.bot_user.id, allow=Perm.SEND_MESSAGES)
    await live.store.feeds.set_paused(feeds[1], False)
    await live.deliver_all()
    assert await live.states(feeds[1]) == {"sent": 10}
    assert len(fake.messages(forbidden)) == 10
    assert_once(live)
    check_budget(live, "403-404-mid-fan-out", paused_feeds=2, alerts=len(alerts))


async def test_a_429_storm_is_waited_out_and_posts_each_paper_once(live: LiveBot) -> None:
    fake = live.fake
    chans = [(await fake.create_channel(f"storm-{n}", notify=False)).id for n in range(3)]
    feeds = [await live.feed(f"storm-{n}", c) for n, c in enumerate(chans)]
    await live.owe(feeds, [make_paper(n) for n in range(1, 9)])
    # per-channel 429s on one channel, then a burst of global ones for every channel
    fake.script("POST /channels/{id}/messages", [429] * 12, retry_after=0.01,
                match={"channel_id": chans[0]})  # fmt: skip
    fake.script("POST /channels/{id}/messages", [429] * 8, retry_after=0.01, scope="global")
    rounds = await live.deliver_all()
    assert [await live.states(f) for f in feeds] == [{"sent": 8}] * 3
    assert len(fake.messages()) == 24
    assert_once(live)
    storm = len(fake.requests_to("POST /channels/{id}/messages", status=429))
    assert storm == 20
    retried = sum(
        [d.attempts > 1 for f in feeds for d in await live.store.outbox.deliveries(feed_id=f)]
    )
    check_budget(live, "429-storm", injected_429=storm, rounds=rounds, retried_deliveries=retried)


class _Sleeps:
    """discord.py's own waits (5xx retries), recorded and skipped instead of slept."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def backoffs(self) -> list[float]:
        """The 5xx retry waits (discord.py also yields with zero-second waits)."""
        return [w for w in self.waits if w >= 1]

    def module(self) -> Any:
        async def sleep(seconds: float, result: Any = None) -> Any:
            self.waits.append(seconds)
            await asyncio.sleep(0)
            return result

        return SimpleNamespace(**{**vars(asyncio), "sleep": sleep})


async def test_5xx_bursts_are_retried_with_backoff_and_post_once(
    live: LiveBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = live.fake
    sleeps = _Sleeps()
    monkeypatch.setattr(discord.http, "asyncio", sleeps.module())
    flaky, down = [(await fake.create_channel(f"5xx-{n}", notify=False)).id for n in range(2)]
    feeds = [await live.feed("flaky", flaky), await live.feed("down", down)]
    await live.owe(feeds, [make_paper(n) for n in range(1, 6)])
    # 500/502/504 are retried by discord.py itself (waits 1, 3, 5... s); 503 comes back to us
    fake.script("POST /channels/{id}/messages", [500, 502, 504], match={"channel_id": flaky})
    fake.script("POST /channels/{id}/messages", [503, 503, 500, 500, 500, 500, 500],
                match={"channel_id": down})  # fmt: skip
    await live.bot.publisher.publish_due()
    assert sleeps.backoffs() == [1, 3, 5]  # discord.py's backoff for the flaky channel
    assert await live.states(feeds[0]) == {"sent": 5}
    # the down channel: the publisher backs off 30 s, 60 s, 120 s (±20 %), never sooner
    first_id = (await live.store.outbox.deliveries(feed_id=feeds[1]))[0].id
    waits = []
    for _ in range(3):
        (item,) = [d for d in await _queued(live, feeds[1]) if d[0] == first_id]
        due_at = item[1]
        due_now = [d.delivery.id for d in await live.store.outbox.due(live.clock())]
        assert first_id not in due_now  # not before its time
        waits.append((due_at - live.clock()).total_seconds())
        live.clock.offset += due_at - live.clock() + timedelta(seconds=1)
        await live.bot.publisher.publish_due()
    assert 23 <= waits[0] <= 37 and 47 <= waits[1] <= 73 and 95 <= waits[2] <= 145
    assert sleeps.backoffs()[3:] == [1, 3, 5, 7, 9]  # the five 500s, in the third attempt
    assert await live.states(feeds[1]) == {"sent": 5}
    (delivery,) = [
        d for d in await live.store.outbox.deliveries(feed_id=feeds[1]) if d.id == first_id
    ]
    assert delivery.attempts == 4
    assert_once(live)
    check_budget(live, "5xx-bursts", injected_5xx=10, discord_py_waits=sleeps.backoffs(),
                 publisher_waits=[round(w) for w in waits])  # fmt: skip


async def _queued(live: LiveBot, feed_id: int) -> list[tuple[int, datetime]]:
    """(delivery id, next attempt time) of a feed's queued deliveries, read beside the bot."""
    rows = db_rows(
        Path(live.store.path),
        "SELECT id, next_attempt_at FROM deliveries WHERE feed_id = ? AND state = 'queued'",
        (feed_id,),
    )
    return [(int(i), datetime.fromisoformat(t)) for i, t in rows if t]


async def test_an_answer_lost_after_discord_made_the_message_is_not_posted_again(
    live: LiveBot,
) -> None:
    """The connection drops after Discord created the message (an ambiguous failure); the bot
    then stays away longer than Discord remembers nonces. The retry must find the message."""
    fake = live.fake
    channel = (await fake.create_channel("ambiguous", notify=False)).id
    feed = await live.feed("ambiguous", channel)
    await live.owe([feed], [make_paper(1), make_paper(2)])
    fake.drop_after_create(1)
    await live.bot.publisher.publish_due()
    assert len(fake.dropped) == 1 and len(fake.messages(channel)) >= 1
    (first, *_) = await live.store.outbox.deliveries(feed_id=feed)
    assert first.state.value == "queued" and first.attempts == 1  # the bot could not know
    # ten minutes later: Discord no longer deduplicates the nonce
    fake.clock.advance(fake.nonce_window + 480)
    await live.deliver_all()
    assert await live.states(feed) == {"sent": 2}
    assert len(fake.messages(channel)) == 2
    assert_once(live)
    check_budget(live, "answer-lost", dropped_answers=1)


async def test_gateway_drop_and_resume_mid_fan_out(live: LiveBot) -> None:
    fake = live.fake
    chans = [(await fake.create_channel(f"gw-{n}", notify=False)).id for n in range(3)]
    feeds = [await live.feed(f"gw-{n}", c) for n, c in enumerate(chans)]
    await live.owe(feeds, [make_paper(n) for n in range(1, 16)])
    round_ = asyncio.ensure_future(live.bot.publisher.publish_due())
    await fake.wait_until(lambda: len(fake.messages()) >= 10, timeout=10)
    await fake.drop_gateway()
    await fake.wait_for_gateway("resume", 1, timeout=15)
    await round_
    await live.deliver_all()
    assert [await live.states(f) for f in feeds] == [{"sent": 15}] * 3
    assert_once(live)
    # slash commands work after the resume
    record = await fake.invoke("feed list", member=live.world.mod)
    reply = await fake.wait_for_original(record)
    assert "gw-0" in reply.content
    check_budget(live, "gateway-drop-resume", resumes=1)


async def test_an_invalid_session_re_identifies_and_delivery_goes_on(live: LiveBot) -> None:
    fake = live.fake
    bot = live.bot

    async def no_identify_pause(shard_id: int | None, *, initial: bool = False) -> None:
        return None  # discord.py waits 5 s before re-identifying; the fake needs no pause

    bot.before_identify_hook = no_identify_pause  # type: ignore[method-assign]
    channel = (await fake.create_channel("session", notify=False)).id
    feed = await live.feed("session", channel)
    await live.owe([feed], [make_paper(n) for n in range(1, 9)])
    round_ = asyncio.ensure_future(bot.publisher.publish_due())
    await fake.wait_until(lambda: len(fake.messages(channel)) >= 3, timeout=10)
    await fake.invalidate_session(resumable=False)
    await fake.wait_for_gateway("identify", 2, timeout=15)
    await round_
    await live.deliver_all()
    assert await live.states(feed) == {"sent": 8}
    assert_once(live)
    record = await fake.invoke("feed list", member=live.world.mod)
    assert "session" in (await fake.wait_for_original(record)).content
    check_budget(live, "invalid-session", identifies=2)


async def test_a_late_interaction_gets_no_retry_storm_and_the_next_one_is_answered(
    live: LiveBot,
) -> None:
    fake = live.fake
    await live.feed("late", live.world.papers.id)
    record = await fake.invoke("feed list", member=live.world.mod, deliver=False)
    fake.clock.advance(fake.interaction_deadline + 0.5)  # the event reaches the bot too late
    await fake.gateway.dispatch("INTERACTION_CREATE", record.payload, guild_id=record.guild_id)
    await fake.wait_until(lambda: len(record.callbacks) >= 1, timeout=10)
    fresh = await fake.invoke("feed list", member=live.world.mod)
    reply = await fake.wait_for_original(fresh)  # by now the late one is long handled
    assert "late" in reply.content and fresh.latency < 3
    assert all(c.code == 10062 for c in record.callbacks)  # Unknown interaction
    assert len(record.callbacks) <= 2  # the answer, and at most one apology attempt
    assert not record.followup_ids
    late_requests = len(record.callbacks)
    assert not live.started.errors or all("10062" in str(e.exc_info) for e in live.started.errors)
    check_budget(live, "late-interaction", late_callbacks=late_requests)
