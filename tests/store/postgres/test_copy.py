"""`paperfeed db copy --to URL`: everything crosses, twice adds nothing, the copy posts nothing again."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.models import DeliveryState, FeedMode, FeedSpec, SourceRun
from bot.query import compile_query
from bot.services.feeds import create_feed
from bot.services.poller import Poller
from bot.services.publisher import Publisher, RateLimiter
from bot.sources.base import FetchResult
from bot.store import open_store
from bot.store.postgres.database import open_postgres
from tests.factories import NOW, FakeClock
from tests.services.test_poller import ScriptedSource
from tests.services.test_publisher import FakeTarget, body, digest, no_sleep
from tests.store.contract.support import paper

PAPERS = [
    paper("2611.00001", "Causal discovery at scale", upvotes=12),
    paper("2611.00002", "Diffusion for video", abstract="Causal video models."),
    paper("2611.00003", "Graph networks", categories=("stat.ML",)),
    paper("hep-th/9901001", "Old strings", published=NOW - timedelta(days=9000)),
]


async def make_sqlite_store(path: Path) -> None:
    """A store that has been running: papers, two feeds, deliveries sent and pending, runs."""
    clock = FakeClock()
    async with open_store(str(path), clock=clock) as store:
        await store.papers.upsert(PAPERS)
        causal, _ = await create_feed(
            store, FeedSpec(name="causal", channel_id=11, query="causal", backfill=0),
            guild_id=5, now=NOW,
        )  # fmt: skip
        weekly, _ = await create_feed(
            store,
            FeedSpec(name="weekly", channel_id=12, query="graph", mode=FeedMode.DIGEST, backfill=0),
            guild_id=5, now=NOW,
        )  # fmt: skip
        await store.outbox.queue([(causal.id, "2611.00001"), (causal.id, "2611.00002"),
                                  (weekly.id, "2611.00003")])  # fmt: skip
        sent = await store.outbox.deliveries(feed_id=causal.id)
        await store.outbox.mark_sending([d.id for d in sent], "n", NOW)
        await store.outbox.mark_sent([d.id for d in sent], 777, NOW)
        (pending,) = await store.outbox.deliveries(feed_id=weekly.id)
        await store.outbox.mark_skipped([pending.id], "digest over-filled")
        await store.sources.record_run(SourceRun("arxiv", NOW, NOW, fetched=4, new=4))
        await store.sources.set_state("arxiv", "etag", '"abc"')
        await store.sources.mark_listings_seen("arxiv", ["arxiv/cs.LG"], NOW)
        await store.sources.note_warnings("arxiv", ["odd item"], NOW)
        mine = await store.follows.add(9, "causal", "causal", mode="instant")
        await store.dms.queue([(9, "2611.00001", mine.id, "instant", 1)])
        (owed,) = await store.dms.items()
        await store.dms.plan([("dm-n", [owed.id])], {"dm-n": "**New papers**"})
        await store.follows.set_notice(9, "DMs closed")
        # Vectors of two models, the later write of 00003 last: its seq order must survive.
        await store.vectors.put(
            "m@1", [("2611.00003", bytes(range(16))), ("2611.00001", b"a" * 16)]
        )
        await store.vectors.put("m@2", [("2611.00002", b"b" * 16)])
        await store.vectors.put("m@1", [("2611.00003", b"c" * 16)])


async def copy(config: Path, url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    """The command as a user runs it (its own event loop, so on a thread of its own)."""
    argv = ["--config", str(config), "db", "copy", "--to", url, "--json"]
    assert await asyncio.to_thread(main, argv) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


async def test_copy_moves_everything_twice_adds_nothing_and_the_copy_posts_nothing_again(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "p.sqlite3"
    await make_sqlite_store(db)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{db}"\n')
    first = await copy(config, postgres_url, capsys)
    assert first["ok"] is True
    tables = first["tables"]
    assert isinstance(tables, dict)
    assert all(t["sqlite"] == t["postgresql"] == t["added"] for t in tables.values()), tables
    assert tables["papers"]["sqlite"] == 4 and tables["deliveries"]["sqlite"] == 3
    second = await copy(config, postgres_url, capsys)
    assert second["ok"] is True
    assert all(t["added"] == 0 for t in second["tables"].values())  # type: ignore[union-attr]

    async with open_store(str(db)) as lite, open_postgres(postgres_url) as pg:
        ids = [p.id for p in PAPERS]
        assert await pg.papers.get_many(ids) == await lite.papers.get_many(ids)
        assert await pg.feeds.list() == await lite.feeds.list()
        assert await pg.outbox.deliveries() == await lite.outbox.deliveries()
        assert await pg.follows.list() == await lite.follows.list()
        assert await pg.dms.items() == await lite.dms.items()
        assert await pg.dms.message_plans(["dm-n"]) == await lite.dms.message_plans(["dm-n"])
        assert tables["dm_messages"]["postgresql"] == 1
        assert tables["follows"]["postgresql"] == tables["dm_members"]["postgresql"] == 1
        assert await pg.sources.runs("arxiv") == await lite.sources.runs("arxiv")
        assert tables["paper_vectors"]["postgresql"] == 3
        for model in ("m@1", "m@2"):
            assert await pg.vectors.get(model, ids) == await lite.vectors.get(model, ids)
            assert [(i, v) for _, i, v in await pg.vectors.written_after(model, 0)] == [
                (i, v) for _, i, v in await lite.vectors.written_after(model, 0)
            ]
        assert await pg.vectors.count_missing("m@1") == 2
        assert await pg.sources.get_state("arxiv", "etag") == '"abc"'
        assert await pg.sources.seen_listings("arxiv", ["arxiv/cs.LG", "arxiv/cs.CV"]) == {
            "arxiv/cs.LG"
        }
        assert await pg.sources.note_warnings("arxiv", ["odd item"], NOW) == set()
        for text in ("causal", "cat:stat.ML", "title:graph OR strings"):
            query = compile_query(text)
            want = [h.paper.id for h in (await lite.papers.search(query)).hits]
            assert [h.paper.id for h in (await pg.papers.search(query)).hits] == want, text
        # New rows get new ids after the copied ones.
        new = await pg.feeds.add(FeedSpec(name="new", channel_id=13, query="x"), guild_id=5)
        assert new.id > max(f.id for f in await lite.feeds.list())

    # The bot on the copy: the same poll queues nothing, and nothing is posted again.
    clock = FakeClock()
    clock.now = NOW + timedelta(hours=1)
    async with open_postgres(postgres_url, clock=clock) as pg:
        hf = ScriptedSource("huggingface")
        hf.next = FetchResult([replace(p, sources=frozenset({"huggingface"})) for p in PAPERS])
        reports = await Poller(pg, [hf], clock).poll_all()
        assert [(r.error, r.queued) for r in reports] == [(None, 0)]
        target = FakeTarget()
        publisher = Publisher(pg, target, body, clock, build_digest=digest,
                              limiter=RateLimiter(sleep=no_sleep), rand=lambda: 0.5)  # fmt: skip
        await publisher.reconcile()
        await publisher.publish_due()
        await publisher.publish_digests()
        assert target.posts == {}
        states = {d.paper_id: d.state for d in await pg.outbox.deliveries()}
        assert states["2611.00001"] is DeliveryState.SENT


def test_copy_needs_a_postgresql_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    monkeypatch.delenv("PAPERFEED_DATABASE_URL", raising=False)
    assert main(["db", "copy"]) == 2
    assert "--to postgresql://" in capsys.readouterr().err
    assert main(["db", "copy", "--to", "mysql://u:SECRET@h/d"]) == 2
    err = capsys.readouterr().err
    assert "expected a URL like" in err and "SECRET" not in err
