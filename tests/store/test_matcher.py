"""The batch matcher agrees with search, handles categories alone, and is fast enough."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings

from bot.errors import QueryError, StoreError
from bot.models import Paper
from bot.query.compile import CompiledQuery, compile_query
from bot.services.matching import category_fits
from bot.store.matcher import BatchMatcher
from tests.test_query import PAPERS, PROPERTY_SETTINGS, grammar_text, run
from tests.test_query import db as db  # the real-schema index, shared as a fixture


@pytest.fixture(scope="module")
def matcher() -> Iterator[BatchMatcher]:
    with BatchMatcher(PAPERS) as m:
        yield m


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("causal", ("p01", "p02", "p03", "p11")),
        ('"language model"', ("p04",)),
        ("(diffusion OR flow) -survey", ("p06", "p07")),
        ('author:"Yoshua Bengio"', ("p01", "p10")),
        ("transform*", ("p08", "p09")),
        ("model cat:cs.CL", ("p04", "p05")),
        ("cat:cs.LG", ("p01", "p07", "p08")),
        ("cat:stat", ("p01", "p03", "p12")),
        ("learning -cat:cs", ("p12",)),
        ("nothing-like-this", ()),
    ],
)
def test_matches_in_batch_order(
    matcher: BatchMatcher, text: str, expected: tuple[str, ...]
) -> None:
    assert matcher.match(compile_query(text)) == expected


@settings(PROPERTY_SETTINGS)
@given(text=grammar_text)
def test_agrees_with_search_on_the_real_schema(
    db: sqlite3.Connection, matcher: BatchMatcher, text: str
) -> None:
    try:
        compiled = compile_query(text)
    except QueryError:
        return
    assert set(matcher.match(compiled)) == run(db, compiled)


def test_match_all_keeps_the_callers_keys(matcher: BatchMatcher) -> None:
    queries = {
        1: compile_query("causal"),
        2: compile_query("causal"),
        3: compile_query("cat:hep-th"),
    }
    assert matcher.match_all(queries) == {
        1: ("p01", "p02", "p03", "p11"),
        2: ("p01", "p02", "p03", "p11"),
        3: ("p11",),
    }


def test_an_empty_batch_matches_nothing() -> None:
    with BatchMatcher([]) as m:
        assert m.match(compile_query("causal")) == ()
        assert m.match(compile_query("cat:cs")) == ()


def test_a_broken_expression_is_a_store_error_not_a_crash(matcher: BatchMatcher) -> None:
    with pytest.raises(StoreError, match="bug"):
        matcher.match(CompiledQuery(fts='title : ("causal"'))


async def test_can_be_built_and_used_from_worker_threads() -> None:
    m = await asyncio.to_thread(BatchMatcher, PAPERS)
    try:
        assert await asyncio.to_thread(m.match, compile_query("flow")) == ("p07", "p12")
    finally:
        m.close()


def synthetic_batch(rng: random.Random, vocab: list[str], size: int) -> list[Paper]:
    """Papers with realistic lengths: a 10-word title, 4 authors, a 150-word abstract."""
    categories = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "math.ST", "hep-th", "q-bio.NC"]
    return [
        Paper(
            id=f"2401.{n:05d}",
            title=" ".join(rng.choices(vocab, k=10)),
            authors=tuple(f"Ann{rng.randrange(300)} Lee{rng.randrange(300)}" for _ in range(4)),
            abstract=" ".join(rng.choices(vocab, k=150)),
            categories=tuple(rng.sample(categories, 2)),
        )
        for n in range(size)
    ]


def synthetic_query(rng: random.Random, vocab: list[str]) -> str:
    """One of the shapes feeds use: words, phrases, groups, exclusions, fields, prefixes."""
    a, b, c, d = rng.sample(vocab, 4)
    return rng.choice(
        [
            f"{a} {b}",
            f'"{a} {b}"',
            f"({a} OR {b}) {c} -{d}",
            f"title:{a} cat:cs",
            f"{a[:3]}*",
            f'author:"Ann{rng.randrange(300)}" -cat:cs.CV',
            f"{a} OR {b} OR {c}",
            "cat:cs.LG",
        ]
    )


def test_ten_thousand_queries_against_a_thousand_papers() -> None:
    rng = random.Random(20240101)
    vocab = [f"word{n}" for n in range(3000)] + ["causal", "diffusion", "transformer", "flow"]
    papers = synthetic_batch(rng, vocab, 1000)
    queries = [compile_query(synthetic_query(rng, vocab)) for _ in range(10_000)]
    started = time.perf_counter()
    with BatchMatcher(papers) as m:
        results = [m.match(q) for q in queries]
    elapsed = time.perf_counter() - started
    print(f"\nBatchMatcher: 10,000 queries x 1,000 papers in {elapsed:.2f} s")
    by_id = {p.id: p for p in papers}
    for query, ids in zip(queries[:50], results[:50], strict=True):
        assert all(query.matches_categories(by_id[i].categories) for i in ids)
    assert any(results) and len(results) == 10_000


@pytest.mark.parametrize("text", ["causal", "cat:stat", "learning -cat:cs", "model cat:cs.CL"])
def test_rows_are_the_matches_by_row(matcher: BatchMatcher, text: str) -> None:
    query = compile_query(text)
    rows = matcher.rows(query)
    assert tuple(matcher.paper_ids[row] for row in sorted(rows)) == matcher.match(query)


@pytest.mark.parametrize(
    "wanted", [(), ("cs",), ("CS.lg", "stat"), ("stat.ML",), ("hep-th", "math"), ("nowhere",)]
)
def test_rows_in_follows_a_feeds_category_rule(
    matcher: BatchMatcher, wanted: tuple[str, ...]
) -> None:
    found = {matcher.paper_ids[row] for row in matcher.rows_in(wanted)}
    assert found == {p.id for p in PAPERS if category_fits(wanted, p.categories)}
    assert matcher.rows_in(wanted) is matcher.rows_in(list(wanted))  # built once a batch
