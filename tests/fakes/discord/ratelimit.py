"""Discord's rate limits: per-route buckets with headers, the global limit, invalid-request counts.

Buckets are fixed windows per route and per top-level resource (channel, guild, webhook token),
as Discord documents; every answer from a bucketed route carries `X-RateLimit-*` headers so a
well-behaved client paces itself. 429 bodies are `{"message", "retry_after", "global"}` with a
`Via` header (without it discord.py assumes a Cloudflare ban and gives up).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .clock import FakeClock
from .records import InvalidRequest

_PLACEHOLDER = re.compile(r"\{[^}]*\}")
MESSAGE_CREATE = "POST /channels/{channel_id}/messages"
VIA = "1.1 google"

#: routes that answer interactions: exempt from the global limit
INTERACTION_ROUTE = re.compile(r"^\w+ /(interactions|webhooks)/")


def normalise_route(route: str) -> str:
    """`POST /channels/{id}/messages` and `POST /channels/{channel_id}/messages` name one route."""
    method, _, path = route.strip().partition(" ")
    path = "/" + path.strip().removeprefix("/api/v10").strip("/")
    return method.upper() + " " + _PLACEHOLDER.sub("{}", path)


@dataclass(frozen=True)
class BucketSpec:
    """How many requests a route allows per window, per top-level resource."""

    limit: int
    per: float


@dataclass
class _Window:
    started: float
    used: int = 0


@dataclass(frozen=True)
class Decision:
    """What the limiter says about one request."""

    allowed: bool
    headers: dict[str, str]
    retry_after: float = 0.0
    scope: str | None = None

    @property
    def is_global(self) -> bool:
        """Whether the global (per-bot) limit refused it."""
        return self.scope == "global"

    def body(self) -> dict[str, Any]:
        """The 429 body Discord sends."""
        message = (
            "The resource is being rate limited."
            if self.scope == "shared"
            else "You are being rate limited."
        )
        return {
            "message": message,
            "retry_after": round(self.retry_after, 3),
            "global": self.is_global,
        }


@dataclass
class RateLimiter:
    """Per-route buckets, a global window, and the invalid-request log."""

    clock: FakeClock
    global_limit: int = 50
    global_per: float = 1.0
    default: BucketSpec = field(default_factory=lambda: BucketSpec(50, 1.0))
    specs: dict[str, BucketSpec] = field(default_factory=dict)
    invalid: list[InvalidRequest] = field(default_factory=list)
    _windows: dict[tuple[str, str], _Window] = field(default_factory=dict)
    _global: deque[float] = field(default_factory=deque)

    def set_bucket(self, route: str, limit: int, per: float) -> None:
        """Give `route` (`"POST /channels/{id}/messages"`) its own limit per window."""
        self.specs[normalise_route(route)] = BucketSpec(limit, per)

    def spec_for(self, route_key: str) -> BucketSpec:
        """The bucket spec that applies to a route."""
        return self.specs.get(normalise_route(route_key), self.default)

    @staticmethod
    def bucket_hash(route_key: str) -> str:
        """A stable opaque bucket id per route, as Discord's `X-RateLimit-Bucket`."""
        return hashlib.sha1(normalise_route(route_key).encode()).hexdigest()[:32]

    def check(self, route_key: str, major: str) -> Decision:
        """Count one request against the global window and its bucket; refuse if either is spent."""
        now = self.clock.monotonic()
        if not INTERACTION_ROUTE.match(route_key):
            while self._global and self._global[0] <= now - self.global_per:
                self._global.popleft()
            if len(self._global) >= self.global_limit:
                retry = self._global[0] + self.global_per - now
                return Decision(
                    False,
                    {"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"},
                    retry_after=retry,
                    scope="global",
                )
            self._global.append(now)
        spec = self.spec_for(route_key)
        key = (normalise_route(route_key), major)
        window = self._windows.get(key)
        if window is None or now >= window.started + spec.per:
            window = self._windows[key] = _Window(started=now)
        reset_after = window.started + spec.per - now
        if window.used >= spec.limit:
            headers = self._headers(route_key, spec, 0, reset_after)
            headers["X-RateLimit-Scope"] = "user"
            return Decision(False, headers, retry_after=reset_after, scope="user")
        window.used += 1
        return Decision(True, self._headers(route_key, spec, spec.limit - window.used, reset_after))

    def _headers(
        self, route_key: str, spec: BucketSpec, remaining: int, reset_after: float
    ) -> dict[str, str]:
        # Round up, so a client that waits exactly this long is never early.
        after = math.ceil(reset_after * 1000) / 1000
        return {
            "X-RateLimit-Limit": str(spec.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{self.clock.time() + after:.3f}",
            "X-RateLimit-Reset-After": f"{after:.3f}",
            "X-RateLimit-Bucket": self.bucket_hash(route_key),
        }

    def note_status(self, status: int, route_key: str, scope: str | None) -> None:
        """Log 401/403/429 answers the way Cloudflare counts them (shared-scope 429s excluded)."""
        if status in (401, 403) or (status == 429 and scope != "shared"):
            self.invalid.append(InvalidRequest(self.clock.monotonic(), status, route_key, scope))

    def invalid_count(self, window: float = 600.0) -> int:
        """Invalid requests in the last `window` seconds (Discord bans at 10,000 per 10 minutes)."""
        since = self.clock.monotonic() - window
        return sum(1 for r in self.invalid if r.at > since)
