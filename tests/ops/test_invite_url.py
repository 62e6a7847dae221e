"""`paperfeed invite-url`: the exact permissions by name, the application id from Discord or a flag."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.cli.ops import bot_permissions, cmd_invite_url, fetch_application_id
from bot.config import Config, parse_config_text
from bot.errors import ConfigError, PaperfeedError

TOKEN = "MTIz.secret-token.value"
# View Channel, Send Messages, Embed Links, Read Message History, Create Public Threads,
# Send Messages in Threads: Discord's documented bit positions.
EXPECTED_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 16) | (1 << 35) | (1 << 38)


def config_with_token(token: str = TOKEN) -> Config:
    text = '[discord]\napi_base = "https://discord.test/api/v10"\n'
    return parse_config_text(text, {"DISCORD_TOKEN": token} if token else {})


def args(client_id: int | None = None, as_json: bool = False) -> argparse.Namespace:
    return argparse.Namespace(client_id=client_id, json=as_json)


def test_permissions_are_exactly_the_named_ones() -> None:
    assert bot_permissions() == EXPECTED_PERMISSIONS == 309237730304


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No configuration file and no token: the defaults alone."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)


@pytest.mark.usefixtures("no_config")
def test_client_id_flag_needs_no_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite-url", "--client-id", "1234567890"]) == 0
    assert capsys.readouterr().out == (
        "https://discord.com/oauth2/authorize?client_id=1234567890"
        f"&scope=bot+applications.commands&permissions={EXPECTED_PERMISSIONS}\n"
    )


@pytest.mark.usefixtures("no_config")
def test_without_token_or_client_id_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["invite-url"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "--client-id" in lines[0] and "DISCORD_TOKEN" in lines[0]


async def test_application_id_is_asked_from_discord_with_the_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "987654321098765432", "name": "paperfeed"})

    code = await cmd_invite_url(args(as_json=True), config_with_token(),
                                transport=httpx.MockTransport(answer))  # fmt: skip
    assert code == 0
    (request,) = seen
    assert request.method == "GET"
    assert str(request.url) == "https://discord.test/api/v10/oauth2/applications/@me"
    assert request.headers["authorization"] == f"Bot {TOKEN}"
    assert request.headers["user-agent"].startswith("DiscordBot (")
    document = json.loads(capsys.readouterr().out)
    assert document == {
        "url": "https://discord.com/oauth2/authorize?client_id=987654321098765432"
        f"&scope=bot+applications.commands&permissions={EXPECTED_PERMISSIONS}",
        "client_id": "987654321098765432",
        "permissions": EXPECTED_PERMISSIONS,
        "scopes": ["bot", "applications.commands"],
    }


@pytest.mark.parametrize(
    ("reply", "error", "wanted"),
    [
        (httpx.Response(401, json={"message": "401: Unauthorized"}), ConfigError, "refused the token"),
        (httpx.Response(503, text="upstream down"), PaperfeedError, "answered 503"),
        (httpx.Response(200, json={"name": "no id"}), PaperfeedError, "no application id"),
        (httpx.ConnectError("connection refused"), PaperfeedError, "cannot reach Discord"),
    ],
)  # fmt: skip
async def test_failures_are_one_line_without_the_token(
    reply: httpx.Response | Exception, error: type[PaperfeedError], wanted: str
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if isinstance(reply, Exception):
            raise reply
        return reply

    with pytest.raises(error) as caught:
        await fetch_application_id("https://discord.test/api/v10", config_with_token().discord.token,
                                   transport=httpx.MockTransport(answer))  # fmt: skip
    message = str(caught.value)
    assert wanted in message and "\n" not in message
    assert TOKEN not in message and "secret-token" not in message
    assert caught.value.__cause__ is None or TOKEN not in repr(caught.value.__cause__)
