"""Helpers for the fake's own tests, and an audit that every body the fake accepted was legal.

The audit re-checks accepted requests with limits written out plainly here (not with the fake's
`rules` module), so a bug in the fake's rules cannot hide itself.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.discord_fake.testbot import PaperTestBot
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.fixtures import BotStarter, FakeFactory, StartedBot

MESSAGE_BODIES = {
    "POST /channels/{channel_id}/messages": "create",
    "PATCH /channels/{channel_id}/messages/{message_id}": "edit",
    "POST /webhooks/{webhook_id}/{webhook_token}": "create",
    "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}": "edit",
}
NAME = re.compile(r"^[-_'\w]{1,32}$")


def _message_problems(body: dict[str, Any], *, partial: bool) -> list[str]:
    problems = []
    content = body.get("content") or ""
    embeds = body.get("embeds") or []
    if len(content) > 2000:
        problems.append("content over 2000")
    if len(embeds) > 10:
        problems.append("more than 10 embeds")
    total = 0
    for embed in embeds:
        title, description = embed.get("title") or "", embed.get("description") or ""
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        fields = embed.get("fields") or []
        if len(title) > 256 or len(description) > 4096 or len(footer) > 2048 or len(author) > 256:
            problems.append("embed text over its limit")
        if len(fields) > 25:
            problems.append("more than 25 fields")
        for f in fields:
            if (
                not 1 <= len(f.get("name") or "") <= 256
                or not 1 <= len(f.get("value") or "") <= 1024
            ):
                problems.append("field name/value out of range")
            total += len(f.get("name") or "") + len(f.get("value") or "")
        total += len(title) + len(description) + len(footer) + len(author)
    if total > 6000:
        problems.append("embeds over 6000 in total")
    if not partial and not (
        content.strip() or embeds or body.get("components") or body.get("sticker_ids")
    ):
        problems.append("empty message")
    return problems


def _command_problems(command: dict[str, Any]) -> list[str]:
    problems = []
    name, description = command.get("name", ""), command.get("description") or ""
    if command.get("type", 1) == 1:
        if not NAME.match(name) or name != name.lower():
            problems.append(f"bad command name {name!r}")
        if not 1 <= len(description) <= 100:
            problems.append("bad description")
    options = command.get("options") or []
    if len(options) > 25:
        problems.append("more than 25 options")
    seen_optional = False
    for opt in options:
        if opt.get("type") in (1, 2):
            problems += _command_problems({**opt, "type": 1})
            continue
        if not NAME.match(opt.get("name", "")) or not 1 <= len(opt.get("description") or "") <= 100:
            problems.append("bad option")
        if len(opt.get("choices") or []) > 25 or (opt.get("choices") and opt.get("autocomplete")):
            problems.append("bad choices")
        if opt.get("required") and seen_optional:
            problems.append("required after optional")
        seen_optional = seen_optional or not opt.get("required")
    return problems


def audit(fake: FakeDiscord) -> list[str]:
    """Every limit violation in a body the fake answered with 2xx."""
    problems: list[str] = []
    for request in fake.requests:
        if not 200 <= request.status < 300 or not isinstance(request.body, (dict, list)):
            continue
        kind = MESSAGE_BODIES.get(request.key)
        body = request.body
        if (
            request.key.endswith("/callback")
            and isinstance(body, dict)
            and body.get("type") in (4, 7)
        ):
            kind, body = ("create" if body["type"] == 4 else "edit"), body.get("data") or {}
        if (
            request.key == "POST /channels/{channel_id}/threads"
            and isinstance(body, dict)
            and "message" in body
        ):
            kind, body = "create", body["message"]
        if kind is not None and isinstance(body, dict):
            problems += [
                f"{request.key}: {p}" for p in _message_problems(body, partial=kind == "edit")
            ]
        if (
            request.method == "PUT"
            and request.route.endswith("/commands")
            and isinstance(body, list)
        ):
            for command in body:
                problems += [f"{request.key}: {p}" for p in _command_problems(command)]
    return problems


@pytest.fixture(autouse=True)
async def _accepted_bodies_are_legal(discord_fake_factory: FakeFactory) -> AsyncIterator[None]:
    """After each test: nothing the fake accepted breaks Discord's documented limits."""
    yield
    for fake in discord_fake_factory.fakes:
        assert audit(fake) == []


@pytest.fixture
async def started_bot(discord_fake: FakeDiscord, start_bot: BotStarter) -> StartedBot[PaperTestBot]:
    """The test bot, running against the default fake, with its commands synced globally."""
    started = await start_bot(discord_fake, PaperTestBot)
    await started.bot.tree.sync()
    return started


class Raw:
    """Plain HTTP to the fake, for requests discord.py would refuse to make."""

    def __init__(self, fake: FakeDiscord, session: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.session = session

    async def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: bool = True,
        headers: dict[str, str] | None = None,
        data: str | None = None,
    ) -> tuple[int, Any, Any]:
        """(status, JSON body or None, headers) for one request under /api/v10."""
        sent = {"User-Agent": "DiscordBot (https://example.invalid, 1.0)"}
        if auth:
            sent["Authorization"] = f"Bot {self.fake.token}"
        sent.update(headers or {})
        async with self.session.request(
            method,
            self.fake.api_base + path,
            json=body if data is None else None,
            data=data,
            headers=sent,
        ) as response:
            text = await response.text()
            parsed = None
            if response.headers.get("Content-Type") == "application/json" and text:
                parsed = await response.json()
            return response.status, parsed, response.headers


@pytest.fixture
async def raw(discord_fake: FakeDiscord) -> AsyncIterator[Raw]:
    """Raw HTTP against the default fake."""
    async with aiohttp.ClientSession() as session:
        yield Raw(discord_fake, session)
