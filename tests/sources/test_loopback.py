"""Both sources over real sockets: the aiohttp fake upstream on 127.0.0.1, as production runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from bot.errors import SourceUnavailable
from bot.sources.arxiv import ArxivSource
from bot.sources.http import Fetcher, Pacer, RetryPolicy
from bot.sources.huggingface import HuggingFaceSource
from tests.fakes.upstreams import FakeUpstreamServer, Reply, UpstreamScript, VirtualClock
from tests.sources.samples import fixture_bytes

NOW = datetime(2026, 9, 18, 9, 30, tzinfo=UTC)
TWICE = RetryPolicy(attempts=2, base=1.0, cap=30.0, jitter=0.0)


@pytest.fixture
async def server() -> AsyncIterator[FakeUpstreamServer]:
    async with FakeUpstreamServer(UpstreamScript()) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def test_hugging_face_poll_over_loopback(
    server: FakeUpstreamServer, http: httpx.AsyncClient
) -> None:
    script = server.script
    script.route(
        "/api/daily_papers",
        Reply(200, fixture_bytes("hf_daily_papers.json")),
        query={"date": "2026-09-18"},
    )
    script.route("/api/daily_papers", Reply.json([]), query={"date": "2026-09-17"})
    script.route(
        "/api/daily_papers",
        Reply(200, fixture_bytes("hf_trending.json")),
        query={"sort": "trending"},
    )
    vclock = VirtualClock()
    source = HuggingFaceSource(http, server.url, clock=vclock.wall, sleep=vclock.sleep)
    result = await source.poll(NOW)
    assert result.ok and len(result.papers) == 4
    assert [r.query.get("date", r.query.get("sort")) for r in script.requests] == [
        "2026-09-18",
        "2026-09-17",
        "trending",
    ]
    assert script.requests[0].headers["user-agent"].startswith("paperfeed/")


async def test_arxiv_poll_over_loopback_with_a_304_the_second_time(
    server: FakeUpstreamServer, http: httpx.AsyncClient
) -> None:
    script = server.script
    script.route(
        "/rss/cs.LG",
        Reply.xml(fixture_bytes("arxiv_listing.xml"), headers={"ETag": '"a"'}),
        Reply(304, headers={"ETag": '"a"'}),
    )
    script.route("/api/query", Reply.xml(fixture_bytes("arxiv_api_listing_ids.xml")))
    vclock = VirtualClock()
    pacer = Pacer(3.0, clock=vclock.clock, sleep=vclock.sleep)
    source = ArxivSource(
        http,
        f"{server.url}/rss",
        f"{server.url}/api/query",
        ["cs.LG"],
        pacer,
        clock=vclock.wall,
        sleep=vclock.sleep,
    )
    first = await source.poll(NOW)
    assert first.ok and len(first.all_papers) == 5 and first.papers[0].published is not None
    second = await source.poll(NOW)
    assert second.not_modified and second.all_papers == []
    assert script.requests[-1].headers["if-none-match"] == '"a"'
    assert vclock.sleeps == [3.0, 3.0]  # the pacer kept its distance on every request


async def test_a_stalled_upstream_times_out_and_is_retried(
    server: FakeUpstreamServer, http: httpx.AsyncClient
) -> None:
    server.script.route("/slow", Reply(fail="timeout"))
    vclock = VirtualClock()
    fetch = Fetcher(http, "test", retry=TWICE, timeout=0.1, sleep=vclock.sleep)
    with pytest.raises(SourceUnavailable, match="timed out"):
        await fetch.get(f"{server.url}/slow")
    assert len(server.script.requests) == 2 and vclock.sleeps == [1.0]


async def test_a_dropped_connection_is_retried(
    server: FakeUpstreamServer, http: httpx.AsyncClient
) -> None:
    server.script.route("/flaky", Reply(fail="disconnect"), Reply.json(["ok"]))
    vclock = VirtualClock()
    fetch = Fetcher(http, "test", retry=TWICE, sleep=vclock.sleep)
    assert (await fetch.get(f"{server.url}/flaky")).body == b'["ok"]'
    assert len(server.script.requests) == 2


async def test_unscripted_paths_are_404s(
    server: FakeUpstreamServer, http: httpx.AsyncClient
) -> None:
    response = await http.get(f"{server.url}/nowhere")
    assert response.status_code == 404 and response.json() == {"error": "Not Found"}


async def test_the_guard_stops_a_test_that_aims_at_the_internet(http: httpx.AsyncClient) -> None:
    with pytest.raises(AssertionError, match=r"huggingface\.co"):
        await http.get("https://huggingface.co/api/daily_papers")
