"""The health and metrics endpoint on loopback: healthy, each part failing, metrics that move."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import HealthConfig
from bot.errors import PaperfeedError, SourceUnavailable
from bot.metrics import Metrics, status_class
from bot.models import FeedMode, FeedSpec
from bot.services.poller import Poller
from bot.services.publisher import Posted, Publisher, RateLimiter
from bot.sources.base import FetchResult
from bot.store.interfaces import Database
from bot.web import HealthServer, run_checks
from tests.factories import NOW
from tests.ops.support import StepClock, free_port, make_paper

METRIC_NAMES = (
    "paperfeed_build_info",
    "paperfeed_process_role",
    "paperfeed_source_polls_total",
    "paperfeed_source_poll_failures_total",
    "paperfeed_source_warnings_total",
    "paperfeed_source_papers_new_total",
    "paperfeed_source_poll_duration_seconds",
    "paperfeed_papers_stored",
    "paperfeed_deliveries_total",
    "paperfeed_delivery_latency_seconds",
    "paperfeed_delivery_queue_depth",
    "paperfeed_feeds_paused",
    "paperfeed_feeds",
    "paperfeed_discord_requests_total",
    "paperfeed_dms_total",
    "paperfeed_follows",
    "paperfeed_follows_paused",
    "paperfeed_dms_refused_stored",
)


class Flag:
    """A check whose answer the test sets: True, False, or an exception to raise."""

    def __init__(self) -> None:
        self.answer: bool | Exception = True

    async def __call__(self) -> bool:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class FakeSource:
    """A source that hands back whatever the test queued, or fails."""

    def __init__(self, name: str = "arxiv") -> None:
        self._name = name
        self.results: list[FetchResult | Exception] = []

    @property
    def name(self) -> str:
        return self._name

    async def poll(self, now: datetime) -> FetchResult:
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus text (labels in any order)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    raise AssertionError(f"no series {name}{labels} in:\n{text}")


@pytest.fixture
def flags() -> dict[str, Flag]:
    return {"gateway": Flag(), "scheduler": Flag()}


@pytest.fixture
async def server(
    store: Database, flags: dict[str, Flag]
) -> AsyncIterator[tuple[HealthServer, Metrics]]:
    metrics = Metrics()
    checks: dict[str, Callable[[], Awaitable[bool]]] = {
        **flags,
        "database": lambda: store.check_writable(timeout=0.2),
    }
    config = HealthConfig(host="127.0.0.1", port=free_port())
    async with HealthServer(config, checks, metrics, store, check_timeout=1.0) as health:
        yield health, metrics


async def get(health: HealthServer, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=health.url, timeout=5) as client:
        return await client.get(path)


async def test_healthy_when_every_check_passes(server: tuple[HealthServer, Metrics]) -> None:
    response = await get(server[0], "/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"gateway": "ok", "scheduler": "ok", "database": "ok"},
    }


@pytest.mark.parametrize(
    ("part", "answer", "shown"),
    [
        ("gateway", False, "failing"),
        ("scheduler", RuntimeError("scheduler is not running"), "error: scheduler is not running"),
    ],
)
async def test_each_failing_part_is_named_with_503(
    server: tuple[HealthServer, Metrics],
    flags: dict[str, Flag],
    part: str,
    answer: bool | Exception,
    shown: str,
) -> None:
    flags[part].answer = answer
    response = await get(server[0], "/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["failing"] == [part]
    assert body["checks"][part] == shown
    assert {k: v for k, v in body["checks"].items() if k != part} == {
        name: "ok" for name in ("gateway", "scheduler", "database") if name != part
    }
    flags[part].answer = True
    assert (await get(server[0], "/healthz")).status_code == 200


async def test_a_database_that_cannot_take_writes_is_unhealthy(
    server: tuple[HealthServer, Metrics], store: Database, flags: dict[str, Flag]
) -> None:
    flags["gateway"].answer = False
    blocker = sqlite3.connect(store.path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock for good
        response = await get(server[0], "/healthz")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["gateway", "database"]
    assert body["checks"]["database"].startswith("error: ")
    assert "locked" in body["checks"]["database"]


async def test_a_check_that_hangs_fails_on_time() -> None:
    async def hangs() -> bool:
        await asyncio.sleep(30)
        return True

    async def fine() -> bool:
        return True

    results = await run_checks({"gateway": hangs, "database": fine}, timeout=0.05)
    assert results == {"gateway": "error: no answer within 0.05s", "database": "ok"}


async def test_writable_probe_leaves_an_open_transaction_alone(store: Database) -> None:
    async with store.transaction():
        await store.papers.upsert([make_paper("2411.00001")])
        assert await store.check_writable()
    # concurrent probes and writes on the same store never trip over each other
    results = await asyncio.gather(
        *(store.papers.upsert([make_paper(f"2411.0001{n}")]) for n in range(5)),
        *(store.check_writable() for _ in range(5)),
    )
    assert all(r is True for r in results[5:])
    assert await store.papers.count() == 6


async def test_writable_probe_fails_when_the_file_is_gone(tmp_path: Path) -> None:
    from bot.errors import StoreError
    from bot.store import open_store

    path = tmp_path / "gone.sqlite3"
    async with open_store(str(path)) as s:
        assert await s.check_writable()
        moved = tmp_path / "moved.sqlite3"
        path.rename(moved)
        with pytest.raises(StoreError, match="not writable"):
            await s.check_writable()
        moved.rename(path)


async def test_port_zero_means_no_server(store: Database) -> None:
    health = HealthServer(HealthConfig(host="127.0.0.1", port=0), {}, Metrics(), store)
    async with health:
        assert not health.enabled


async def test_a_port_in_use_is_one_clear_error(server: tuple[HealthServer, Metrics]) -> None:
    taken = server[0].port
    second = HealthServer(HealthConfig(host="127.0.0.1", port=taken), {})
    with pytest.raises(PaperfeedError, match=f"cannot listen on 127.0.0.1:{taken}"):
        await second.start()


async def test_metrics_are_listed_and_move_after_polls(
    server: tuple[HealthServer, Metrics], store: Database
) -> None:
    health, metrics = server
    await store.feeds.add(FeedSpec(name="causal", channel_id=5, query="causal"), guild_id=1)
    feed = await store.feeds.add(FeedSpec(name="other", channel_id=6, query="flow"), guild_id=1)
    await store.feeds.set_paused(feed.id, True, "channel deleted")

    before = await get(health, "/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    for name in METRIC_NAMES:
        assert re.search(rf"^# TYPE {name} ", before.text, re.M), name
    assert sample(before.text, "paperfeed_source_polls_total", source="arxiv") == 0
    assert sample(before.text, "paperfeed_papers_stored") == 0
    assert sample(before.text, "paperfeed_feeds_paused") == 1
    assert sample(before.text, "paperfeed_feeds") == 2
    assert sample(before.text, "paperfeed_follows") == 0
    assert sample(before.text, "paperfeed_dms_total", dm_outcome="refused") == 0

    source = FakeSource("arxiv")
    source.results = [
        FetchResult(papers=[make_paper("2411.00001"), make_paper("2411.00002")]),
        SourceUnavailable("arxiv", "HTTP 503"),
    ]
    # a bot that has been running: what the listing brings is news, not backlog
    await store.sources.mark_listings_seen("arxiv", ["arxiv"], StepClock()())
    poller = Poller(store, [source], StepClock(), metrics=metrics)
    assert (await poller.poll_source("arxiv")).new == 2
    assert (await poller.poll_source("arxiv")).error is not None

    after = (await get(health, "/metrics")).text
    assert sample(after, "paperfeed_source_polls_total", source="arxiv") == 2
    assert sample(after, "paperfeed_source_poll_failures_total", source="arxiv") == 1
    assert sample(after, "paperfeed_source_papers_new_total", source="arxiv") == 2
    assert sample(after, "paperfeed_source_poll_duration_seconds_count", source="arxiv") == 2
    assert sample(after, "paperfeed_source_poll_duration_seconds_sum", source="arxiv") > 0
    assert sample(after, "paperfeed_papers_stored") == 2
    assert sample(after, "paperfeed_delivery_queue_depth") == await store.outbox.depth()
    assert sample(after, "paperfeed_delivery_queue_depth") >= 1  # the feed "causal" matched


def test_delivery_and_discord_counters_and_registries_are_separate() -> None:
    first, second = Metrics(), Metrics()
    first.record_delivery("sent", latency_seconds=12.5)
    first.record_delivery("retried")
    for status in (200, 204, 404, 429, 502, None):
        first.record_discord_response(status)
    text = first.render().decode()
    assert sample(text, "paperfeed_deliveries_total", outcome="sent") == 1
    assert sample(text, "paperfeed_deliveries_total", outcome="retried") == 1
    assert sample(text, "paperfeed_deliveries_total", outcome="failed") == 0
    assert sample(text, "paperfeed_delivery_latency_seconds_sum") == 12.5
    assert sample(text, "paperfeed_discord_requests_total", status="2xx") == 2
    assert sample(text, "paperfeed_discord_requests_total", status="4xx") == 1
    assert sample(text, "paperfeed_discord_requests_total", status="429") == 1
    assert sample(text, "paperfeed_discord_requests_total", status="5xx") == 1
    assert sample(text, "paperfeed_discord_requests_total", status="error") == 1
    untouched = second.render().decode()
    assert sample(untouched, "paperfeed_deliveries_total", outcome="sent") == 0
    with pytest.raises(ValueError, match="unknown delivery outcome"):
        first.record_delivery("lost")
    assert [status_class(s) for s in (301, 418, 429, 503, 99)] == [
        "3xx", "4xx", "429", "5xx", "error",
    ]  # fmt: skip


class AcceptingTarget:
    """A Discord that takes every post."""

    def __init__(self) -> None:
        self.posts = 0

    async def send(
        self, channel_id: int, body: dict[str, Any], *, nonce: str, title: str
    ) -> Posted:
        self.posts += 1
        return Posted(message_id=9000 + self.posts)

    async def find_posted(
        self, channel_id: int, paper_id: str, title: str, since: datetime
    ) -> Posted | None:
        return None

    async def alert(self, text: str) -> None:
        return None

    def knows_channel(self, channel_id: int) -> bool:
        return True


async def test_the_publisher_records_delivery_latency_and_skips(store: Database) -> None:
    """Issue 13: the latency histogram was fed only by a test, and a full digest's left-out
    papers never reached the skipped counter; the publisher, wired as the runner wires it,
    records both where they happen."""
    metrics = Metrics()
    await store.papers.upsert([make_paper("2411.00001"), make_paper("2411.00002")])
    instant = await store.feeds.add(FeedSpec(name="now", channel_id=10, query="x"), guild_id=1)
    daily = await store.feeds.add(
        FeedSpec(
            name="daily",
            channel_id=11,
            query="x",
            mode=FeedMode.DIGEST,
            digest_size=1,
            digest_time="00:00",
        ),
        guild_id=1,
    )
    await store.outbox.queue([(instant.id, "2411.00001"), (daily.id, "2411.00001"),
                              (daily.id, "2411.00002")])  # fmt: skip
    publisher = Publisher(
        store, AcceptingTarget(), lambda paper, feed: {"content": paper.title},
        lambda: NOW + timedelta(minutes=2),  # the store queues at NOW
        limiter=RateLimiter(sleep=lambda _: asyncio.sleep(0)),
        on_outcome=metrics.record_delivery,
        build_digest=lambda papers, name, more, day: {"content": name},
    )  # fmt: skip
    assert (await publisher.publish_due()).sent == 1
    assert await publisher.publish_digests() == 1
    text = metrics.render().decode()
    assert sample(text, "paperfeed_deliveries_total", outcome="sent") == 2
    assert sample(text, "paperfeed_deliveries_total", outcome="skipped") == 1
    assert sample(text, "paperfeed_delivery_latency_seconds_count") == 2
    assert sample(text, "paperfeed_delivery_latency_seconds_sum") == 240.0
    assert sample(text, "paperfeed_delivery_latency_seconds_bucket", le="300.0") == 2
    assert sample(text, "paperfeed_delivery_latency_seconds_bucket", le="60.0") == 0


def test_every_declared_metric_is_made_with_its_declared_kind() -> None:
    """The metrics come from a table; a typed attribute the table forgot would fail only when
    its event first happens, so check them all at once."""
    metrics = Metrics()
    declared = Metrics.__annotations__
    assert len(declared) == len(METRIC_NAMES)
    for attr, kind in declared.items():
        assert type(getattr(metrics, attr)).__name__ == kind, attr


async def test_metrics_without_a_registry_is_404(store: Database) -> None:
    config = HealthConfig(host="127.0.0.1", port=free_port())
    async with HealthServer(config, {}) as health:
        assert (await get(health, "/metrics")).status_code == 404
        assert (await get(health, "/healthz")).json() == {"status": "ok", "checks": {}}
