"""The arXiv source against a scripted upstream: listing, enrichment, conditional GETs, pacing."""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot.errors import SourceResponseError
from bot.sources.arxiv import ArxivSource
from bot.sources.base import FetchResult, Source
from bot.sources.http import MemoryValidatorState, Pacer, RetryPolicy
from tests.fakes.upstreams import Recorded, Reply, UpstreamScript, VirtualClock
from tests.sources.samples import api_feed, fixture_bytes, rss_listing

RSS = "https://rss.arxiv.example/rss/"
API = "https://export.arxiv.example/api/query"
LISTING = "/rss/cs.LG+cs.CL"
QUERY = "/api/query"
NOW = datetime(2026, 9, 18, 4, 30, tzinfo=UTC)
QUICK = RetryPolicy(attempts=3, base=1.0, cap=30.0, jitter=0.0)
LISTED = ["2609.11873", "2609.12004", "2609.12220", "2603.08812", "2512.30117"]


def make_source(
    client: httpx.AsyncClient, vclock: VirtualClock, spacing: float = 3.0, **kw: Any
) -> ArxivSource:
    pacer = Pacer(spacing, clock=vclock.clock, sleep=vclock.sleep)
    options: dict[str, Any] = {"clock": vclock.wall, "sleep": vclock.sleep, "rand": lambda: 0.0}
    options.update(kw)
    return ArxivSource(client, RSS, API, ["cs.LG", "cs.CL"], pacer, QUICK, **options)


def api_for(request: Recorded) -> Reply:
    """An API that knows every paper it is asked about (in version 1)."""
    asked = request.query["id_list"].split(",")
    return Reply.xml(api_feed([re.sub(r"v\d+$", "", i) for i in asked]))


def id_lists(script: UpstreamScript) -> list[list[str]]:
    return [r.query["id_list"].split(",") for r in script.requests_to(QUERY)]


def ids(papers: list[Any]) -> list[str]:
    return [p.id for p in papers]


def script_listing(script: UpstreamScript, *listing: Reply) -> None:
    script.route(LISTING, *(listing or (Reply.xml(fixture_bytes("arxiv_listing.xml")),)))


def test_the_source_satisfies_the_protocol(client: httpx.AsyncClient) -> None:
    source: Source = ArxivSource(client, RSS, API, ["cs.LG"])
    assert source.name == "arxiv"
    assert isinstance(source, ArxivSource) and source.pacer.spacing == 3.0


def test_categories_are_required(client: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="at least one category"):
        ArxivSource(client, RSS, API, [])


# Listing and enrichment


