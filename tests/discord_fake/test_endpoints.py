"""bot.discord.endpoints: the product's way to point discord.py at another Discord."""

from __future__ import annotations

from collections.abc import Iterator

import discord.gateway
import discord.http
import pytest
import yarl

from bot.discord.endpoints import DISCORD_API_BASE, current_discord_endpoints, use_discord_endpoints


@pytest.fixture
def restore_endpoints() -> Iterator[tuple[str, str]]:
    saved = current_discord_endpoints()
    yield saved
    use_discord_endpoints(*saved)
    assert current_discord_endpoints() == saved


def test_both_endpoints_are_set(restore_endpoints: tuple[str, str]) -> None:
    use_discord_endpoints("http://127.0.0.1:9/api/v10/", "ws://127.0.0.1:9/gateway")
    assert discord.http.Route.BASE == "http://127.0.0.1:9/api/v10"
    assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:9/api/v10/users/@me"
    assert yarl.URL("ws://127.0.0.1:9/gateway") == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    assert current_discord_endpoints() == ("http://127.0.0.1:9/api/v10", "ws://127.0.0.1:9/gateway")


def test_an_empty_gateway_url_keeps_the_gateway(restore_endpoints: tuple[str, str]) -> None:
    before = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    use_discord_endpoints("https://proxy.example.org/api/v10", "")
    assert discord.http.Route.BASE == "https://proxy.example.org/api/v10"
    assert before == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


def test_discord_itself_is_the_default() -> None:
    assert DISCORD_API_BASE == "https://discord.com/api/v10"


@pytest.mark.parametrize(
    ("api_base", "gateway_url"),
    [
        ("discord.com/api/v10", ""),
        ("ftp://x/api", ""),
        ("https://discord.com/api/v10", "https://gw"),
        ("http://", ""),
    ],
)
def test_bad_addresses_are_refused(
    restore_endpoints: tuple[str, str], api_base: str, gateway_url: str
) -> None:
    before = current_discord_endpoints()
    with pytest.raises(ValueError):
        use_discord_endpoints(api_base, gateway_url)
    assert current_discord_endpoints() == before
