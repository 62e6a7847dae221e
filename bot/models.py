"""The data the program passes around: papers, feeds, deliveries. Plain frozen data, no I/O."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from bot.errors import PaperIdError
from bot.sources.names import ARXIV, HUGGINGFACE

# The two arXiv identifier schemes (arXiv help: "Understanding the arXiv identifier").
_NEW_ID = re.compile(r"(?P<id>\d{4}\.\d{4,5})(?:v(?P<v>\d+))?")
_OLD_ID = re.compile(r"(?P<id>[a-z][a-z\-]*(?:\.[A-Za-z]{2})?/\d{7})(?:v(?P<v>\d+))?")
_URL_HOSTS = ("arxiv.org", "huggingface.co", "hf.co")
_URL_PATH_PREFIXES = ("/abs/", "/pdf/", "/papers/", "/html/", "/api/papers/")

SortOrder = Literal["relevance", "recent", "upvotes"]


@dataclass(frozen=True, slots=True)
class PaperRef:
    """A parsed identifier: the canonical version-less id and the version it named, if any."""

    id: str
    version: int | None = None


def parse_paper_id(text: str) -> PaperRef:
    """Normalise every accepted form (ids, `arXiv:` prefix, arXiv and HF URLs) to one id."""
    raw = text.strip()
    if not raw or len(raw) > 300:
        raise PaperIdError(f"not an arXiv id or paper URL: {_shorten(raw)!r}")
    candidate = raw
    if "://" in raw or raw.startswith(_URL_HOSTS):
        candidate = _id_from_url(raw)
    if candidate[:6].lower() == "arxiv:":
        candidate = candidate[6:]
    candidate = candidate.strip()
    for pattern in (_NEW_ID, _OLD_ID):
        match = pattern.fullmatch(candidate)
        if match:
            ident = match.group("id")
            if pattern is _OLD_ID:
                archive, number = ident.split("/")
                ident = f"{archive.split('.')[0].lower()}{_subject(archive)}/{number}"
            version = match.group("v")
            return PaperRef(ident, int(version) if version else None)
    raise PaperIdError(
        f"not an arXiv id or paper URL: {_shorten(raw)!r} "
        "(expected e.g. 2401.01234, 2401.01234v2, arXiv:2401.01234, hep-th/9901001 or a URL)"
    )


def _subject(archive: str) -> str:
    """Keep an old-style subject class (math.GT) with its conventional capitals."""
    if "." in archive:
        return "." + archive.split(".", 1)[1].upper()
    return ""


def _id_from_url(url: str) -> str:
    """Pull the id out of an arXiv (abs, pdf, html) or Hugging Face paper URL."""
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not any(host == h or host.endswith("." + h) for h in _URL_HOSTS):
        raise PaperIdError(f"not an arXiv or Hugging Face paper URL: {_shorten(url)!r}")
    path = unquote(parts.path)
    for prefix in _URL_PATH_PREFIXES:
        if path.startswith(prefix):
            rest = path[len(prefix) :].rstrip("/")
            for suffix in (".pdf", ".md"):
                if rest.endswith(suffix):
                    rest = rest[: -len(suffix)]
            return rest
    raise PaperIdError(f"no paper id in URL: {_shorten(url)!r}")


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as we know it, merged from every source that has seen it."""

    id: str
    title: str
    abstract: str = ""
    version: int | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # primary category first
    published: datetime | None = None  # first version's submission time
    updated: datetime | None = None  # latest version's submission time
    doi: str | None = None
    journal_ref: str | None = None
    comments: str | None = None
    # Hugging Face signals; None means "Hugging Face has not told us", 0 is a real zero.
    upvotes: int | None = None
    num_comments: int | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    thumbnail: str | None = None
    organization: str | None = None
    hf_submitted_at: datetime | None = None  # when it appeared on HF Daily Papers
    sources: frozenset[str] = field(default_factory=frozenset)
    first_seen: datetime | None = None

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None

    @property
    def version_label(self) -> str | None:
        return f"v{self.version}" if self.version else None

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.id}"

    @property
    def hf_url(self) -> str | None:
        return f"https://huggingface.co/papers/{self.id}" if HUGGINGFACE in self.sources else None

    @property
    def url(self) -> str:
        """The page a reader should land on: Hugging Face's when it has one, else arXiv's."""
        return self.hf_url or self.abs_url

    def links(self) -> dict[str, str]:
        """Every link that exists for this paper, in display order."""
        out = {ARXIV: self.abs_url, "pdf": self.pdf_url}
        if self.hf_url:
            out[HUGGINGFACE] = self.hf_url
        if self.github_repo:
            out["code"] = self.github_repo
        if self.project_page:
            out["project"] = self.project_page
        return out


