"""Prometheus metrics: one registry per process (never the global one), so tests never collide.

The counters and histograms move as the work happens (the poller, the publisher and the Discord
client call the `record_*` methods); the gauges that describe the database are read from the
store when `/metrics` is scraped, so they are never stale and cost nothing between scrapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot import __version__
from bot.sources.registry import NAMES

if TYPE_CHECKING:
    from bot.store.interfaces import Database

CONTENT_TYPE = CONTENT_TYPE_LATEST
SOURCES = NAMES
DELIVERY_OUTCOMES = ("sent", "failed", "skipped", "retried")
DM_OUTCOMES = ("sent", "refused", "failed", "retried")
DISCORD_STATUS_CLASSES = ("2xx", "3xx", "4xx", "429", "5xx", "error")
# Polls take from under a second (a 304) to minutes (a paced arXiv API walk).
_POLL_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Delivery latency spans an instant post to a digest that waits for its time of day.
_LATENCY_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0, 86400.0)


def status_class(status: int | None) -> str:
    """Fold an HTTP status into the label an alert cares about; 429 stands alone, None = no answer."""
    if status is None:
        return "error"
    if status == 429:
        return "429"
    if 200 <= status < 600:
        return f"{status // 100}xx"
    return "error"


@dataclass(frozen=True)
class _Definition:
    """One exported metric: the attribute that holds it, its kind, name, help and labels."""

    attr: str
    kind: type[Counter] | type[Gauge] | type[Histogram]
    name: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    def make(self, registry: CollectorRegistry) -> Counter | Gauge | Histogram:
        """Register the metric in this process's own registry (only histograms take buckets)."""
        if self.kind is Histogram:
            return Histogram(
                self.name, self.help, self.labels, buckets=self.buckets, registry=registry
            )
        return self.kind(self.name, self.help, self.labels, registry=registry)


_DEFINITIONS = (
    _Definition("build_info", Gauge, "paperfeed_build_info", "The running version (always 1).",
                ("version",)),
    _Definition("process_role", Gauge, "paperfeed_process_role",
                "The roles this process runs (1 each): gateway, poller, publisher.", ("role",)),
    _Definition("polls", Counter, "paperfeed_source_polls", "Polls of an upstream source.",
                ("source",)),
    _Definition("poll_failures", Counter, "paperfeed_source_poll_failures",
                "Polls that recorded an error (the run's error in `paperfeed poll`).", ("source",)),
    _Definition("warnings", Counter, "paperfeed_source_warnings",
                "Items a poll skipped or fields it ignored; the poll still succeeded.",
                ("source",)),
    _Definition("papers_new", Counter, "paperfeed_source_papers_new",
                "Papers a source brought that the database did not have.", ("source",)),
    _Definition("poll_duration", Histogram, "paperfeed_source_poll_duration_seconds",
                "Time one poll took: fetch, store, match and queue.", ("source",),
                _POLL_BUCKETS),
    _Definition("papers_stored", Gauge, "paperfeed_papers_stored",
                "Papers in the database (read at scrape)."),
    _Definition("deliveries", Counter, "paperfeed_deliveries",
                "Delivery attempts by outcome: sent, failed, skipped, retried.", ("outcome",)),
    _Definition("delivery_latency", Histogram, "paperfeed_delivery_latency_seconds",
                "Time from a delivery being queued to Discord accepting it.", (),
                _LATENCY_BUCKETS),
    _Definition("queue_depth", Gauge, "paperfeed_delivery_queue_depth",
                "Deliveries waiting to be sent (read at scrape)."),
    _Definition("feeds_paused", Gauge, "paperfeed_feeds_paused",
                "Feeds that are paused (read at scrape)."),
    _Definition("feeds_total", Gauge, "paperfeed_feeds", "Feeds in the database (read at scrape)."),
    _Definition("dms", Counter, "paperfeed_dms",
                "Personal-follow DM messages by outcome: sent, refused (DMs closed), failed, retried.",
                ("dm_outcome",)),
    _Definition("follows_total", Gauge, "paperfeed_follows",
                "Members' personal follows in the database (read at scrape)."),
    _Definition("follows_paused", Gauge, "paperfeed_follows_paused",
                "Personal follows that are paused, e.g. DMs closed (read at scrape)."),
    _Definition("dms_refused_total", Gauge, "paperfeed_dms_refused_stored",
                "DMs refused because a member's DMs are closed, as recorded (read at scrape)."),
    _Definition("discord_requests", Counter, "paperfeed_discord_requests",
                "Discord REST requests by status class (2xx, 4xx, 429, 5xx, error = no answer).",
                ("status",)),
)  # fmt: skip
# Known label values start at zero, so dashboards and rate() see them before the first event.
_KNOWN_VALUES = {
    "source": SOURCES,
    "outcome": DELIVERY_OUTCOMES,
    "status": DISCORD_STATUS_CLASSES,
    "dm_outcome": DM_OUTCOMES,
}


