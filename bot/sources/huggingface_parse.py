"""Turn Hugging Face Papers JSON into papers, item by item, so one odd item costs only itself.

The three shapes (daily list, search list, flat detail object) read with one rule
(upstream.md §1.3): ``p = item.get("paper") or item``; paper facts come from ``p``, the
outer item's ``numComments``/``thumbnail``/``organization`` win over ``p``'s. Optional keys
are usually absent, sometimes null; both mean "not known". A required key that is missing
or of the wrong type skips the item; an optional one that is of the wrong type is dropped
and noted, because one renamed field must not hide every paper of the day.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from bot.errors import PaperIdError, SourceResponseError
from bot.models import Paper, PaperRef, parse_paper_id
from bot.sources.names import HUGGINGFACE

SOURCE = HUGGINGFACE

_T = TypeVar("_T")
_Place = tuple[Mapping[str, Any], str]  # (object, key): where a field may be found
_SPACES = re.compile(r"\s+")
_GITHUB_SHORT = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")
_GITHUB_HOST = re.compile(r"(?:https?://)?(?:www\.)?github\.com/", re.IGNORECASE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_KIND_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object"}


class ItemError(ValueError):
    """One list item cannot become a paper; the message says why."""


@dataclass(frozen=True, slots=True)
class ParsedItem:
    paper: Paper
    problems: list[str]


@dataclass(frozen=True, slots=True)
class ParsedPage:
    """A page of papers; `count` is how many items the array held, parsed or not (for paging)."""

    papers: list[Paper]
    problems: list[str]
    count: int


def parse_paper_list(body: bytes | str) -> ParsedPage:
    """Parse a `/api/daily_papers` or `/api/papers/search` array, skipping malformed items."""
    data = _load_json(body)
    if not isinstance(data, list):
        raise SourceResponseError(
            SOURCE, f"expected a JSON array of papers, got {_json_kind(data)}"
        )
    papers: list[Paper] = []
    problems: list[str] = []
    for index, item in enumerate(data):
        try:
            parsed = paper_from_item(item)
        except ItemError as exc:
            problems.append(f"item {index}: skipped: {exc}")
            continue
        papers.append(parsed.paper)
        problems.extend(f"item {index} ({parsed.paper.id}): {note}" for note in parsed.problems)
    return ParsedPage(papers, problems, len(data))


def parse_paper_detail(body: bytes | str) -> ParsedItem:
    """Parse the flat `/api/papers/{id}` object; an unusable one is a response error."""
    data = _load_json(body)
    if not isinstance(data, dict):
        raise SourceResponseError(SOURCE, f"expected a paper object, got {_json_kind(data)}")
    try:
        return paper_from_item(data)
    except ItemError as exc:
        raise SourceResponseError(SOURCE, f"unusable paper object: {exc}") from None


def paper_from_item(item: object) -> ParsedItem:
    """One daily/search item or detail object → a paper, with notes on dropped fields."""
    if not isinstance(item, dict):
        raise ItemError(f"expected an object, got {_json_kind(item)}")
    inner = item.get("paper")
    if inner is not None and not isinstance(inner, dict):
        raise ItemError(f"paper: expected an object, got {_json_kind(inner)}")
    p: dict[str, Any] = inner or item
    fields = _Fields()
    ref = _paper_ref(p)
    paper = Paper(
        id=ref.id,
        version=ref.version,
        title=_title(p, item),
        abstract=_clean(fields.first(str, (p, "summary"), (item, "summary")) or ""),
        authors=fields.authors(p),
        published=fields.timestamp(p, "publishedAt"),
        upvotes=fields.first(int, (p, "upvotes")),
        num_comments=fields.first(int, (item, "numComments"), (p, "numComments")),
        github_repo=fields.github_repo(p),
        github_stars=fields.first(int, (p, "githubStars")),
        project_page=fields.url((p, "projectPage")),
        ai_summary=_clean(fields.first(str, (p, "ai_summary")) or "") or None,
        ai_keywords=fields.strings(p, "ai_keywords"),
        thumbnail=fields.url((item, "thumbnail"), (p, "thumbnail"), (p, "thumbnailUrl")),
        organization=fields.organization(p, item),
        hf_submitted_at=fields.timestamp(p, "submittedOnDailyAt"),
        sources=frozenset({SOURCE}),
    )
    return ParsedItem(paper, fields.problems)


def normalise_github_repo(value: str) -> str | None:
    """`owner/repo`, `github.com/owner/repo` or a full URL → `https://github.com/owner/repo`."""
    text = value.strip().rstrip("/")
    if not text:
        return None
    host = _GITHUB_HOST.match(text)
    path = text[host.end() :] if host else text
    if _GITHUB_SHORT.fullmatch(path):
        path = path.removesuffix(".git")
        return f"https://github.com/{path}"
    if text.startswith(("https://", "http://")):
        return text  # some other code host, or a deeper GitHub link: keep it as given
    if host:
        return f"https://{text}"
    return None


class _Fields:
    """Reads optional fields leniently and remembers what it had to drop."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def first(self, kind: type[_T], *places: _Place) -> _T | None:
        """The first place that holds a value of `kind`; absent and null are the same."""
        for obj, key in _distinct(places):
            value = self._typed(obj, key, kind)
            if value is not None:
                return value
        return None

    def _typed(self, obj: Mapping[str, Any], key: str, kind: type[_T]) -> _T | None:
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        self.note(key, f"expected {_KIND_NAMES.get(kind, kind.__name__)}, got {_json_kind(value)}")
        return None

    def note(self, key: str, problem: str) -> None:
        self.problems.append(f"{key}: {problem}; ignored")

    def timestamp(self, obj: Mapping[str, Any], key: str) -> datetime | None:
        text = self._typed(obj, key, str)
        if text is None:
            return None
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            self.note(key, f"not an ISO-8601 time: {text[:40]!r}")
            return None
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)

    def url(self, *places: _Place) -> str | None:
        """The first http(s) URL among `places`; anything else is dropped and noted."""
        for obj, key in _distinct(places):
            text = (self._typed(obj, key, str) or "").strip()
            if text.startswith(("https://", "http://")):
                return text
            if text:
                self.note(key, f"not an http(s) URL: {text[:60]!r}")
        return None

    def github_repo(self, p: Mapping[str, Any]) -> str | None:
        text = self._typed(p, "githubRepo", str)
        if text is None:
            return None
        repo = normalise_github_repo(text)
        if repo is None and text.strip():
            self.note("githubRepo", f"not a repository: {text[:60]!r}")
        return repo

    def strings(self, obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
        values = self._typed(obj, key, list) or []
        return tuple(_clean(v) for v in values if isinstance(v, str) and v.strip())

    def authors(self, p: Mapping[str, Any]) -> tuple[str, ...]:
        """Every author name, in order (hidden ones too: they are still the paper's authors)."""
        names: list[str] = []
        for entry in self._typed(p, "authors", list) or []:
            name = entry.get("name") if isinstance(entry, dict) else entry
            if isinstance(name, str) and name.strip():
                names.append(_clean(name))
        return tuple(names)

    def organization(self, *objs: Mapping[str, Any]) -> str | None:
        """The organization's display name, the paper's before the item's."""
        for obj, key in _distinct([(o, "organization") for o in objs]):
            value = obj.get(key)
            if isinstance(value, str):
                name: str | None = _clean(value) or None
            else:
                org = self._typed(obj, key, dict)
                name = _display_name(org) if org else None
            if name:
                return name
        return None


def _display_name(org: Mapping[str, Any]) -> str | None:
    """An organization object's `fullname`, else its `name`."""
    for key in ("fullname", "name"):
        value = org.get(key)
        if isinstance(value, str) and value.strip():
            return _clean(value)
    return None


def _distinct(places: Iterable[_Place]) -> list[_Place]:
    """The places in order, once each: in a flat object the paper and the item are one."""
    seen: set[tuple[int, str]] = set()
    out: list[_Place] = []
    for obj, key in places:
        if (id(obj), key) not in seen:
            seen.add((id(obj), key))
            out.append((obj, key))
    return out


def _paper_ref(p: Mapping[str, Any]) -> PaperRef:
    raw = p.get("id")
    if raw is None:
        raise ItemError("no paper id")
    if not isinstance(raw, str):
        raise ItemError(f"id: expected a string, got {_json_kind(raw)}")
    try:
        return parse_paper_id(raw)
    except PaperIdError:
        raise ItemError(f"id is not an arXiv id: {raw[:40]!r}") from None


def _title(p: Mapping[str, Any], item: Mapping[str, Any]) -> str:
    for obj in (p, item):
        value = obj.get("title")
        if isinstance(value, str) and value.strip():
            return _clean(value)
    raise ItemError("no title")


def _load_json(body: bytes | str) -> Any:
    """Decode a body that should be JSON, naming what it was instead when it is not."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    start = text.lstrip()[:1]
    if not start:
        raise SourceResponseError(SOURCE, "empty response where JSON was expected")
    if start == "<":
        raise SourceResponseError(
            SOURCE, f"got an HTML page where JSON was expected{_page_title(text)}"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceResponseError(
            SOURCE,
            f"response is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}; cut short?)",
        ) from None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        raise SourceResponseError(SOURCE, f"upstream error: {data['error'][:200]}")
    return data


def _page_title(html: str) -> str:
    match = _HTML_TITLE.search(html[:4096])
    return f" ({_clean(match.group(1))[:80]!r})" if match else ""


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _json_kind(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)
