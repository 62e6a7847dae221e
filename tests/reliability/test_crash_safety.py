"""Crash safety: `paperfeed run` as a real process, killed with SIGKILL during a 500-paper fan-out.

The loopback Discord runs in the test process and the bot reaches it only through the
configuration (`[discord] api_base` / `gateway_url`, the product's own proxy path). The outbox
is filled through the store before the first start: 500 papers owed to 50 feeds in 50
channels (the first 50 papers to three feeds each, 600 deliveries). The drill then starts the
bot, kills it at seeded points, starts it again, and at the end checks that every
(channel, paper) was posted exactly once, that every delivery is recorded as sent with the
message Discord made, and that the database passes `PRAGMA integrity_check` after every kill.

Kill points rotate through four kinds:

* `create-then-kill`: Discord made the message but its answer is held; SIGKILL. The bot sent
  and could not record: the start after must find the message, not post it again.
* `receive-then-kill`: Discord received the request but has not processed it; SIGKILL, then
  Discord processes it anyway (the message appears after the bot died).
* `after-n-messages`: SIGKILL as soon as the fake holds N messages (sends in flight on up to
  16 channels at once).
* `at-start`: SIGKILL as soon as the new process logged in (mid-reconcile or earlier).

Every fifth stop is a SIGTERM instead, which must exit 0 within 10 s with nothing in flight.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.models import FeedSpec
from bot.store import open_store
from tests.reliability.support import (
    BotProcess,
    HoldingDiscord,
    db_rows,
    duplicates,
    make_paper,
    paper_id_of,
    posts_by_pair,
    record_figures,
    write_run_config,
)

SEED = 8_2026
PAPERS = 500
CHANNELS = 50
HOT = 50  # the first HOT papers fan out to three feeds each
KINDS = ("create-then-kill", "after-n-messages", "receive-then-kill", "at-start")
STEP_TIMEOUT = 60.0
RESTART_DELAY = 1.0  # seconds (on the fake's clock) between a stop and the next start


async def prefill(fake: HoldingDiscord, db: Path) -> tuple[set[tuple[int, str]], list[int]]:
    """Channels in the fake, feeds and owed deliveries in the store; the expected pairs."""
    world = fake.world
    assert world is not None
    channels = [
        (await fake.create_channel(f"drill-{n:02d}", notify=False)).id for n in range(CHANNELS)
    ]
    papers = [make_paper(n) for n in range(1, PAPERS + 1)]
    expected: set[tuple[int, str]] = set()
    async with open_store(str(db)) as store:
        await store.papers.upsert(papers)
        feeds = []
        for n, channel in enumerate(channels):
            spec = FeedSpec(name=f"drill-{n:02d}", channel_id=channel, query="delivery", backfill=0)
            feeds.append(await store.feeds.add(spec, guild_id=world.guild.id))
        pairs = []
        for n, paper in enumerate(papers):
            targets = [n % CHANNELS] + (
                [(n + 17) % CHANNELS, (n + 31) % CHANNELS] if n < HOT else []
            )
            for t in targets:
                pairs.append((feeds[t].id, paper.id))
                expected.add((channels[t], paper.id))
        assert await store.outbox.queue(pairs) == len(expected)
    return expected, channels


def integrity(db: Path) -> str:
    return str(db_rows(db, "PRAGMA integrity_check")[0][0])


def in_flight(db: Path) -> int:
    return int(db_rows(db, "SELECT count(*) FROM deliveries WHERE state = 'sending'")[0][0])


def reconciled_in(output: str) -> int:
    return sum(int(n) for n in re.findall(r"reconciling (\d+) delivery attempt", output))


async def test_sigkill_at_seeded_points_of_a_fan_out_posts_every_paper_exactly_once(
    tmp_path: Path, kill_points: int
) -> None:
    rng = random.Random(SEED)
    fake = await HoldingDiscord(message_rate=(50, 1.0), openapi=None).start()
    bot = BotProcess(
        write_run_config(tmp_path / "config.toml", fake, tmp_path / "p.sqlite3"),
        fake.token,
        tmp_path,
    )
    db = tmp_path / "p.sqlite3"
    started = time.monotonic()
    try:
        expected, channels = await prefill(fake, db)
        total = len(expected)

        def posted() -> int:  # cheap: the predicate runs on every change in the fake
            return len(fake.messages_store.by_id)

        # SIGKILLs, plus a SIGTERM after every fourth one; thresholds spread over the fan-out.
        stops = kill_points + kill_points // 4
        thresholds = sorted(rng.sample(range(1, total - 20), stops))
        kinds = itertools.cycle(KINDS)
        log: list[dict[str, object]] = []
        kills = terms = in_flight_at_kills = reconciled = 0
        for number, threshold in enumerate(thresholds, start=1):
            await bot.start()
            sigterm = number % 5 == 0
            kind = "sigterm" if sigterm else next(kinds)
            base = len(fake.requests)
            target = max(threshold, posted() + 1)
            if kind == "at-start":
                await bot.wait_until(
                    fake,
                    lambda base=base: any(
                        r.route == "/users/@me" and r.status for r in fake.requests[base:]
                    ),
                    timeout=STEP_TIMEOUT,
                    what="the new process to log in",
                )
                code = await bot.kill()
            elif kind in ("create-then-kill", "receive-then-kill"):
                await bot.wait_until(
                    fake,
                    lambda target=target: posted() >= target - 1,
                    timeout=STEP_TIMEOUT,
                    what=f"{target - 1} posts",
                )
                hold = fake.hold(before=kind == "receive-then-kill")
                await bot.wait_until(
                    fake, hold.reached.is_set, timeout=STEP_TIMEOUT, what="a held message create"
                )
                code = await bot.kill()
                hold.release.set()
                await hold.done.wait()
            else:
                await bot.wait_until(
                    fake,
                    lambda target=target: posted() >= target,
                    timeout=STEP_TIMEOUT,
                    what=f"{target} posts",
                )
                if sigterm:
                    code, took = await bot.terminate(timeout=10.0)
                    assert code == 0, bot.output()[-3000:]
                    assert took < 10.0
                    assert in_flight(db) == 0, "a SIGTERM left a send unrecorded"
                else:
                    code = await bot.kill()
            # a supervisor restarts after a second or more: let Discord's 1 s global window
            # pass on the fake's clock instead of waiting for it
            fake.clock.advance(RESTART_DELAY)
            reconciled += reconciled_in(bot.output())
            assert integrity(db) == "ok"
            left = in_flight(db)
            if sigterm:
                terms += 1
            else:
                assert code == -9
                kills += 1
                in_flight_at_kills += left
            log.append({"stop": number, "kind": kind, "posts": posted(), "in_flight": left})
            assert not duplicates(posts_by_pair(fake, channels)), log[-1]

        # the last start finishes the fan-out; then a clean SIGTERM
        await bot.start()
        await bot.wait_until(
            fake, lambda: posted() >= total, timeout=120.0, what=f"all {total} deliveries"
        )
        code, took = await bot.terminate(timeout=10.0)
        reconciled += reconciled_in(bot.output())
        assert code == 0 and took < 10.0, bot.output()[-3000:]
        terms += 1

        assert kills == kill_points
        counts = posts_by_pair(fake, channels)
        assert set(counts) == expected, "a delivery was lost or went to the wrong channel"
        assert not duplicates(counts), f"posted twice: {duplicates(counts)}"
        assert integrity(db) == "ok"
        states = dict(db_rows(db, "SELECT state, count(*) FROM deliveries GROUP BY state"))
        assert states == {"sent": total}
        # every record names the message Discord actually made for that (channel, paper)
        made = {
            (m.channel_id, pid): m.id
            for m in fake.messages(include_ephemeral=False)
            if (pid := paper_id_of(m.embeds)) is not None
        }
        recorded = {
            (int(channel), paper): int(message)
            for channel, paper, message in db_rows(
                db,
                "SELECT f.channel_id, d.paper_id, d.message_id FROM deliveries d "
                "JOIN feeds f ON f.id = d.feed_id",
            )
        }
        assert recorded == made
        invalid = fake.invalid_request_count()
        assert invalid < 1_000, f"{invalid} invalid requests in 10 minutes"
        fake.check_clean()
        record_figures(
            "crash-safety",
            kill_points=kill_points,
            sigkills=kills,
            sigterms=terms,
            starts=bot.runs,
            deliveries=total,
            duplicates=0,
            lost=0,
            in_flight_at_kills=in_flight_at_kills,
            reconciled_on_start=reconciled,
            nonce_replays=len(fake.nonce_hits),
            invalid_requests_10min=invalid,
            seconds=round(time.monotonic() - started, 1),
            stops=log,
        )
    finally:
        hold = fake.current_hold
        if hold is not None:
            hold.release.set()
        await bot.cleanup()
        await fake.close()


async def wait_for_output(bot: BotProcess, text: str, timeout: float = 10.0) -> None:
    """Wait until the process logged `text` (a signal handled, say), reading its stderr file."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while text not in bot.output():
        if loop.time() > deadline or not bot.running:
            raise AssertionError(f"{text!r} never appeared:\n{bot.output()[-2000:]}")
        await asyncio.sleep(0.02)


