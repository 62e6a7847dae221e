"""Stale detection from recorded runs, and the scheduler's job plan."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.models import SourceRun
from bot.services.health import source_health
from bot.services.poller import Poller
from bot.services.scheduler import PollScheduler, plan_jobs
from bot.sources.base import FetchResult
from bot.store import open_store

WEDNESDAY = datetime(2026, 11, 25, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 28, tzinfo=UTC)


async def record(store, source: str, at: datetime, new: int, error: str | None = None) -> None:  # type: ignore[no-untyped-def]
    await store.sources.record_run(SourceRun(source, at, at, fetched=new, new=new, error=error))


async def test_arxiv_is_stale_when_late_polls_bring_no_new_id(tmp_path: Path) -> None:
    async with open_store(str(tmp_path / "p.sqlite3")) as store:
        for hour in (3, 5, 8):
            await record(store, "arxiv", WEDNESDAY + timedelta(hours=hour), new=0)
        health = await source_health(store, "arxiv", WEDNESDAY + timedelta(hours=9))
        assert health.stale and "no new arXiv ids today" in (health.stale_reason or "")
        await record(store, "arxiv", WEDNESDAY + timedelta(hours=10), new=120)
        assert not (await source_health(store, "arxiv", WEDNESDAY + timedelta(hours=11))).stale


async def test_arxiv_is_not_stale_early_or_on_weekends(tmp_path: Path) -> None:
    async with open_store(str(tmp_path / "p.sqlite3")) as store:
        await record(store, "arxiv", WEDNESDAY + timedelta(hours=3), new=0)
        assert not (await source_health(store, "arxiv", WEDNESDAY + timedelta(hours=4))).stale
        await record(store, "arxiv", SATURDAY + timedelta(hours=9), new=0)
        assert not (await source_health(store, "arxiv", SATURDAY + timedelta(hours=10))).stale


async def test_hugging_face_is_stale_after_a_whole_weekday_without_news(tmp_path: Path) -> None:
    async with open_store(str(tmp_path / "p.sqlite3")) as store:
        for hour in range(0, 24, 4):
            await record(store, "huggingface", WEDNESDAY + timedelta(hours=hour), new=0)
        health = await source_health(store, "huggingface", WEDNESDAY + timedelta(days=1, hours=1))
        assert health.stale and "Wednesday" in (health.stale_reason or "")
        await record(store, "huggingface", WEDNESDAY + timedelta(hours=23), new=2)
        health = await source_health(store, "huggingface", WEDNESDAY + timedelta(days=1, hours=1))
        assert not health.stale


def test_first_runs_are_staggered() -> None:
    jobs = plan_jobs(
        {"huggingface": timedelta(minutes=20), "arxiv": timedelta(hours=1)}, timedelta(seconds=15)
    )
    assert [(j.source, j.first_delay.total_seconds()) for j in jobs] == [
        ("huggingface", 15.0),
        ("arxiv", 30.0),
    ]


class Quiet:
    name = "huggingface"

    async def poll(self, now: datetime) -> FetchResult:
        return FetchResult()


async def test_scheduler_registers_one_non_overlapping_job_per_source(tmp_path: Path) -> None:
    async with open_store(str(tmp_path / "p.sqlite3")) as store:
        poller = Poller(store, [Quiet()], lambda: datetime.now(UTC))
        now = datetime.now(UTC)
        scheduler = PollScheduler(
            poller, plan_jobs({"huggingface": timedelta(minutes=20)}, timedelta(seconds=30))
        )
        scheduler.start(now)
        try:
            assert scheduler.running
            job = scheduler._scheduler.get_job("poll-huggingface")
            assert job.max_instances == 1 and job.coalesce is True
            next_run = scheduler.next_run("huggingface")
            assert next_run is not None
            assert timedelta(seconds=0) < next_run - now <= timedelta(seconds=30 + 60)
        finally:
            await scheduler.shutdown()
        assert not scheduler.running


class Stuck:
    """A source whose poll waits until cancelled, saying when it started and how it ended."""

    name = "huggingface"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = False

    async def poll(self, now: datetime) -> FetchResult:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return FetchResult()  # pragma: no cover - never reached


async def test_shutdown_ends_a_poll_in_flight_quietly_before_it_returns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A stop (SIGTERM) during a poll: the poll must not outlive the store or the poll lease,
    and a normal stop is no error in the log."""
    caplog.set_level(logging.INFO)
    source = Stuck()
    async with open_store(str(tmp_path / "p.sqlite3")) as store:
        poller = Poller(store, [source], lambda: datetime.now(UTC))
        scheduler = PollScheduler(
            poller, plan_jobs({"huggingface": timedelta(seconds=20)}, timedelta(seconds=0.2))
        )
        scheduler.start(datetime.now(UTC))
        try:
            await asyncio.wait_for(source.started.wait(), timeout=10)
        finally:
            await scheduler.shutdown()
        assert source.cancelled  # ended by the shutdown, not left for the loop's teardown
        assert [r.message for r in caplog.records if r.levelno >= logging.ERROR] == []
        assert "poll of huggingface cut short by the shutdown" in caplog.text
