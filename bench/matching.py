"""Matching for one poll: `compile_feeds` + `match_batch` of new papers against many feeds,
then the same pass with as many personal follows beside the feeds (`match_everything`), and
the daily DM build for as many members (`daily_dms`).

Feed and follow queries are built from the corpus' own vocabulary, the way people write them.
The floor builds the same in-memory FTS5 table and runs each distinct compiled expression once.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import corpus as corpus_module
from bench.harness import Benchmark, Context, log, ratio, read_papers, timed
from bot.discord import dm_messages as dm_module
from bot.discord.dm_messages import dm_messages
from bot.models import Feed, FeedOrigin, FeedSpec, Follow, Paper
from bot.services.dm import DmPublisher
from bot.services.follows import FollowSettings
from bot.services.matching import compile_feeds, compile_follows, match_batch, match_everything
from bot.store import open_store


def make_feed_queries(count: int, seed: int) -> list[tuple[str, tuple[str, ...]]]:
    """Feed queries people would write, from the corpus' own vocabulary: (query, categories)."""
    rng = random.Random(f"feeds:{seed}")
    fields = {k: list(dict.fromkeys(v)) for k, v in corpus_module.FIELD_WORDS.items()}
    field_cats = {
        f: [c for c, _, cf in corpus_module.PRIMARY_CATEGORIES if cf == f] for f in fields
    }
    surnames = list(dict.fromkeys(corpus_module.SURNAMES))
    planted = [p.text for p in corpus_module.PLANTED.values()]

    def term(words: list[str]) -> str:
        # Feeds follow topics, not a field's most common words: skip the 20 most frequent.
        return words[rng.randrange(20, len(words))]

    out: list[tuple[str, tuple[str, ...]]] = []
    for _ in range(count):
        f = rng.choice(list(fields))
        w = fields[f]
        kind = rng.random()
        if kind < 0.30:  # words
            q = f"{term(w)} {term(w)}"
        elif kind < 0.45:  # a phrase
            q = f'"{term(w)} {term(w)}"'
        elif kind < 0.58:  # alternatives
            q = f"({term(w)} OR {term(w)} OR {term(w)}) {term(w)}"
        elif kind < 0.68:  # an exclusion
            q = f"{term(w)} {term(w)} -{rng.choice(['survey', 'review', term(w)])}"
        elif kind < 0.80:  # a category
            q = f"{term(w)} {term(w)} cat:{rng.choice(field_cats[f])}"
        elif kind < 0.86:  # a planted phrase or term with a topic word
            q = f'"{rng.choice(planted)}" {term(w)} {term(w)}'
        elif kind < 0.92:  # fields
            q = f'title:{term(w)} OR abstract:"{term(w)} {term(w)}"'
        elif kind < 0.96:  # an author on a topic
            q = f"author:{rng.choice(surnames)} {term(w)}"
        else:  # a prefix, leaving a category out
            q = f"{term(w)[:6]}* {term(w)} -cat:{rng.choice(field_cats[f])}"
        cats = (rng.choice(field_cats[f]),) if rng.random() < 0.1 else ()
        out.append((q, cats))
    return out


def _floor_match(papers: Sequence[Paper], expressions: Sequence[str]) -> int:
    """The same in-memory FTS5 table and each distinct compiled expression, nothing else."""
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE batch_fts USING fts5 (title, author_text, abstract, content = '', "
        "tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    conn.executemany(
        "INSERT INTO batch_fts (rowid, title, author_text, abstract) VALUES (?, ?, ?, ?)",
        [(i, p.title, ", ".join(p.authors), p.abstract) for i, p in enumerate(papers)],
    )
    hits = 0
    for expression in expressions:
        hits += len(
            conn.execute(
                "SELECT rowid FROM batch_fts WHERE batch_fts MATCH ?", (expression,)
            ).fetchall()
        )
    conn.close()
    return hits


