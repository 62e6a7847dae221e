"""Issue 6: /status and /help with the real discord.py client against the loopback Discord."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.config import ArxivConfig
from bot.discord.limits import EMBED_TOTAL_MAX, embed_length
from bot.models import FeedSpec, SourceRun
from bot.services.feeds import create_feed
from bot.sources.base import FetchResult
from tests.discord.conftest import Harness, make_paper
from tests.factories import NOW
from tests.fakes.discord.records import InteractionRecord, Message
from tests.fakes.discord.state import Perm

CALLBACK_MESSAGE, CALLBACK_DEFERRED = 4, 5


def answered_in_time(record: InteractionRecord, kind: int) -> None:
    first = record.first_callback
    assert first is not None and first.type == kind, record.callbacks
    assert first.status in (200, 204) and first.code is None
    assert record.latency is not None and record.latency < 3


def fields(message: Message) -> dict[str, str]:
    (embed,) = message.embeds
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def stamp(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:R>"


async def run(
    h: Harness, source: str, ago: timedelta, *, new: int = 0, error: str | None = None
) -> None:
    at = NOW - ago
    await h.store.sources.record_run(
        SourceRun(source=source, started_at=at, finished_at=at, fetched=new, new=new, error=error)
    )


class ScheduleStub:
    """What /status reads from the poll scheduler."""

    def __init__(self, runs: dict[str, datetime]) -> None:
        self.runs = runs

    def next_run(self, source: str) -> datetime | None:
        return self.runs.get(source)

    async def shutdown(self) -> None:
        return None


async def test_status_shows_sources_and_this_servers_feeds(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await run(h, "huggingface", timedelta(hours=3), new=4)
    await run(h, "huggingface", timedelta(hours=1), new=2)
    await run(h, "arxiv", timedelta(hours=5), new=9)
    for hours in (2, 1):
        await run(h, "arxiv", timedelta(hours=hours), error="arxiv: HTTP 503 (after 4 attempt(s))")
    await h.store.papers.upsert([make_paper(1, "Causal A"), make_paper(2, "Causal B")])
    spec = FeedSpec(name="causal", channel_id=world.papers.id, query="causal", backfill=2)
    causal, queued = await create_feed(h.store, spec, guild_id=world.guild.id, now=NOW)
    assert queued == 2
    quiet = FeedSpec(name="quiet", channel_id=world.forum.id, query="graph", backfill=0)
    paused, _ = await create_feed(h.store, quiet, guild_id=world.guild.id, now=NOW)
    await h.store.feeds.set_paused(paused.id, True, "403 50013 Missing Permissions in #paper-forum")
    elsewhere = FeedSpec(name="elsewhere", channel_id=1, query="causal", backfill=0)
    await create_feed(h.store, elsewhere, guild_id=world.guild.id + 1, now=NOW)

    record = await h.fake.invoke("status")
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_DEFERRED)
    assert reply.ephemeral
    got = fields(reply)
    assert list(got) == ["Hugging Face", "arXiv"]  # no totals for a plain member
    hf = got["Hugging Face"]
    assert f"Last success: {stamp(NOW - timedelta(hours=1))}" in hf
    assert "Last error: none" in hf and "Consecutive failures: 0" in hf and "Stale: no" in hf
    assert "Next run" not in hf  # no scheduler in this bot
    ax = got["arXiv"]
    assert f"Last success: {stamp(NOW - timedelta(hours=5))}" in ax
    assert "Consecutive failures: **2**" in ax and "HTTP 503" in ax
    description = reply.embeds[0]["description"]
    lines = description.splitlines()
    assert lines[0] == "**Feeds in this server**"
    assert lines[1].startswith(f"**causal** → <#{world.papers.id}> · ▶ active · last post never")
    assert "2 queued" in lines[1]
    assert "⏸ paused: 403 50013 Missing Permissions in \\#paper-forum" in lines[2]
    assert "elsewhere" not in description
    # once the feed posted, its last post shows
    due = await h.store.outbox.due(NOW)
    await h.store.outbox.mark_sent([d.delivery.id for d in due], 42, NOW - timedelta(minutes=5))
    again = await h.fake.invoke("status")
    reply = await h.fake.wait_for_original(again)
    line = reply.embeds[0]["description"].splitlines()[1]
    assert f"last post {stamp(NOW - timedelta(minutes=5))} · 0 queued" in line
    assert causal.id != paused.id


async def test_status_shows_stale_sources_and_next_runs(harness: Harness) -> None:
    h = harness
    # NOW is a Wednesday: Hugging Face answered all Tuesday but brought nothing new
    for hours in (30, 20, 14):
        await run(h, "huggingface", timedelta(hours=hours), new=0)
    h.bot.scheduler = ScheduleStub({"huggingface": NOW + timedelta(minutes=20)})  # type: ignore[assignment]
    try:
        record = await h.fake.invoke("status")
        reply = await h.fake.wait_for_original(record)
    finally:
        h.bot.scheduler = None
    hf = fields(reply)["Hugging Face"]
    assert "**Stale**: Hugging Face brought no new paper all of Tuesday 2026-11-24" in hf
    assert f"Next run: {stamp(NOW + timedelta(minutes=20))}" in hf
    assert "Next run: not scheduled" in fields(reply)["arXiv"]
    assert "Last success: never" in fields(reply)["arXiv"]


async def test_status_says_when_a_source_is_disabled(harness: Harness) -> None:
    h = harness
    config = h.bot.services.config
    h.bot.services.config = replace(
        config, sources=replace(config.sources, arxiv=ArxivConfig(enabled=False))
    )
    record = await h.fake.invoke("status")
    reply = await h.fake.wait_for_original(record)
    assert fields(reply)["arXiv"] == "Disabled in the configuration."


async def test_status_totals_for_administrators_and_the_owner(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await h.store.papers.upsert([make_paper(i, f"Paper {i}") for i in range(3)])
    admin = await h.fake.invoke("status", permissions=int(Perm.ADMINISTRATOR))
    reply = await h.fake.wait_for_original(admin)
    totals = fields(reply)["Totals (owners only)"]
    search = "\nSearch: Tantivy index, 3 papers" if getattr(h.store.papers, "index", None) else ""
    assert totals == (
        "3 papers stored · 0 posts in the last 24 h · 0 queued · 0 failed\n"
        "0 personal follows by 0 members · 0 DMs in the last 24 h · 0 DMs refused" + search
    )
    owner = await h.fake.invoke("status", dm=True, user=h.fake.owner_user)
    reply = await h.fake.wait_for_original(owner)
    answered_in_time(owner, CALLBACK_DEFERRED)
    assert "Totals (owners only)" in fields(reply)
    assert "description" not in reply.embeds[0]  # no server, so no feeds
    member = await h.fake.invoke("status", member=world.mod)
    reply = await h.fake.wait_for_original(member)
    assert "Totals (owners only)" not in fields(reply)


def registered_commands(commands: list[dict[str, Any]]) -> set[str]:
    """`feed add`, `search`, ...: every leaf command as typed."""
    names: set[str] = set()
    for cmd in commands:
        subs = [o for o in cmd.get("options") or [] if o["type"] == 1]
        names.update(f"{cmd['name']} {s['name']}" for s in subs)
        if not subs:
            names.add(cmd["name"])
    return names


async def test_help_explains_the_bot_within_limits(harness: Harness) -> None:
    h = harness
    record = await h.fake.invoke("help")
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_MESSAGE)
    assert reply.ephemeral and not reply.pings.any
    (embed,) = reply.embeds
    assert embed_length(embed) <= EMBED_TOTAL_MAX
    listed = set(re.findall(r"`/([a-z ]+)`:", embed["description"]))
    assert listed == registered_commands(h.fake.commands())
    assert {"search", "paper", "trending", "status", "help", "feed add"} <= listed
    got = fields(reply)
    assert '"language model"' in got["The query language"]
    assert 'author:"Yoshua Bengio"' in got["The query language"]
    for permission in ("View Channel", "Send Messages", "Embed Links",
                       "Send Messages in Threads", "Create Public Threads", "Manage Channels"):  # fmt: skip
        assert permission in got["Permissions"]
    assert "README" in got["Read more"]
    assert "/search query:" in got["Examples"]


async def test_status_counts_warnings_without_calling_them_failures(harness: Harness) -> None:
    h = harness
    odd = "date=2026-11-25 page 0: item 0 (2611.00001): projectPage: not an http(s) URL; ignored"
    h.hf.next = FetchResult([make_paper(1, "Odd project page")], problems=[odd])
    for _ in range(2):
        report = await h.bot.services.poller.poll_source("huggingface")
        assert report.error is None
    record = await h.fake.invoke("status")
    reply = await h.fake.wait_for_original(record)
    hf = fields(reply)["Hugging Face"]
    assert "Last error: none" in hf and "Consecutive failures: 0" in hf and "Stale: no" in hf
    assert "Warnings in the last poll: 1" in hf
    assert h.fake.messages(h.alerts_channel) == []
