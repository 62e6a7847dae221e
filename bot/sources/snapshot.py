"""Parse lines of arXiv's public metadata snapshot (JSON lines) into papers, one line at a time."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from bot.errors import PaperIdError
from bot.models import Paper, parse_paper_id

_MONTHS = {m: n for n, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}  # fmt: skip


class SnapshotLineError(ValueError):
    """One line of a snapshot file could not be read; the message says why."""


def parse_snapshot_line(line: str) -> Paper:
    """One JSON object a line: id, title, abstract, authors(_parsed), categories, versions, ..."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SnapshotLineError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise SnapshotLineError("not a JSON object")
    raw_id = obj.get("id")
    if not isinstance(raw_id, str):
        raise SnapshotLineError("no paper id")
    try:
        ref = parse_paper_id(raw_id)
    except PaperIdError as exc:
        raise SnapshotLineError(str(exc)) from None
    title = _text(obj, "title")
    if not title:
        raise SnapshotLineError(f"{ref.id}: no title")
    versions = _versions(obj.get("versions"))
    return Paper(
        id=ref.id,
        title=title,
        abstract=_text(obj, "abstract"),
        version=len(versions) or ref.version,
        authors=_authors(obj),
        categories=tuple(_text(obj, "categories").split()),
        published=versions[0] if versions else _date(obj.get("update_date")),
        updated=versions[-1] if versions else _date(obj.get("update_date")),
        doi=_text(obj, "doi") or None,
        journal_ref=_text(obj, "journal-ref") or None,
        comments=_text(obj, "comments") or None,
        sources=frozenset({"import"}),
    )


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SnapshotLineError(f"{key}: expected a string, got {type(value).__name__}")
    return " ".join(value.split())


def _authors(obj: dict[str, Any]) -> tuple[str, ...]:
    """Prefer `authors_parsed` ([last, first, suffix] triples); fall back to the display string."""
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names: list[str] = []
        for item in parsed:
            if isinstance(item, list) and item and all(isinstance(p, str) for p in item):
                last, first, suffix = [*item, "", ""][:3]
                names.append(" ".join(p.strip() for p in (first, last, suffix) if p.strip()))
        if names:
            return tuple(names)
    text = _text(obj, "authors")
    parts = re.split(r",\s*|\s+and\s+", text)
    return tuple(p.strip() for p in parts if p.strip())


def _versions(value: Any) -> list[datetime]:
    """Creation times of each version, oldest first; unreadable entries are skipped."""
    if not isinstance(value, list):
        return []
    out: list[datetime] = []
    for item in value:
        created = item.get("created") if isinstance(item, dict) else None
        if isinstance(created, str):
            try:
                out.append(_snapshot_date(created))
            except (TypeError, ValueError):
                continue
    return out


def _snapshot_date(text: str) -> datetime:
    """The snapshot's "Mon, 2 Apr 2007 19:18:42 GMT", read directly (it is millions of them);
    anything else goes through the general RFC 2822 parser."""
    parts = text.split()
    if len(parts) == 6 and parts[5] == "GMT" and parts[2] in _MONTHS:
        try:
            hours, minutes, seconds = (int(x) for x in parts[4].split(":"))
            return datetime(int(parts[3]), _MONTHS[parts[2]], int(parts[1]), hours, minutes,
                            seconds, tzinfo=UTC)  # fmt: skip
        except ValueError:
            pass
    return parsedate_to_datetime(text).astimezone(UTC)


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
