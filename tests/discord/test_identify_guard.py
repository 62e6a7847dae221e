"""The gateway guard on its own: identify spacing per bucket, the session-start budget checked
before starting, and the crash-loop guard, on the single-process ledger and a fake clock."""

from __future__ import annotations

import pytest

from bot.discord.identify import (
    GatewayGuard,
    GatewayStop,
    IdentifyBudgetExhausted,
    SessionLimits,
)
from bot.store.sqlite.identify import LocalIdentifies


class Ticks:
    """A monotonic clock that moves only when the guard sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limits(remaining: int = 1000, max_concurrency: int = 1) -> SessionLimits:
    return SessionLimits(
        total=1000, remaining=remaining, reset_after=7200.0, max_concurrency=max_concurrency
    )


def make_guard(ticks: Ticks, **options: object) -> GatewayGuard:
    ledger = LocalIdentifies(ticks)
    return GatewayGuard(ledger, sleep=ticks.sleep, holder="test:1", **options)  # type: ignore[arg-type]


def test_session_limits_read_discords_shape() -> None:
    parsed = SessionLimits.from_discord(
        {"total": 1000, "remaining": 990, "reset_after": 3_600_000, "max_concurrency": 16}
    )
    assert parsed == SessionLimits(1000, 990, 3600.0, 16)
    assert SessionLimits.from_discord({"max_concurrency": 0}).max_concurrency == 1


async def test_one_bucket_spaces_identifies_by_the_window_and_margin() -> None:
    ticks = Ticks()
    guard = make_guard(ticks, window=5.0, margin=0.5)
    await guard.before_start(3, limits())
    for shard in range(3):
        await guard.before_identify(shard)
    assert ticks.now - 1000.0 == pytest.approx(11.0)  # 0, 5.5, 11.0
    assert await guard.ledger.identifies_within(86_400) == 3


async def test_buckets_of_a_higher_max_concurrency_go_together() -> None:
    ticks = Ticks()
    guard = make_guard(ticks, window=5.0, margin=0.5)
    await guard.before_start(4, limits(max_concurrency=2))
    for shard in range(4):
        await guard.before_identify(shard)
    # shards 0 and 1 at once, 2 and 3 one window later
    assert ticks.now - 1000.0 == pytest.approx(5.5)


async def test_a_start_that_would_run_discords_session_starts_out_is_refused() -> None:
    guard = make_guard(Ticks(), reserve=10)
    with pytest.raises(IdentifyBudgetExhausted) as refused:
        await guard.before_start(4, limits(remaining=13))
    line = str(refused.value)
    assert "\n" not in line
    assert "13 more gateway session starts" in line and "not connecting" in line
    assert "2.0 h" in line
    await guard.before_start(4, limits(remaining=14))  # 4 + 10 in reserve: enough


async def test_a_start_past_the_clusters_daily_budget_is_refused() -> None:
    ticks = Ticks()
    guard = make_guard(ticks, daily_budget=5, window=0.0, margin=0.0)
    for shard in range(3):
        await guard.before_identify(shard)
    with pytest.raises(IdentifyBudgetExhausted, match="identified 3 times in the last 24 h"):
        await guard.before_start(3, limits())
    await guard.before_start(2, limits())


async def test_the_crash_loop_guard_stops_at_the_budget_and_lifts_after_a_day() -> None:
    ticks = Ticks()
    guard = make_guard(ticks, daily_budget=3, window=1.0, margin=0.0)
    for _ in range(3):
        await guard.before_identify(0)  # the same shard re-identifying: a crash loop
    with pytest.raises(GatewayStop) as stopped:
        await guard.before_identify(0)
    assert isinstance(stopped.value.error, IdentifyBudgetExhausted)
    assert "budget 3 a day" in str(stopped.value.error)
    assert not isinstance(stopped.value, Exception)  # discord.py would retry an Exception
    ticks.now += 86_400
    await guard.before_identify(0)
