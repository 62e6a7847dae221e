"""Row ⇄ model conversion for PostgreSQL, mirroring the SQLite store's codec.

Times are stored as the SQLite store keeps them, UTC to the second, so a paper read back from
either backend compares equal to the one written (the merge rules compare whole papers).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from bot.models import Delivery, Feed, FeedSpec, Paper
from bot.store.common import codec as common
from bot.store.common.codec import PAPER_COLUMNS as PAPER_COLUMNS  # re-exported

# Staged as JSON text, cast back to jsonb on the way into `papers` (after PAPER_COLUMNS: `search`).
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
    return common.paper_values(paper, first_seen, changed_at, ts)


def paper_from_row(row: asyncpg.Record) -> Paper:
    return common.paper_from_values(row, strings=tuple, time=utc)


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
    return common.feed_from_values(row, strings=tuple, time=utc)


def delivery_from_row(row: asyncpg.Record) -> Delivery:
    return common.delivery_from_values(row, queued_at=row["queued_at"].astimezone(UTC), time=utc)
