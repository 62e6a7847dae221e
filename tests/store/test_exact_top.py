"""The exact top-k cut of the search index, on made-up pools: always the exhaustive ranking."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import pytest

from bot.store.search_index import (
    Candidate,
    Fetch,
    Hit,
    exact_top,
    order_key,
    recency,
    recent_enough,
)

NOW = 1_800_000_000.0
DAY = 86_400


def matches(n: int, seed: int, spread: float, years: float) -> list[Hit]:
    """BM25 within `spread` of 40 (ties included), appearances over `years` before NOW."""
    rng = random.Random(seed)
    hits = [
        (
            round(40.0 - rng.random() * spread, 2),
            int(NOW - rng.random() * years * 365 * DAY),
            pk,
        )
        for pk in range(1, n + 1)
    ]
    return sorted(hits, key=lambda h: -h[0])  # the engine's order: BM25 only


def exhaustive(hits: Sequence[Hit], wanted: int) -> list[int]:
    every = [Candidate(pk, b, at) for b, at, pk in hits]
    return [c.pk for c in sorted(every, key=lambda c: order_key(NOW, c))[:wanted]]


def engine(hits: Sequence[Hit], log: list[str]) -> tuple[Fetch, Callable[[int], Fetch]]:
    def fetch(start: int, stop: int) -> Sequence[Hit]:
        log.append(f"all {start}:{stop}")
        return hits[start:stop]

    def since(at: int) -> Fetch:
        recent = [h for h in hits if h[1] >= at]

        def fetch_recent(start: int, stop: int) -> Sequence[Hit]:
            log.append(f"since {start}:{stop}")
            return recent[start:stop]

        return fetch_recent

    return fetch, since


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("spread", "years"), [(0.5, 3.0), (3.0, 0.5), (20.0, 10.0), (0.0, 2.0)])
@pytest.mark.parametrize("wanted", [1, 10, 25])
def test_the_recent_band_gives_the_exhaustive_ranking(
    seed: int, spread: float, years: float, wanted: int
) -> None:
    hits = matches(3_000, seed, spread, years)
    log: list[str] = []
    fetch, since = engine(hits, log)
    for pool in (5, 50, 500):
        top, _ = exact_top(fetch, now=NOW, wanted=wanted, first_pool=pool, since=since)
        assert [c.pk for c in top] == exhaustive(hits, wanted), (pool, log)
        plain, _ = exact_top(fetch, now=NOW, wanted=wanted, first_pool=pool)
        assert [c.pk for c in plain] == [c.pk for c in top]


def test_close_scores_are_settled_by_a_small_pool_and_the_recent_band() -> None:
    """Where recency decides (BM25 within 2 %), the band replaces a pool of thousands."""
    hits = matches(20_000, 3, 0.8, 4.0)
    log: list[str] = []
    fetch, since = engine(hits, log)
    top, _ = exact_top(fetch, now=NOW, wanted=10, first_pool=200, since=since)
    assert [c.pk for c in top] == exhaustive(hits, 10)
    assert log[0] == "all 0:200" and all(entry.startswith("since") for entry in log[1:])
    log.clear()
    exact_top(fetch, now=NOW, wanted=10, first_pool=200)
    assert int(log[-1].split(":")[-1]) > 2_000  # without it, the pool grows past 2,000


@pytest.mark.parametrize("beaten", [40.5, 41.0, 42.0, 43.9])
def test_matches_older_than_the_cutoff_stay_below_the_score_to_beat(beaten: float) -> None:
    ceiling = 40.0
    cutoff = recent_enough(NOW, beaten, ceiling)
    assert cutoff is not None
    assert ceiling * recency(NOW, cutoff - 1) < beaten
    assert ceiling * recency(NOW, cutoff + 2 * DAY) >= beaten or cutoff + 2 * DAY > NOW


def test_no_cutoff_when_recency_cannot_separate() -> None:
    assert recent_enough(NOW, 40.0, 40.0) is None  # equal BM25: every age can tie
    assert recent_enough(NOW, 39.0, 40.0) is None
    assert recent_enough(NOW, 1.0, 0.0) is None
