"""Matching for one poll: `compile_feeds` + `match_batch` of new papers against many feeds.

Feed queries are built from the corpus' own vocabulary, the way people write them. The floor
builds the same in-memory FTS5 table and runs each distinct compiled expression once.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import corpus as corpus_module
from bench.harness import Benchmark, Context, log, ratio, read_papers, timed
from bot.models import Feed, FeedOrigin, FeedSpec, Paper
from bot.services.matching import compile_feeds, match_batch


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
    }


BENCHMARK = Benchmark(
    "matching", "one poll: compile_feeds + match_batch of new papers against many feeds", measure
)
