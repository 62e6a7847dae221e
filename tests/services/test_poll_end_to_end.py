"""`paperfeed poll` against loopback fakes of both upstreams: stored once, matched, queued, faults.

The upstreams are a real aiohttp server on 127.0.0.1 serving bodies in the documented shapes;
the program reaches them only through the configured `base_url`, `rss_url` and `api_url`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_services
from bot.config import Config, DatabaseConfig, parse_config_text
from bot.services.feeds import sync_config_feeds
from bot.sources.http import NO_RETRY
from bot.store import open_store
from tests.factories import make_paper
from tests.fakes.upstreams import FakeUpstreamServer, Reply, UpstreamScript
from tests.pg.fixtures import backend_params, database_config
from tests.sources.samples import hf_item

DAY1 = datetime(2026, 9, 18, 12, 0, tzinfo=UTC)
LISTING = "/rss/cs.LG+cs.CL"

RSS_HEAD = """<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">
  <channel><title>cs.LG updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs.LG</link>
    <description>cs.LG updates</description><pubDate>Fri, 18 Sep 2026 00:00:00 -0400</pubDate>
"""
RSS_ITEM = """    <item><title>{title}</title><link>https://arxiv.org/abs/{id}</link>
      <description>arXiv:{id}v{v} Announce Type: {kind}
Abstract: {abstract}</description>
      <guid isPermaLink="false">oai:arXiv.org:{id}v{v}</guid><category>cs.LG</category>
      <pubDate>Fri, 18 Sep 2026 00:00:00 -0400</pubDate><arxiv:announce_type>{kind}</arxiv:announce_type>
      <dc:creator>Rosa Delgado, Amir Haddad</dc:creator></item>
"""
API_HEAD = """<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/x</id><title>arXiv Query</title><updated>2026-09-18T04:10:00Z</updated>
  <opensearch:totalResults>{n}</opensearch:totalResults><opensearch:startIndex>0</opensearch:startIndex>
  <opensearch:itemsPerPage>{n}</opensearch:itemsPerPage>
"""
API_ENTRY = """  <entry><id>http://arxiv.org/abs/{id}v{v}</id><title>{title}</title>
    <updated>2026-09-17T10:00:00Z</updated><summary>{abstract}</summary>
    <category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <published>2026-09-16T10:00:00Z</published><arxiv:primary_category term="cs.LG"/>
    <author><name>Rosa Delgado</name></author><author><name>Amir Haddad</name></author></entry>
