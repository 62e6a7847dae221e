"""A reusable harness for cluster drills: N `python -m bot run --role ...` processes on one
PostgreSQL database, against the loopback Discord and a fake arXiv whose listing grows.

    async with Cluster(tmp_path, fake, postgres_url, upstream.url) as cluster:
        a = await cluster.start("poller")
        c = await cluster.start("gateway,publisher", "--shards", "0-0", "--shard-count", "1")
        owner = await cluster.lease_owner("poll:arxiv")   # the process polling arXiv now
        await cluster.kill(owner)

Each process has its own folder for its output (`ClusterProcess.output()`); `__aexit__` kills
whatever still runs. `Cluster(..., claim_lease=5.0)` runs every process through
tests/cluster/short_claims.py, so a killed publisher's channels are free after 5 s, not 30.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import asyncpg

from tests.fakes.discord import FakeDiscord
from tests.fakes.upstreams import Recorded, Reply
from tests.reliability.support import BotProcess

ROOT = Path(__file__).resolve().parents[2]
CATEGORY = "cs.LG"
LISTING = f"/rss/{CATEGORY}"

_RSS_HEAD = """<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">
  <channel><title>{cat} updates on arXiv.org</title><link>http://rss.arxiv.org/rss/{cat}</link>
    <description>{cat} updates</description><pubDate>{date}</pubDate>
"""
_RSS_ITEM = """    <item><title>{title}</title><link>https://arxiv.org/abs/{id}</link>
      <description>arXiv:{id}v1 Announce Type: new
Abstract: Several processes share one database and post each paper once.</description>
      <guid isPermaLink="false">oai:arXiv.org:{id}v1</guid><category>{cat}</category>
      <pubDate>{date}</pubDate><arxiv:announce_type>new</arxiv:announce_type>
      <dc:creator>Rosa Delgado, Amir Haddad</dc:creator></item>
"""
_API_HEAD = """<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/x</id><title>arXiv Query</title><updated>{now}</updated>
  <opensearch:totalResults>{n}</opensearch:totalResults><opensearch:startIndex>0</opensearch:startIndex>
  <opensearch:itemsPerPage>{n}</opensearch:itemsPerPage>
"""
_API_ENTRY = """  <entry><id>http://arxiv.org/abs/{id}v1</id><title>{title}</title>
    <updated>{now}</updated><summary>Several processes share one database and post each paper once.</summary>
    <category term="{cat}" scheme="http://arxiv.org/schemas/atom"/>
    <published>{now}</published><arxiv:primary_category term="{cat}"/>
    <author><name>Rosa Delgado</name></author><author><name>Amir Haddad</name></author></entry>
"""


def drill_paper_id(n: int) -> str:
    return f"2612.{n:05d}"


class GrowingListing:
    """The arXiv listing of a live day: every fetch of it announces `per_fetch` more papers,
    up to `limit` (None: no limit); `freeze()` stops the growth. Serves the API's details too."""

    def __init__(self, per_fetch: int = 3) -> None:
        self.per_fetch = per_fetch
        self.limit: int | None = None
        self.shown = 0
        self.fetches: list[float] = []  # when each listing fetch came, on this process's clock

    def freeze(self) -> int:
        self.limit = self.shown
        return self.shown

    def ids(self) -> list[str]:
        return [drill_paper_id(n) for n in range(1, self.shown + 1)]

    def listing(self, request: Recorded) -> Reply:
        self.fetches.append(request.at)
        grown = self.shown + self.per_fetch
        self.shown = grown if self.limit is None else min(grown, self.limit)
        date = format_datetime(datetime.now(UTC))
        items = "".join(
            _RSS_ITEM.format(id=pid, title=f"Cluster drill paper {pid}", cat=CATEGORY, date=date)
            for pid in self.ids()
        )
        body = _RSS_HEAD.format(cat=CATEGORY, date=date) + items + "  </channel>\n</rss>\n"
        return Reply.xml(body, content_type="application/rss+xml")

    def details(self, request: Recorded) -> Reply:
        asked = set(request.query.get("id_list", "").split(",")) - {""}
        ids = [pid for pid in self.ids() if not asked or pid in asked]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        entries = "".join(
            _API_ENTRY.format(id=pid, title=f"Cluster drill paper {pid}", cat=CATEGORY, now=now)
            for pid in ids
        )
        return Reply.xml(_API_HEAD.format(n=len(ids), now=now) + entries + "</feed>\n")


