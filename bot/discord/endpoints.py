"""Where discord.py sends REST calls and opens its gateway, so a Discord-compatible proxy can stand in.

discord.py reads both addresses from class attributes (`discord.http.Route.BASE` and
`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`), so they are process-wide: set them once at
start-up, before the client logs in. The `[discord] api_base` and `gateway_url` config keys end
up here, and so does the loopback fake Discord used by the end-to-end tests.
"""

from __future__ import annotations

import logging

import discord.gateway
import discord.http
import yarl

log = logging.getLogger(__name__)

DISCORD_API_BASE = "https://discord.com/api/v10"


def use_discord_endpoints(api_base: str, gateway_url: str) -> None:
    """Point discord.py at this REST base and (if given) gateway, because it has no per-client setting."""
    base = api_base.strip().rstrip("/")
    if yarl.URL(base).scheme not in ("http", "https") or not yarl.URL(base).host:
        raise ValueError(f"api_base: expected an http(s) URL, got {api_base!r}")
    gateway = gateway_url.strip()
    if gateway:
        url = yarl.URL(gateway)
        if url.scheme not in ("ws", "wss") or not url.host:
            raise ValueError(f"gateway_url: expected a ws(s):// URL, got {gateway_url!r}")
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = url
    discord.http.Route.BASE = base
    log.info(
        "Discord REST base is %s; gateway is %s",
        base,
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )


def current_discord_endpoints() -> tuple[str, str]:
    """Return the REST base and gateway in force, so whoever changes them can put them back."""
    return discord.http.Route.BASE, str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
