"""Row ⇄ model conversion and timestamp formatting, kept apart from the queries themselves."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.models import Delivery, Feed, Paper
from bot.store.common import codec as common
from bot.store.common.codec import PAPER_COLUMNS as PAPER_COLUMNS  # re-exported


def ts(value: datetime | None) -> str | None:
    """UTC, second precision, lexically sortable: the one timestamp format in the database."""
    if value is None:
        return None
    if value.tzinfo is UTC and not value.microsecond:  # nearly every paper's: one call
        return value.isoformat()[:-6] + "Z"  # "...+00:00"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # isoformat is several times faster than strftime, and imports write millions of these.
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value)  # "...Z" is UTC; fromisoformat reads it since 3.11


def _strings(value: str) -> tuple[str, ...]:
    """A JSON list column (TEXT on SQLite) as a tuple."""
    return tuple(json.loads(value))


def paper_row(paper: Paper, first_seen: datetime, changed_at: datetime) -> tuple[Any, ...]:
    """The values for PAPER_COLUMNS, in order."""
    return common.paper_values(paper, first_seen, changed_at, ts)


def paper_rows(
    papers: Iterable[Paper], first_seen: datetime, changed_at: datetime
) -> list[tuple[Any, ...]]:
    """`paper_row` of each, the batch's two times formatted once."""
    seen, changed = ts(first_seen), ts(changed_at)

    def stamp(value: datetime | None) -> str | None:
        if value is first_seen:
            return seen
        if value is changed_at:
            return changed
        return ts(value)

    return [common.paper_values(p, first_seen, changed_at, stamp) for p in papers]


def paper_from_row(row: sqlite3.Row) -> Paper:
    return common.paper_from_values(row, strings=_strings, time=parse_ts)


def feed_from_row(row: sqlite3.Row) -> Feed:
    return common.feed_from_values(row, strings=_strings, time=parse_ts)


def delivery_from_row(row: sqlite3.Row) -> Delivery:
    queued_at = parse_ts(row["queued_at"])
    assert queued_at is not None  # NOT NULL in the schema
    return common.delivery_from_values(row, queued_at=queued_at, time=parse_ts)