def write_cluster_config(
    path: Path,
    fake: FakeDiscord,
    database_url: str,
    upstream_url: str,
    *,
    interval: str = "4s",
) -> Path:
    """One config for every process of the drill: PostgreSQL, the loopback Discord, arXiv from
    the fake upstream every `interval`, Hugging Face off, no health port."""
    path.write_text(
        f'[discord]\napi_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
        f'[database]\nurl = "{database_url}"\n'
        "[sources.huggingface]\nenabled = false\n"
        f'[sources.arxiv]\ncategories = ["{CATEGORY}"]\nrss_url = "{upstream_url}/rss"\n'
        f'api_url = "{upstream_url}/api/query"\ninterval = "{interval}"\n'
        "[health]\nport = 0\n"
        '[logging]\nlevel = "INFO"\n'
    )
    return path


class ClusterProcess(BotProcess):
    """One process of the cluster: `run --role ROLES [more args]`, output in its own folder."""

    def __init__(
        self, name: str, config: Path, token: str, workdir: Path, args: Sequence[str]
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(config, token, workdir, args)
        self.name = name

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


class Cluster:
    """Starts role processes on one config and database; kills what is left on exit."""

    def __init__(
        self,
        workdir: Path,
        fake: FakeDiscord,
        database_url: str,
        upstream_url: str,
        *,
        interval: str = "4s",
        claim_lease: float | None = None,
    ) -> None:
        self.workdir = workdir
        self.claim_lease = claim_lease  # seconds; None: the publishers' own (30 s)
        self.fake = fake
        self.database_url = database_url
        self.config = write_cluster_config(
            workdir / "cluster.toml", fake, database_url, upstream_url, interval=interval
        )
        self.processes: list[ClusterProcess] = []

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.gather(*(p.cleanup() for p in self.processes), return_exceptions=True)

    async def start(
        self, roles: str, *args: str, env: dict[str, str] | None = None
    ) -> ClusterProcess:
        """Start `run --role ROLES ARGS...`; `env` overrides variables (e.g. no token)."""
        name = f"{len(self.processes) + 1}-{roles.replace(',', '+')}"
        process = ClusterProcess(
            name, self.config, self.fake.token, self.workdir / name, ("--role", roles, *args)
        )
        if self.claim_lease is not None:
            process.module = "tests.cluster.short_claims"
            process.env["PAPERFEED_DRILL_CLAIM_LEASE"] = str(self.claim_lease)
            path = process.env.get("PYTHONPATH")
            process.env["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")
        process.env.update(env or {})
        self.processes.append(process)
        await process.start()
        return process

    async def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """Read the shared database from outside the processes."""
        conn = await asyncpg.connect(self.database_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def lease_owner(self, name: str) -> ClusterProcess | None:
        """The running process that holds lease `name` now, if any."""
        rows = await self.query(
            "SELECT owner FROM cluster_leases WHERE name = $1 AND expires_at > now()", name
        )
        return self.by_owner(str(rows[0]["owner"])) if rows else None

    async def claim_owner(self, channel_id: int) -> ClusterProcess | None:
        """The running publisher that holds channel `channel_id`'s claim now, if any."""
        rows = await self.query(
            "SELECT owner FROM channel_claims WHERE channel_id = $1 AND expires_at > now()",
            channel_id,
        )
        return self.by_owner(str(rows[0]["owner"])) if rows else None

    def by_owner(self, owner: str) -> ClusterProcess | None:
        """The running process an owner column names (`host:pid`, or `host:pid:...`)."""
        pid = int(owner.split(":")[1])
        return next((p for p in self.processes if p.running and p.pid == pid), None)

    async def wait_for(self, predicate: Any, *, timeout: float, what: str) -> None:
        """Poll `predicate` (sync or async) every 0.1 s; fail with every process's tail."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return
            for p in self.processes:
                if p.proc is not None and p.proc.returncode not in (None, -9):
                    raise AssertionError(f"{p.name} exited ({p.proc.returncode}):\n{self.tails()}")
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n{self.tails()}")
            await asyncio.sleep(0.1)

    def tails(self, chars: int = 1500) -> str:
        return "\n".join(f"--- {p.name}\n{p.output()[-chars:]}" for p in self.processes)
