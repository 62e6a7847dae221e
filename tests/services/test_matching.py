"""One matching pass for feeds and follows: exactly what checking each pair one by one gives.

The pass shares work between feeds and follows (each distinct query runs once, rules are row
sets), so these tests hold it to a plain per-pair reference, order included, and check the
follow rules (upvote floor, paused, one DM item per member and paper) directly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from bot.models import Feed, FeedOrigin, FeedSpec, Follow, Paper
from bot.query.compile import CompiledQuery
from bot.services.matching import (
    DmMatch,
    compile_feeds,
    compile_follows,
    feed_accepts,
    is_recent,
    match_everything,
    queue_matches,
)
from bot.store import open_store
from bot.store.matcher import BatchMatcher
from tests.factories import ARXIV, HUGGINGFACE, NOW, make_paper

WORDS = ["causal", "diffusion", "graph", "neural", "flow", "robot", "survey", "language"]
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "stat.ML", "math.ST", "hep-th", "cs"]


def reference(
    feeds: Sequence[tuple[Feed, CompiledQuery]],
    follows: Sequence[tuple[Follow, CompiledQuery]],
    papers: Sequence[Paper],
) -> tuple[list[tuple[int, str]], list[DmMatch]]:
    """Every feed and follow on its own, every matched paper checked one at a time."""
    recent = [p for p in papers if is_recent(p, NOW)]
    by_id = {p.id: p for p in recent}
    pairs: list[tuple[int, str]] = []
    found: dict[tuple[int, str], tuple[Follow, int]] = {}
    with BatchMatcher(recent) as matcher:
        for feed, compiled in feeds:
            pairs += [(feed.id, i) for i in matcher.match(compiled) if feed_accepts(feed, by_id[i])]
        for follow, compiled in follows:
            for paper_id in matcher.match(compiled):
                if (by_id[paper_id].upvotes or 0) < follow.min_upvotes:
                    continue
                seen = found.get((follow.user_id, paper_id))
                if seen is None:
                    found[(follow.user_id, paper_id)] = (follow, 1)
                else:
                    instant = follow.mode == "instant" and seen[0].mode != "instant"
                    found[(follow.user_id, paper_id)] = (
                        follow if instant else seen[0],
                        seen[1] + 1,
                    )
    dms = [(u, p, f.id, f.mode, n) for (u, p), (f, n) in found.items()]
    return pairs, dms


def random_world(seed: int) -> tuple[list[Paper], list[Feed], list[Follow]]:
    """Papers, feeds and follows that share queries, categories, sources and upvote floors."""
    rng = random.Random(seed)
    papers = [
        make_paper(
            n,
            title=" ".join(rng.choices(WORDS, k=4)),
            abstract=" ".join(rng.choices(WORDS, k=12)),
            categories=tuple(rng.sample(CATEGORIES[:6], rng.randint(0, 2))),
            sources=rng.choice([ARXIV, HUGGINGFACE, ARXIV | HUGGINGFACE]),
            upvotes=rng.choice([None, 0, 3, 10, 50]),
            published=NOW - timedelta(days=rng.choice([0, 1, 6, 8])),  # 8 days: not news
        )
        for n in range(1, 61)
    ]
    queries = [
        *WORDS,
        "graph neural",
        '"neural flow"',
        "(causal OR robot) -survey",
        "diffusion cat:cs.LG",
        "cat:stat",
        "language -cat:cs",
        "title:graph",
        "robo*",
        "cat:nowhere",
    ]
    feeds = [
        Feed(
            id=n,
            spec=FeedSpec(
                name=f"f{n}",
                channel_id=n,
                query=rng.choice(queries),
                categories=tuple(rng.sample(CATEGORIES, rng.choice([0, 0, 1, 2]))),
                sources=rng.choice([("huggingface", "arxiv"), ("arxiv",), ("huggingface",)]),
                min_upvotes=rng.choice([0, 0, 5, 10]),
            ),
            guild_id=1,
            origin=FeedOrigin.DISCORD,
        )
        for n in range(1, 41)
    ]
    follows = [
        Follow(
            id=n,
            user_id=rng.randint(1, 25),  # members with one follow, and with several interleaved
            name=f"w{n}",
            query=rng.choice(queries),
            mode=rng.choice(["daily", "instant"]),
            min_upvotes=rng.choice([0, 0, 3, 10]),
        )
        for n in range(1, 41)
    ]
    return papers, feeds, follows


def test_the_pass_is_exactly_the_pair_by_pair_reference() -> None:
    checked = 0
    for seed in range(25):
        papers, feeds, follows = random_world(seed)
        if seed % 5 == 0:
            papers += papers[:10]  # the same paper twice in a batch
        compiled_feeds, compiled_follows = compile_feeds(feeds), compile_follows(follows)
        expected = reference(compiled_feeds, compiled_follows, papers)
        assert match_everything(compiled_feeds, compiled_follows, papers, NOW) == expected
        checked += len(expected[0]) + len(expected[1])
    assert checked > 500  # the worlds are not empty


def test_a_shared_query_reaches_every_feed_and_follow_with_its_own_rules() -> None:
    papers = [
        make_paper(1, title="Causal graphs", upvotes=2),
        make_paper(2, title="Causal flows", upvotes=20, categories=("stat.ML",)),
        make_paper(3, title="Robots", upvotes=90),
    ]
    spec = FeedSpec(name="a", channel_id=1, query="causal")
    feeds = [
        Feed(id=1, spec=spec, guild_id=1, origin=FeedOrigin.DISCORD),
        Feed(id=2, spec=replace(spec, min_upvotes=10), guild_id=1, origin=FeedOrigin.DISCORD),
        Feed(id=3, spec=replace(spec, categories=("stat",)), guild_id=2, origin=FeedOrigin.CONFIG),
        Feed(
            id=4, spec=replace(spec, sources=("huggingface",)), guild_id=2, origin=FeedOrigin.CONFIG
        ),
    ]
    follows = [
        Follow(id=1, user_id=7, name="c", query="causal"),
        Follow(id=2, user_id=8, name="c", query="causal", min_upvotes=10, mode="instant"),
        Follow(id=3, user_id=7, name="c2", query="Causal", mode="instant"),
    ]
    shared: dict[str, CompiledQuery] = {}
    compiled_feeds, compiled_follows = (
        compile_feeds(feeds, shared),
        compile_follows(follows, shared),
    )
    assert sorted(shared) == ["Causal", "causal"]  # compiled once each, for feeds and follows
    assert all(c is shared["causal"] for _, c in [*compiled_feeds, *compiled_follows[:2]])
    pairs, dms = match_everything(compiled_feeds, compiled_follows, papers, NOW)
    p1, p2 = make_paper(1).id, make_paper(2).id
    assert pairs == [(1, p1), (1, p2), (2, p2), (3, p2)]
    # Member 7: both follows match both papers, once each, the instant follow wins.
    assert dms == [(7, p1, 3, "instant", 2), (7, p2, 3, "instant", 2), (8, p2, 2, "instant", 1)]


def test_an_unusable_query_is_skipped_and_the_others_still_match() -> None:
    follows = [
        Follow(id=1, user_id=7, name="bad", query="cat:not/a/category"),
        Follow(id=2, user_id=7, name="ok", query="causal"),
    ]
    compiled = compile_follows(follows)
    assert [f.id for f, _ in compiled] == [2]
    _, dms = match_everything([], compiled, [make_paper(1, title="Causal")], NOW)
    assert dms == [(7, make_paper(1).id, 2, "daily", 1)]


async def test_paused_follows_are_not_matched(tmp_path: Path) -> None:
    async with open_store(str(tmp_path / "m.sqlite3"), clock=lambda: NOW) as store:
        await store.follows.add(7, "c", "causal", mode="daily", time="08:00", min_upvotes=0)
        paused = await store.follows.add(
            8, "c", "causal", mode="daily", time="08:00", min_upvotes=0
        )
        await store.follows.set_paused(paused.id, True, "paused by you")
        paper = make_paper(1, title="Causal")
        await store.papers.upsert([paper])
        await queue_matches(store, [paper.id], NOW)
        assert [(i.user_id, i.paper_id) for i in await store.dms.items()] == [(7, paper.id)]
