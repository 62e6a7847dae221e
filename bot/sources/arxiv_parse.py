"""Turn arXiv's RSS listing and Atom API answers into papers, entry by entry.

Both are read with feedparser, always from bytes wrapped in a stream: handed a bare string
or bytes, feedparser would try it as a URL or a file name first.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from bot.errors import PaperIdError, SourceResponseError
from bot.models import Paper, PaperRef, parse_paper_id
from bot.sources.names import ARXIV

SOURCE = ARXIV

NEW_TYPES = frozenset({"new", "cross"})
REPLACED_TYPES = frozenset({"replace", "replace-cross"})

_SPACES = re.compile(r"\s+")
_GUID_PREFIX = re.compile(r"^oai:arxiv\.org:", re.IGNORECASE)
# `arXiv:2509.13332v1 Announce Type: new \nAbstract: ...` (the RSS item description)
_DESCRIPTION = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?",
    re.IGNORECASE,
)
_CLOSED_ENTRY = re.compile(rb"</(?:[\w.-]+:)?(?:entry|item)\s*>")
_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class EntryError(ValueError):
    """One feed entry cannot become a paper; the message says why."""


@dataclass(frozen=True, slots=True)
class Listing:
    """One RSS listing: new papers, version updates, and what had to be skipped."""

    papers: list[Paper]  # announce type new or cross
    replaced: list[Paper]  # announce type replace or replace-cross, carrying the new version
    problems: list[str]
    complete: bool  # False when the body was cut short: its validators must not be remembered


@dataclass(frozen=True, slots=True)
class ApiPage:
    """One Atom answer of the query API."""

    papers: list[Paper]
    problems: list[str]
    total_results: int | None
    complete: bool


@dataclass(frozen=True, slots=True)
class _Feed:
    entries: list[Any]
    feed: Any
    problems: list[str]
    complete: bool


def parse_listing(body: bytes) -> Listing:
    """Parse `rss.arxiv.org/rss/<cats>`; an empty listing (weekends, holidays) is no error."""
    feed = _read_feed(body)
    papers: list[Paper] = []
    replaced: list[Paper] = []
    problems = list(feed.problems)
    for index, entry in enumerate(feed.entries):
        try:
            paper, announce_type = listing_entry(entry)
        except EntryError as exc:
            problems.append(f"item {index}: skipped: {exc}")
            continue
        if announce_type in REPLACED_TYPES:
            replaced.append(paper)
            continue
        if announce_type not in NEW_TYPES:
            problems.append(f"item {index} ({paper.id}): unknown announce type {announce_type!r}")
        papers.append(paper)
    return Listing(papers, replaced, problems, feed.complete)


def parse_api_feed(body: bytes) -> ApiPage:
    """Parse an `export.arxiv.org/api/query` answer; its error feed becomes an exception."""
    feed = _read_feed(body)
    _raise_api_error(feed.entries)
    papers: list[Paper] = []
    problems = list(feed.problems)
    for index, entry in enumerate(feed.entries):
        try:
            papers.append(api_entry(entry))
        except EntryError as exc:
            problems.append(f"entry {index}: skipped: {exc}")
    return ApiPage(papers, problems, _total_results(feed.feed), feed.complete)


def api_error_message(body: bytes) -> str | None:
    """The message of an API error feed (served with HTTP 400), if that is what `body` is."""
    try:
        parse_api_feed(body)
    except SourceResponseError as exc:
        return exc.reason
    return None


def listing_entry(entry: Any) -> tuple[Paper, str]:
    """One RSS item → (paper, announce type)."""
    description = _text(entry, "summary")
    prefix = _DESCRIPTION.match(description)
    ref = _listing_ref(entry, prefix)
    announce_type = _text(entry, "arxiv_announce_type") or (prefix["type"] if prefix else "")
    paper = Paper(
        id=ref.id,
        version=ref.version,
        title=_title(entry),
        abstract=_clean(description[prefix.end() :] if prefix else description),
        authors=split_creators(_text(entry, "author")),
        categories=_terms(entry),
        doi=_text(entry, "arxiv_doi") or None,
        journal_ref=_text(entry, "arxiv_journal_reference") or None,
        sources=frozenset({SOURCE}),
    )
    return paper, announce_type.strip().lower()


def api_entry(entry: Any) -> Paper:
    """One Atom `<entry>` of the query API → a paper, primary category first."""
    ref = _ref(_text(entry, "id"))
    primary = entry.get("arxiv_primary_category")
    primary_term = primary.get("term") if isinstance(primary, dict) else None
    return Paper(
        id=ref.id,
        version=ref.version,
        title=_title(entry),
        abstract=_clean(_text(entry, "summary")),
        authors=_author_names(entry),
        categories=_terms(entry, first=primary_term),
        published=_time(entry.get("published_parsed")),
        # `in` first: feedparser's get() would hand back the publication date instead
        updated=_time(entry.get("updated_parsed") if "updated_parsed" in entry else None),
        doi=_text(entry, "arxiv_doi") or None,
        journal_ref=_text(entry, "arxiv_journal_ref") or None,
        comments=_text(entry, "arxiv_comment") or None,
        sources=frozenset({SOURCE}),
    )


def split_creators(creators: str) -> tuple[str, ...]:
    """`dc:creator` is one comma-separated string: `A. One, B. Two, and C. Three`."""
    names = (part.strip() for part in creators.split(","))
    return tuple(_clean(n.removeprefix("and ")) for n in names if n and n != "and")


def _read_feed(body: bytes) -> _Feed:
    """Parse a feed body; a cut-short body keeps only the entries whose end tag arrived."""
    if not body.strip():
        raise SourceResponseError(SOURCE, "empty response where a feed was expected")
    try:
        parsed = feedparser.parse(
            io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False
        )
    except Exception as exc:  # feedparser itself can fail on hostile input (&#x110000;)
        raise SourceResponseError(SOURCE, f"unreadable feed ({type(exc).__name__})") from None
    error = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(error, feedparser.CharacterEncodingOverride):
        error = None  # a mislabelled charset that feedparser recovered from
    if not parsed.get("version"):
        detail = _page_title(body) or (f" ({error})" if error else "")
        raise SourceResponseError(SOURCE, f"not an RSS or Atom feed{detail}")
    entries = list(parsed.entries)
    if error is None:
        return _Feed(entries, parsed.feed, [], True)
    complete_entries = entries[: len(_CLOSED_ENTRY.findall(body))]
    if entries and not complete_entries:
        raise SourceResponseError(SOURCE, f"feed cut short before its first entry ended ({error})")
    problem = (
        f"feed is malformed or cut short ({error}); "
        f"kept the {len(complete_entries)} complete entries of {len(entries)}"
    )
    return _Feed(complete_entries, parsed.feed, [problem], False)


def _raise_api_error(entries: list[Any]) -> None:
    """arXiv reports errors as a feed whose one entry is titled Error, id `.../api/errors#...`."""
    for entry in entries:
        entry_id = _text(entry, "id")
        if "/api/errors" in entry_id or (
            _text(entry, "title") == "Error" and "/abs/" not in entry_id
        ):
            message = _clean(_text(entry, "summary")) or "unspecified error"
            raise SourceResponseError(SOURCE, f"API error: {message}")


def _listing_ref(entry: Any, prefix: re.Match[str] | None) -> PaperRef:
    """The guid `oai:arXiv.org:<id>vN` names the id; the description and link back it up."""
    guid = _GUID_PREFIX.sub("", _text(entry, "id"))
    for candidate in (guid, prefix["id"] if prefix else "", _text(entry, "link")):
        if candidate:
            try:
                return parse_paper_id(candidate)
            except PaperIdError:
                continue
    raise EntryError(f"no arXiv id in guid {_text(entry, 'id')[:60]!r}")


def _ref(raw: str) -> PaperRef:
    if not raw:
        raise EntryError("no id")
    try:
        return parse_paper_id(raw)
    except PaperIdError:
        raise EntryError(f"id is not an arXiv id: {raw[:60]!r}") from None


def _title(entry: Any) -> str:
    title = _clean(_text(entry, "title"))
    if not title:
        raise EntryError("no title")
    return title


def _author_names(entry: Any) -> tuple[str, ...]:
    names = (a.get("name") for a in entry.get("authors", []) if isinstance(a, dict))
    return tuple(_clean(n) for n in names if isinstance(n, str) and n.strip())


def _terms(entry: Any, first: str | None = None) -> tuple[str, ...]:
    """Category terms in feed order, without repeats, `first` (the primary) leading."""
    terms = [first] if first else []
    for tag in entry.get("tags", []):
        term = tag.get("term") if isinstance(tag, dict) else None
        if isinstance(term, str) and term.strip() and term.strip() not in terms:
            terms.append(term.strip())
    return tuple(terms)


def _total_results(feed: Any) -> int | None:
    value = feed.get("opensearch_totalresults")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _time(value: time.struct_time | None) -> datetime | None:
    """feedparser hands times back as UTC struct_time."""
    if value is None:
        return None
    return datetime(*value[:6], tzinfo=UTC)


def _text(entry: Any, key: str) -> str:
    value = entry.get(key)
    return value if isinstance(value, str) else ""


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _page_title(body: bytes) -> str:
    match = _HTML_TITLE.search(body[:4096])
    if not match:
        return ""
    return f" (got a page titled {_clean(match.group(1).decode('utf-8', 'replace'))[:80]!r})"
