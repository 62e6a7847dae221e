"""Deliveries over discord.py's HTTP client: exact bodies, nonces, and errors sorted by meaning.

The bodies come from `bot.discord.embeds` and `bot.discord.listings` and are posted as they are
(so `paperfeed show --payload` prints exactly what Discord receives). discord.py still paces
every request by Discord's rate-limit headers and retries 429s; what reaches us is sorted into
the publisher's three outcomes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
import discord
from discord.http import Route

from bot.discord.embeds import alert_message, forum_post, thread_name
from bot.discord.listings import digest_heading
from bot.errors import ChannelUnavailable, DeliveryRetryable, MessageRejected
from bot.services.publisher import Body, Posted, digest_title

log = logging.getLogger(__name__)

FORUM_TYPES = {discord.ChannelType.forum.value, discord.ChannelType.media.value}
_RECENT_MESSAGES = 50


def classify(exc: BaseException) -> Exception:
    """Turn what discord.py raised into the publisher's vocabulary."""
    if isinstance(exc, discord.Forbidden | discord.NotFound):
        return ChannelUnavailable(f"{exc.status} {exc.text or 'refused'} ({exc.code})")
    if isinstance(exc, discord.DiscordServerError):
        return DeliveryRetryable(f"Discord answered {exc.status}")
    if isinstance(exc, discord.HTTPException):
        if exc.status == 429:
            return DeliveryRetryable("rate limited by Discord")
        return MessageRejected(f"{exc.status} {exc.text or 'Bad Request'} ({exc.code})")
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | OSError):
        return DeliveryRetryable(f"network error: {type(exc).__name__}")
    raise exc


class DiscordTarget:
    """The publisher's `DeliveryTarget`, backed by a logged-in discord.py client."""

    def __init__(
        self,
        client: discord.Client,
        alerts_channel_id: int = 0,
        on_response: Callable[[int | None], None] | None = None,
    ) -> None:
        self._client = client
        self._alerts_channel_id = alerts_channel_id
        self._on_response = on_response
        self._channel_types: dict[int, int] = {}

    def knows_channel(self, channel_id: int) -> bool:
        """True when the channel's kind is known without a REST read (cached or remembered)."""
        cached = self._client.get_channel(channel_id)
        return channel_id in self._channel_types or (cached is not None and hasattr(cached, "type"))

    async def channel_type(self, channel_id: int) -> int:
        """The channel's type, from the gateway cache or one REST read (then remembered)."""
        if channel_id in self._channel_types:
            return self._channel_types[channel_id]
        cached = self._client.get_channel(channel_id)
        if cached is not None and hasattr(cached, "type"):
            kind = int(cached.type.value)
        else:
            try:
                data = await self._client.http.get_channel(channel_id)
            except discord.HTTPException as exc:
                raise classify(exc) from None
            kind = int(data["type"])
        self._channel_types[channel_id] = kind
        return kind

    async def send(self, channel_id: int, body: Body, *, nonce: str, title: str) -> Posted:
        """Post, and count the answer's status class for /metrics."""
        try:
            posted = await self._send(channel_id, body, nonce=nonce, title=title)
        except (TimeoutError, discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            self._record(getattr(exc, "status", None))
            raise classify(exc) from None
        except RuntimeError:
            self._stopping()
            raise
        self._record(200)
        return posted

    def _stopping(self) -> None:
        """discord.py closed its HTTP session under a send ("Session is closed"): the bot is
        stopping (SIGTERM while a start-up reconcile runs). Nothing left; try again later."""
        if self._client.is_closed():
            raise DeliveryRetryable("the bot is stopping") from None

    def _record(self, status: int | None) -> None:
        if self._on_response is not None:
            self._on_response(status)

    async def _send(self, channel_id: int, body: Body, *, nonce: str, title: str) -> Posted:
        if await self.channel_type(channel_id) in FORUM_TYPES:
            post = forum_post(body, name=thread_name(title))
            data = await self._client.http.request(
                Route("POST", "/channels/{channel_id}/threads", channel_id=channel_id), json=post
            )
            message = data.get("message") or {}
            thread_id = int(data["id"])
            return Posted(int(message.get("id", thread_id)), thread_id)
        payload = {**body, "nonce": nonce, "enforce_nonce": True}
        data = await self._client.http.request(
            Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id), json=payload
        )
        return Posted(int(data["id"]))

    async def find_posted(
        self, channel_id: int, paper_id: str, title: str, since: datetime
    ) -> Posted | None:
        """Look through our recent posts for this paper (its id is in every embed's footer)."""
        marker = f"arXiv:{paper_id}"

        def carries(embed: dict[str, Any]) -> bool:
            footer = embed.get("footer", {}).get("text", "")
            return marker in footer or str(embed.get("url", "")).endswith(paper_id)

        return await self._find(channel_id, title, since, carries)

    async def find_digest(
        self, channel_id: int, feed_name: str, day: str, since: datetime
    ) -> Posted | None:
        """Look through our recent posts for this feed's digest of that day (by its title)."""
        heading = digest_heading(feed_name, day)
        return await self._find(
            channel_id, digest_title(feed_name, day), since, lambda e: e.get("title") == heading
        )

    async def _find(
        self,
        channel_id: int,
        title: str,
        since: datetime,
        matches: Callable[[dict[str, Any]], bool],
    ) -> Posted | None:
        """Our message since `since` with an embed that `matches`, or in a forum the post
        named `title`."""
        try:
            if await self.channel_type(channel_id) in FORUM_TYPES:
                return await self._find_forum_post(channel_id, title)
            messages: list[dict[str, Any]] = await self._client.http.request(
                Route("GET", "/channels/{channel_id}/messages", channel_id=channel_id),
                params={"limit": _RECENT_MESSAGES},
            )
        except (TimeoutError, discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            raise classify(exc) from None
        except RuntimeError:
            self._stopping()
            raise
        me = self._client.user.id if self._client.user else None
        for message in messages:
            if me is not None and int(message.get("author", {}).get("id", 0)) != me:
                continue
            if datetime.fromisoformat(message["timestamp"]) < since:
                break  # newest first: nothing older can be ours
            if any(matches(embed) for embed in message.get("embeds", [])):
                return Posted(int(message["id"]))
        return None

    async def _find_forum_post(self, channel_id: int, title: str) -> Posted | None:
        channel = self._client.get_channel(channel_id)
        guild_id = getattr(getattr(channel, "guild", None), "id", None)
        if guild_id is None:
            return None
        data = await self._client.http.get_active_threads(guild_id)
        name = thread_name(title)
        for thread in data.get("threads", []):
            if int(thread.get("parent_id") or 0) == channel_id and thread.get("name") == name:
                return Posted(int(thread["id"]), int(thread["id"]))
        return None

    async def alert(self, text: str) -> None:
        """Post to the alerts channel when one is set; an alert that fails is only logged."""
        if not self._alerts_channel_id:
            log.info("alert (no alerts channel set): %s", text)
            return
        try:
            await self._client.http.request(
                Route(
                    "POST", "/channels/{channel_id}/messages", channel_id=self._alerts_channel_id
                ),
                json=alert_message(text),
            )
        except (
            TimeoutError,
            discord.HTTPException,
            aiohttp.ClientError,
            OSError,
            RuntimeError,  # the session closed under us: the bot is stopping
        ) as exc:
            log.warning("could not post an alert to channel %d: %s", self._alerts_channel_id, exc)
