"""Polite HTTP for upstreams: one shared client, bounded backoff, pacing and conditional GETs.

Every request to an upstream goes through a :class:`Fetcher`, which owns the rules the
upstreams ask us to keep: identify ourselves, retry only what is transient (429, 5xx,
timeouts, dropped connections) with capped exponential backoff, honour ``Retry-After``,
keep arXiv's one-request-every-three-seconds on one connection (:class:`Pacer`), and ask
"anything new?" with ``If-None-Match`` / ``If-Modified-Since`` instead of re-downloading.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from bot import USER_AGENT
from bot.clock import Clock, MonotonicClock, utcnow
from bot.errors import SourceResponseError, SourceUnavailable

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_DEADLINE = 120.0  # seconds for one attempt, however slowly the body trickles in
DEFAULT_MAX_BYTES = 32 * 1024 * 1024  # far above arXiv's 2000-item listing; stops a runaway body

# Failures worth another try: the request may well succeed a little later.
_TRANSIENT_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
    TimeoutError,
)
_RETRYABLE_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure; `attempts=1` switches it off."""

    attempts: int = 4
    base: float = 2.0  # seconds before the first retry; doubles each time
    cap: float = 60.0  # longest single wait, and the longest Retry-After we are willing to honour
    jitter: float = 0.25  # stretch each wait by up to this fraction so clients do not stampede

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if min(self.base, self.cap, self.jitter) < 0:
            raise ValueError("RetryPolicy.base, cap and jitter must not be negative")

    def backoff(self, retry_number: int, rand: float) -> float:
        """Wait before retry `retry_number` (1-based); `rand` in [0, 1) picks the jitter."""
        delay = min(self.cap, self.base * 2.0 ** (retry_number - 1))
        return min(self.cap, delay * (1.0 + self.jitter * rand))


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server gave us to ask "changed since?" next time (RFC 9110 §13.1)."""

    etag: str | None = None
    last_modified: str | None = None

    @property
    def empty(self) -> bool:
        return self.etag is None and self.last_modified is None

    def request_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> Validators:
        return cls(etag=headers.get("ETag"), last_modified=headers.get("Last-Modified"))


class ValidatorState(Protocol):
    """Where validators live between polls; the store persists them, tests use a dict."""

    def get(self, url: str) -> Validators | None: ...

    def set(self, url: str, validators: Validators) -> None: ...


class MemoryValidatorState:
    """Validators kept for the life of the process (enough to save arXiv a daily re-download)."""

    def __init__(self, initial: Mapping[str, Validators] | None = None) -> None:
        self.by_url: dict[str, Validators] = dict(initial or {})

    def get(self, url: str) -> Validators | None:
        return self.by_url.get(url)

    def set(self, url: str, validators: Validators) -> None:
        self.by_url[url] = validators


class Pacer:
    """Keeps requests to one upstream apart and one at a time (arXiv: ≥ 3 s, one connection).

    Share one instance across everything that talks to that upstream: the lock is held for
    the whole request, and the gap is measured from the end of one request to the start of
    the next.
    """

    def __init__(
        self,
        spacing: float = 3.0,
        *,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if spacing < 0:
            raise ValueError("Pacer spacing must not be negative")
        self.spacing = spacing
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._free_at: float | None = None

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait until this caller may send, and keep everyone else waiting until it is done."""
        async with self._lock:
            if self._free_at is not None:
                wait = self._free_at - self._clock()
                if wait > 0:
                    await self._sleep(wait)
            try:
                yield
            finally:
                self._free_at = self._clock() + self.spacing


@dataclass(frozen=True, slots=True)
class Fetched:
    """One usable answer: its body, and the validators to remember once the body proved good."""

    url: str
    status: int
    body: bytes
    content_type: str = ""
    validators: Validators = Validators()
    not_modified: bool = False


@dataclass(frozen=True, slots=True)
class _Transient:
    """A failed attempt worth retrying, and how long the upstream asked us to wait."""

    reason: str
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str