def measure(ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    now = datetime.now(UTC)
    source = ctx.corpus(s.poll_papers, seed=ctx.seed + 2)
    papers = [
        replace(p, published=now - timedelta(hours=1 + i % 48))
        for i, p in enumerate(read_papers(source, s.poll_papers))
    ]
    feeds = [
        Feed(
            id=i + 1,
            spec=FeedSpec(name=f"feed-{i + 1}", channel_id=1000 + i, query=q, categories=cats),
            guild_id=1 + i % 50,
            origin=FeedOrigin.DISCORD,
        )
        for i, (q, cats) in enumerate(make_feed_queries(s.feeds, ctx.seed))
    ]
    compile_times: list[float] = []
    match_times: list[float] = []
    pairs: list[tuple[int, str]] = []
    compiled: list[Any] = []
    for _ in range(s.match_reps):
        started = time.perf_counter()
        compiled = compile_feeds(feeds)
        compile_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        pairs = match_batch(compiled, papers, now)
        match_times.append(time.perf_counter() - started)
    expressions = list(dict.fromkeys(c.fts for _, c in compiled if c.fts is not None))
    follows = make_follows(s.feeds, ctx.seed)
    both_times: list[float] = []
    both_cpu: list[float] = []
    dms: list[Any] = []
    for _ in range(s.match_reps):
        started, cpu = time.perf_counter(), time.process_time()
        shared: dict[str, Any] = {}  # as queue_matches: one compile per query text per pass
        compiled_feeds = compile_feeds(feeds, shared)
        compiled_follows = compile_follows(follows, shared)
        pairs_both, dms = match_everything(compiled_feeds, compiled_follows, papers, now)
        both_times.append(time.perf_counter() - started)
        both_cpu.append(time.process_time() - cpu)
    assert pairs_both == pairs  # follows change nothing for feeds
    both_s = statistics.median(both_times)
    log(
        f"matching with {len(follows)} follows: {both_s:.3f} s median, "
        f"{statistics.median(both_cpu):.3f} s CPU ({len(dms)} DM items)"
    )
    floor_times = [timed(lambda: _floor_match(papers, expressions)) for _ in range(s.match_reps)]
    totals = [a + b for a, b in zip(compile_times, match_times, strict=True)]
    total_s = statistics.median(totals)
    floor_s = statistics.median(floor_times)
    log(f"matching: {total_s:.3f} s median ({len(pairs)} pairs), floor {floor_s:.3f} s")
    return {
        "description": "compile_feeds + match_batch for one poll; floor = the same in-memory "
        "FTS5 table and each distinct compiled expression run once, nothing else",
        "papers": len(papers),
        "feeds": len(feeds),
        "usable_feeds": len(compiled),
        "distinct_expressions": len(expressions),
        "pairs": len(pairs),
        "reps": s.match_reps,
        "seconds": round(total_s, 4),
        "seconds_max": round(max(totals), 4),
        "compile_seconds": round(statistics.median(compile_times), 4),
        "match_seconds": round(statistics.median(match_times), 4),
        "floor_seconds": round(floor_s, 4),
        "ratio_vs_floor": ratio(total_s, floor_s),
        "follows": len(follows),
        "follow_members": len({f.user_id for f in follows}),
        "dm_items": len(dms),
        "with_follows_seconds": round(both_s, 4),
        "with_follows_seconds_max": round(max(both_times), 4),
        "with_follows_cpu_seconds": round(statistics.median(both_cpu), 4),
        "with_follows_first_seconds": round(both_times[0], 4),
        "with_follows_first_cpu_seconds": round(both_cpu[0], 4),
    }


def make_follows(count: int, seed: int) -> list[Follow]:
    """`count` personal follows over count/2 members (two each), daily and instant, some with
    an upvote floor, with queries written like the feeds' (another seed)."""
    rng = random.Random(f"follows:{seed}")
    return [
        Follow(
            id=i + 1,
            user_id=10_000 + i // 2,
            name=f"follow-{i + 1}",
            query=q,
            mode="instant" if rng.random() < 0.2 else "daily",
            min_upvotes=5 if rng.random() < 0.1 else 0,
        )
        for i, (q, _) in enumerate(make_feed_queries(count, seed + 1))
    ]


def measure_daily(ctx: Context) -> dict[str, Any]:
    """The daily DM build for `feeds` members, each owed 15 papers: who is due, their best
    papers, the messages (one embed a paper, Discord's limits) and the plan, committed."""
    s = ctx.settings
    members = s.feeds
    per_member = 15
    reps = max(1, min(s.match_reps, 3))
    source = ctx.corpus(s.poll_papers, seed=ctx.seed + 2)
    now = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    papers = [replace(p, published=now - timedelta(hours=2), upvotes=i % 97)
              for i, p in enumerate(read_papers(source, s.poll_papers))]  # fmt: skip
    rng = random.Random(f"daily:{ctx.seed}")

    async def one_run(folder: str) -> tuple[float, dict[str, Any]]:
        async with open_store(f"{folder}/daily.sqlite3", clock=lambda: now) as store:
            await store.papers.upsert(papers)
            conns = store.connections
            async with conns.transaction():
                await conns.writer.executemany(
                    "INSERT INTO follows (id, user_id, name, query, mode, time, created_at) "
                    "VALUES (?, ?, 'f', 'x', 'daily', '08:00', '2026-01-01T00:00:00Z')",
                    [(m + 1, 10_000 + m) for m in range(members)],
                )
            items = [
                (10_000 + m, p.id, m + 1, "daily", 1)
                for m in range(members)
                for p in rng.sample(papers, min(per_member, len(papers)))
            ]
            await store.dms.queue(items)  # type: ignore[arg-type]
            publisher = DmPublisher(store, _NoMessenger(), dm_messages, lambda: now,
                                    FollowSettings(daily_size=10))  # fmt: skip
            dm_module._cache.clear()  # cold: every paper's embed is built in the measurement
            started, cpu = time.perf_counter(), time.process_time()
            planned = await publisher.plan_daily(now)
            seconds = time.perf_counter() - started
            cpu_times.append(time.process_time() - cpu)  # both threads: loaded machines
            return seconds, {
                "messages": len(planned),
                "members_planned": len({m.user_id for m in planned}),
                "papers_planned": sum(len(m.items) for m in planned),
                "queued_items": len(items),
            }

    times: list[float] = []
    cpu_times: list[float] = []
    figures: dict[str, Any] = {}
    for _ in range(reps):
        with tempfile.TemporaryDirectory(dir=ctx.workdir) as folder:
            seconds, figures = asyncio.run(one_run(folder))
        times.append(seconds)
    median = statistics.median(times)
    log(
        f"daily DM build for {members} members: {median:.3f} s median, "
        f"{statistics.median(cpu_times):.3f} s CPU"
    )
    return {
        "description": "DmPublisher.plan_daily: members due, their 10 best of 15 queued papers, "
        "the DM messages (one embed a paper) and the plan committed; no floor",
        "members": members,
        "per_member": per_member,
        "reps": reps,
        "seconds": round(median, 4),
        "seconds_max": round(max(times), 4),
        "cpu_seconds": round(statistics.median(cpu_times), 4),
        **figures,
        "ratio_vs_floor": None,
    }


class _NoMessenger:
    """The build sends nothing."""

    async def send_dm(self, user_id: int, body: Any, *, nonce: str) -> Any:
        raise AssertionError("the build does not send")

    async def find_dm(self, user_id: int, nonce: str) -> Any:
        return None


BENCHMARK = Benchmark(
    "matching", "one poll: compile_feeds + match_batch of new papers against many feeds", measure
)
DAILY_BENCHMARK = Benchmark(
    "daily_dms",
    "the daily DM build for many members (plan_daily, messages included)",
    measure_daily,
)
