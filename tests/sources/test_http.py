"""The polite fetch layer: what it retries, how long it waits, what it remembers, how it paces."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest

from bot import USER_AGENT
from bot.errors import SourceResponseError, SourceUnavailable
from bot.sources.http import (
    Fetcher,
    MemoryValidatorState,
    Pacer,
    RetryPolicy,
    Validators,
    retry_after_seconds,
)
from tests.fakes.upstreams import Recorded, Reply, UpstreamScript, VirtualClock

URL = "https://upstream.example/api/thing"
PATH = "/api/thing"
QUICK = RetryPolicy(attempts=3, base=1.0, cap=30.0, jitter=0.0)


def fetcher(client: httpx.AsyncClient, vclock: VirtualClock, **kw: object) -> Fetcher:
    options: dict[str, object] = {
        "retry": QUICK,
        "sleep": vclock.sleep,
        "wall_clock": vclock.wall,
        "rand": lambda: 0.0,
    }
    options.update(kw)
    return Fetcher(client, "test", **options)  # type: ignore[arg-type]


# RetryPolicy


def test_backoff_doubles_from_base_and_stops_at_cap() -> None:
    policy = RetryPolicy(attempts=6, base=1.0, cap=5.0, jitter=0.0)
    assert [policy.backoff(n, 0.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_stretches_a_wait_but_never_past_the_cap() -> None:
    policy = RetryPolicy(base=2.0, cap=10.0, jitter=0.5)
    assert policy.backoff(1, 0.0) == 2.0
    assert policy.backoff(1, 0.99) == pytest.approx(2.99)
    assert policy.backoff(4, 0.99) == 10.0


@pytest.mark.parametrize("kw", [{"attempts": 0}, {"base": -1.0}, {"jitter": -0.1}])
def test_retry_policy_refuses_nonsense(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), (" 2.5 ", 2.5), ("-3", 0.0), ("soon", None), ("", None), (None, None)],
)
def test_retry_after_seconds_reads_delays(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header, VirtualClock().wall()) == expected


def test_retry_after_seconds_reads_http_dates() -> None:
    now = VirtualClock().wall()
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=12), usegmt=True), now) == 12
    assert retry_after_seconds(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0


# Fetcher: success, headers


async def test_identifies_itself_with_the_project_user_agent(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(PATH, Reply.json([]))
    fetched = await fetcher(client, vclock, accept="application/json").get(URL, {"p": 0})
    assert fetched.status == 200 and fetched.body == b"[]"
    sent = script.requests[0]
    assert sent.headers["user-agent"] == USER_AGENT
    assert sent.headers["accept"] == "application/json"
    assert sent.query == {"p": "0"}


# Fetcher: retries


async def test_retries_server_errors_with_growing_waits_then_succeeds(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(PATH, Reply(500), Reply(502), Reply.json(["ok"]))
    fetched = await fetcher(client, vclock).get(URL)
    assert fetched.body == b'["ok"]'
    assert len(script.requests) == 3
    assert vclock.sleeps == [1.0, 2.0]


async def test_429_waits_exactly_what_retry_after_says(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(PATH, Reply(429, "slow down", {"Retry-After": "7"}), Reply.json([]))
    await fetcher(client, vclock).get(URL)
    assert vclock.sleeps == [7.0]


async def test_503_retry_after_as_an_http_date_is_honoured(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    when = format_datetime(vclock.wall() + timedelta(seconds=12), usegmt=True)
    script.route(PATH, Reply(503, headers={"Retry-After": when}), Reply.json([]))
    await fetcher(client, vclock).get(URL)
    assert vclock.sleeps == [12.0]


async def test_retry_after_beyond_the_cap_gives_up_now_instead_of_hammering(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(PATH, Reply(429, headers={"Retry-After": "3600"}), Reply.json([]))
    with pytest.raises(SourceUnavailable, match="3600"):
        await fetcher(client, vclock).get(URL)
    assert len(script.requests) == 1
    assert vclock.sleeps == []


@pytest.mark.parametrize("failure", ["timeout", "disconnect"])
async def test_timeouts_and_dropped_connections_are_retried(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock, failure: str
) -> None:
    script.route(PATH, Reply(fail=failure), Reply.json([1]))  # type: ignore[arg-type]
    assert (await fetcher(client, vclock).get(URL)).body == b"[1]"
    assert len(script.requests) == 2


async def test_exhausted_retries_raise_unavailable_and_warn_once(
    client: httpx.AsyncClient,
    script: UpstreamScript,
    vclock: VirtualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    script.route(PATH, Reply(fail="timeout"))
    with (
        caplog.at_level(logging.INFO, logger="bot.sources"),
        pytest.raises(SourceUnavailable) as err,
    ):
        await fetcher(client, vclock).get(URL)
    assert "timed out" in str(err.value) and "3 attempt" in str(err.value)
    assert err.value.source == "test"
    assert len(script.requests) == 3
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert [r.levelno for r in caplog.records].count(logging.INFO) == 2  # one line per retry


async def test_attempts_one_switches_retries_off(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(PATH, Reply(500), Reply.json([]))
    with pytest.raises(SourceUnavailable, match="HTTP 500"):
        await fetcher(client, vclock, retry=RetryPolicy(attempts=1)).get(URL)
    assert len(script.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
async def test_other_client_errors_are_not_retried(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock, status: int
) -> None:
    script.route(PATH, Reply(status), Reply.json([]))
    with pytest.raises(SourceResponseError, match=f"HTTP {status}"):
        await fetcher(client, vclock).get(URL)
    assert len(script.requests) == 1
    assert vclock.sleeps == []


async def test_a_refusal_carries_the_upstreams_own_message(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(PATH, Reply.json({"error": "Too big: expected number to be <=100"}, status=400))
    with pytest.raises(SourceResponseError) as err:
        await fetcher(client, vclock).get(URL)
    assert err.value.reason == "HTTP 400 Bad Request: Too big: expected number to be <=100"


async def test_accepted_statuses_come_back_instead_of_raising(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(PATH, Reply.json({"error": "Paper not found"}, status=404))
    fetched = await fetcher(client, vclock).get(URL, accept_statuses=(404,))
    assert fetched.status == 404


async def test_a_runaway_body_is_refused(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(PATH, Reply(200, b"x" * 100))
    with pytest.raises(SourceResponseError, match="larger than 10 bytes"):
        await fetcher(client, vclock, max_bytes=10).get(URL)


# Fetcher: conditional requests


def etag_server(body: str) -> object:
    """Answers 304 to a request that names the current ETag or Last-Modified."""

    def respond(request: Recorded) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304, headers={"ETag": '"v1"'})
        if request.headers.get("if-modified-since") == "Fri, 18 Sep 2026 04:00:00 GMT":
            return Reply(304)
        return Reply.xml(
            body, headers={"ETag": '"v1"', "Last-Modified": "Fri, 18 Sep 2026 04:00:00 GMT"}
        )

    return respond


async def test_etag_and_last_modified_round_trip_to_a_304(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(PATH, etag_server("<rss/>"))  # type: ignore[arg-type]
    state = MemoryValidatorState()
    fetch = fetcher(client, vclock, validators=state)

    first = await fetch.get(URL, conditional=True)
    assert first.body == b"<rss/>" and not first.not_modified
    assert "if-none-match" not in script.requests[0].headers
    fetch.remember(URL, first)
    assert state.get(URL) == Validators('"v1"', "Fri, 18 Sep 2026 04:00:00 GMT")

    second = await fetch.get(URL, conditional=True)
    assert second.not_modified and second.body == b""
    assert script.requests[1].headers["if-none-match"] == '"v1"'
    assert script.requests[1].headers["if-modified-since"] == "Fri, 18 Sep 2026 04:00:00 GMT"


async def test_last_modified_alone_is_enough_for_a_304(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(PATH, etag_server("<rss/>"))  # type: ignore[arg-type]
    state = MemoryValidatorState({URL: Validators(last_modified="Fri, 18 Sep 2026 04:00:00 GMT")})
    assert (await fetcher(client, vclock, validators=state).get(URL, conditional=True)).not_modified


async def test_validators_are_sent_only_once_remembered_and_only_when_asked(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(PATH, etag_server("<rss/>"))  # type: ignore[arg-type]
    fetch = fetcher(client, vclock)
    await fetch.get(URL, conditional=True)  # not remembered: the body was never used
    remembered = await fetch.get(URL, conditional=True)
    fetch.remember(URL, remembered)
    await fetch.get(URL)  # not conditional
    assert all("if-none-match" not in r.headers for r in script.requests)


# Pacer


async def test_pacer_lets_the_first_request_go_at_once_and_spaces_the_rest(
    vclock: VirtualClock,
) -> None:
    pacer = Pacer(3.0, clock=vclock.clock, sleep=vclock.sleep)
    starts = []
    for _ in range(3):
        async with pacer.turn():
            starts.append(vclock.now)
            await vclock.sleep(0.4)  # the request itself takes a while
    assert starts[0] == 1_000.0
    assert [b - a for a, b in itertools.pairwise(starts)] == pytest.approx([3.4, 3.4])


async def test_pacer_spacing_is_configurable(vclock: VirtualClock) -> None:
    pacer = Pacer(1.5, clock=vclock.clock, sleep=vclock.sleep)
    for _ in range(2):
        async with pacer.turn():
            pass
    assert vclock.sleeps == [1.5]


async def test_pacer_holds_concurrent_callers_to_one_at_a_time(vclock: VirtualClock) -> None:
    pacer = Pacer(3.0, clock=vclock.clock, sleep=vclock.sleep)
    inside = 0
    most_inside = 0
    starts: list[float] = []

    async def request() -> None:
        nonlocal inside, most_inside
        async with pacer.turn():
            inside += 1
            most_inside = max(most_inside, inside)
            starts.append(vclock.now)
            await vclock.sleep(0.5)
            inside -= 1

    await asyncio.gather(*(request() for _ in range(4)))
    assert most_inside == 1
    assert all(b - a >= 3.0 for a, b in itertools.pairwise(starts))


async def test_fetches_sharing_a_pacer_never_overlap_and_keep_their_distance(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(PATH, Reply(200, b"ok", delay=0.2))
    pacer = Pacer(3.0, clock=vclock.clock, sleep=vclock.sleep)
    fetch = fetcher(client, vclock, pacer=pacer)
    await asyncio.gather(*(fetch.get(URL, {"n": n}) for n in range(3)))
    assert script.max_in_flight == 1
    times = [r.at for r in script.requests]
    assert all(b - a >= 3.0 for a, b in itertools.pairwise(times))


async def test_retries_go_through_the_pacer_too(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(PATH, Reply(500), Reply.json([]))
    pacer = Pacer(3.0, clock=vclock.clock, sleep=vclock.sleep)
    await fetcher(client, vclock, pacer=pacer).get(URL)
    first, second = (r.at for r in script.requests)
    assert second - first >= 3.0  # the 1 s backoff alone would have been too soon
