"""Shared pieces for source tests: virtual time, a scripted upstream, a client that reaches it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fakes.upstreams import UpstreamScript, VirtualClock, mock_transport


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test whose real HTTP transport aims anywhere but this machine."""
    original = httpx.AsyncHTTPTransport.handle_async_request

    async def guarded(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        if request.url.host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"a test tried to reach {request.url.host}")
        return await original(self, request)

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", guarded)


@pytest.fixture
def vclock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def script(vclock: VirtualClock) -> UpstreamScript:
    return UpstreamScript(clock=vclock.clock, sleep=vclock.sleep)


@pytest.fixture
async def client(script: UpstreamScript) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=mock_transport(script)) as http:
        yield http
