"""Row ⇄ model conversion and timestamp formatting, kept apart from the queries themselves."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from bot.models import (
    Delivery,
    DeliveryState,
    Feed,
    FeedMode,
    FeedOrigin,
    FeedSpec,
    Paper,
)

PAPER_COLUMNS = (
    "id", "version", "title", "abstract", "authors", "author_text", "categories", "published",
    "updated", "doi", "journal_ref", "comments", "upvotes", "num_comments", "github_repo",
    "github_stars", "project_page", "ai_summary", "ai_keywords", "thumbnail", "organization",
    "hf_submitted_at", "sources", "first_seen", "changed_at",
)  # fmt: skip


def ts(value: datetime | None) -> str | None:
    """UTC, second precision, lexically sortable: the one timestamp format in the database."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # isoformat is several times faster than strftime, and imports write millions of these.
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value)  # "...Z" is UTC; fromisoformat reads it since 3.11


def paper_row(paper: Paper, first_seen: datetime, changed_at: datetime) -> tuple[Any, ...]:
    """The values for PAPER_COLUMNS, in order."""
    return (
        paper.id,
        paper.version,
        paper.title,
        paper.abstract,
        json.dumps(list(paper.authors), ensure_ascii=False),
        ", ".join(paper.authors),
        json.dumps(list(paper.categories)),
        ts(paper.published),
        ts(paper.updated),
        paper.doi,
        paper.journal_ref,
        paper.comments,
        paper.upvotes,
        paper.num_comments,
        paper.github_repo,
        paper.github_stars,
        paper.project_page,
        paper.ai_summary,
        json.dumps(list(paper.ai_keywords), ensure_ascii=False),
        paper.thumbnail,
        paper.organization,
        ts(paper.hf_submitted_at),
        ",".join(sorted(paper.sources)),
        ts(paper.first_seen or first_seen),
        ts(changed_at),
    )


def paper_from_row(row: sqlite3.Row) -> Paper:
    return Paper(
        id=row["id"],
        version=row["version"],
        title=row["title"],
        abstract=row["abstract"],
        authors=tuple(json.loads(row["authors"])),
        categories=tuple(json.loads(row["categories"])),
        published=parse_ts(row["published"]),
        updated=parse_ts(row["updated"]),
        doi=row["doi"],
        journal_ref=row["journal_ref"],
        comments=row["comments"],
        upvotes=row["upvotes"],
        num_comments=row["num_comments"],
        github_repo=row["github_repo"],
        github_stars=row["github_stars"],
        project_page=row["project_page"],
        ai_summary=row["ai_summary"],
        ai_keywords=tuple(json.loads(row["ai_keywords"])),
        thumbnail=row["thumbnail"],
        organization=row["organization"],
        hf_submitted_at=parse_ts(row["hf_submitted_at"]),
        sources=frozenset(s for s in row["sources"].split(",") if s),
        first_seen=parse_ts(row["first_seen"]),
    )


def feed_from_row(row: sqlite3.Row) -> Feed:
    spec = FeedSpec(
        name=row["name"],
        channel_id=row["channel_id"],
        query=row["query"],
        categories=tuple(json.loads(row["categories"])),
        sources=tuple(json.loads(row["sources"])),
        min_upvotes=row["min_upvotes"],
        mode=FeedMode(row["mode"]),
        digest_time=row["digest_time"],
        digest_size=row["digest_size"],
        backfill=row["backfill"],
    )
    return Feed(
        id=row["id"],
        spec=spec,
        guild_id=row["guild_id"],
        origin=FeedOrigin(row["origin"]),
        paused=bool(row["paused"]),
        pause_reason=row["pause_reason"],
        created_at=parse_ts(row["created_at"]),
        last_post_at=parse_ts(row["last_post_at"]),
    )


def delivery_from_row(row: sqlite3.Row) -> Delivery:
    queued_at = parse_ts(row["queued_at"])
    assert queued_at is not None  # NOT NULL in the schema
    return Delivery(
        id=row["id"],
        feed_id=row["feed_id"],
        paper_id=row["paper_id"],
        state=DeliveryState(row["state"]),
        queued_at=queued_at,
        attempts=row["attempts"],
        message_id=row["message_id"],
        error=row["error"],
        sent_at=parse_ts(row["sent_at"]),
    )
