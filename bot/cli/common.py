"""Helpers shared by the command modules: output, argument types, paper documents."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from bot.config import Config, parse_duration
from bot.models import Paper

Handler = Callable[[argparse.Namespace, Config], Coroutine[Any, Any, int]]


def positive_int(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("expected a number from 1 to 1000")
    return value


def duration_arg(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a duration like "7d", got "{text}"') from None


def emit(data: Any) -> None:
    """Print exactly one JSON document on stdout."""
    print(json.dumps(data, ensure_ascii=False, indent=2))


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def paper_summary(paper: Paper, score: float | None = None) -> dict[str, Any]:
    """The compact form used by `search --json`."""
    out: dict[str, Any] = {
        "id": paper.id,
        "title": paper.title,
        "authors": list(paper.authors),
        "published": iso(paper.published),
        "upvotes": paper.upvotes,
        "url": paper.url,
    }
    if score is not None:
        out["score"] = round(score, 4)
    return out


def paper_document(paper: Paper) -> dict[str, Any]:
    """The full paper object printed by `show --json`."""
    return {
        "id": paper.id,
        "version": paper.version_label,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "categories": list(paper.categories),
        "published": iso(paper.published),
        "updated": iso(paper.updated),
        "links": paper.links(),
        "upvotes": paper.upvotes,
        "comments": paper.num_comments,
        "stars": paper.github_stars,
        "sources": sorted(paper.sources),
        "doi": paper.doi,
        "journal_ref": paper.journal_ref,
        "arxiv_comments": paper.comments,
        "ai_summary": paper.ai_summary,
        "ai_keywords": list(paper.ai_keywords),
        "thumbnail": paper.thumbnail,
        "organization": paper.organization,
        "first_seen": iso(paper.first_seen),
    }
