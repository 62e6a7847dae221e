"""The Hugging Face source against a scripted upstream: paging, trending, lookups, failures."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from bot.errors import PaperIdError, SourceResponseError, SourceUnavailable
from bot.sources.base import FetchResult, Source
from bot.sources.http import RetryPolicy
from bot.sources.huggingface import HuggingFaceSource, period_params
from tests.fakes.upstreams import Reply, UpstreamScript, VirtualClock
from tests.sources.samples import fixture_bytes, fixture_json, hf_item, hf_page

BASE = "https://hf.example"
DAILY = "/api/daily_papers"
TODAY = date(2026, 9, 18)
NOW = datetime(2026, 9, 18, 9, 30, tzinfo=UTC)
QUICK = RetryPolicy(attempts=3, base=1.0, cap=30.0, jitter=0.0)


def make_source(client: httpx.AsyncClient, vclock: VirtualClock, **kw: Any) -> HuggingFaceSource:
    return HuggingFaceSource(
        client, BASE + "/", retry=QUICK, clock=vclock.wall, sleep=vclock.sleep, **kw
    )


def ids(result: FetchResult) -> list[str]:
    return [p.id for p in result.papers]


def asked(script: UpstreamScript, path: str = DAILY) -> list[dict[str, str]]:
    return [r.query for r in script.requests_to(path)]


def test_both_sources_satisfy_the_protocol(client: httpx.AsyncClient) -> None:
    source: Source = HuggingFaceSource(client, BASE)
    assert source.name == "huggingface"


# Daily lists and paging


async def test_daily_reads_today_and_yesterday_in_utc(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(
        DAILY, Reply(200, fixture_bytes("hf_daily_papers.json")), query={"date": "2026-09-18"}
    )
    script.route(DAILY, Reply.json([hf_item("2609.10001")]), query={"date": "2026-09-17"})
    result = await make_source(client, vclock).fetch_daily(TODAY)
    assert ids(result) == ["2609.11873", "2609.12004", "2609.12220", "2609.10001"]
    assert result.ok and result.problems == [] and not result.not_modified
    assert asked(script) == [
        {"date": "2026-09-18", "limit": "100", "p": "0"},
        {"date": "2026-09-17", "limit": "100", "p": "0"},
    ]


async def test_daily_pages_until_a_short_page(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    pages = [hf_page(1, 3), hf_page(4, 3), hf_page(7, 1)]
    script.pages(DAILY, [Reply.json(p) for p in pages], query={"date": "2026-09-18"})
    script.route(DAILY, Reply.json([]), query={"date": "2026-09-17"})
    result = await make_source(client, vclock, page_size=3).fetch_daily(TODAY)
    assert ids(result) == [f"2609.{n:05d}" for n in range(1, 8)]
    assert [(q["date"], q["p"]) for q in asked(script)] == [
        ("2026-09-18", "0"),
        ("2026-09-18", "1"),
        ("2026-09-18", "2"),
        ("2026-09-17", "0"),
    ]
    assert result.problems == []


async def test_a_full_last_page_costs_one_empty_page_and_no_problem(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.pages(DAILY, [Reply.json(hf_page(1, 3)), Reply.json([])])
    result = await make_source(client, vclock, page_size=3).fetch_period("today", NOW)
    assert len(result.papers) == 3 and result.ok and result.problems == []
    assert [q["p"] for q in asked(script)] == ["0", "1"]


async def test_paging_stops_at_max_pages_and_says_so(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(DAILY, Reply.json(hf_page(1, 2)))  # a server that ignores `p`
    result = await make_source(client, vclock, page_size=2, max_pages=3).fetch_period("today", NOW)
    assert len(script.requests) == 3
    assert ids(result) == ["2609.00001", "2609.00002"]  # the repeats merge by id
    assert result.ok and "stopped after 3 full pages" in result.problems[0]


async def test_a_paper_on_two_pages_is_merged_not_duplicated(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    first = [hf_item("2609.00001", upvotes=3), hf_item("2609.00002")]
    second = [hf_item("2609.00001", upvotes=5)]
    script.pages(DAILY, [Reply.json(first), Reply.json(second)])
    result = await make_source(client, vclock, page_size=2).fetch_period("today", NOW)
    assert ids(result) == ["2609.00001", "2609.00002"]
    assert result.papers[0].upvotes == 5


# Trending, periods


async def test_trending_asks_for_the_trending_sort(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(DAILY, Reply(200, fixture_bytes("hf_trending.json")), query={"sort": "trending"})
    result = await make_source(client, vclock).fetch_trending(20)
    assert ids(result) == ["2609.11873", "2511.00942"]
    assert asked(script) == [{"sort": "trending", "limit": "20", "p": "0"}]


async def test_trending_limit_is_capped_at_what_the_api_allows(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(DAILY, Reply.json([]))
    await make_source(client, vclock).fetch_trending(500)
    assert asked(script)[0]["limit"] == "100"


@pytest.mark.parametrize(
    ("period", "now", "expected"),
    [
        ("today", NOW, {"date": "2026-09-18"}),
        ("week", NOW, {"week": "2026-W38"}),
        ("month", NOW, {"month": "2026-09"}),
        ("week", datetime(2027, 1, 1, 12, tzinfo=UTC), {"week": "2026-W53"}),
        (
            "today",
            datetime(2026, 9, 18, 1, tzinfo=timezone(timedelta(hours=5))),
            {"date": "2026-09-17"},
        ),
    ],
)
def test_period_params(period: Any, now: datetime, expected: dict[str, str]) -> None:
    assert period_params(period, now) == expected


def test_an_unknown_period_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown period"):
        period_params("year", NOW)  # type: ignore[arg-type]


async def test_fetch_period_pages_the_week(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.pages(
        DAILY, [Reply.json(hf_page(1, 2)), Reply.json(hf_page(3, 1))], query={"week": "2026-W38"}
    )
    result = await make_source(client, vclock, page_size=2).fetch_period("week", NOW)
    assert len(result.papers) == 3
    assert asked(script)[0] == {"week": "2026-W38", "limit": "2", "p": "0"}


# Poll


async def test_poll_merges_daily_and_trending_by_id(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(
        DAILY, Reply(200, fixture_bytes("hf_daily_papers.json")), query={"date": "2026-09-18"}
    )
    script.route(DAILY, Reply.json([]), query={"date": "2026-09-17"})
    script.route(DAILY, Reply(200, fixture_bytes("hf_trending.json")), query={"sort": "trending"})
    result = await make_source(client, vclock).poll(NOW)
    assert ids(result) == ["2609.11873", "2609.12004", "2609.12220", "2511.00942"]
    merged = result.papers[0]
    assert merged.upvotes == 61 and merged.num_comments == 5  # the later observation wins
    assert merged.project_page == "https://sparse-mod.github.io/"  # known facts are kept
    assert merged.hf_submitted_at == datetime(2026, 9, 18, 4, 12, 33, 918000, tzinfo=UTC)
    assert result.ok and len(script.requests) == 3


async def test_poll_stops_asking_once_hugging_face_is_down(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(DAILY, Reply(503))
    result = await make_source(client, vclock).poll(NOW)
    assert result.papers == [] and result.error is not None
    assert "HTTP 503" in result.error and "date=2026-09-18 page 0" in result.error
    assert len(script.requests) == QUICK.attempts  # neither yesterday nor trending was tried


async def test_poll_keeps_the_daily_papers_when_trending_fails(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(DAILY, Reply.json(hf_page(1, 2)))
    script.route(
        DAILY, Reply.html(fixture_bytes("html_error_page.html")), query={"sort": "trending"}
    )
    result = await make_source(client, vclock).poll(NOW)
    assert ids(result) == ["2609.00001", "2609.00002"]
    assert result.error and "sort=trending" in result.error and "HTML page" in result.error


# Failures on the first and on a later page


BODY_FAILURES: dict[str, Reply] = {
    "html page with status 200": Reply.html(fixture_bytes("html_error_page.html")),
    "truncated json": Reply(
        200, b'[{"paper": {"id": "2609.00001", "tit', {"Content-Type": "application/json"}
    ),
    "empty body": Reply(200, b"", {"Content-Type": "application/json"}),
    "object instead of array": Reply.json({"papers": []}),
    "server error": Reply(500),
    "not found": Reply.json({"error": "Not Found"}, status=404),
    "timeout": Reply(fail="timeout"),
}


@pytest.mark.parametrize("failure", BODY_FAILURES)
@pytest.mark.parametrize("page", [0, 1])
async def test_a_failed_page_keeps_earlier_pages_and_reports(
    client: httpx.AsyncClient,
    script: UpstreamScript,
    vclock: VirtualClock,
    failure: str,
    page: int,
) -> None:
    good = [Reply.json(hf_page(1 + 3 * n, 3)) for n in range(page)]
    script.pages(DAILY, [*good, BODY_FAILURES[failure], Reply.json(hf_page(90, 1))])
    result = await make_source(client, vclock, page_size=3).fetch_period("today", NOW)
    assert len(result.papers) == 3 * page
    assert result.error is not None and f"page {page}" in result.error
    assert result.error in result.problems
    assert not any(r.query["p"] == str(page + 1) for r in script.requests)  # paging ended


ITEM_FAILURES: dict[str, Any] = {
    "item without id": {"paper": {"title": "No id here", "upvotes": 1}},
    "item that is not an object": 42,
    "wrong-type required field": {"paper": {"id": "2609.00077", "title": 7}, "title": 7},
}


@pytest.mark.parametrize("failure", ITEM_FAILURES)
@pytest.mark.parametrize("page", [0, 1])
async def test_a_broken_item_costs_only_itself(
    client: httpx.AsyncClient,
    script: UpstreamScript,
    vclock: VirtualClock,
    failure: str,
    page: int,
) -> None:
    pages = [hf_page(1, 3), hf_page(4, 3), hf_page(7, 1)]
    pages[page][1] = ITEM_FAILURES[failure]
    script.pages(DAILY, [Reply.json(p) for p in pages])
    result = await make_source(client, vclock, page_size=3).fetch_period("today", NOW)
    assert len(result.papers) == 6 and result.ok
    assert len(result.problems) == 1
    assert result.problems[0].startswith(f"date=2026-09-18 page {page}: item 1: skipped")


async def test_a_wrong_type_optional_field_keeps_the_paper_and_reports(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(DAILY, Reply.json([hf_item("2609.00001", githubStars="many")]))
    result = await make_source(client, vclock).fetch_period("today", NOW)
    assert ids(result) == ["2609.00001"] and result.papers[0].github_stars is None
    assert "githubStars" in result.problems[0] and result.ok


async def test_a_failed_day_does_not_stop_the_other_day(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(
        DAILY, Reply.html("<html><title>oops</title></html>"), query={"date": "2026-09-18"}
    )
    script.route(DAILY, Reply.json(hf_page(1, 2)), query={"date": "2026-09-17"})
    result = await make_source(client, vclock).fetch_daily(TODAY)
    assert ids(result) == ["2609.00001", "2609.00002"]
    assert result.error and "2026-09-18" in result.error and "'oops'" in result.error


# Lookup and search


async def test_lookup_reads_the_flat_paper_object(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route("/api/papers/2609.11873", Reply(200, fixture_bytes("hf_paper_detail.json")))
    paper = await make_source(client, vclock).lookup("https://huggingface.co/papers/2609.11873")
    assert paper is not None and paper.id == "2609.11873" and paper.upvotes == 63


async def test_lookup_of_a_paper_hugging_face_does_not_know_is_none(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route("/api/papers/1234.56789", Reply.json({"error": "Paper not found"}, status=404))
    assert await make_source(client, vclock).lookup("1234.56789") is None
    assert len(script.requests) == 1


async def test_lookup_refuses_what_is_not_an_id_without_asking(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    with pytest.raises(PaperIdError):
        await make_source(client, vclock).lookup("hello world")
    assert script.requests == []


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(502), SourceUnavailable),
        (Reply.html(fixture_bytes("html_error_page.html")), SourceResponseError),
        (Reply.json([]), SourceResponseError),
    ],
)
async def test_lookup_failures_raise_source_errors(
    client: httpx.AsyncClient,
    script: UpstreamScript,
    vclock: VirtualClock,
    reply: Reply,
    error: type[Exception],
) -> None:
    script.route("/api/papers/2609.11873", reply)
    with pytest.raises(error):
        await make_source(client, vclock).lookup("2609.11873")


async def test_search_sends_the_query_and_limit(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route("/api/papers/search", Reply(200, fixture_bytes("hf_search.json")))
    papers = await make_source(client, vclock).search("  diffusion\n decoding ", limit=5)
    assert [p.id for p in papers] == ["2608.04417", "2607.20931"]
    assert asked(script, "/api/papers/search") == [{"q": "diffusion decoding", "limit": "5"}]


async def test_search_cuts_long_queries_and_trims_to_the_limit(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route("/api/papers/search", Reply(200, fixture_bytes("hf_search.json")))
    papers = await make_source(client, vclock).search("x" * 400, limit=1)
    assert len(papers) == 1
    assert len(script.requests[0].query["q"]) == 250


async def test_an_empty_search_asks_nothing(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    assert await make_source(client, vclock).search("   ") == []
    assert script.requests == []


async def test_search_skips_broken_items_and_raises_on_a_broken_body(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    items = fixture_json("hf_search.json")
    script.route("/api/papers/search", Reply.json([{"paper": {}}, *items]), query={"q": "ok"})
    script.route("/api/papers/search", Reply(200, b"[{"), query={"q": "cut"})
    source = make_source(client, vclock)
    assert len(await source.search("ok")) == 2
    with pytest.raises(SourceResponseError, match="not valid JSON"):
        await source.search("cut")


async def test_a_failed_poll_logs_one_warning_however_many_attempts(
    client: httpx.AsyncClient,
    script: UpstreamScript,
    vclock: VirtualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    script.route(DAILY, Reply(500))
    with caplog.at_level(logging.INFO, logger="bot.sources"):
        await make_source(client, vclock).poll(NOW)
    assert len(script.requests) == 3
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


async def test_an_unusable_page_logs_one_warning(
    client: httpx.AsyncClient,
    script: UpstreamScript,
    vclock: VirtualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    script.route(DAILY, Reply.html(fixture_bytes("html_error_page.html")))
    with caplog.at_level(logging.INFO, logger="bot.sources"):
        await make_source(client, vclock).fetch_period("today", NOW)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "HTML page" in warnings[0]
