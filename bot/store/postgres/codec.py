"""Row ⇄ model conversion for PostgreSQL, mirroring the SQLite store's codec.

Times are stored as the SQLite store keeps them, UTC to the second, so a paper read back from
either backend compares equal to the one written (the merge rules compare whole papers).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bot.models import Delivery, DeliveryState, Feed, FeedMode, FeedOrigin, FeedSpec, Paper

# The columns of `papers` the store writes, in the order of `paper_row` (then `search`).
PAPER_COLUMNS = (
    "id", "version", "title", "abstract", "authors", "author_text", "categories", "published",
    "updated", "doi", "journal_ref", "comments", "upvotes", "num_comments", "github_repo",
    "github_stars", "project_page", "ai_summary", "ai_keywords", "thumbnail", "organization",
    "hf_submitted_at", "sources", "first_seen", "changed_at",
)  # fmt: skip
JSON_COLUMNS = frozenset({"authors", "categories", "ai_keywords"})
# What reading a paper needs (everything but the tsvector, which can be large).
PAPER_SELECT = ", ".join(f"p.{c}" for c in PAPER_COLUMNS)


def ts(value: datetime | None) -> datetime | None:
    """UTC, second precision: the one timestamp form in the database (as on SQLite)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def utc(value: datetime | None) -> datetime | None:
    """A timestamptz as read back, in UTC."""
    return value.astimezone(UTC) if value is not None else None


def paper_row(paper: Paper, first_seen: datetime, changed_at: datetime) -> tuple[Any, ...]:
    """The values for PAPER_COLUMNS, in order; JSON columns as JSON text (staged, then cast)."""
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


def paper_from_row(row: asyncpg.Record) -> Paper:
    return Paper(
        id=row["id"],
        version=row["version"],
        title=row["title"],
        abstract=row["abstract"],
        authors=tuple(row["authors"]),
        categories=tuple(row["categories"]),
        published=utc(row["published"]),
        updated=utc(row["updated"]),
        doi=row["doi"],
        journal_ref=row["journal_ref"],
        comments=row["comments"],
        upvotes=row["upvotes"],
        num_comments=row["num_comments"],
        github_repo=row["github_repo"],
        github_stars=row["github_stars"],
        project_page=row["project_page"],
        ai_summary=row["ai_summary"],
        ai_keywords=tuple(row["ai_keywords"]),
        thumbnail=row["thumbnail"],
        organization=row["organization"],
        hf_submitted_at=utc(row["hf_submitted_at"]),
        sources=frozenset(s for s in row["sources"].split(",") if s),
        first_seen=utc(row["first_seen"]),
    )


def spec_values(spec: FeedSpec, guild_id: int | None) -> tuple[Any, ...]:
    """name, guild_id, channel_id, query, categories, sources, min_upvotes, mode,
    digest_time, digest_size, backfill."""
    return (
        spec.name,
        guild_id,
        spec.channel_id,
        spec.query,
        list(spec.categories),
        list(spec.sources),
        spec.min_upvotes,
        spec.mode.value,
        spec.digest_time,
        spec.digest_size,
        spec.backfill,
    )


def feed_from_row(row: asyncpg.Record) -> Feed:
    spec = FeedSpec(
        name=row["name"],
        channel_id=row["channel_id"],
        query=row["query"],
        categories=tuple(row["categories"]),
        sources=tuple(row["sources"]),
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
        created_at=utc(row["created_at"]),
        last_post_at=utc(row["last_post_at"]),
    )


def delivery_from_row(row: asyncpg.Record) -> Delivery:
    return Delivery(
        id=row["id"],
        feed_id=row["feed_id"],
        paper_id=row["paper_id"],
        state=DeliveryState(row["state"]),
        queued_at=row["queued_at"].astimezone(UTC),
        attempts=row["attempts"],
        message_id=row["message_id"],
        error=row["error"],
        sent_at=utc(row["sent_at"]),
    )
