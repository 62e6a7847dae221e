"""Upstream faults, as a matrix at the poller level: both sources × nine faults × two pages.

Each case runs the composition `paperfeed run` uses (`open_services`: store, sources, poller,
the arXiv validator keeper) against a scripted upstream on a virtual clock, then checks that

1. the poll keeps running (returns a report, never raises);
2. whatever parsed is kept (the papers the fault did not touch are stored);
3. the failure is recorded (`store.sources.health`: last error, consecutive failures);
4. transient faults are retried with backoff, Retry-After honoured, all on the virtual clock;
5. the next poll, once the fault is gone, succeeds and resets consecutive failures;
6. the upstreams' limits hold even while retrying: arXiv ≥ 3 s between requests (one
   connection), Hugging Face far under 500 requests per 5 minutes.

Parser and fetcher details have their own tests in tests/sources/ (retries and Retry-After in
test_http.py, pacing in test_arxiv.py, item-level damage in test_*_parse.py); this file
checks the whole poll.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import Services, open_services
from bot.config import parse_config_text
from bot.sources.http import RetryPolicy
from tests.fakes.upstreams import Recorded, Reply, UpstreamScript, VirtualClock, mock_transport
from tests.reliability.support import record_figures
from tests.sources.samples import api_feed, hf_item, rss_listing

RETRY = RetryPolicy(attempts=4, base=2.0, cap=60.0, jitter=0.25)
RETRY_AFTER = 7  # seconds, in the scripted 429s
SPACING = 3.0  # arXiv: seconds between requests
HF_PAGE = 100  # the source's page size (the API's maximum)
DAY = "2026-09-18"  # VirtualClock's wall date
YESTERDAY = "2026-09-17"
LISTING = "/rss/cs.LG"
QUERY = "/api/query"
FAULTS = (
    "500",
    "429",
    "timeout",
    "html-200",
    "truncated",
    "malformed",
    "empty",
    "wrong-type",
    "no-id",
)
TRANSIENT = {"500", "429", "timeout"}
# Answers that are no failure: an empty page is a quiet day (weekends, holidays; the stale-
# source check watches for days without new ids), and a query-API date feedparser cannot read
# only drops that date. An empty query-API answer for listed ids is also taken quietly: the
# listed papers are kept without their submission times (see docs/reliability.md, gaps).
PAGES = ("first", "later")
QUIET = {
    ("huggingface", "empty", "first"),
    ("huggingface", "empty", "later"),
    ("arxiv", "empty", "first"),
    ("arxiv", "empty", "later"),
    ("arxiv", "wrong-type", "later"),
}
# Answers that are warnings of a poll that worked, not failures (issue 12): items skipped or
# fields ignored, and a failed enrichment of arXiv's listing (the query API), which never
# costs the listing. A source failed only when it gave no usable listing, or part of it.
WARNED = {
    *((source, fault, page) for source in ("huggingface", "arxiv")
      for fault in ("wrong-type", "no-id") for page in PAGES),
    *(("arxiv", fault, "later") for fault in FAULTS),
} - QUIET  # fmt: skip

CONFIG = """
[database]
path = "{db}"
[sources.huggingface]
base_url = "http://127.0.0.1:9"
[sources.arxiv]
categories = ["cs.LG"]
rss_url = "http://127.0.0.1:9/rss"
api_url = "http://127.0.0.1:9/api/query"
[[feeds]]
name = "everything"
channel_id = 111111111111111111
query = "study OR paper OR abstract"
"""


# ---- the bodies ------------------------------------------------------------------------------


def hf_ids(first: int, count: int) -> list[str]:
    return [f"2609.{n:05d}" for n in range(first, first + count)]


PAGE0 = hf_ids(1, HF_PAGE)  # a full page: the source asks for page 1
PAGE1 = hf_ids(101, 5)  # a short page: the day ends
LISTED = hf_ids(501, 5)  # the arXiv listing


def hf_body(ids: list[str]) -> list[dict[str, Any]]:
    return [hf_item(i, submittedOnDailyAt=f"{DAY}T05:00:00.000Z") for i in ids]


def api_for(request: Recorded) -> Reply:
    asked = [re.sub(r"v\d+$", "", i) for i in request.query["id_list"].split(",")]
    return Reply.xml(api_feed(asked))


def hf_fault(fault: str, ids: list[str]) -> tuple[Reply, set[str]]:
    """A faulty answer in place of a page of `ids`, and the ids it still carries."""
    items = hf_body(ids)
    if fault == "500":
        return Reply(500, "Internal Server Error"), set()
    if fault == "429":
        return Reply.json(
            {"error": "Too Many Requests"}, 429, {"Retry-After": str(RETRY_AFTER)}
        ), set()
    if fault == "timeout":
        return Reply(fail="timeout"), set()
    if fault == "html-200":
        return Reply.html("<html><title>Hugging Face is down</title><body>503</body></html>"), set()
    if fault == "truncated":
        text = json.dumps(items)
        return Reply(200, text[: len(text) // 2], {"Content-Type": "application/json"}), set()
    if fault == "malformed":
        return Reply(200, json.dumps(items).replace('"id":', "'id':", 3), {"Content-Type": "application/json"}), set()  # fmt: skip
    if fault == "empty":
        return Reply.json([]), set()
    if fault == "wrong-type":
        items[0]["paper"]["title"] = items[0]["title"] = 42  # required: the item is skipped
        items[1]["paper"]["upvotes"] = "lots"  # an optional one: the field is dropped
        return Reply.json(items), set(ids[1:])
    if fault == "no-id":
        del items[0]["paper"]["id"]
        return Reply.json(items), set(ids[1:])
    raise AssertionError(fault)


def arxiv_fault(fault: str, page: str) -> tuple[Reply, set[str]]:
    """A faulty listing ("first") or query-API answer ("later"), and the listed ids kept."""
    good = rss_listing(LISTED) if page == "first" else api_feed(LISTED)
    kind = "application/rss+xml" if page == "first" else "application/atom+xml"
    # a failed enrichment never costs the listing: every listed paper is kept, unenriched
    kept_if_broken = set() if page == "first" else set(LISTED)
    if fault == "500":
        return Reply(500, "oops"), kept_if_broken
    if fault == "429":
        return Reply(429, "slow down", {"Retry-After": str(RETRY_AFTER)}), kept_if_broken
    if fault == "timeout":
        return Reply(fail="timeout"), kept_if_broken
    if fault == "html-200":
        return Reply.html("<html><head><title>arXiv is down for maintenance</title></head></html>"), kept_if_broken  # fmt: skip
    if fault == "truncated":  # cut inside the third entry: the first two are complete
        marker = "</item>" if page == "first" else "</entry>"
        cut = _nth(good, marker, 2) + len(marker) + 40
        return Reply.xml(good[:cut], content_type=kind), set(LISTED) if page == "later" else set(LISTED[:2])  # fmt: skip
    if fault == "malformed":  # mismatched tags: the feed's title and the first paper's
        broken = good.replace("</title>", "</titel>", 2)
        return Reply.xml(broken, content_type=kind), set(LISTED[1:] if page == "first" else LISTED)
    if fault == "empty":
        empty = rss_listing([]) if page == "first" else api_feed([])
        return Reply.xml(empty, content_type=kind), kept_if_broken
    if fault == "wrong-type":
        if page == "first":  # an announce type that is no announce type: kept, reported
            return Reply.xml(good.replace(">new<", ">42<", 1), content_type=kind), set(LISTED)
        # a publication date that is no date: the entry is kept, the field dropped
        return Reply.xml(good.replace("2026-09-16T10:00:00Z", "last Tuesday", 1), content_type=kind), set(LISTED)  # fmt: skip
    if fault == "no-id":
        if page == "first":
            broken = re.sub(r"oai:arXiv\.org:2609\.00501v1", "oai:arXiv.org:nothing", good, count=1)
            broken = broken.replace("https://arxiv.org/abs/2609.00501", "https://arxiv.org/abs/", 1)
            broken = broken.replace("arXiv:2609.00501v1 Announce", "arXiv:? Announce", 1)
            return Reply.xml(broken, content_type=kind), set(LISTED[1:])
        broken = good.replace("http://arxiv.org/abs/2609.00501v1", "", 1)
        return Reply.xml(broken, content_type=kind), set(LISTED)
    raise AssertionError(fault)


def _nth(text: str, needle: str, n: int) -> int:
    at = -1
    for _ in range(n):
        at = text.index(needle, at + 1)
    return at


# ---- one case --------------------------------------------------------------------------------


@dataclass
class Upstream:
    script: UpstreamScript
    vclock: VirtualClock
    services: Services


@pytest.fixture
async def upstream(tmp_path: Path) -> AsyncIterator[Upstream]:
    vclock = VirtualClock()
    script = UpstreamScript(clock=vclock.clock, sleep=vclock.sleep)
    config = parse_config_text(CONFIG.format(db=tmp_path / "p.sqlite3"), {}, "config.toml")
    async with open_services(
        config, clock=vclock.wall, transport=mock_transport(script), arxiv_spacing=SPACING,
        retry=RETRY,
    ) as services:  # fmt: skip
        virtualise(services, vclock)
        from bot.services.feeds import sync_config_feeds

        await sync_config_feeds(services.store, config.feeds, vclock.wall())
        # a bot that has been running: both listings were seen, so what they bring is news
        listings = ["huggingface", *(f"arxiv/{c}" for c in config.sources.arxiv.categories)]
        for listing in listings:
            await services.store.sources.mark_listings_seen(
                listing.split("/")[0], [listing], vclock.wall()
            )
        yield Upstream(script, vclock, services)


def virtualise(services: Services, vclock: VirtualClock) -> None:
    """Put the sources' waits on the virtual clock (open_services takes a clock, not a sleep)."""
    assert services.huggingface is not None and services.arxiv is not None
    for fetcher in (services.huggingface._fetcher, services.arxiv._fetcher):
        fetcher._sleep = vclock.sleep
        fetcher._rand = lambda: 0.5
    services.arxiv.pacer._clock = vclock.clock
    services.arxiv.pacer._sleep = vclock.sleep


