"""A scriptable fake of the HTTP upstreams (Hugging Face, arXiv), so no test reaches the internet.

One :class:`UpstreamScript` holds the answers, per route and per query (so per page), and
records every request (path, query, headers, time). Two front ends serve it:

* :func:`mock_transport` for unit tests: an ``httpx.MockTransport``, no sockets at all;
* :class:`FakeUpstreamServer`: a real aiohttp server on loopback with a URL, for tests that
  run the program as it runs in production (``paperfeed poll``, reliability drills).

Typical use::

    script = UpstreamScript()
    script.route("/api/daily_papers", Reply.json([...]), query={"date": "2026-09-18", "p": 0})
    script.route("/rss/cs.LG", Reply(503), Reply.xml(LISTING))  # first 503, then the listing
    async with httpx.AsyncClient(transport=mock_transport(script)) as client: ...
    assert script.requests[0].headers["user-agent"].startswith("paperfeed/")
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from aiohttp import web

Failure = Literal["timeout", "disconnect"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer; `fail` makes the request time out or the connection drop instead."""

    status: int = 200
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds spent "answering", through the script's sleep (virtual or real)
    fail: Failure | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        return cls(
            status, json.dumps(data), {"Content-Type": "application/json", **(headers or {})}
        )

    @classmethod
    def xml(
        cls,
        body: bytes | str,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/atom+xml; charset=utf-8",
    ) -> Reply:
        return cls(status, body, {"Content-Type": content_type, **(headers or {})})

    @classmethod
    def html(cls, body: bytes | str, status: int = 200) -> Reply:
        return cls(status, body, {"Content-Type": "text/html; charset=utf-8"})

    @property
    def content(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class Recorded:
    """A request as the fake saw it; header names are lower-case."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


Responder = Reply | Callable[[Recorded], Reply]


class Route:
    """Answers for one path (and query subset), served in order; the last one repeats."""

    def __init__(self, path: str, query: Mapping[str, str], replies: list[Responder]) -> None:
        if not replies:
            raise ValueError("a route needs at least one reply")
        self.path = path
        self.query = dict(query)
        self.replies = replies
        self.hits = 0

    def matches(self, path: str, query: Mapping[str, str]) -> bool:
        return path == self.path and all(query.get(k) == v for k, v in self.query.items())

    def next_reply(self, request: Recorded) -> Reply:
        responder = self.replies[min(self.hits, len(self.replies) - 1)]
        self.hits += 1
        return responder(request) if callable(responder) else responder


class UpstreamScript:
    """What the fake upstream answers, and a record of what it was asked."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.fallback = Reply.json({"error": "Not Found"}, status=404)
        self._routes: list[Route] = []
        self._clock = clock
        self._sleep = sleep

    def route(
        self, path: str, *replies: Responder, query: Mapping[str, str | int] | None = None
    ) -> Route:
        """Script GET `path`; with `query`, only requests carrying those parameters match.

        The most specific matching route wins (most query keys), the newest among equals, so
        a test can re-script a route mid-way.
        """
        route = Route(path, {k: str(v) for k, v in (query or {}).items()}, list(replies))
        self._routes.append(route)
        return route

    def pages(
        self,
        path: str,
        replies: list[Responder],
        *,
        query: Mapping[str, str | int] | None = None,
        page_param: str = "p",
    ) -> list[Route]:
        """Script page 0, 1, 2... of a paged endpoint, one reply each."""
        return [
            self.route(path, reply, query={**(query or {}), page_param: number})
            for number, reply in enumerate(replies)
        ]

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    async def answer(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> Reply:
        """Record the request and pick its reply; `in_flight` counts requests being answered."""
        recorded = Recorded(
            method=method,
            path=path,
            query=dict(query),
            headers={k.lower(): v for k, v in headers.items()},
            at=self._clock(),
        )
        self.requests.append(recorded)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            reply = self._pick(path, query, recorded)
            if reply.delay > 0:
                await self._sleep(reply.delay)
            else:
                await asyncio.sleep(0)  # let a concurrent request overlap this one, if it can
            return reply
        finally:
            self.in_flight -= 1

    def _pick(self, path: str, query: Mapping[str, str], recorded: Recorded) -> Reply:
        candidates = [r for r in self._routes if r.matches(path, query)]
        if not candidates:
            return self.fallback
        best = max(enumerate(candidates), key=lambda pair: (len(pair[1].query), pair[0]))[1]
        return best.next_reply(recorded)


def mock_transport(script: UpstreamScript) -> httpx.MockTransport:
    """Serve `script` to an httpx client without sockets."""

    async def handle(request: httpx.Request) -> httpx.Response:
        reply = await script.answer(
            request.method, request.url.path, dict(request.url.params), dict(request.headers)
        )
        if reply.fail == "timeout":
            raise httpx.ReadTimeout("scripted timeout", request=request)
        if reply.fail == "disconnect":
            raise httpx.RemoteProtocolError("scripted disconnect", request=request)
        return httpx.Response(reply.status, headers=dict(reply.headers), content=reply.content)

    return httpx.MockTransport(handle)


class FakeUpstreamServer:
    """`script` served by aiohttp on 127.0.0.1, for tests that need a real URL.

    A `timeout` reply holds the request open until the server closes; a `disconnect` reply
    drops the connection without an answer.
    """

    def __init__(self, script: UpstreamScript) -> None:
        self.script = script
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._port = 0

    @property
    def url(self) -> str:
        if not self._port:
            raise RuntimeError("the server is not running")
        return f"http://127.0.0.1:{self._port}"

    async def __aenter__(self) -> FakeUpstreamServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        reply = await self.script.answer(
            request.method, request.path, dict(request.query), dict(request.headers)
        )
        if reply.fail == "timeout":
            await self._closing.wait()
        if reply.fail is not None:
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=499)  # never reaches the client
        body = b"" if reply.status in (204, 304) else reply.content
        return web.Response(status=reply.status, body=body, headers=dict(reply.headers))


class VirtualClock:
    """Time that only moves when someone sleeps, so pacing and backoff tests never wait.

    Use `clock` as a monotonic clock, `sleep` as `asyncio.sleep`, `wall` as "now in UTC";
    `sleeps` lists every requested wait in order.
    """

    def __init__(self, start: float = 1_000.0, wall_epoch: datetime | None = None) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._start = start
        self._wall_epoch = wall_epoch or datetime(2026, 9, 18, 12, 0, tzinfo=UTC)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

    def wall(self) -> datetime:
        return self._wall_epoch + timedelta(seconds=self.now - self._start)
