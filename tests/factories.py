"""The test suite's shared test data: one `NOW`, one settable clock, one paper and one feed factory,
so a change to `Paper` or `FeedSpec` is made here and not in every test module.

Each test still states the data it asserts on (a title it searches for, an upvote count it ranks
by) as overrides; the defaults are only what makes a valid, unremarkable object.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.models import FeedSpec, Paper

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday

ARXIV = frozenset({"arxiv"})
HUGGINGFACE = frozenset({"huggingface"})
BOTH = frozenset({"arxiv", "huggingface"})


class FakeClock:
    """The bot's UTC clock, standing still at `now` until a test sets or advances it."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move forward by a `timedelta(**delta)`, e.g. `advance(hours=2)`."""
        self.now += timedelta(**delta)


def paper_id(n: int, month: str = "2611") -> str:
    """The n-th new-style arXiv id of a month: `2611.00042`."""
    return f"{month}.{n:05d}"


def make_paper(ref: int | str = 1, /, **overrides: Any) -> Paper:
    """An arXiv paper published two hours before NOW; `ref` is a number (see paper_id) or an id."""
    base = Paper(
        id=paper_id(ref) if isinstance(ref, int) else ref,
        title=f"Paper {ref}",
        abstract="We study things.",
        version=1,
        authors=("A. Author",),
        categories=("cs.LG",),
        published=NOW - timedelta(hours=2),
        sources=ARXIV,
    )
    return replace(base, **overrides)


def make_feed_spec(name: str = "causal", channel_id: int = 1, **overrides: Any) -> FeedSpec:
    """A feed for `name` in `channel_id`, searching for its name unless `query` says otherwise."""
    return FeedSpec(name=name, channel_id=channel_id, **{"query": name, **overrides})