async def small_fan_out(fake: HoldingDiscord, db: Path, papers: int = 60) -> list[int]:
    world = fake.world
    assert world is not None
    channels = [(await fake.create_channel(f"term-{n}", notify=False)).id for n in range(6)]
    async with open_store(str(db)) as store:
        await store.papers.upsert([make_paper(n) for n in range(1, papers + 1)])
        feeds = [
            await store.feeds.add(
                FeedSpec(name=f"term-{n}", channel_id=c, query="delivery", backfill=0),
                guild_id=world.guild.id,
            )
            for n, c in enumerate(channels)
        ]
        await store.outbox.queue(
            [(feeds[n % len(feeds)].id, make_paper(n).id) for n in range(1, papers + 1)]
        )
    return channels


@pytest.mark.parametrize("answer", ["arrives during the grace", "never arrives"])
async def test_sigterm_mid_fan_out_exits_0_within_10_s_and_loses_nothing(
    tmp_path: Path, answer: str
) -> None:
    """SIGTERM while Discord holds the answer to a send: the bot stops taking new deliveries,
    waits for the one in flight (8 s at most), exits 0 inside Docker's 10 s; a send still
    unanswered is left recorded as an attempt and settled by the next start."""
    fake = await HoldingDiscord(message_rate=(50, 1.0), openapi=None).start()
    db = tmp_path / "p.sqlite3"
    bot = BotProcess(write_run_config(tmp_path / "config.toml", fake, db), fake.token, tmp_path)
    try:
        channels = await small_fan_out(fake, db)
        await bot.start()
        await bot.wait_until(
            fake, lambda: len(fake.messages()) >= 10, timeout=STEP_TIMEOUT, what="10 posts"
        )
        hold = fake.hold(before=False)  # Discord makes the message, the answer waits
        await bot.wait_until(fake, hold.reached.is_set, timeout=STEP_TIMEOUT, what="a held send")
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert bot.proc is not None
        bot.proc.send_signal(signal.SIGTERM)
        await wait_for_output(bot, "SIGTERM received")
        if answer == "arrives during the grace":
            hold.release.set()
        code = await asyncio.wait_for(bot.proc.wait(), 10.0)
        stop_seconds = loop.time() - started
        hold.release.set()
        await hold.done.wait()
        assert code == 0, bot.output()[-3000:]
        assert stop_seconds < 10.0
        assert "Traceback" not in bot.output()
        assert integrity(db) == "ok"
        posted_before_restart = len(fake.messages())
        states = dict(db_rows(db, "SELECT state, count(*) FROM deliveries GROUP BY state"))
        if answer == "arrives during the grace":
            assert "sending" not in states  # the in-flight send was recorded before exit
            assert states["sent"] == posted_before_restart
        else:
            assert states.get("sending") == 1  # recorded as an attempt, settled on the next start
            assert states["sent"] == posted_before_restart - 1
        # the next start finishes the job, each paper once
        await bot.start()
        await bot.wait_until(fake, lambda: len(fake.messages()) >= 60, timeout=60, what="60 posts")
        code, took = await bot.terminate()
        assert code == 0 and took < 10.0
        counts = posts_by_pair(fake, channels)
        assert len(counts) == 60 and not duplicates(counts)
        assert dict(db_rows(db, "SELECT state, count(*) FROM deliveries GROUP BY state")) == {
            "sent": 60
        }
        record_figures(
            f"sigterm/{answer}",
            exit_code=0,
            seconds_to_exit=round(stop_seconds, 2),
            duplicates=0,
            lost=0,
        )
        fake.check_clean()
    finally:
        hold_ = fake.current_hold
        if hold_ is not None:
            hold_.release.set()
        await bot.cleanup()
        await fake.close()


