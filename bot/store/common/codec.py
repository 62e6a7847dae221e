"""Row ⇄ model conversion shared by the SQLite and PostgreSQL stores.

The column order and field mapping are the same on both backends; only how a time or a list
is stored differs, so each backend passes its own `stamp` (model time → column), `time`
(column → model time) and `strings` (column → tuple of str).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from bot.clock import Clock
from bot.models import (
    Delivery,
    DeliveryState,
    DueDelivery,
    Feed,
    FeedMode,
    FeedOrigin,
    FeedSpec,
    Paper,
    SourceRun,
)

# The columns of `papers` the stores write, in the order of `paper_values`.
PAPER_COLUMNS = (
    "id", "version", "title", "abstract", "authors", "author_text", "categories", "published",
    "updated", "doi", "journal_ref", "comments", "upvotes", "num_comments", "github_repo",
    "github_stars", "project_page", "ai_summary", "ai_keywords", "thumbnail", "organization",
    "hf_submitted_at", "sources", "first_seen", "changed_at",
)  # fmt: skip


class Row(Protocol):
    """A driver's row read by column name (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: str, /) -> Any: ...


Stamp = Callable[[datetime | None], Any]
ReadTime = Callable[[Any], datetime | None]
ReadStrings = Callable[[Any], tuple[str, ...]]


# A list of strings as json.dumps writes it (", " between items), with its C string quoting
# but without the encoder's Python layers around it: imports write millions of these.
_quote = json.encoder.encode_basestring
_quote_ascii = json.encoder.encode_basestring_ascii


def json_strings(items: Iterable[str], *, ensure_ascii: bool = True) -> str:
    """The same text as `json.dumps(list(items), ensure_ascii=ensure_ascii)`, faster."""
    return "[" + ", ".join(map(_quote_ascii if ensure_ascii else _quote, items)) + "]"


def paper_values(
    paper: Paper, first_seen: datetime, changed_at: datetime, stamp: Stamp
) -> tuple[Any, ...]:
    """The values for PAPER_COLUMNS, in order; JSON columns as JSON text, times by `stamp`."""
    return (
        paper.id,
        paper.version,
        paper.title,
        paper.abstract,
        json_strings(paper.authors, ensure_ascii=False),
        ", ".join(paper.authors),
        json_strings(paper.categories),
        stamp(paper.published),
        stamp(paper.updated),
        paper.doi,
        paper.journal_ref,
        paper.comments,
        paper.upvotes,
        paper.num_comments,
        paper.github_repo,
        paper.github_stars,
        paper.project_page,
        paper.ai_summary,
        json_strings(paper.ai_keywords, ensure_ascii=False),
        paper.thumbnail,
        paper.organization,
        stamp(paper.hf_submitted_at),
        ",".join(sorted(paper.sources)),
        stamp(paper.first_seen or first_seen),
        stamp(changed_at),
    )


def paper_from_values(row: Row, *, strings: ReadStrings, time: ReadTime) -> Paper:
    return Paper(
        id=row["id"],
        version=row["version"],
        title=row["title"],
        abstract=row["abstract"],
        authors=strings(row["authors"]),
        categories=strings(row["categories"]),
        published=time(row["published"]),
        updated=time(row["updated"]),
        doi=row["doi"],
        journal_ref=row["journal_ref"],
        comments=row["comments"],
        upvotes=row["upvotes"],
        num_comments=row["num_comments"],
        github_repo=row["github_repo"],
        github_stars=row["github_stars"],
        project_page=row["project_page"],
        ai_summary=row["ai_summary"],
        ai_keywords=strings(row["ai_keywords"]),
        thumbnail=row["thumbnail"],
        organization=row["organization"],
        hf_submitted_at=time(row["hf_submitted_at"]),
        sources=frozenset(s for s in row["sources"].split(",") if s),
        first_seen=time(row["first_seen"]),
    )


def feed_from_values(row: Row, *, strings: ReadStrings, time: ReadTime) -> Feed:
    spec = FeedSpec(
        name=row["name"],
        channel_id=row["channel_id"],
        query=row["query"],
        categories=strings(row["categories"]),
        sources=strings(row["sources"]),
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
        created_at=time(row["created_at"]),
        last_post_at=time(row["last_post_at"]),
    )


def delivery_from_values(row: Row, *, queued_at: datetime, time: ReadTime) -> Delivery:
    """A delivery; `queued_at` (NOT NULL in the schema) already read by the backend."""
    return Delivery(
        id=row["id"],
        feed_id=row["feed_id"],
        paper_id=row["paper_id"],
        state=DeliveryState(row["state"]),
        queued_at=queued_at,
        attempts=row["attempts"],
        message_id=row["message_id"],
        error=row["error"],
        sent_at=time(row["sent_at"]),
    )


def due_from_values(row: Row, *, delivery: Delivery, time: ReadTime) -> DueDelivery:
    """A delivery joined with its feed's channel, name and guild (the outbox's due queries)."""
    return DueDelivery(
        delivery=delivery,
        channel_id=int(row["channel_id"]),
        feed_name=str(row["feed_name"]),
        guild_id=row["guild_id"],
        nonce=row["nonce"],
        thread_id=row["thread_id"],
        attempted_at=time(row["attempted_at"]),
    )


def states_by_feed(rows: Iterable[Row]) -> dict[int, dict[str, int]]:
    """Rows of (feed_id, state, n) as {feed_id: {state: n}}."""
    out: dict[int, dict[str, int]] = {}
    for row in rows:
        out.setdefault(int(row["feed_id"]), {})[str(row["state"])] = int(row["n"])
    return out


def source_run_from_values(row: Row, *, time: ReadTime, clock: Clock) -> SourceRun:
    """A recorded poll; a time missing from the row reads as now."""
    return SourceRun(
        source=row["source"],
        started_at=time(row["started_at"]) or clock(),
        finished_at=time(row["finished_at"]) or clock(),
        fetched=row["fetched"],
        new=row["new"],
        updated=row["updated"],
        error=row["error"],
        warnings=row["warnings"],
    )