def script_good(script: UpstreamScript) -> None:
    script.route("/api/daily_papers", Reply.json([]))
    script.route("/api/daily_papers", Reply.json(hf_body(PAGE0)), query={"date": DAY, "p": 0})
    script.route("/api/daily_papers", Reply.json(hf_body(PAGE1)), query={"date": DAY, "p": 1})
    script.route(LISTING, Reply.xml(rss_listing(LISTED), content_type="application/rss+xml"))
    script.route(QUERY, api_for)


CASES = [(s, f, p) for s in ("huggingface", "arxiv") for f in FAULTS for p in PAGES]


@pytest.mark.parametrize(("source", "fault", "page"), CASES, ids=["-".join(c) for c in CASES])
async def test_upstream_fault_matrix(
    upstream: Upstream, source: str, fault: str, page: str
) -> None:
    script, vclock, services = upstream.script, upstream.vclock, upstream.services
    store = services.store
    script_good(script)
    # the fault replaces one answer; `kept` is what the faulty poll must still store
    if source == "huggingface":
        where: dict[str, Any] = {"date": DAY, "p": 0 if page == "first" else 1}
        reply, touched_kept = hf_fault(fault, PAGE0 if page == "first" else PAGE1)
        faulty = script.route("/api/daily_papers", reply, query=where)
        # a failed page ends the day's paging (a transient failure, the whole poll), so the
        # pages before it are kept, and the page after it only when the damage was per item
        kept = touched_kept | (set(PAGE0) if page == "later" else set())
        if page == "first" and fault in ("wrong-type", "no-id"):
            kept |= set(PAGE1)
        everything = set(PAGE0) | set(PAGE1)
    else:
        reply, kept = arxiv_fault(fault, page)
        faulty = script.route(LISTING if page == "first" else QUERY, reply)
        everything = set(LISTED)

    sleeps_before = len(vclock.sleeps)
    report = await services.poller.poll_source(source)  # 1. never raises
    sleeps = vclock.sleeps[sleeps_before:]
    requests = len(script.requests)

    # 2. what parsed is kept
    stored = {p.id for p in await store.papers.get_many(sorted(everything))}
    assert kept <= stored, f"lost {sorted(kept - stored)[:5]}"
    # 3. the failure is recorded (see QUIET for the answers that are no failure)
    health = await store.sources.health(source)
    if (source, fault, page) in QUIET:
        assert report.error is None and health.consecutive_failures == 0
    elif (source, fault, page) in WARNED:
        assert report.error is None and health.consecutive_failures == 0 and report.warnings
    else:
        assert report.error and health.consecutive_failures == 1 and health.last_error
    # 4. transient faults: every attempt used, waits on the virtual clock, Retry-After honoured
    if fault in TRANSIENT:
        assert faulty.hits == RETRY.attempts
        waits = sleeps if source == "huggingface" else [s for s in sleeps if s != SPACING]
        if fault == "429":
            assert RETRY_AFTER in sleeps and all(
                w == RETRY_AFTER for w in waits if w > SPACING + 0.5
            )
        else:
            backoffs = [RETRY.backoff(n, 0.5) for n in range(1, RETRY.attempts)]
            assert all(any(abs(s - b) < 1e-6 for s in sleeps) for b in backoffs), sleeps
    else:
        assert faulty.hits == 1  # an unusable 200 is not retried
    # 6. limits, while it retried
    assert_polite(script, source)

    # 5. the fault ends: the next poll stores everything and resets the failure count
    script_good(script)  # newest routes win: the good answers are back
    vclock.now += 20 * 60  # the next scheduled poll
    again = await services.poller.poll_source(source)
    assert again.error is None, again.error
    assert {p.id for p in await store.papers.get_many(sorted(everything))} == everything
    assert (await store.sources.health(source)).consecutive_failures == 0
    assert_polite(script, source)
    deliveries = await store.outbox.deliveries()
    assert len(deliveries) == len({d.paper_id for d in deliveries}) == len(everything)
    record_figures(
        f"upstream/{source}/{fault}/{page}",
        requests=requests, retries=faulty.hits - 1, sleeps=sleeps, error=report.error,
        recovered=True, kept=len(kept), stored=len(stored & everything),
    )  # fmt: skip


def assert_polite(script: UpstreamScript, source: str) -> None:
    """arXiv: ≥ 3 s between requests; Hugging Face: far under 500 requests per 5 minutes."""
    if source == "arxiv":
        times = [r.at for r in script.requests if r.path in (LISTING, QUERY)]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(g >= SPACING - 1e-9 for g in gaps), gaps
        assert script.max_in_flight == 1
    else:
        times = [r.at for r in script.requests if r.path == "/api/daily_papers"]
        worst = max((sum(1 for t in times if s <= t < s + 300) for s in times), default=0)
        assert worst <= 100, f"{worst} Hugging Face requests in 5 minutes"
