"""What the fake remembers, for tests to read: messages, edits, deletions, requests, interactions."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .state import User, iso

#: where the gate leaves the parsed JSON body (or payload_json) and the uploaded files
JSON_BODY: web.RequestKey[Any] = web.RequestKey("json_body", object)
FILES: web.RequestKey[list[dict[str, Any]]] = web.RequestKey("files", list)

FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7


@dataclass(frozen=True)
class Pings:
    """Who a message would have notified, after `allowed_mentions` and permissions."""

    users: frozenset[int] = frozenset()
    roles: frozenset[int] = frozenset()
    everyone: bool = False
    replied_user: int | None = None

    @property
    def any(self) -> bool:
        """Whether anybody at all would have been pinged."""
        return bool(self.users or self.roles or self.everyone or self.replied_user)


@dataclass
class Message:
    """A message the bot made (in a channel, or as an interaction response or follow-up)."""

    id: int
    channel_id: int
    guild_id: int | None
    author: User
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    sticker_ids: list[int] = field(default_factory=list)
    flags: int = 0
    tts: bool = False
    nonce: str | int | None = None
    created_at: float = 0.0
    edited_at: float | None = None
    deleted_at: float | None = None
    pings: Pings = field(default_factory=Pings)
    message_reference: dict[str, Any] | None = None
    webhook_id: int | None = None
    interaction_id: int | None = None
    interaction_type: int = 2
    interaction_user: User | None = None
    thread_id: int | None = None
    #: the JSON body of the request that created it
    request: dict[str, Any] = field(default_factory=dict)
    #: the message as it was before each edit, oldest first
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking user can see it."""
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Whether it is still a deferred 'thinking…' placeholder."""
        return bool(self.flags & FLAG_LOADING)

    @property
    def deleted(self) -> bool:
        """Whether it has been deleted."""
        return self.deleted_at is not None

    def snapshot(self) -> dict[str, Any]:
        """The editable parts, as a plain dict, for the edit history."""
        return copy.deepcopy(
            {
                "content": self.content,
                "embeds": self.embeds,
                "components": self.components,
                "attachments": self.attachments,
                "flags": self.flags,
            }
        )

    def to_json(self) -> dict[str, Any]:
        """The message object as Discord returns it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": 19 if self.message_reference else (20 if self.interaction_id else 0),
            "channel_id": str(self.channel_id),
            "author": self.author.to_json(),
            "content": self.content,
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at) if self.edited_at else None,
            "tts": self.tts,
            "mention_everyone": self.pings.everyone,
            "mentions": [
                {"id": str(u), "username": f"user{u}", "discriminator": "0", "avatar": None}
                for u in sorted(self.pings.users)
            ],
            "mention_roles": [str(r) for r in sorted(self.pings.roles)],
            "attachments": self.attachments,
            "embeds": self.embeds,
            "components": self.components,
            "pinned": False,
            "flags": self.flags,
            "reactions": [],
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
            data["application_id"] = str(self.webhook_id)
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
        if self.interaction_id is not None:
            data["interaction_metadata"] = {
                "id": str(self.interaction_id),
                "type": self.interaction_type,
                "user": (self.interaction_user or self.author).to_json(),
                "authorizing_integration_owners": {},
            }
        if self.thread_id is not None:
            data["thread"] = {"id": str(self.thread_id)}
        return data


@dataclass(frozen=True)
class EditRecord:
    """One accepted edit of a message."""

    message_id: int
    channel_id: int
    before: dict[str, Any]
    after: dict[str, Any]
    at: float
    via: str


@dataclass(frozen=True)
class DeletionRecord:
    """One accepted deletion of a message."""

    message_id: int
    channel_id: int
    at: float
    via: str


@dataclass
class RequestRecord:
    """One HTTP request the fake received, with what it answered."""

    method: str
    path: str
    route: str
    query: dict[str, str]
    body: Any
    at: float
    status: int = 0
    code: int | None = None
    scripted: bool = False

    @property
    def key(self) -> str:
        """`METHOD /route/{template}`, the name routes are counted and scripted by."""
        return f"{self.method} {self.route}"


@dataclass(frozen=True)
class InvalidRequest:
    """A 401, 403 or 429 (not scope shared): what Cloudflare counts towards its IP ban."""

    at: float
    status: int
    route: str
    scope: str | None = None


@dataclass(frozen=True)
class CallbackRecord:
    """One POST to an interaction's callback URL, accepted or not."""

    type: int | None
    body: dict[str, Any]
    at: float
    status: int
    code: int | None = None


@dataclass
class InteractionRecord:
    """An interaction the test injected, and everything the bot did with it."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    guild_id: int | None
    channel_id: int
    user_id: int
    dispatched_at: float
    deadline: float
    token_expires_at: float
    callbacks: list[CallbackRecord] = field(default_factory=list)
    acknowledged_with: int | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    autocomplete_choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    expired: bool = False

    @property
    def name(self) -> str | None:
        """The command name, or the component's custom_id."""
        data = self.payload.get("data", {})
        name = data.get("name") or data.get("custom_id")
        return None if name is None else str(name)

    @property
    def acknowledged(self) -> bool:
        """Whether a callback was accepted."""
        return self.acknowledged_with is not None

    @property
    def first_callback(self) -> CallbackRecord | None:
        """The first callback attempt, accepted or not."""
        return self.callbacks[0] if self.callbacks else None

    @property
    def latency(self) -> float | None:
        """Seconds (on the fake clock) from dispatch to the first callback attempt."""
        first = self.first_callback
        return None if first is None else first.at - self.dispatched_at