class Fetcher:
    """GETs for one upstream over a shared client, with that upstream's manners."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        source: str,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        pacer: Pacer | None = None,
        validators: ValidatorState | None = None,
        accept: str = "*/*",
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        max_bytes: int = DEFAULT_MAX_BYTES,
        sleep: Sleep = asyncio.sleep,
        wall_clock: Clock = utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.source = source
        self.retry = retry
        self.validators = validators if validators is not None else MemoryValidatorState()
        self._client = client
        self._pacer = pacer
        self._accept = accept
        self._timeout = timeout
        self._deadline = deadline
        self._max_bytes = max_bytes
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._rand = rand

    async def get(
        self,
        url: str,
        params: Mapping[str, str | int] | None = None,
        *,
        conditional: bool = False,
        accept_statuses: Collection[int] = (),
    ) -> Fetched:
        """Fetch `url`, retrying what is transient.

        `conditional` sends the validators remembered for this URL; a 304 then comes back as
        `not_modified` with an empty body. Statuses in `accept_statuses` (e.g. 404 for a
        lookup) are returned to the caller instead of raised.

        Raises SourceUnavailable once retries are exhausted, SourceResponseError for any
        other status or an unusable response.
        """
        target = request_url(url, params)
        headers = self._headers(target, conditional)
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._try_once(target, headers, conditional, accept_statuses)
            if isinstance(outcome, Fetched):
                return outcome
            delay = self._retry_delay(outcome, attempt)
            if delay is None:
                break
            log.info(
                "%s: %s from %s; retry %d of %d in %.1f s",
                self.source,
                outcome.reason,
                target,
                attempt,
                self.retry.attempts - 1,
                delay,
            )
            await self._sleep(delay)
        log.warning(
            "%s: giving up on %s after %d attempt(s): %s",
            self.source,
            target,
            attempt,
            outcome.reason,
        )
        raise SourceUnavailable(self.source, f"{outcome.reason} (after {attempt} attempt(s))")

    async def _try_once(
        self,
        target: str,
        headers: dict[str, str],
        conditional: bool,
        accept_statuses: Collection[int],
    ) -> Fetched | _Transient:
        """One attempt: a usable answer, a transient failure to retry, or a raised refusal."""
        try:
            answer = await self._attempt(target, headers)
        except _TRANSIENT_ERRORS as exc:
            return _Transient(_describe_exception(exc))
        except httpx.HTTPError as exc:
            raise self._refuse(target, _describe_exception(exc)) from exc
        if answer.status == 304 and conditional:
            return Fetched(answer.url, 304, b"", not_modified=True)
        if 200 <= answer.status < 300 or answer.status in accept_statuses:
            return _fetched(answer)
        reason = _describe_status(answer)
        if not _retryable(answer.status):
            raise self._refuse(target, reason)
        retry_after = retry_after_seconds(answer.headers.get("Retry-After"), self._wall_clock())
        if retry_after is not None:
            reason += f" (Retry-After {retry_after:.0f} s)"
        return _Transient(reason, retry_after)

    def _retry_delay(self, failure: _Transient, attempt: int) -> float | None:
        """How long to wait before the next attempt; None when there is none.

        A Retry-After longer than the cap ends the retries at once: waiting less would be
        rude, waiting more would stall the poll; the next scheduled poll will try again.
        """
        if attempt >= self.retry.attempts:
            return None
        if failure.retry_after is None:
            return self.retry.backoff(attempt, self._rand())
        return failure.retry_after if failure.retry_after <= self.retry.cap else None

    def remember(self, url: str, fetched: Fetched) -> None:
        """Keep a response's validators for the next conditional request to `url`.

        Call it only after the body was parsed and used: remembering a body we could not use
        would turn the next poll into a 304 and lose its papers.
        """
        if not fetched.validators.empty:
            self.validators.set(request_url(url), fetched.validators)

    def _headers(self, target: str, conditional: bool) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": self._accept}
        if conditional:
            known = self.validators.get(target)
            if known is not None:
                headers.update(known.request_headers())
        return headers

    async def _attempt(self, url: str, headers: dict[str, str]) -> _Answer:
        """One request, inside the pacer's turn when there is one."""
        turn = self._pacer.turn() if self._pacer else contextlib.nullcontext()
        async with (
            turn,
            asyncio.timeout(self._deadline),
            self._client.stream(
                "GET", url, headers=headers, timeout=self._timeout, follow_redirects=True
            ) as response,
        ):
            body = await self._read_body(response, url)
            return _Answer(response.status_code, response.headers, body, str(response.url))

    async def _read_body(self, response: httpx.Response, url: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                raise self._refuse(url, f"response larger than {self._max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _refuse(self, url: str, reason: str) -> SourceResponseError:
        """The one warning for a request that will not be retried, and the error to raise."""
        log.warning("%s: %s from %s", self.source, reason, url)
        return SourceResponseError(self.source, reason)


def request_url(url: str, params: Mapping[str, str | int] | None = None) -> str:
    """The URL as requested, query included: the key validators are kept under."""
    return str(httpx.URL(url).copy_merge_params(dict(params or {})))


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Read Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _retryable(status: int) -> bool:
    return status in _RETRYABLE_STATUSES or 500 <= status < 600


def _fetched(answer: _Answer) -> Fetched:
    return Fetched(
        url=answer.url,
        status=answer.status,
        body=answer.body,
        content_type=answer.headers.get("Content-Type", ""),
        validators=Validators.from_headers(answer.headers),
    )


def _describe_status(answer: _Answer) -> str:
    """`HTTP 400 Bad Request: <the upstream's own message>` when it gave one in JSON."""
    phrase = httpx.codes.get_reason_phrase(answer.status)
    text = f"HTTP {answer.status} {phrase}" if phrase else f"HTTP {answer.status}"
    message = _json_error_message(answer.body)
    return f"{text}: {message}" if message else text


def _json_error_message(body: bytes) -> str | None:
    """Hugging Face answers errors as {"error": "..."}; keep that line for the user."""
    if not body.lstrip().startswith(b"{") or len(body) > 4096:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict):
        for key in ("error", "message"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:200]
    return None


def _describe_exception(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return f"timed out ({type(exc).__name__})"
    detail = str(exc).strip()
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
