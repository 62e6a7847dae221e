"""What the contract tests share: a settable clock and papers built in one line."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.models import Paper

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def paper(pid: str, title: str = "A paper", **kw: Any) -> Paper:
    """An arXiv paper published yesterday, with `kw` overriding any field."""
    base = Paper(
        id=pid,
        title=title,
        abstract="An abstract.",
        version=1,
        authors=("Ada Lovelace", "Alan Turing"),
        categories=("cs.LG", "cs.AI"),
        published=NOW - timedelta(days=1),
        sources=frozenset({"arxiv"}),
    )
    return replace(base, **kw)
