"""`paperfeed healthcheck`: ask the running bot's health endpoint, where the configuration puts it.

The container's HEALTHCHECK runs this command, so a changed `[health] port` (or host) is
followed without editing the image. Exit 0 healthy, 1 unhealthy or unreachable (Docker's two
meaningful codes); one line on stdout says which, and Docker keeps it in `docker inspect`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import urllib.error
import urllib.request

from bot.config import Config, HealthConfig

TIMEOUT = 4.0  # below the image's HEALTHCHECK --timeout=5s
_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "healthcheck",
        help="ask the running bot's /healthz (exit 0 healthy, 1 not); the container's HEALTHCHECK",
    )
    p.add_argument(
        "--timeout", type=float, default=TIMEOUT, help=f"seconds to wait (default {TIMEOUT:g})"
    )
    p.set_defaults(handler=cmd_healthcheck)


def health_url(health: HealthConfig) -> str | None:
    """The URL of /healthz for a client on this machine, or None when the endpoint is off."""
    if health.port == 0:
        return None
    host = _WILDCARDS.get(health.host, health.host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{health.port}/healthz"


def _ask(url: str, timeout: float) -> tuple[bool, str]:
    # Never through a proxy from the environment: the endpoint is on this machine.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as answer:
            body = answer.read(4096)
            status = answer.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(4096), exc.code
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"unhealthy: no answer from {url} ({reason})"
    try:
        document = json.loads(body)
        failing = document.get("failing") if isinstance(document, dict) else None
    except ValueError:
        failing = None
    if 200 <= status < 300:
        return True, f"healthy: {url} answered {status}"
    detail = f", failing: {', '.join(map(str, failing))}" if failing else ""
    return False, f"unhealthy: {url} answered {status}{detail}"


async def cmd_healthcheck(args: argparse.Namespace, config: Config) -> int:
    url = health_url(config.health)
    if url is None:
        # Nothing to ask: the process is running (Docker runs this inside it), so say healthy.
        print("healthy: the health endpoint is off ([health] port = 0); nothing to check")
        return 0
    healthy, line = await asyncio.to_thread(_ask, url, args.timeout)
    print(line)
    return 0 if healthy else 1
