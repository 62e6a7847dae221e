"""The health and metrics endpoint: `GET /healthz` for Docker and orchestrators, `GET /metrics`.

Each health check is an injected async callable returning True (healthy), False (not), or
raising (not, with the reason shown): the endpoint knows nothing about Discord or the scheduler,
so it can be tested, and started, without them. `[health] port = 0` turns the server off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.config import HealthConfig
from bot.errors import PaperfeedError
from bot.metrics import CONTENT_TYPE, Metrics

if TYPE_CHECKING:
    from bot.store.interfaces import Database

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT = 5.0  # a check that hangs is a failing check, and must not hang the prober
_SHUTDOWN_TIMEOUT = 2.0  # seconds to let in-flight requests finish when the server stops


async def run_checks(checks: Mapping[str, Check], timeout: float = CHECK_TIMEOUT) -> dict[str, str]:
    """Run every check concurrently; each answers "ok", "failing" or "error: <why>"."""

    async def one(check: Check) -> str:
        try:
            healthy = await asyncio.wait_for(check(), timeout)
        except TimeoutError:
            return f"error: no answer within {timeout:g}s"
        except Exception as exc:  # a check that raises is unhealthy, with its reason
            reason = str(exc) or type(exc).__name__
            return f"error: {reason}"
        return "ok" if healthy else "failing"

    names = list(checks)
    results = await asyncio.gather(*(one(checks[n]) for n in names))
    return dict(zip(names, results, strict=True))


def build_app(
    checks: Mapping[str, Check],
    metrics: Metrics | None = None,
    store: Database | None = None,
    *,
    check_timeout: float = CHECK_TIMEOUT,
) -> web.Application:
    """The aiohttp application behind the endpoint (tests can serve it on their own)."""

    last_failing: list[str] = []

    async def healthz(request: web.Request) -> web.Response:
        nonlocal last_failing
        results = await run_checks(checks, check_timeout)
        failing = [name for name, result in results.items() if result != "ok"]
        body: dict[str, Any] = {"status": "unhealthy" if failing else "ok", "checks": results}
        if failing:
            body["failing"] = failing
        if failing != last_failing:  # log changes, not every probe
            if failing:
                log.warning("unhealthy: %s", ", ".join(f"{n} {results[n]}" for n in failing))
            else:
                log.info("healthy again")
            last_failing = failing
        return web.json_response(body, status=503 if failing else 200)

    async def metrics_page(request: web.Request) -> web.Response:
        if metrics is None:
            raise web.HTTPNotFound(text="metrics are not enabled\n")
        if store is not None:
            try:
                await metrics.refresh(store)
            except Exception as exc:  # stale gauges beat a failed scrape
                log.warning("could not read the database for /metrics: %s", exc)
        response = web.Response(body=metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    return app


class HealthServer:
    """Serves the endpoint for the life of an `async with` block; port 0 means no server at all."""

    def __init__(
        self,
        config: HealthConfig,
        checks: Mapping[str, Check],
        metrics: Metrics | None = None,
        store: Database | None = None,
        *,
        check_timeout: float = CHECK_TIMEOUT,
    ) -> None:
        self.host = config.host
        self.port = config.port
        self._app = build_app(checks, metrics, store, check_timeout=check_timeout)
        self._runner: web.AppRunner | None = None

    @property
    def enabled(self) -> bool:
        return self.port != 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen on [health] host:port; a port that cannot be bound is one clear error (exit 1)."""
        if not self.enabled or self._runner is not None:
            return
        runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            reason = exc.strerror or str(exc)
            raise PaperfeedError(
                f"health endpoint: cannot listen on {self.host}:{self.port}: {reason} "
                "(change [health] port, or set it to 0 to turn the endpoint off)"
            ) from None
        self._runner = runner
        log.info("health endpoint on %s/healthz, metrics on %s/metrics", self.url, self.url)

    async def stop(self) -> None:
        """Close the listening socket and every open connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
