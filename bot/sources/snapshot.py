"""Parse lines of arXiv's public metadata snapshot (JSON lines) into papers, one line at a time."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO, TextIO, cast

import orjson

from bot.errors import PaperIdError
from bot.models import _NEW_ID, Paper, PaperRef, parse_paper_id
from bot.sources.names import SNAPSHOT

_MONTHS = {m: n for n, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}  # fmt: skip


class SnapshotLineError(ValueError):
    """One line of a snapshot file could not be read; the message says why."""


def parse_snapshot_line(line: str) -> Paper:
    """One JSON object a line: id, title, abstract, authors(_parsed), categories, versions, ..."""
    try:
        obj = orjson.loads(line)  # ~2x json.loads on the snapshot's lines
    except orjson.JSONDecodeError:
        obj = _stdlib_loads(line)  # the standard reader's verdict and words
    if type(obj) is not dict:
        raise SnapshotLineError("not a JSON object")
    get = obj.get
    raw_id = get("id")
    if not isinstance(raw_id, str):
        raise SnapshotLineError("no paper id")
    # Nearly every id is a bare new-style one, which parse_paper_id would match as it is.
    bare = _BARE_NEW_ID(raw_id)
    if bare is not None:
        version = bare.group("v")
        ref = PaperRef(bare.group("id"), int(version) if version else None)
    else:
        try:
            ref = parse_paper_id(raw_id)
        except PaperIdError as exc:
            raise SnapshotLineError(str(exc)) from None
    # The common case of each field (a string, or absent) is read here, without a call.
    title = get("title")
    title = " ".join(title.split()) if type(title) is str else _text(obj, "title")
    if not title:
        raise SnapshotLineError(f"{ref.id}: no title")
    versions = _versions(get("versions"))
    published: datetime | None
    updated: datetime | None
    if versions:
        published, updated = versions[0], versions[-1]
    else:
        published = updated = _date(get("update_date"))
    abstract = get("abstract")
    doi = get("doi")
    journal_ref = get("journal-ref")
    comments = get("comments")
    categories = get("categories")
    return Paper(
        id=ref.id,
        title=title,
        abstract=" ".join(abstract.split()) if type(abstract) is str else _text(obj, "abstract"),
        version=len(versions) or ref.version,
        authors=_authors(obj),
        categories=tuple(categories.split()) if type(categories) is str else _codes(categories),
        published=published,
        updated=updated,
        doi=None if doi is None else _text(obj, "doi") or None,
        journal_ref=None if journal_ref is None else _text(obj, "journal-ref") or None,
        comments=None if comments is None else _text(obj, "comments") or None,
        sources=_SOURCES,
    )


_SOURCES = frozenset({SNAPSHOT})
_BARE_NEW_ID = _NEW_ID.fullmatch


def _stdlib_loads(line: str) -> Any:
    """What json.loads makes of a line orjson refused: the few it reads (NaN, huge integers,
    lone surrogates), or the error, worded as it always was."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise SnapshotLineError(f"not JSON ({exc.msg} at column {exc.colno})") from None


def _codes(value: Any) -> tuple[str, ...]:
    """The space-separated category codes; absent is none, another type an error."""
    if type(value) is str:
        return tuple(value.split())
    if value is None:
        return ()
    raise SnapshotLineError(f"categories: expected a string, got {type(value).__name__}")


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        raise SnapshotLineError(f"{key}: expected a string, got {type(value).__name__}")
    return " ".join(value.split())


def _authors(obj: dict[str, Any]) -> tuple[str, ...]:
    """Prefer `authors_parsed` ([last, first, suffix] triples); fall back to the display string."""
    parsed = obj.get("authors_parsed")
    if type(parsed) is list and parsed:
        names: list[str] = []
        add = names.append
        for item in parsed:
            if type(item) is not list or not item:
                continue
            if len(item) == 3:
                last, first, suffix = item  # nearly every entry: three strings, no suffix
                if type(last) is str and type(first) is str and suffix == "":
                    first, last = first.strip(), last.strip()
                    add(f"{first} {last}" if first and last else first or last)
                    continue
            if not all(isinstance(p, str) for p in item):
                continue
            last, first, suffix = (p.strip() for p in [*item, "", ""][:3])
            add(" ".join(p for p in (first, last, suffix) if p))
        if names:
            return tuple(names)
    text = _text(obj, "authors")
    parts = _AUTHOR_SPLIT(text)
    return tuple(p.strip() for p in parts if p.strip())


