"""Crash safety of personal follows: `paperfeed run` as a real process, killed with SIGKILL
during a daily DM fan-out to many members (issue 16).

Before the first start, the store holds 120 members, each with a daily follow due at 00:00 UTC
(so due whenever the drill runs) and three papers owed by DM. The bot plans every member's DM
at once (the plan and "done today" commit together), then sends them paced, opening each
member's DM channel first. The drill kills it at seeded points (after N DMs; while Discord holds
a DM it made; while Discord holds one it has not processed yet, which it then processes after
the bot died), starts it again, and checks at the end that every member got exactly one DM with
their three papers, that every item is recorded as sent with the message Discord made, and that
the database passes `PRAGMA integrity_check` after every kill. A restart must find a DM that
went out by the nonce in its button (history carries no nonces), not send it again.
"""

from __future__ import annotations

import itertools
import random
import re
import time
from collections import Counter
from pathlib import Path

from bot.store import open_store
from tests.reliability.support import (
    BotProcess,
    HoldingDiscord,
    db_rows,
    make_paper,
    paper_id_of,
    record_figures,
    write_run_config,
)

SEED = 16_2026
MEMBERS = 120
PAPERS_EACH = 3
KINDS = ("create-then-kill", "after-n-dms", "receive-then-kill")
STEP_TIMEOUT = 60.0
RESTART_DELAY = 1.0


async def prefill(fake: HoldingDiscord, db: Path) -> dict[int, set[str]]:
    """Members in the fake, their follows and owed papers in the store; what each must get."""
    state = fake.state
    users = [state.add_user(f"member-{n:03d}") for n in range(MEMBERS)]
    papers = [make_paper(n) for n in range(1, MEMBERS + PAPERS_EACH + 1)]
    expected: dict[int, set[str]] = {}
    async with open_store(str(db)) as store:
        await store.papers.upsert(papers)
        items = []
        for n, user in enumerate(users):
            follow = await store.follows.add(user.id, "delivery", "delivery", time="00:00")
            owed = papers[n : n + PAPERS_EACH]
            expected[user.id] = {p.id for p in owed}
            items += [(user.id, p.id, follow.id, "daily", 1) for p in owed]
        assert await store.dms.queue(items) == len(items)
    return expected


def integrity(db: Path) -> str:
    return str(db_rows(db, "PRAGMA integrity_check")[0][0])


def in_flight(db: Path) -> int:
    return int(db_rows(db, "SELECT count(*) FROM dm_queue WHERE state = 'sending'")[0][0])


def dms_by_member(fake: HoldingDiscord) -> dict[int, list[list[str]]]:
    """Each member's DMs (the papers each one carries), from what the fake holds."""
    out: dict[int, list[list[str]]] = {}
    for channel in fake.state.channels.values():
        if channel.recipient_id is None:
            continue
        for message in fake.messages(channel, include_ephemeral=False):
            ids = [pid for e in message.embeds if (pid := paper_id_of([e])) is not None]
            out.setdefault(channel.recipient_id, []).append(ids)
    return out


def dms_sent(fake: HoldingDiscord) -> int:
    return sum(
        1
        for m in fake.messages_store.by_id.values()
        if m.guild_id is None and m.interaction_id is None
    )


async def test_sigkill_during_a_daily_dm_fan_out_loses_and_duplicates_nothing(
    tmp_path: Path, kill_points: int
) -> None:
    rng = random.Random(SEED)
    fake = await HoldingDiscord(message_rate=(50, 1.0), openapi=None).start()
    db = tmp_path / "p.sqlite3"
    bot = BotProcess(write_run_config(tmp_path / "config.toml", fake, db), fake.token, tmp_path)
    started = time.monotonic()
    try:
        expected = await prefill(fake, db)
        thresholds = sorted(rng.sample(range(1, MEMBERS - 10), kill_points))
        kinds = itertools.cycle(KINDS)
        log: list[dict[str, object]] = []
        in_flight_at_kills = 0
        for threshold in thresholds:
            await bot.start()
            kind = next(kinds)
            target = max(threshold, dms_sent(fake) + 1)
            if kind == "after-n-dms":
                await bot.wait_until(
                    fake, lambda t=target: dms_sent(fake) >= t, timeout=STEP_TIMEOUT,
                    what=f"{target} DMs",
                )  # fmt: skip
                code = await bot.kill()
            else:
                await bot.wait_until(
                    fake, lambda t=target: dms_sent(fake) >= t - 1, timeout=STEP_TIMEOUT,
                    what=f"{target - 1} DMs",
                )  # fmt: skip
                hold = fake.hold(before=kind == "receive-then-kill")
                await bot.wait_until(
                    fake, hold.reached.is_set, timeout=STEP_TIMEOUT, what="a held DM"
                )
                code = await bot.kill()
                hold.release.set()
                await hold.done.wait()
            assert code == -9
            # past Discord's nonce memory: a restart must find what went out, not replay it
            fake.clock.advance(fake.nonce_window + RESTART_DELAY)
            assert integrity(db) == "ok"
            left = in_flight(db)
            in_flight_at_kills += left
            log.append({"kind": kind, "dms": dms_sent(fake), "in_flight": left})
            assert all(len(v) == 1 for v in dms_by_member(fake).values()), log[-1]

        await bot.start()
        await bot.wait_until(
            fake, lambda: dms_sent(fake) >= MEMBERS, timeout=120.0, what=f"all {MEMBERS} DMs"
        )
        code, took = await bot.terminate(timeout=10.0)
        assert code == 0 and took < 10.0, bot.output()[-3000:]

        got = dms_by_member(fake)
        assert set(got) == set(expected), "a member got no DM"
        twice = {user: len(v) for user, v in got.items() if len(v) != 1}
        assert not twice, f"members with more than one DM: {twice}"
        for user, [papers] in got.items():
            assert Counter(papers) == Counter(expected[user]), user
        states = dict(db_rows(db, "SELECT state, count(*) FROM dm_queue GROUP BY state"))
        assert states == {"sent": MEMBERS * PAPERS_EACH}
        made = {
            (m.id, pid)
            for m in fake.messages(include_ephemeral=False)
            if m.guild_id is None
            for e in m.embeds
            if (pid := paper_id_of([e])) is not None
        }
        recorded = {
            (int(message), paper)
            for message, paper in db_rows(db, "SELECT message_id, paper_id FROM dm_queue")
        }
        assert recorded == made
        opened = fake.request_count("POST /users/@me/channels")
        invalid = fake.invalid_request_count()
        assert invalid < 100, f"{invalid} invalid requests"
        reconciled = sum(
            int(n) for n in re.findall(r"reconciling (\d+) DM item", "".join(bot.output()))
        )
        fake.check_clean()
        record_figures(
            "dm-crash-safety",
            kill_points=kill_points,
            starts=bot.runs,
            members=MEMBERS,
            duplicates=0,
            lost=0,
            in_flight_at_kills=in_flight_at_kills,
            reconciled_on_last_start=reconciled,
            dm_channel_opens=opened,
            nonce_replays=len(fake.nonce_hits),
            invalid_requests=invalid,
            seconds=round(time.monotonic() - started, 1),
            stops=log,
        )
    finally:
        hold = fake.current_hold
        if hold is not None:
            hold.release.set()
        await bot.cleanup()
        await fake.close()