class FeedMode(enum.StrEnum):
    INSTANT = "instant"
    DIGEST = "digest"


class FeedOrigin(enum.StrEnum):
    CONFIG = "config"
    DISCORD = "discord"


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """What a feed wants: the part a user writes, from the config file or a slash command."""

    name: str
    channel_id: int
    query: str
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = (HUGGINGFACE, ARXIV)
    min_upvotes: int = 0
    mode: FeedMode = FeedMode.INSTANT
    digest_time: str = "09:00"
    digest_size: int = 10
    backfill: int = 3


@dataclass(frozen=True, slots=True)
class Feed:
    """A stored feed: its spec plus where it lives and its state."""

    id: int
    spec: FeedSpec
    guild_id: int | None
    origin: FeedOrigin
    paused: bool = False
    pause_reason: str | None = None
    created_at: datetime | None = None
    last_post_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def channel_id(self) -> int:
        return self.spec.channel_id


class DeliveryState(enum.StrEnum):
    QUEUED = "queued"  # waiting in the outbox
    SENDING = "sending"  # an attempt was recorded; the send may or may not have reached Discord
    SENT = "sent"  # Discord answered with a message id
    FAILED = "failed"  # Discord refused it for good (e.g. 400); the reason is kept
    SKIPPED = "skipped"  # dropped on purpose (e.g. a digest that over-filled)
    REFUSED = "refused"  # a DM the member's closed DMs refused (personal follows only)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One paper owed to one feed: the outbox row that makes delivery exactly-once."""

    id: int
    feed_id: int
    paper_id: str
    state: DeliveryState
    queued_at: datetime
    attempts: int = 0
    message_id: int | None = None
    error: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A delivery with what the publisher needs to send it: where and for which feed."""

    delivery: Delivery
    channel_id: int
    feed_name: str
    guild_id: int | None
    nonce: str | None
    thread_id: int | None
    attempted_at: datetime | None


FollowMode = Literal["daily", "instant"]


@dataclass(frozen=True, slots=True)
class Follow:
    """A member's personal follow: a query whose matches reach them by DM."""

    id: int
    user_id: int
    name: str
    query: str
    mode: FollowMode = "daily"
    time: str = "08:00"  # HH:MM UTC, when a daily follow's DM goes
    min_upvotes: int = 0
    paused: bool = False
    pause_reason: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DmItem:
    """One paper owed to one member by DM (each paper once per member), and its attempt."""

    id: int
    user_id: int
    paper_id: str
    mode: FollowMode
    state: DeliveryState
    queued_at: datetime
    follow_id: int | None = None
    relevance: int = 1  # how many of the member's follows matched it
    nonce: str | None = None  # set when the item is planned into a message
    attempted_at: datetime | None = None
    message_id: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What an upsert did: which ids were new, which changed at all, and which of those matter to feeds.

    ``changed`` holds every known paper whose stored row changed (a new title counts);
    ``updated`` is the part of it feeds act on (see `feed_relevant_change`); ``unchanged``
    counts known papers left as they were, so ``len(new) + len(changed) + unchanged`` is the
    number of distinct papers upserted.
    """

    new: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: int = 0
    changed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchHit:
    paper: Paper
    score: float
    similarity: float | None = None  # cosine to a query's like: / about: (semantic extra)


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of a search; `total` is exact unless `total_exact` is false (then a lower bound)."""

    total: int
    hits: tuple[SearchHit, ...]
    # Searches with words count at most `count_cap` matches (bot.store.sqlite.search_sql):
    # past it, `total` is that cap and this is False ("more than 2,000").
    total_exact: bool = True


@dataclass(frozen=True, slots=True)
class SourceRun:
    """One poll of one source, as recorded for health checks."""

    source: str
    started_at: datetime
    finished_at: datetime
    fetched: int = 0
    new: int = 0
    updated: int = 0
    error: str | None = None
    warnings: int = 0  # items skipped or fields ignored by a poll that still worked


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """A source's health as read from its recorded runs."""

    source: str
    last_run: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    stale: bool = False
    stale_reason: str | None = None
    warnings: int = 0  # in the last poll; never a failure