class Metrics:
    """Owns the registry and every metric the bot exports, with a method per event worth counting."""

    # Made from _DEFINITIONS, one attribute each.
    build_info: Gauge
    process_role: Gauge
    polls: Counter
    poll_failures: Counter
    warnings: Counter
    papers_new: Counter
    poll_duration: Histogram
    papers_stored: Gauge
    deliveries: Counter
    delivery_latency: Histogram
    queue_depth: Gauge
    feeds_paused: Gauge
    feeds_total: Gauge
    discord_requests: Counter
    dms: Counter
    follows_total: Gauge
    follows_paused: Gauge
    dms_refused_total: Gauge

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        for definition in _DEFINITIONS:
            metric = definition.make(self.registry)
            setattr(self, definition.attr, metric)
            for label in definition.labels:
                for value in _KNOWN_VALUES.get(label, ()):
                    metric.labels(**{label: value})
        self.build_info.labels(version=__version__).set(1)

    def set_roles(self, roles: tuple[str, ...]) -> None:
        """Label this process with its cluster roles ("all" counts as every role)."""
        every = ("gateway", "poller", "publisher")
        for role in every:
            self.process_role.labels(role=role).set(1 if "all" in roles or role in roles else 0)

    def record_poll(
        self, source: str, seconds: float, *, failed: bool, new: int = 0, warnings: int = 0
    ) -> None:
        """Count one poll of a source with its duration; called by the poller after every run."""
        self.polls.labels(source=source).inc()
        if failed:
            self.poll_failures.labels(source=source).inc()
        if warnings > 0:
            self.warnings.labels(source=source).inc(warnings)
        if new > 0:
            self.papers_new.labels(source=source).inc(new)
        self.poll_duration.labels(source=source).observe(max(0.0, seconds))

    def record_delivery(self, outcome: str, latency_seconds: float | None = None) -> None:
        """Count one delivery outcome; a sent one may carry its queue-to-post latency."""
        if outcome not in DELIVERY_OUTCOMES:
            raise ValueError(f"unknown delivery outcome {outcome!r}")
        self.deliveries.labels(outcome=outcome).inc()
        if outcome == "sent" and latency_seconds is not None:
            self.delivery_latency.observe(max(0.0, latency_seconds))

    def record_dm(self, outcome: str, messages: int = 1) -> None:
        """Count DM messages by outcome (the DM publisher's observer)."""
        if outcome not in DM_OUTCOMES:
            raise ValueError(f"unknown DM outcome {outcome!r}")
        self.dms.labels(dm_outcome=outcome).inc(messages)

    def record_discord_response(self, status: int | None) -> None:
        """Count one Discord REST answer by class (None when the request got no answer at all)."""
        self.discord_requests.labels(status=status_class(status)).inc()

    async def refresh(self, store: Database) -> None:
        """Set the gauges that describe the database; `/metrics` calls this before rendering."""
        self.papers_stored.set(await store.papers.count())
        self.queue_depth.set(await store.outbox.depth())
        feeds = await store.feeds.list()
        self.feeds_total.set(len(feeds))
        self.feeds_paused.set(sum(1 for f in feeds if f.paused))
        follows = await store.follows.counts()
        self.follows_total.set(follows["follows"])
        self.follows_paused.set(follows["follows"] - follows["active"])
        self.dms_refused_total.set((await store.dms.counts(datetime.now(UTC)))["refused"])

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)
