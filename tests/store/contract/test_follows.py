"""Personal follows and the DM queue: owed once per member, planned before sending, forgotten whole."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import StoreError
from bot.models import DeliveryState
from bot.store.interfaces import Database
from tests.store.contract.support import NOW, FakeClock, paper


async def test_follows_crud_names_unique_per_member(db: Database) -> None:
    a = await db.follows.add(1, "causal", "causal", mode="instant", time="09:30", min_upvotes=3)
    assert (a.user_id, a.name, a.mode, a.time, a.min_upvotes) == (
        1,
        "causal",
        "instant",
        "09:30",
        3,
    )
    assert a.created_at == NOW and not a.paused
    await db.follows.add(2, "causal", "causal")  # another member may use the name
    with pytest.raises(StoreError):
        await db.follows.add(1, "causal", "other")
    assert await db.follows.find(1, "causal") == a
    assert await db.follows.find(3, "causal") is None
    assert [f.user_id for f in await db.follows.list()] == [1, 2]
    assert [f.id for f in await db.follows.list(user_id=1)] == [a.id]
    await db.follows.set_paused(a.id, True, "paused by you")
    got = await db.follows.get(a.id)
    assert got is not None and got.paused and got.pause_reason == "paused by you"
    assert [f.user_id for f in await db.follows.list(active_only=True)] == [2]
    await db.follows.set_paused(a.id, False, "ignored")
    got = await db.follows.get(a.id)
    assert got is not None and not got.paused and got.pause_reason is None
    assert await db.follows.counts() == {"follows": 2, "active": 2, "members": 2}
    assert await db.follows.remove(a.id)
    assert not await db.follows.remove(a.id)
    assert await db.follows.get(a.id) is None


async def test_a_paper_is_owed_once_per_member(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001"), paper("2401.00002")])
    f = await db.follows.add(1, "a", "a")
    g = await db.follows.add(2, "a", "a")
    assert await db.dms.queue([(1, "2401.00001", f.id, "daily", 1)]) == 1
    queued = [(1, "2401.00001", f.id, "instant", 2), (2, "2401.00001", g.id, "daily", 1)]
    assert await db.dms.queue(queued) == 1
    items = await db.dms.items()
    assert [(i.user_id, i.paper_id, i.mode) for i in items] == [
        (1, "2401.00001", "daily"),
        (2, "2401.00001", "daily"),
    ]
    assert all(i.state is DeliveryState.QUEUED and i.queued_at == NOW for i in items)
    assert [i.user_id for i in await db.dms.items(user_id=2)] == [2]


async def test_daily_due_by_time_and_day(db: Database, clock: FakeClock) -> None:
    await db.follows.add(1, "early", "a", time="08:00")
    await db.follows.add(1, "late", "b", time="20:00")
    await db.follows.add(2, "late", "b", time="20:00")
    await db.follows.add(3, "now", "c", mode="instant", time="00:00")
    paused = await db.follows.add(4, "paused", "d", time="00:00")
    await db.follows.set_paused(paused.id, True, "DMs closed")
    at = NOW.replace(hour=8, minute=0)
    assert await db.dms.daily_due(at - timedelta(minutes=1)) == []
    assert await db.dms.daily_due(at) == [1]
    await db.follows.set_last_daily([1], at.date().isoformat())
    assert await db.follows.last_daily(1) == at.date().isoformat()
    assert await db.dms.daily_due(at.replace(hour=21)) == [2]
    assert await db.dms.daily_due(at + timedelta(days=1)) == [1]


async def test_candidates_rank_and_plan_then_send(db: Database, clock: FakeClock) -> None:
    await db.papers.upsert(
        [paper("2401.00001", upvotes=5), paper("2401.00002", upvotes=9), paper("2401.00003")]
    )
    f = await db.follows.add(1, "a", "a", mode="instant")
    await db.dms.queue(
        [
            (1, "2401.00003", f.id, "instant", 3),
            (1, "2401.00001", f.id, "instant", 1),
            (1, "2401.00002", f.id, "instant", 1),
        ]
    )
    window = timedelta(minutes=5)
    assert await db.dms.instant_due(NOW, window) == []
    clock.now = NOW + window
    assert await db.dms.instant_due(clock.now, window) == [1]
    found = await db.dms.candidates([1, 7], "instant")
    assert found[7] == []
    assert [p.id for _, p in found[1]] == ["2401.00002", "2401.00001", "2401.00003"]
    assert (await db.dms.candidates([1], "daily"))[1] == []
    top = await db.dms.candidates([1], "instant", limit=2)
    assert [p.id for _, p in top[1]] == ["2401.00002", "2401.00001"]
    waiting = await db.dms.count_waiting([1, 7], "instant")
    assert waiting[7] == (0, 0) and waiting[1][0] == 3
    ids = [item.id for item, _ in found[1]]
    assert found[1][0][0].paper_id == "2401.00002" and found[1][2][0].relevance == 3
    async with db.transaction():
        await db.dms.plan([("n1", ids[:2]), ("n2", ids[2:])])
    assert (await db.dms.candidates([1], "instant"))[1] == []  # planned: no longer a candidate
    assert await db.dms.instant_due(clock.now, window) == []
    retry = await db.dms.planned(clock.now, in_flight=False)
    expected = sorted([(ids[0], "n1"), (ids[1], "n1"), (ids[2], "n2")])
    assert [(i.id, i.nonce) for i in retry] == expected  # in id order
    await db.dms.mark_sending(ids, clock.now)
    assert await db.dms.planned(clock.now, in_flight=False) == []
    sending = await db.dms.planned(clock.now, in_flight=True)
    assert [i.attempted_at for i in sending] == [clock.now] * 3
    await db.dms.mark_sent(ids[:2], 555, clock.now)
    await db.dms.mark_retry(ids[2:], "Discord 503", clock.now + timedelta(minutes=1))
    assert await db.dms.planned(clock.now, in_flight=False) == []
    later = await db.dms.planned(clock.now + timedelta(minutes=1), in_flight=False)
    assert [(i.id, i.error) for i in later] == [(ids[2], "Discord 503")]
    await db.dms.mark_sent(ids[2:], 556, clock.now)
    counts = await db.dms.counts(NOW)
    assert counts == {"sent": 2, "refused": 0, "waiting": 0}
    assert (await db.dms.counts(clock.now + timedelta(seconds=1)))["sent"] == 0


async def test_refusal_drops_everything_waiting_for_the_member(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001"), paper("2401.00002"), paper("2401.00003")])
    f = await db.follows.add(1, "a", "a")
    g = await db.follows.add(2, "a", "a")
    await db.dms.queue(
        [
            (1, "2401.00001", f.id, "daily", 1),
            (1, "2401.00002", f.id, "daily", 1),
            (2, "2401.00003", g.id, "daily", 1),
        ]
    )
    first, second, other = (i.id for i in await db.dms.items())
    await db.dms.plan([("n", [first])])
    await db.dms.refuse(1, [first], "DMs closed")
    states = {i.id: i.state for i in await db.dms.items()}
    assert states == {
        first: DeliveryState.REFUSED,
        second: DeliveryState.SKIPPED,
        other: DeliveryState.QUEUED,
    }
    assert (await db.dms.counts(NOW))["refused"] == 1
    assert await db.follows.pause_member(1, "DMs closed") == 1
    assert await db.follows.pause_member(1, "DMs closed") == 0
    mine = await db.follows.get(f.id)
    assert mine is not None and mine.pause_reason == "DMs closed"
    assert await db.dms.instant_due(NOW + timedelta(days=1), timedelta(0)) == []


async def test_notice_is_told_once_and_forget_leaves_nothing(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001")])
    f = await db.follows.add(1, "a", "a")
    await db.follows.add(1, "b", "b")
    keep = await db.follows.add(2, "a", "a")
    await db.dms.queue(
        [(1, "2401.00001", f.id, "daily", 1), (2, "2401.00001", keep.id, "daily", 1)]
    )
    assert await db.follows.take_notice(1) is None
    await db.follows.set_notice(1, "DMs closed")
    await db.follows.set_last_daily([1], "2026-11-27")
    assert await db.follows.take_notice(1) == "DMs closed"
    assert await db.follows.take_notice(1) is None
    await db.follows.set_notice(1, "again")
    assert await db.follows.forget(1) == 2
    assert await db.follows.list(user_id=1) == []
    assert await db.dms.items(user_id=1) == []
    assert await db.follows.take_notice(1) is None
    assert await db.follows.last_daily(1) is None
    assert [i.user_id for i in await db.dms.items()] == [2]
    assert await db.follows.forget(1) == 0


async def test_drop_unplanned_leaves_planned_and_later_items(db: Database) -> None:
    await db.papers.upsert([paper(f"2401.0000{n}") for n in range(1, 5)])
    f = await db.follows.add(1, "a", "a")
    await db.dms.queue([(1, f"2401.0000{n}", f.id, "daily", 1) for n in range(1, 4)])
    first, _, third = (i.id for i in await db.dms.items())
    await db.dms.plan([("n", [first])])
    upto = (await db.dms.count_waiting([1], "daily"))[1][1]
    assert upto == third
    await db.dms.queue([(1, "2401.00004", f.id, "daily", 1)])  # arrives meanwhile
    assert await db.dms.drop_unplanned([1], "daily", "full", upto) == 2
    states = [(i.paper_id, i.state, i.error) for i in await db.dms.items()]
    assert states == [
        ("2401.00001", DeliveryState.QUEUED, None),
        ("2401.00002", DeliveryState.SKIPPED, "full"),
        ("2401.00003", DeliveryState.SKIPPED, "full"),
        ("2401.00004", DeliveryState.QUEUED, None),
    ]


async def test_removing_a_follow_drops_only_its_unplanned_items(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001"), paper("2401.00002")])
    f = await db.follows.add(1, "a", "a")
    await db.dms.queue([(1, "2401.00001", f.id, "daily", 1), (1, "2401.00002", f.id, "daily", 1)])
    planned = (await db.dms.items())[0]
    await db.dms.plan([("n", [planned.id])])
    assert await db.follows.remove(f.id)
    left = await db.dms.items()
    assert [(i.id, i.follow_id, i.nonce) for i in left] == [(planned.id, None, "n")]


async def test_a_plan_keeps_each_messages_text_and_order_until_it_is_settled(db: Database) -> None:
    await db.papers.upsert([paper(f"2401.0000{n}") for n in range(1, 6)])
    f = await db.follows.add(1, "a", "a")
    g = await db.follows.add(2, "a", "a")
    await db.dms.queue([(1, f"2401.0000{n}", f.id, "daily", 1) for n in range(1, 5)])
    await db.dms.queue([(2, "2401.00005", g.id, "daily", 1)])
    a, b, c, d, e = (i.id for i in await db.dms.items())
    async with db.transaction():
        await db.dms.plan(
            [("n1", [c, a]), ("n2", [d, b]), ("n3", [e])],
            {"n1": "**Your papers**", "n2": "…and 7 more matched", "n3": None},
        )
    await db.dms.plan([("n4", [])])  # an empty message keeps nothing
    plans = await db.dms.message_plans(["n1", "n2", "n3", "n4", "unknown", "n1"])
    assert plans == {
        "n1": ("**Your papers**", [c, a]),
        "n2": ("…and 7 more matched", [d, b]),
        "n3": (None, [e]),
    }
    await db.dms.mark_sending([c, a], NOW)
    assert set(await db.dms.message_plans(["n1", "n2"])) == {"n1", "n2"}  # in flight: kept
    await db.dms.mark_retry([c, a], "Discord 503", NOW)
    assert set(await db.dms.message_plans(["n1"])) == {"n1"}  # to be retried: kept
    await db.dms.mark_sent([c, a], 555, NOW)
    await db.dms.mark_failed([d, b], "rejected")
    assert set(await db.dms.message_plans(["n1", "n2", "n3"])) == {"n3"}
    assert await db.follows.forget(2) == 1
    assert await db.dms.message_plans(["n3"]) == {}


async def test_a_refusal_drops_the_members_kept_plans(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001"), paper("2401.00002"), paper("2401.00003")])
    f = await db.follows.add(1, "a", "a")
    g = await db.follows.add(2, "a", "a")
    await db.dms.queue([(1, "2401.00001", f.id, "daily", 1), (1, "2401.00002", f.id, "daily", 1),
                        (2, "2401.00003", g.id, "daily", 1)])  # fmt: skip
    first, second, other = (i.id for i in await db.dms.items())
    await db.dms.plan([("a1", [first]), ("a2", [second]), ("b1", [other])])
    await db.dms.refuse(1, [first], "DMs closed")
    assert set(await db.dms.message_plans(["a1", "a2", "b1"])) == {"b1"}


async def test_pausing_a_follow_drops_what_it_queued_and_resuming_starts_fresh(
    db: Database,
) -> None:
    await db.papers.upsert([paper(f"2401.0000{n}") for n in range(1, 6)])
    f = await db.follows.add(1, "a", "a")
    g = await db.follows.add(1, "b", "b")
    other = await db.follows.add(2, "a", "a")
    await db.dms.queue(
        [(1, "2401.00001", f.id, "daily", 1), (1, "2401.00002", f.id, "daily", 1),
         (1, "2401.00003", g.id, "daily", 1), (2, "2401.00001", other.id, "daily", 1)]
    )  # fmt: skip
    planned = (await db.dms.items())[0]
    await db.dms.plan([("n", [planned.id])])  # already in a message: it goes as planned
    await db.follows.set_paused(f.id, True, "paused by you")
    states = [(i.user_id, i.paper_id, i.state, i.error) for i in await db.dms.items()]
    assert states == [
        (1, "2401.00001", DeliveryState.QUEUED, None),
        (1, "2401.00002", DeliveryState.SKIPPED, "paused by you"),
        (1, "2401.00003", DeliveryState.QUEUED, None),
        (2, "2401.00001", DeliveryState.QUEUED, None),
    ]
    await db.follows.set_paused(f.id, False)
    assert (await db.dms.candidates([1], "daily"))[1][0][0].paper_id == "2401.00003"
    # Matched again after the resume: the dropped paper stays dropped, new ones are owed.
    assert await db.dms.queue([(1, "2401.00002", f.id, "daily", 1),
                               (1, "2401.00004", f.id, "daily", 1)]) == 1  # fmt: skip


async def test_drop_waiting_skips_every_waiting_item_and_plan(db: Database) -> None:
    await db.papers.upsert([paper(f"2401.0000{n}") for n in range(1, 5)])
    f = await db.follows.add(1, "a", "a", mode="instant")
    g = await db.follows.add(2, "a", "a")
    await db.dms.queue([(1, "2401.00001", f.id, "instant", 1), (1, "2401.00002", f.id, "instant", 1),
                        (2, "2401.00003", g.id, "daily", 1), (2, "2401.00004", g.id, "daily", 1)])  # fmt: skip
    sent, sending, queued, unplanned = (i.id for i in await db.dms.items())
    await db.dms.plan([("s", [sent]), ("f", [sending]), ("q", [queued])], {"s": "x"})
    await db.dms.mark_sending([sent], NOW)
    await db.dms.mark_sent([sent], 555, NOW)
    await db.dms.mark_sending([sending], NOW)
    assert await db.dms.drop_waiting("follows were switched off") == 3
    states = {i.id: (i.state, i.error) for i in await db.dms.items()}
    off = (DeliveryState.SKIPPED, "follows were switched off")
    assert states == {sent: (DeliveryState.SENT, None), sending: off, queued: off, unplanned: off}
    assert await db.dms.message_plans(["s", "f", "q"]) == {}
    assert await db.dms.planned(NOW, in_flight=True) == []
    assert await db.dms.planned(NOW, in_flight=False) == []
    assert await db.dms.drop_waiting("again") == 0


@pytest.mark.parametrize("how", ["paused", "removed"])
async def test_a_stopped_follows_kept_items_go_to_the_named_active_follow_only(
    db: Database, how: str
) -> None:
    """Pausing or removing a follow hands over the `keep` items that are still its own, queued
    and unplanned, to an active follow of the same member; every other item of it is dropped."""
    await db.papers.upsert([paper(f"2401.0000{n}") for n in range(1, 7)])
    f = await db.follows.add(1, "a", "a")
    g = await db.follows.add(1, "b", "b", mode="instant")
    h = await db.follows.add(1, "c", "c")
    other = await db.follows.add(2, "a", "a")
    await db.follows.set_paused(h.id, True, "paused by you")
    await db.dms.queue([(1, f"2401.0000{n}", f.id, "daily", 2) for n in range(1, 6)])
    await db.dms.queue([(2, "2401.00006", other.id, "daily", 1)])
    kept, unwanted, to_paused, planned, to_other, others = (i.id for i in await db.dms.items())
    await db.dms.plan([("n", [planned])])
    keep = [
        (kept, g.id, "instant", 1),  # handed over, with g's mode and the new relevance
        (to_paused, h.id, "daily", 1),  # h is paused: dropped
        (planned, g.id, "instant", 1),  # already in a message: goes as planned
        (to_other, other.id, "daily", 1),  # another member's follow: dropped
        (others, g.id, "instant", 1),  # not f's item: untouched
    ]
    if how == "paused":
        await db.follows.set_paused(f.id, True, "paused by you", keep=keep)
    else:
        assert await db.follows.remove(f.id, keep=keep)
    items = {i.id: i for i in await db.dms.items()}
    gone = DeliveryState.SKIPPED if how == "paused" else None
    got = {i: (x.state, x.follow_id, x.mode, x.relevance, x.nonce) for i, x in items.items()}
    f_id = f.id if how == "paused" else None  # a removed follow's planned item loses its link
    expected = {
        kept: (DeliveryState.QUEUED, g.id, "instant", 1, None),
        planned: (DeliveryState.QUEUED, f_id, "daily", 2, "n"),
        others: (DeliveryState.QUEUED, other.id, "daily", 1, None),
    }
    if gone is not None:
        for i in (unwanted, to_paused, to_other):
            expected[i] = (gone, f.id, "daily", 2, None)
    assert got == expected
    assert [i.id for i, _ in (await db.dms.candidates([1], "instant"))[1]] == [kept]