def health_from_runs(source: str, runs: Sequence[SourceRun]) -> SourceHealth:
    """Last success, last error and the run of failures since, from runs newest first."""
    failures = 0
    for run in runs:
        if run.error is None:
            break
        failures += 1
    last_ok = next((r for r in runs if r.error is None), None)
    last_bad = next((r for r in runs if r.error is not None), None)
    return SourceHealth(
        source=source,
        last_run=runs[0].finished_at if runs else None,
        last_success=last_ok.finished_at if last_ok else None,
        last_error=last_bad.error if last_bad else None,
        last_error_at=last_bad.finished_at if last_bad else None,
        consecutive_failures=failures,
        warnings=runs[0].warnings if runs else 0,
    )


# A paper's free-text fields, and its lists of strings: what an upstream or a snapshot line fills.
_TEXT_FIELDS = ("title", "abstract", "doi", "journal_ref", "comments", "github_repo",
                "project_page", "ai_summary", "thumbnail", "organization")  # fmt: skip
_LIST_FIELDS = ("authors", "categories", "ai_keywords")


def without_nul(paper: Paper) -> Paper:
    """The paper with every U+0000 removed: PostgreSQL's text cannot hold it, and both stores
    must keep (and compare) the same text. Returns the paper itself when it has none."""
    p = paper
    every = (p.title, p.abstract, p.doi, p.journal_ref, p.comments, p.github_repo, p.project_page,
             p.ai_summary, p.thumbnail, p.organization, *p.authors, *p.categories, *p.ai_keywords)  # fmt: skip
    if "\x00" not in "".join(filter(None, every)):  # filter: no Python step a field
        return paper
    changes: dict[str, Any] = {
        f: value.replace("\x00", "")
        for f in _TEXT_FIELDS
        if (value := getattr(paper, f)) is not None
    }
    for f in _LIST_FIELDS:
        cleaned = (v.replace("\x00", "") for v in getattr(paper, f))
        changes[f] = tuple(v for v in cleaned if v)
    return replace(paper, **changes)


def merge_papers(old: Paper, new: Paper) -> Paper:
    """Combine what we knew with a new observation: newer facts win, nothing known is forgotten."""
    published = min((d for d in (old.published, new.published) if d), default=None)
    updated = max((d for d in (old.updated, new.updated) if d), default=None)
    versions = [v for v in (old.version, new.version) if v]
    return Paper(
        id=old.id,
        title=new.title or old.title,
        abstract=new.abstract or old.abstract,
        version=max(versions) if versions else None,
        authors=new.authors or old.authors,
        categories=new.categories or old.categories,
        published=published,
        updated=updated,
        doi=new.doi or old.doi,
        journal_ref=new.journal_ref or old.journal_ref,
        comments=new.comments or old.comments,
        upvotes=_newer(old.upvotes, new.upvotes),
        num_comments=_newer(old.num_comments, new.num_comments),
        github_repo=new.github_repo or old.github_repo,
        github_stars=_newer(old.github_stars, new.github_stars),
        project_page=new.project_page or old.project_page,
        ai_summary=new.ai_summary or old.ai_summary,
        ai_keywords=new.ai_keywords or old.ai_keywords,
        thumbnail=new.thumbnail or old.thumbnail,
        organization=new.organization or old.organization,
        hf_submitted_at=old.hf_submitted_at or new.hf_submitted_at,
        sources=old.sources | new.sources,
        first_seen=old.first_seen or new.first_seen,
    )


def _newer(old: int | None, new: int | None) -> int | None:
    return old if new is None else new


def feed_relevant_change(old: Paper, merged: Paper) -> bool:
    """A change that may make a feed want the paper now: a new version, new votes, a new source."""
    return (
        (merged.version or 0) > (old.version or 0)
        or merged.upvotes != old.upvotes
        or merged.num_comments != old.num_comments
        or merged.github_stars != old.github_stars
        or merged.sources != old.sources
    )


@dataclass(frozen=True, slots=True)
class ProcessBeat:
    """One process of a cluster as its last heartbeat recorded it (`paperfeed status`)."""

    id: str  # "host:pid:start", unique per process run
    roles: tuple[str, ...]
    shards: str  # "0-3/8", "" when the process holds no gateway shards
    host: str
    pid: int
    version: str
    started_at: datetime
    last_beat: datetime
    now: datetime  # the database's clock when read, so silence is judged on one clock
    # What answers the process's searches (its local index, or PostgreSQL's full text while it
    # is built); None for a process that answers none. See bot/store/postgres/local_index.py.
    search: Mapping[str, object] | None = None
    # Whether the process's presence lock is held (its connection open); None when unknown.
    present: bool | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    """Who leads a piece of work (polling one source) until when; the epoch fences terms."""

    name: str
    owner: str
    epoch: int
    expires_at: datetime