"""


@dataclass(frozen=True)
class Listed:
    id: str
    title: str
    abstract: str = "We propose a method and evaluate it."
    version: int = 1
    kind: str = "new"


def rss(papers: list[Listed]) -> str:
    items = "".join(
        RSS_ITEM.format(id=p.id, v=p.version, kind=p.kind, title=p.title, abstract=p.abstract)
        for p in papers
    )
    return RSS_HEAD + items + "  </channel>\n</rss>\n"


def api(papers: list[Listed]) -> str:
    entries = "".join(
        API_ENTRY.format(id=p.id, v=p.version, title=p.title, abstract=p.abstract) for p in papers
    )
    return API_HEAD.format(n=len(papers)) + entries + "</feed>\n"


def hf(pid: str, title: str, upvotes: int, day: str = "2026-09-18") -> dict[str, Any]:
    return hf_item(pid, title, upvotes=upvotes, submittedOnDailyAt=f"{day}T05:00:00.000Z",
                   summary="We propose a method and evaluate it.")  # fmt: skip


class Upstreams:
    """Scripts one 'day' of both upstreams."""

    def __init__(self, script: UpstreamScript) -> None:
        self.script = script

    def day(self, date: str, hf_items: list[dict[str, Any]], listed: list[Listed]) -> None:
        self.script.route("/api/daily_papers", Reply.json([]))
        self.script.route("/api/daily_papers", Reply.json(hf_items), query={"date": date, "p": 0})
        self.script.route("/api/daily_papers", Reply.json([]), query={"sort": "trending"})
        self.script.route(LISTING, Reply.xml(rss(listed), content_type="application/rss+xml"))
        self.script.route("/api/query", Reply.xml(api(listed)))


CONFIG = """
[database]
path = "{db}"
[sources.huggingface]
base_url = "{url}"
[sources.arxiv]
categories = ["cs.LG", "cs.CL"]
rss_url = "{url}/rss"
api_url = "{url}/api/query"
[[feeds]]
name = "causal"
channel_id = 111111111111111111
query = "causal"
[[feeds]]
name = "popular"
channel_id = 222222222222222222
query = "diffusion"
sources = ["huggingface"]
min_upvotes = 10
"""


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[FakeUpstreamServer, Upstreams]]:
    script = UpstreamScript()
    async with FakeUpstreamServer(script) as server:
        yield server, Upstreams(script)


@pytest.fixture(params=backend_params())
def dbconf(request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseConfig:
    """The store of a test that runs on both backends."""
    config: DatabaseConfig = database_config(request, request.param, tmp_path / "p.sqlite3")
    return config


def make_config(
    tmp_path: Path, url: str, database: DatabaseConfig | None = None
) -> tuple[Config, Path]:
    text = CONFIG.format(db=tmp_path / "p.sqlite3", url=url)
    path = tmp_path / "config.toml"
    path.write_text(text)
    config = parse_config_text(text, {}, str(path))
    return (replace(config, database=database) if database else config), path


async def poll(config: Config, now: datetime) -> list[dict[str, Any]]:
    async with open_services(config, clock=lambda: now, arxiv_spacing=0, retry=NO_RETRY) as s:
        await sync_config_feeds(s.store, config.feeds, now)
        reports = await s.poller.poll_all()
    return [r.__dict__ for r in reports]


async def queued(config: Config) -> dict[str, list[str]]:
    async with open_store(config.database) as store:
        out: dict[str, list[str]] = {}
        for feed in await store.feeds.list():
            out[feed.name] = [d.paper_id for d in await store.outbox.deliveries(feed_id=feed.id)]
        return out


async def test_two_days_of_polls(tmp_path: Path, upstream, dbconf: DatabaseConfig) -> None:  # type: ignore[no-untyped-def]
    server, up = upstream
    config, _ = make_config(tmp_path, server.url, dbconf)
    up.day(
        "2026-09-18",
        [hf("2609.00001", "Causal discovery with language models", 3),
         hf("2609.00002", "Video diffusion at scale", 4)],
        [Listed("2609.00001", "Causal discovery with language models"),
         Listed("2609.00003", "Graph transformers for molecules")],
    )  # fmt: skip
    first = await poll(config, DAY1)
    assert [(r["name"], r["fetched"], r["new"], r["error"]) for r in first] == [
        ("huggingface", 2, 2, None),
        ("arxiv", 2, 1, None),
    ]
    async with open_store(config.database) as store:
        assert await store.papers.count() == 3
        both = await store.papers.get("2609.00001")
        assert both is not None and both.sources == {"arxiv", "huggingface"}
        assert both.categories == ("cs.LG",) and both.published is not None
    assert await queued(config) == {"causal": ["2609.00001"], "popular": []}

    again = await poll(config, DAY1 + timedelta(minutes=20))
    assert [(r["new"], r["updated"]) for r in again] == [(0, 0), (0, 0)]

    # the next day: a new paper, more upvotes, a new version
    up.day(
        "2026-09-19",
        [hf("2609.00002", "Video diffusion at scale", 25, day="2026-09-18"),
         hf("2609.00004", "Causal representation learning", 1, day="2026-09-19")],
        [Listed("2609.00004", "Causal representation learning"),
         Listed("2609.00003", "Graph transformers for molecules", version=2, kind="replace")],
    )  # fmt: skip
    up.script.route("/api/daily_papers", Reply.json([hf("2609.00002", "Video diffusion at scale", 25)]),
                    query={"date": "2026-09-18", "p": 0})  # fmt: skip
    day2 = await poll(config, DAY1 + timedelta(days=1))
    by_name = {r["name"]: r for r in day2}
    assert by_name["huggingface"]["new"] == 1 and by_name["huggingface"]["updated"] == 1
    assert by_name["arxiv"]["updated"] >= 1  # the v2 replacement
    async with open_store(config.database) as store:
        v2 = await store.papers.get("2609.00003")
        assert v2 is not None and v2.version == 2
    assert await queued(config) == {
        "causal": ["2609.00001", "2609.00004"],
        "popular": ["2609.00002"],  # crossed min_upvotes=10 on day 2
    }


FAULTS = {
    "500": Reply(500, "oops"),
    "429": Reply(429, "slow down", {"Retry-After": "1"}),
    "html-200": Reply.html("<html><body>Service temporarily unavailable</body></html>"),
    "truncated": Reply(200, '[{"paper": {"id": "2609.0', {"Content-Type": "application/json"}),
    "not-an-array": Reply.json({"error": "something"}),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_a_hugging_face_fault_is_recorded_and_arxiv_still_stored(
    tmp_path: Path,
    upstream,  # type: ignore[no-untyped-def]
    fault: str,
    dbconf: DatabaseConfig,
) -> None:
    server, up = upstream
    config, _ = make_config(tmp_path, server.url, dbconf)
    up.day("2026-09-18", [], [Listed("2609.00010", "Causal something")])
    up.script.route("/api/daily_papers", FAULTS[fault], query={"date": "2026-09-18", "p": 0})
    reports = {r["name"]: r for r in await poll(config, DAY1)}
    assert reports["huggingface"]["error"]
    assert reports["arxiv"]["error"] is None and reports["arxiv"]["new"] == 1
    async with open_store(config.database) as store:
        assert (await store.sources.health("huggingface")).consecutive_failures == 1
        assert await store.papers.get("2609.00010") is not None


ARXIV_FAULTS = {
    "500": Reply(500, "oops"),
    "429": Reply(429, "slow down", {"Retry-After": "1"}),
    "html-200": Reply.html("<html><body>We are down for maintenance</body></html>"),
    "truncated": Reply.xml(
        rss([Listed("2609.00020", "Cut")])[:400], content_type="application/rss+xml"
    ),
    "malformed": Reply.xml(
        "<rss><channel><item><title>x</item></rss>", content_type="application/rss+xml"
    ),
}


@pytest.mark.parametrize("fault", sorted(ARXIV_FAULTS))
async def test_an_arxiv_fault_is_recorded_and_hugging_face_still_stored(
    tmp_path: Path,
    upstream,  # type: ignore[no-untyped-def]
    fault: str,
    dbconf: DatabaseConfig,
) -> None:
    server, up = upstream
    config, _ = make_config(tmp_path, server.url, dbconf)
    up.day("2026-09-18", [hf("2609.00030", "Kept paper", 2)], [])
    up.script.route(LISTING, ARXIV_FAULTS[fault])
    reports = {r["name"]: r for r in await poll(config, DAY1)}
    assert reports["arxiv"]["error"]
    assert reports["huggingface"]["error"] is None and reports["huggingface"]["new"] == 1
    async with open_store(config.database) as store:
        assert (await store.sources.health("arxiv")).last_error


async def test_paperfeed_poll_as_a_process_prints_json_and_exits_1_on_failure(
    tmp_path: Path,
    upstream,  # type: ignore[no-untyped-def]
) -> None:
    server, up = upstream
    _, config_path = make_config(tmp_path, server.url)
    up.day("2026-09-18", [], [])
    up.script.route("/api/daily_papers", Reply(404, "no"), query={"sort": "trending"})
    up.script.route(
        LISTING, Reply(503, "down"), Reply(503, "down"), Reply(503, "down"), Reply(503, "down")
    )

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config_path), "poll", "--json",
             "--source", "huggingface"],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "DISCORD_TOKEN": ""},
        )  # fmt: skip

    import asyncio

    proc = await asyncio.to_thread(run)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert [s["name"] for s in data["sources"]] == ["huggingface"]
    assert "404" in data["sources"][0]["error"]
    assert data["sources"][0]["consecutive_failures"] == 1
    assert data["sources"][0]["stale"] is False
    assert data["queued"] == 0


async def test_a_fresh_install_with_backfill_0_posts_only_what_is_new(
    tmp_path: Path,
    upstream,  # type: ignore[no-untyped-def]
) -> None:
    server, up = upstream
    text = CONFIG.format(db=tmp_path / "p.sqlite3", url=server.url) + "backfill = 0\n"
    text = text.replace('query = "causal"\n', 'query = "causal"\nbackfill = 0\n')
    config = parse_config_text(text, {}, str(tmp_path / "config.toml"))
    listed = [Listed(f"2609.{n:05d}", f"Causal study number {n}") for n in range(1, 25)]
    up.day("2026-09-18", [hf(f"2609.{n:05d}", f"Causal model {n}", 50) for n in range(40, 60)],
           listed)  # fmt: skip
    first = await poll(config, DAY1)
    assert sum(r["queued"] for r in first) == 0 and all(r["error"] is None for r in first)
    assert await queued(config) == {"causal": [], "popular": []}
    # something new appears on each source: that, and only that, is posted
    up.day("2026-09-18", [hf(f"2609.{n:05d}", f"Causal model {n}", 50) for n in range(40, 61)],
           [*listed, Listed("2609.00025", "Causal news")])  # fmt: skip
    await poll(config, DAY1 + timedelta(minutes=20))
    assert await queued(config) == {"causal": ["2609.00060", "2609.00025"], "popular": []}


async def test_paperfeed_poll_with_an_odd_item_exits_0_with_warnings(
    tmp_path: Path,
    upstream,  # type: ignore[no-untyped-def]
) -> None:
    server, up = upstream
    _, config_path = make_config(tmp_path, server.url)
    odd = hf_item("2609.00070", "An odd project page", projectPage="javascript:alert(1)")
    # the subprocess lives in today's real time: every day's list (and trending) shows both
    up.script.route("/api/daily_papers", Reply.json([odd, hf("2609.00071", "A fine one", 3)]),
                    query={"p": 0})  # fmt: skip

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config_path), "poll", "--json",
             "--source", "huggingface"],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "DISCORD_TOKEN": ""},
        )  # fmt: skip

    import asyncio

    for attempt in range(2):
        proc = await asyncio.to_thread(run)
        assert proc.returncode == 0, proc.stderr
        (source,) = json.loads(proc.stdout)["sources"]
        assert source["error"] is None and source["consecutive_failures"] == 0
        assert source["fetched"] == 2 and source["stale"] is False
        assert len(source["warnings"]) == 1 and "projectPage" in source["warnings"][0]
        # logged the first time only, not at every poll that meets it again
        assert proc.stderr.count("projectPage") == (1 if attempt == 0 else 0), proc.stderr


@pytest.mark.parametrize("enabled", [True, False])
async def test_follows_turned_off_are_neither_matched_nor_owed_dms(
    tmp_path: Path,
    upstream,  # type: ignore[no-untyped-def]
    enabled: bool,
) -> None:
    """`[follows] enabled = false` stops follows' DMs: polls and readers' look-ups queue none."""
    server, up = upstream
    text = CONFIG.format(db=tmp_path / "p.sqlite3", url=server.url)
    config = parse_config_text(f"{text}[follows]\nenabled = {str(enabled).lower()}\n", {}, "c")
    async with open_store(config.database) as store:
        await store.follows.add(7, "causal", "causal", mode="instant", time="08:00", min_upvotes=0)
    first = [Listed("2609.00001", "A study")]
    up.day("2026-09-18", [], first)
    await poll(config, DAY1)  # the listing's first poll: backlog, not news
    up.day("2026-09-18", [], [*first, Listed("2609.00003", "Causal news")])
    await poll(config, DAY1 + timedelta(minutes=20))
    async with open_services(config, clock=lambda: DAY1, arxiv_spacing=0, retry=NO_RETRY) as s:
        await s.library.keep([make_paper("2609.00002", title="Causal look-up", published=DAY1)])
        owed = [i.paper_id for i in await s.store.dms.items()]
    assert owed == (["2609.00003", "2609.00002"] if enabled else [])
    assert (await queued(config))["causal"] == ["2609.00003", "2609.00002"]  # feeds as before
