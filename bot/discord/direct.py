"""Direct messages over discord.py's HTTP client: the follows' `DirectMessenger`.

A member's DM channel is opened once with `POST /users/@me/channels` and remembered. Each DM
carries the outbox's nonce twice: as Discord's `nonce` (with `enforce_nonce`, so a repeated send
within minutes returns the message already made) and in the custom id of a "My follows" button,
because message history does not echo nonces: that button is how `find_dm` recognises, after a
crash, a DM that did go out. Failures are sorted by meaning: a refusal (50007 "Cannot send
messages to this user", 50278 "no mutual guilds", any 403) is `DmRefused`, which pauses the
member's follows and is never retried; 5xx, 429 and network trouble are `DeliveryRetryable`;
any other 4xx is `MessageRejected`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
from discord.http import Route

from bot.discord.target import classify
from bot.errors import DeliveryRetryable, DmRefused
from bot.services.publisher import Body, Limiter, Posted, RateLimiter

log = logging.getLogger(__name__)

DM_REFUSAL_CODES = frozenset({50007, 50278})
FOLLOWS_BUTTON_PREFIX = "follows:dm:"  # + the DM's nonce; the button lists the member's follows
FOLLOWS_BUTTON_LABEL = "My follows"
_ROWS_MAX = 5  # action rows in one message
_RECENT_DMS = 50
_SEND_ERRORS = (TimeoutError, discord.HTTPException, aiohttp.ClientError, OSError)


def classify_dm(exc: BaseException) -> Exception:
    """Turn what discord.py raised for a DM into the follows' vocabulary: a refusal pauses the
    member; everything else means what it means for a channel post."""
    if isinstance(exc, discord.Forbidden):
        if exc.code in DM_REFUSAL_CODES:
            return DmRefused(f"Discord refused the DM ({exc.code}: {exc.text or 'forbidden'})")
        return DmRefused(f"Discord refused the DM (403, {exc.code})")
    if isinstance(exc, discord.NotFound):
        return DmRefused(f"the member cannot be reached (404, {exc.code})")
    return classify(exc)  # the rest reads as for a channel post


def follows_button_id(nonce: str) -> str:
    """The custom id of a DM's "My follows" button: it names the DM, so history can find it."""
    return FOLLOWS_BUTTON_PREFIX + nonce


def stamped(body: Body, nonce: str) -> Body:
    """A copy of `body` with a "My follows" button that carries `nonce` (pure)."""
    out: Body = copy.deepcopy(dict(body))
    rows: list[Any] = list(out.get("components") or [])
    if len(rows) < _ROWS_MAX:
        button = {
            "type": 2,
            "style": 2,
            "label": FOLLOWS_BUTTON_LABEL,
            "custom_id": follows_button_id(nonce),
        }
        rows.append({"type": 1, "components": [button]})
        out["components"] = rows
    return out


def _carries(message: dict[str, Any], nonce: str) -> bool:
    """Whether a message from history is the DM sent with this nonce."""
    if str(message.get("nonce", "")) == nonce:
        return True  # echoed by some APIs; Discord's history usually leaves it out
    wanted = follows_button_id(nonce)
    for row in message.get("components") or ():
        for item in row.get("components") or ():
            if item.get("custom_id") == wanted:
                return True
    return False


class DiscordDirectMessenger:
    """The follows' `DirectMessenger`, backed by a logged-in discord.py client."""

    def __init__(
        self,
        client: discord.Client,
        on_response: Callable[[int | None], None] | None = None,
        limiter: Limiter | None = None,
    ) -> None:
        self._client = client
        self.on_response = on_response
        # Opening a DM channel is a request the DM publisher does not pace (it paces sends and
        # looks): give it the bot's one budget, or a fan-out to new members runs into Discord's
        # global 50 requests a second.
        self.limiter = limiter or RateLimiter()
        self._channels: dict[int, int] = {}  # user id -> DM channel id

    async def dm_channel(self, user_id: int) -> int:
        """The DM channel with this member: remembered, else opened (one request)."""
        known = self._channels.get(user_id)
        if known is not None:
            return known
        await self.limiter.acquire()
        try:
            data = await self._client.http.request(
                Route("POST", "/users/@me/channels"), json={"recipient_id": str(user_id)}
            )
        except _SEND_ERRORS as exc:
            self._record(getattr(exc, "status", None))
            raise classify_dm(exc) from None
        except RuntimeError:
            self._stopping()
            raise
        self._record(200)
        channel_id = int(data["id"])
        self._channels[user_id] = channel_id
        return channel_id

    async def send_dm(self, user_id: int, body: Body, *, nonce: str) -> Posted:
        """Send one DM; a channel Discord forgot (404 10003) is reopened once."""
        payload = {**stamped(body, nonce), "nonce": nonce, "enforce_nonce": True}
        for attempt in (1, 2):
            channel_id = await self.dm_channel(user_id)
            try:
                data = await self._client.http.request(
                    Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id),
                    json=payload,
                )
            except discord.NotFound as exc:
                self._record(exc.status)
                self._channels.pop(user_id, None)
                if attempt == 1 and exc.code == 10003:
                    continue
                raise classify_dm(exc) from None
            except _SEND_ERRORS as exc:
                self._record(getattr(exc, "status", None))
                raise classify_dm(exc) from None
            except RuntimeError:
                self._stopping()
                raise
            self._record(200)
            return Posted(int(data["id"]))
        raise AssertionError("unreachable")  # pragma: no cover

    async def find_dm(self, user_id: int, nonce: str) -> Posted | None:
        """Our DM to this member sent with `nonce`, among their recent DMs, if it went out."""
        channel_id = await self.dm_channel(user_id)
        try:
            messages: list[dict[str, Any]] = await self._client.http.request(
                Route("GET", "/channels/{channel_id}/messages", channel_id=channel_id),
                params={"limit": _RECENT_DMS},
            )
        except _SEND_ERRORS as exc:
            raise classify_dm(exc) from None
        except RuntimeError:
            self._stopping()
            raise
        me = self._client.user.id if self._client.user else None
        for message in messages:
            if me is not None and int(message.get("author", {}).get("id", 0)) != me:
                continue
            if _carries(message, nonce):
                return Posted(int(message["id"]))
        return None

    def forget(self, user_id: int) -> None:
        """Drop a remembered DM channel (the member was forgotten)."""
        self._channels.pop(user_id, None)

    def _stopping(self) -> None:
        """discord.py closed its HTTP session under a send: the bot is stopping; try later."""
        if self._client.is_closed():
            raise DeliveryRetryable("the bot is stopping") from None

    def _record(self, status: int | None) -> None:
        if self.on_response is not None:
            self.on_response(status)
