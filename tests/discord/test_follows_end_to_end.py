"""Issue 16 end to end: a member follows by slash command, a matching paper is polled, and the
DM publisher sends it through the Discord DirectMessenger to the loopback Discord: exactly one
DM; closed DMs cost one request and pause the follows; a crash mid-send loses and duplicates
nothing (the DM is found by its nonce's button, after Discord forgot the nonce)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.app import Services
from bot.config import Config, DatabaseConfig
from bot.discord.direct import DiscordDirectMessenger, follows_button_id
from bot.discord.dm_messages import dm_messages
from bot.discord.runner import build_bot
from bot.services.dm import DmPublisher
from bot.services.poller import Poller
from bot.services.publisher import Body, Posted, RateLimiter
from bot.sources.base import FetchResult
from bot.store import open_store
from tests.discord.conftest import Harness, ScriptedSource, make_paper
from tests.factories import NOW, FakeClock
from tests.fakes.discord.fixtures import FAST_CLIENT_OPTIONS, BotStarter
from tests.fakes.discord.server import FakeDiscord
from tests.pg.fixtures import backend_params

ON_BOTH_BACKENDS = pytest.mark.parametrize("harness", backend_params(), indirect=True)
DM_SEND = "POST /channels/{id}/messages"


class Crash(Exception):
    """Stands for the process dying right after Discord made the message."""


class CrashAfterSend:
    """The real messenger, but the bot 'dies' once the first DM went out."""

    def __init__(self, real: DiscordDirectMessenger) -> None:
        self.real = real

    async def send_dm(self, user_id: int, body: Body, *, nonce: str) -> Posted:
        await self.real.send_dm(user_id, body, nonce=nonce)
        raise Crash

    async def find_dm(self, user_id: int, nonce: str) -> Posted | None:
        return await self.real.find_dm(user_id, nonce)


def publisher(h: Harness, clock: FakeClock, messenger: object | None = None) -> DmPublisher:
    """A DM publisher as the running bot has one, over the real Discord messenger."""
    services = h.bot.services
    return DmPublisher(
        h.store,
        messenger or DiscordDirectMessenger(h.bot),  # type: ignore[arg-type]
        dm_messages,
        clock,
        services.follows.settings,
        limiter=RateLimiter(rate=1000.0, burst=1000),
    )


async def follow(h: Harness, query: str, **options: object) -> str:
    record = await h.fake.invoke("follow", {"query": query, **options})
    reply = await h.fake.wait_for_original(record)
    assert reply.ephemeral and "Following" in reply.content, reply.content
    [made] = await h.bot.services.follows.following(h.fake.world.alice.id)  # type: ignore[union-attr]
    return made.name


@ON_BOTH_BACKENDS
async def test_a_member_follows_and_a_matching_paper_comes_as_exactly_one_dm(
    harness: Harness,
) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await follow(h, "causal", mode="instant")
    await h.poll_and_deliver(
        [make_paper(1, "Causal discovery with interventions"), make_paper(2, "Unrelated")]
    )
    clock = FakeClock(NOW)
    dms = publisher(h, clock)
    assert (await dms.run_once()).sent == 0  # gathered for the window first
    clock.advance(minutes=6)
    assert (await dms.run_once()).sent == 1
    [dm] = await h.fake.wait_for_dms(world.alice, 1)
    assert [e["title"] for e in dm.embeds] == ["Causal discovery with interventions"]
    assert dm.request["allowed_mentions"] == {"parse": []} and not dm.pings.any
    assert h.fake.dms(world.mod) == []
    # again, and after a restart (a new publisher and messenger): nothing more
    await h.poll_and_deliver([make_paper(1, "Causal discovery with interventions")])
    clock.advance(minutes=6)
    await dms.run_once()
    restarted = publisher(h, clock)
    await restarted.reconcile()
    await restarted.run_once()
    assert len(h.fake.dms(world.alice)) == 1
    assert h.fake.request_count("POST /users/@me/channels") <= 2


async def test_daily_sends_once_at_its_time_and_never_twice_across_a_restart(
    harness: Harness,
) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    at = (NOW + timedelta(hours=1)).strftime("%H:%M")
    await follow(h, "diffusion", time=at)
    await h.poll_and_deliver(
        [make_paper(i, f"Video diffusion, part {i}", upvotes=10 + i) for i in range(1, 4)]
    )
    clock = FakeClock(NOW + timedelta(minutes=30))
    assert (await publisher(h, clock).run_once()).sent == 0  # not its time yet
    clock.advance(minutes=30)
    assert (await publisher(h, clock).run_once()).sent == 1
    [dm] = await h.fake.wait_for_dms(world.alice, 1)
    # best first (upvotes), every paper once, in one message
    assert [e["title"] for e in dm.embeds] == [f"Video diffusion, part {i}" for i in (3, 2, 1)]
    clock.advance(seconds=40)  # a restart inside the same minute, then the next
    await publisher(h, clock).run_once()
    clock.advance(seconds=40)
    await publisher(h, clock).run_once()
    assert len(h.fake.dms(world.alice)) == 1


async def test_closed_dms_cost_one_request_pause_the_follows_and_are_told(
    harness: Harness,
) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await follow(h, "causal", mode="instant")
    h.fake.close_dms(world.alice)
    before = h.fake.invalid_request_count()
    await h.poll_and_deliver([make_paper(1, "Causal A"), make_paper(2, "Causal B")])
    clock = FakeClock(NOW + timedelta(minutes=6))
    dms = publisher(h, clock)
    report = await dms.run_once()
    assert report.refused == 1 and report.sent == 0
    assert h.fake.request_count(DM_SEND, status=403) == 1
    assert h.fake.invalid_request_count() == before + 1
    [paused] = await h.bot.services.follows.following(world.alice.id)
    assert paused.paused and paused.pause_reason == "DMs closed"
    # more matching papers, more rounds: not one more request toward her DMs
    await h.poll_and_deliver([make_paper(3, "Causal C")])
    for _ in range(3):
        clock.advance(minutes=10)
        await dms.run_once()
    assert h.fake.request_count(DM_SEND) == 1
    assert h.fake.invalid_request_count() == before + 1
    # her next command tells her, privately, with how to open DMs
    listing = await h.fake.wait_for_original(await h.fake.invoke("following", {}))
    assert listing.ephemeral and "Privacy Settings" in listing.content


async def test_a_crash_after_the_send_neither_loses_nor_duplicates(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await follow(h, "causal", mode="instant")
    await h.poll_and_deliver([make_paper(1, "Causal A")])
    clock = FakeClock(NOW + timedelta(minutes=6))
    with pytest.raises(Crash):
        await publisher(h, clock, CrashAfterSend(DiscordDirectMessenger(h.bot))).run_once()
    [dm] = h.fake.dms(world.alice)
    h.fake.clock.advance(h.fake.nonce_window + 1)  # Discord has forgotten the nonce by now
    dm.nonce = None  # and its history never shows nonces: only the button can tell
    restarted = publisher(h, clock)
    await restarted.reconcile()
    await restarted.run_once()
    assert [m.id for m in h.fake.dms(world.alice)] == [dm.id]
    assert h.fake.request_count(DM_SEND) == 1  # found by its button, not sent again
    assert any(
        c.get("custom_id", "").startswith(follows_button_id(""))
        for row in dm.components
        for c in row["components"]
    )
    [item] = await h.store.dms.items(user_id=world.alice.id)
    assert item.message_id == dm.id


async def test_the_my_follows_button_under_a_dm_lists_the_members_follows(
    harness: Harness,
) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    name = await follow(h, "causal", mode="instant")
    await h.poll_and_deliver([make_paper(1, "Causal A")])
    await publisher(h, FakeClock(NOW + timedelta(minutes=6))).run_once()
    [dm] = await h.fake.wait_for_dms(world.alice, 1)
    [button] = [c for row in dm.components for c in row["components"]]
    assert button["label"] == "My follows"
    click = await h.fake.click(dm, button["custom_id"], user=world.alice.user)
    listing = await h.fake.wait_for_original(click)
    assert listing.ephemeral and name in listing.embeds[0]["description"]
    assert len(h.fake.dms(world.alice)) == 1  # the answer is not another DM


@pytest.fixture
async def running(
    tmp_path: Path, discord_fake: FakeDiscord, start_bot: BotStarter
) -> AsyncIterator[tuple[Harness, FakeClock]]:
    """The bot as `paperfeed run` wires it (its own DM loop and messenger), on a clock that moves."""
    clock = FakeClock(NOW)
    config = Config(database=DatabaseConfig(path=str(tmp_path / "p.sqlite3")))
    async with open_store(config.database, clock=clock) as store, httpx.AsyncClient() as http:
        hf = ScriptedSource("huggingface")
        await store.sources.mark_listings_seen("huggingface", ["huggingface"], NOW)
        services = Services(config, store, http, Poller(store, [hf], clock), None, None, clock)
        started = await start_bot(
            discord_fake,
            lambda: build_bot(services, clock=clock, with_scheduler=False, **FAST_CLIENT_OPTIONS),
        )
        yield Harness(discord_fake, 0, started, store, hf, clock), clock
        await started.stop()


async def test_the_running_bot_dms_a_follower_once_through_its_own_loop(
    running: tuple[Harness, FakeClock],
) -> None:
    h, clock = running
    world = h.fake.world
    assert world is not None
    assert isinstance(h.bot.dm_publisher, DmPublisher)
    await follow(h, "causal", mode="instant")
    h.hf.next = FetchResult([make_paper(1, "Causal discovery with interventions")])
    await h.bot.services.poller.poll_source("huggingface")
    clock.advance(minutes=6)
    await h.bot.dm_publisher.run_once()  # the loop's round, run now instead of in 20 s
    [dm] = await h.fake.wait_for_dms(world.alice, 1)
    assert dm.embeds[0]["title"] == "Causal discovery with interventions"
    clock.advance(minutes=6)
    await h.bot.dm_publisher.run_once()
    assert len(h.fake.dms(world.alice)) == 1


async def test_a_fan_out_to_new_members_stays_under_the_global_limit(harness: Harness) -> None:
    """Each new member costs a channel opening as well as the DM: both are paced by one budget
    (on the fake's clock, so nothing sleeps), and Discord never answers 429."""
    h = harness
    world = h.fake.world
    assert world is not None
    state = h.fake.state
    members = [state.add_member(world.guild.id, state.add_user(f"m{i}")) for i in range(80)]
    for member in members:
        await h.bot.services.follows.follow(member.id, "causal", mode="instant")
    await h.poll_and_deliver([make_paper(1, "Causal A")])

    async def virtual_sleep(seconds: float) -> None:
        h.fake.clock.advance(seconds)

    pace = RateLimiter(clock=h.fake.clock.monotonic, sleep=virtual_sleep)
    dms = DmPublisher(
        h.store,
        DiscordDirectMessenger(h.bot, limiter=pace),
        dm_messages,
        FakeClock(NOW + timedelta(minutes=6)),
        h.bot.services.follows.settings,
        limiter=pace,
    )
    report = await dms.run_once()
    assert report.sent == len(members)
    assert h.fake.request_count("POST /users/@me/channels") == len(members)
    assert h.fake.request_count(status=429) == 0 and h.fake.invalid_request_count() == 0
