"""Messages as the fake stores them: creation with pings and nonces, edits, deletions, events."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .records import DeletionRecord, EditRecord, Message, Pings
from .state import INTENT_DIRECT_MESSAGES, INTENT_GUILD_MESSAGES, Channel, Perm, User

if TYPE_CHECKING:
    from .server import FakeDiscord

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EVERYONE_MENTION = re.compile(r"@(everyone|here)\b")

EDITABLE = ("content", "embeds", "components", "attachments", "flags")


class MessageStore:
    """Every message the bot made, in creation order, with the edits and deletions since."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.by_id: dict[int, Message] = {}
        self.edits: list[EditRecord] = []
        self.deletions: list[DeletionRecord] = []
        self._nonces: dict[tuple[int, int, str], tuple[int, float]] = {}

    # ---- reading ----------------------------------------------------------------------------

    def select(
        self,
        channel_id: int | None = None,
        *,
        include_deleted: bool = False,
        include_ephemeral: bool = True,
    ) -> list[Message]:
        """Messages in creation order, optionally for one channel."""
        return [
            m
            for m in self.by_id.values()
            if (channel_id is None or m.channel_id == channel_id)
            and (include_deleted or not m.deleted)
            and (include_ephemeral or not m.ephemeral)
        ]

    def find_nonce(self, channel_id: int, author_id: int, nonce: Any) -> Message | None:
        """A message made with this nonce, same channel and author, inside the nonce window."""
        hit = self._nonces.get((channel_id, author_id, str(nonce)))
        if hit is None:
            return None
        message_id, at = hit
        if self.fake.clock.monotonic() - at > self.fake.nonce_window:
            return None
        return self.by_id.get(message_id)

    # ---- writing ----------------------------------------------------------------------------

    def pings(self, channel: Channel, body: Mapping[str, Any], *, author: User) -> Pings:
        """Who this content would notify, after `allowed_mentions`, role mentionability and perms."""
        content = body.get("content") or ""
        state = self.fake.state
        allowed = body.get("allowed_mentions")
        if allowed is None:
            parse = {"users", "roles", "everyone"}
            users_list: set[int] = set()
            roles_list: set[int] = set()
            replied = True
        else:
            parse = set(allowed.get("parse") or [])
            users_list = {int(u) for u in allowed.get("users") or []}
            roles_list = {int(r) for r in allowed.get("roles") or []}
            replied = bool(allowed.get("replied_user", False))
        perms = state.bot_permissions_in(channel) if channel.guild_id is not None else 0
        users = frozenset(
            int(u)
            for u in USER_MENTION.findall(content)
            if "users" in parse or int(u) in users_list
        )
        roles: set[int] = set()
        guild = state.guilds.get(channel.guild_id) if channel.guild_id is not None else None
        for rid in (int(r) for r in ROLE_MENTION.findall(content)):
            role = guild.roles.get(rid) if guild else None
            if role is None or not ("roles" in parse or rid in roles_list):
                continue
            if role.mentionable or perms & Perm.MENTION_EVERYONE:
                roles.add(rid)
        everyone = bool(
            EVERYONE_MENTION.search(content)
            and "everyone" in parse
            and perms & Perm.MENTION_EVERYONE
        )
        replied_user = None
        ref = body.get("message_reference")
        if replied and isinstance(ref, Mapping):
            target = self.by_id.get(int(ref.get("message_id", 0)))
            if target is not None and target.author.id != author.id:
                replied_user = target.author.id
        return Pings(
            users=users, roles=frozenset(roles), everyone=everyone, replied_user=replied_user
        )

    async def create(
        self,
        channel: Channel,
        body: Mapping[str, Any],
        *,
        author: User,
        files: list[dict[str, Any]] | None = None,
        webhook_id: int | None = None,
        interaction: Any = None,
        extra_flags: int = 0,
        message_id: int | None = None,
        dispatch: bool = True,
    ) -> Message:
        """Store a new message and tell the gateway about it."""
        clock = self.fake.clock
        ref = body.get("message_reference")
        message = Message(
            id=message_id if message_id is not None else self.fake.state.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=body.get("content") or "",
            embeds=[_stored_embed(e) for e in body.get("embeds") or []],
            components=copy.deepcopy(list(body.get("components") or [])),
            attachments=list(files or []),
            sticker_ids=[int(s) for s in body.get("sticker_ids") or []],
            flags=int(body.get("flags") or 0) | extra_flags,
            tts=bool(body.get("tts"))
            and bool(self.fake.state.bot_permissions_in(channel) & Perm.SEND_TTS_MESSAGES),
            nonce=body.get("nonce"),
            created_at=clock.time(),
            pings=self.pings(channel, body, author=author),
            message_reference=(
                {"message_id": str(ref["message_id"]), "channel_id": str(channel.id), "type": 0}
                if isinstance(ref, Mapping)
                else None
            ),
            webhook_id=webhook_id,
            interaction_id=interaction.id if interaction is not None else None,
            interaction_type=interaction.type if interaction is not None else 2,
            interaction_user=(
                self.fake.state.users.get(interaction.user_id) if interaction is not None else None
            ),
            request=copy.deepcopy(dict(body)),
        )
        self.by_id[message.id] = message
        if body.get("nonce") is not None and body.get("enforce_nonce"):
            self._nonces[(channel.id, author.id, str(body["nonce"]))] = (
                message.id,
                clock.monotonic(),
            )
        channel.last_message_id = message.id
        if channel.is_thread:
            channel.message_count += 1
        self.fake.changed()
        if dispatch and not message.ephemeral:
            await self._dispatch("MESSAGE_CREATE", channel, self._event_json(message))
        return message

    async def edit(
        self, message: Message, body: Mapping[str, Any], *, via: str, clear_loading: bool = False
    ) -> Message:
        """Apply a partial edit (keys present replace; null clears) and record it."""
        before = message.snapshot()
        message.history.append(before)
        if "content" in body:
            message.content = body.get("content") or ""
        if "embeds" in body:
            message.embeds = [_stored_embed(e) for e in body.get("embeds") or []]
        if "components" in body:
            message.components = copy.deepcopy(list(body.get("components") or []))
        if "attachments" in body:
            message.attachments = list(body.get("attachments") or [])
        if body.get("flags") is not None:
            keep = message.flags & ~(1 << 2)
            message.flags = keep | int(body["flags"])
        if clear_loading:
            message.flags &= ~(1 << 7)
        message.edited_at = self.fake.clock.time()
        self.edits.append(
            EditRecord(
                message.id,
                message.channel_id,
                before,
                message.snapshot(),
                self.fake.clock.monotonic(),
                via,
            )
        )
        self.fake.changed()
        channel = self.fake.state.channels.get(message.channel_id)
        if channel is not None and not message.ephemeral:
            await self._dispatch("MESSAGE_UPDATE", channel, self._event_json(message))
        return message

    async def delete(self, message: Message, *, via: str) -> None:
        """Mark a message deleted and record it."""
        message.deleted_at = self.fake.clock.time()
        self.deletions.append(
            DeletionRecord(message.id, message.channel_id, self.fake.clock.monotonic(), via)
        )
        self.fake.changed()
        channel = self.fake.state.channels.get(message.channel_id)
        if channel is not None and not message.ephemeral:
            data: dict[str, Any] = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id is not None:
                data["guild_id"] = str(message.guild_id)
            await self._dispatch("MESSAGE_DELETE", channel, data)

    def merged(self, message: Message, body: Mapping[str, Any]) -> dict[str, Any]:
        """What the message would hold after this edit (for the empty-message rule)."""
        current: dict[str, Any] = {
            "content": message.content,
            "embeds": message.embeds,
            "components": message.components,
            "sticker_ids": message.sticker_ids,
        }
        for key in ("content", "embeds", "components"):
            if key in body:
                current[key] = body[key]
        return current

    # ---- events -------------------------------------------------------------------------------

    def _event_json(self, message: Message) -> dict[str, Any]:
        data = message.to_json()
        if message.guild_id is not None:
            member = self.fake.state.member_of(message.guild_id, message.author.id)
            if member is not None:
                data["member"] = member.to_json(with_user=False)
        return data

    async def _dispatch(self, event: str, channel: Channel, data: dict[str, Any]) -> None:
        intent = INTENT_GUILD_MESSAGES if channel.guild_id is not None else INTENT_DIRECT_MESSAGES
        await self.fake.gateway.dispatch(event, data, guild_id=channel.guild_id, intent=intent)


def _stored_embed(embed: Mapping[str, Any]) -> dict[str, Any]:
    """The embed as Discord stores it: type forced to rich, whitespace around texts trimmed."""
    stored = copy.deepcopy(dict(embed))
    stored["type"] = "rich"
    for key in ("title", "description"):
        if isinstance(stored.get(key), str):
            stored[key] = stored[key].strip()
    return stored