async def test_the_listing_is_one_request_then_filled_in_from_the_api(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script_listing(script)
    script.route(QUERY, Reply.xml(fixture_bytes("arxiv_api_listing_ids.xml")))
    result = await make_source(client, vclock).fetch_listing()

    assert result.ok and result.problems == [] and not result.not_modified
    assert ids(result.papers) == LISTED[:3]
    assert [(p.id, p.version) for p in result.replaced] == [("2603.08812", 3), ("2512.30117", 2)]
    assert ids(result.all_papers) == LISTED
    grasp = result.papers[2]
    assert grasp.categories == ("cs.RO", "cs.LG")  # the API's primary category leads
    assert grasp.published == datetime(2026, 9, 17, 9, 15, 44, tzinfo=UTC)
    assert grasp.comments == "Accepted at CoRL 2026"
    assert grasp.sources == frozenset({"arxiv"})
    assert result.replaced[0].published == datetime(2026, 3, 10, 16, 30, tzinfo=UTC)

    assert [r.path for r in script.requests] == [LISTING, QUERY]
    assert script.requests[1].query == {
        "id_list": ",".join(LISTED),
        "start": "0",
        "max_results": "5",
    }


async def test_enrichment_asks_in_batches_of_at_most_a_hundred(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    listed = [f"2609.{n:05d}" for n in range(1, 151)]
    script_listing(script, Reply.xml(rss_listing(listed)))
    script.route(QUERY, api_for)
    result = await make_source(client, vclock).fetch_listing()
    assert [len(batch) for batch in id_lists(script)] == [100, 50]
    assert [r.query["max_results"] for r in script.requests_to(QUERY)] == ["100", "50"]
    assert len(result.papers) == 150 and all(p.published for p in result.papers)


async def test_a_smaller_batch_size_is_honoured_and_a_larger_one_capped(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script_listing(script)
    script.route(QUERY, api_for)
    await make_source(client, vclock, batch_size=2).fetch_listing()
    assert id_lists(script) == [LISTED[0:2], LISTED[2:4], LISTED[4:]]
    assert make_source(client, vclock, batch_size=500).batch_size == 100


ENRICHMENT_FAILURES = {
    "unavailable": Reply(503),
    "html page": Reply.html(fixture_bytes("html_error_page.html")),
    "error feed": Reply.xml(fixture_bytes("arxiv_api_error.xml"), status=400),
    "truncated": Reply.xml(api_feed(LISTED)[:300]),
    "timeout": Reply(fail="timeout"),
}


@pytest.mark.parametrize("failure", ENRICHMENT_FAILURES)
async def test_failed_enrichment_keeps_the_listing_and_reports(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock, failure: str
) -> None:
    script_listing(script)
    script.route(QUERY, ENRICHMENT_FAILURES[failure])
    result = await make_source(client, vclock).fetch_listing()
    assert result.ok  # the listing is the news; enrichment is extra
    assert ids(result.all_papers) == LISTED
    assert result.papers[0].published is None  # nothing was filled in
    assert len(result.problems) == 1 and result.problems[0].startswith("enrichment batch 1/1: ")


async def test_a_failed_later_batch_costs_only_its_own_papers(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script_listing(script)
    script.route(QUERY, api_for)
    script.route(
        QUERY,
        Reply.html("<html><title>busy</title></html>"),
        query={"id_list": ",".join(LISTED[2:4])},
    )
    result = await make_source(client, vclock, batch_size=2).fetch_listing()
    filled = [p.id for p in result.all_papers if p.published]
    assert filled == [LISTED[0], LISTED[1], LISTED[4]]
    assert result.ok and result.problems[0].startswith("enrichment batch 2/3: ")


async def test_once_arxiv_is_down_the_remaining_batches_are_not_requested(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script_listing(script)
    script.route(QUERY, api_for)
    script.route(QUERY, Reply(503), query={"id_list": ",".join(LISTED[2:4])})
    result = await make_source(client, vclock, batch_size=2).fetch_listing()
    assert [len(b) for b in id_lists(script)] == [2, 2, 2, 2]  # batch 1, batch 2 three times
    assert result.ok and len(result.all_papers) == 5
    assert "batch 3/3: not requested" in result.problems[1]


# Listing failures


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(503), "HTTP 503"),
        (Reply.html(fixture_bytes("html_error_page.html")), "not an RSS or Atom feed"),
        (Reply.xml(b""), "empty response"),
        (Reply(404), "HTTP 404"),
        (Reply(fail="disconnect"), "scripted disconnect"),
    ],
)
async def test_a_failed_listing_is_the_error_and_asks_nothing_more(
    client: httpx.AsyncClient,
    script: UpstreamScript,
    vclock: VirtualClock,
    reply: Reply,
    message: str,
) -> None:
    script_listing(script, reply)
    result = await make_source(client, vclock).fetch_listing()
    assert result.papers == [] and result.error is not None
    assert result.error.startswith("listing: ") and message in result.error
    assert script.requests_to(QUERY) == []


async def test_an_empty_listing_is_a_quiet_success(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script_listing(script, Reply.xml(rss_listing([])))
    result = await make_source(client, vclock).poll(NOW)
    assert result.ok and result.all_papers == [] and result.problems == []
    assert script.requests_to(QUERY) == []


# Conditional requests


def listing_with_etag(body: bytes) -> Any:
    def respond(request: Recorded) -> Reply:
        if request.headers.get("if-none-match") == '"day-261"':
            return Reply(304)
        return Reply.xml(body, headers={"ETag": '"day-261"'})

    return respond


async def test_an_unchanged_listing_is_a_304_and_nothing_new(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(LISTING, listing_with_etag(fixture_bytes("arxiv_listing.xml")))
    script.route(QUERY, Reply.xml(fixture_bytes("arxiv_api_listing_ids.xml")))
    state = MemoryValidatorState()
    source = make_source(client, vclock, validators_state=state)

    first = await source.poll(NOW)
    assert len(first.all_papers) == 5
    assert state.get(RSS.rstrip("/") + "/cs.LG+cs.CL") is not None

    second = await source.poll(NOW)
    assert second.not_modified and second.ok and second.all_papers == []
    assert script.requests[-1].headers["if-none-match"] == '"day-261"'
    assert len(script.requests_to(QUERY)) == 1  # no enrichment for an unchanged listing


async def test_a_truncated_listing_is_not_remembered_so_the_next_poll_fetches_it_again(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    full = rss_listing(["2609.00001", "2609.00002", "2609.00003"])
    cut = full[: full.rindex("<item>") + 120]
    script.route(
        LISTING,
        Reply.xml(cut, headers={"ETag": '"cut"'}),
        Reply.xml(full, headers={"ETag": '"full"'}),
    )
    script.route(QUERY, api_for)
    source = make_source(client, vclock)

    first = await source.fetch_listing()
    # the whole items are kept, but a listing cut short is a failed request, not a warning
    assert ids(first.papers) == ["2609.00001", "2609.00002"] and not first.ok
    assert first.error is not None and "cut short" in first.error and first.warnings == []
    second = await source.fetch_listing()
    assert "if-none-match" not in script.requests_to(LISTING)[1].headers
    assert len(second.papers) == 3


# By id, lookup


async def test_fetch_by_ids_normalises_dedupes_and_reports_bad_ids(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(QUERY, api_for)
    result = await make_source(client, vclock).fetch_by_ids(
        ["2609.00001", "arXiv:2609.00002v2", "what is this", "https://arxiv.org/abs/2609.00001"]
    )
    assert id_lists(script) == [["2609.00001", "2609.00002v2"]]
    assert ids(result.papers) == ["2609.00001", "2609.00002"]
    assert result.ok and "what is this" in result.problems[0]


async def test_fetch_by_ids_reports_arxivs_error_feed(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(QUERY, Reply.xml(fixture_bytes("arxiv_api_error.xml"), status=400))
    result = await make_source(client, vclock).fetch_by_ids(["2609.00001"])
    assert result.papers == [] and result.error is not None
    assert "incorrect id format for 2609.1x" in result.error
    assert len(script.requests) == 1  # a 400 is not retried


async def test_lookup_finds_old_style_ids(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(QUERY, Reply.xml(fixture_bytes("arxiv_api_oldstyle.xml")))
    paper = await make_source(client, vclock).lookup("hep-th/9912045")
    assert paper is not None and (paper.id, paper.version) == ("hep-th/9912045", 3)
    assert script.requests[0].query == {
        "id_list": "hep-th/9912045",
        "start": "0",
        "max_results": "1",
    }


async def test_lookup_of_an_unknown_paper_is_none(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(QUERY, Reply.xml(fixture_bytes("arxiv_api_empty.xml")))
    assert await make_source(client, vclock).lookup("2609.99999") is None


async def test_lookup_raises_arxivs_error(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(QUERY, Reply.xml(fixture_bytes("arxiv_api_error.xml"), status=400))
    with pytest.raises(SourceResponseError, match="incorrect id format"):
        await make_source(client, vclock).lookup("2609.12345")


# Pacing: one request at a time, three seconds apart, across everything


def gaps(requests: list[Recorded]) -> list[float]:
    times = [r.at for r in requests]
    return [b - a for a, b in itertools.pairwise(times)]


async def test_a_poll_spaces_its_listing_and_batches(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script_listing(script)
    script.route(QUERY, api_for)
    await make_source(client, vclock, batch_size=2).poll(NOW)
    assert len(script.requests) == 4
    assert all(gap >= 3.0 for gap in gaps(script.requests))


async def test_concurrent_callers_share_one_connection_and_the_spacing(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(LISTING, replace(Reply.xml(fixture_bytes("arxiv_listing.xml")), delay=0.5))
    script.route(QUERY, lambda request: replace(api_for(request), delay=0.5))
    source = make_source(client, vclock)
    await asyncio.gather(
        source.fetch_listing(),
        source.lookup("2609.00001"),
        source.fetch_by_ids(["2609.00002", "2609.00003"]),
    )
    assert len(script.requests) == 4
    assert script.max_in_flight == 1
    assert all(gap >= 3.0 for gap in gaps(script.requests))


async def test_the_spacing_is_configurable(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script.route(QUERY, api_for)
    source = make_source(client, vclock, spacing=5.0)
    for n in range(3):
        await source.lookup(f"2609.0000{n + 1}")
    assert gaps(script.requests) == [5.0, 5.0]


async def test_retries_of_a_listing_wait_for_the_pacer_too(
    client: httpx.AsyncClient, script: UpstreamScript, vclock: VirtualClock
) -> None:
    script_listing(script, Reply(500), Reply.xml(rss_listing([])))
    result: FetchResult = await make_source(client, vclock).fetch_listing()
    assert result.ok and gaps(script.requests) == [3.0]