async def test_sigterm_during_the_start_up_reconcile_exits_0_and_loses_nothing(
    tmp_path: Path,
) -> None:
    """A crash left sends unrecorded; the next start is stopped while it settles them."""
    fake = await HoldingDiscord(message_rate=(50, 1.0), openapi=None).start()
    db = tmp_path / "p.sqlite3"
    bot = BotProcess(write_run_config(tmp_path / "config.toml", fake, db), fake.token, tmp_path)
    try:
        channels = await small_fan_out(fake, db)
        async with open_store(str(db)) as store:  # the trace a SIGKILL leaves: 'sending'
            owed = await store.outbox.deliveries()
            await store.outbox.mark_sending([d.id for d in owed[:24]], None, datetime.now(UTC))
        hold = fake.hold(before=True)  # the first re-send of the reconcile waits at Discord
        await bot.start()
        await bot.wait_until(fake, hold.reached.is_set, timeout=STEP_TIMEOUT, what="a re-send")
        assert "reconciling 24 delivery attempt(s)" in bot.output()
        assert bot.proc is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        bot.proc.send_signal(signal.SIGTERM)
        await wait_for_output(bot, "SIGTERM received")
        code = await asyncio.wait_for(bot.proc.wait(), 10.0)
        stop_seconds = loop.time() - started
        hold.release.set()  # Discord answers (makes the message) after the bot is gone
        await hold.done.wait()
        assert code == 0 and stop_seconds < 10.0, bot.output()[-3000:]
        assert "Traceback" not in bot.output()
        assert integrity(db) == "ok"
        await bot.start()
        await bot.wait_until(fake, lambda: len(fake.messages()) >= 60, timeout=60, what="60 posts")
        code, _ = await bot.terminate()
        assert code == 0
        counts = posts_by_pair(fake, channels)
        assert len(counts) == 60 and not duplicates(counts)
        assert dict(db_rows(db, "SELECT state, count(*) FROM deliveries GROUP BY state")) == {
            "sent": 60
        }
        record_figures(
            "sigterm/during-reconcile", exit_code=0, seconds_to_exit=round(stop_seconds, 2),
            duplicates=0, lost=0,
        )  # fmt: skip
        fake.check_clean()
    finally:
        hold_ = fake.current_hold
        if hold_ is not None:
            hold_.release.set()
        await bot.cleanup()
        await fake.close()