_AUTHOR_SPLIT = re.compile(r",\s*|\s+and\s+").split


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
            hours, minutes, seconds = parts[4].split(":")
            return datetime(int(parts[3]), _MONTHS[parts[2]], int(parts[1]), int(hours),
                            int(minutes), int(seconds), tzinfo=UTC)  # fmt: skip
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


# -- the file around the lines ------------------------------------------------------------------

# Leading bytes of the containers people keep the snapshot in (it is ~4 GB uncompressed).
_COMPRESSED = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}
_ARCHIVES = {b"PK\x03\x04": "ZIP archive", b"7z\xbc\xaf\x27\x1c": "7-Zip archive",
             b"\x28\xb5\x2f\xfd": "zstd-compressed file"}  # fmt: skip
EXPECTED_FORMAT = (
    "expected JSON lines as in arXiv's metadata snapshot (one paper object a line, with "
    '"id" and "title"), plain or compressed with gzip, bzip2 or xz'
)


class SnapshotFormatError(ValueError):
    """The file as a whole is not a snapshot; the message says what it looks like."""


def open_snapshot(path: str) -> tuple[TextIO, BinaryIO]:
    """The file's lines as text, decompressing gzip, bzip2 and xz on the fly.

    Returns the text stream and the raw file under it, whose position is how far into the file
    the import is (for progress, compressed or not). OSError if it cannot be opened;
    SnapshotFormatError for a container that holds files rather than one stream (ZIP, 7-Zip).
    """
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    try:
        head = raw.read(8)
        raw.seek(0)
        for magic, kind in _ARCHIVES.items():
            if head.startswith(magic):
                raise SnapshotFormatError(
                    f"looks like a {kind}; {EXPECTED_FORMAT} (unpack it first)"
                )
        stream: BinaryIO = raw
        for magic, kind in _COMPRESSED.items():
            if head.startswith(magic):
                if kind == "gzip":
                    stream = cast(BinaryIO, gzip.GzipFile(fileobj=raw))
                elif kind == "bzip2":
                    stream = cast(BinaryIO, bz2.BZ2File(raw))
                else:
                    stream = cast(BinaryIO, lzma.LZMAFile(raw))  # noqa: SIM115 - closed with the text stream
        return io.TextIOWrapper(stream, encoding="utf-8", errors="replace"), raw
    except BaseException:
        raw.close()
        raise


class FirstLine:
    """Passes lines through, keeping the first non-blank one (to say what a bad file looks like)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = lines
        self.text: str | None = None

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            if self.text is None and line.strip():
                self.text = line.strip()
            yield line


def describe_unreadable(first_line: str | None, first_problem: str | None) -> str:
    """Why no line of a file could be read, from its first line: what it looks like, what is expected."""
    text = first_line or ""
    if text.startswith("["):
        looks = "it looks like a JSON array"
        hint = " (convert it with: jq -c '.[]' FILE > FILE.jsonl)"
    elif text.startswith("{"):
        looks = "it looks like JSON spread over several lines"
        hint = " (convert it with: jq -c . FILE > FILE.jsonl)"
    elif text.startswith("<"):
        looks = "it looks like XML or HTML"
        hint = ""
    elif "\ufffd" in text or any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text):
        looks = "it looks like binary data"
        hint = ""
    else:
        looks = f"no line is a paper ({first_problem})" if first_problem else "no line is a paper"
        hint = ""
    return f"nothing imported: {looks}; {EXPECTED_FORMAT}{hint}"
