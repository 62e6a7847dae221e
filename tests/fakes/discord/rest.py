"""REST routes other than interactions: identity, gateway discovery, commands, channels, guilds.

Every handler checks, in order: the resource exists (404), the bot can see it (403 50001), the
body is well formed (400 50035 / 50006), the bot may do this (403 50013).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import rules
from .records import FILES, JSON_BODY
from .rules import DiscordHTTPError, FormErrors
from .state import ChannelType, Perm

if TYPE_CHECKING:
    from .server import FakeDiscord
    from .state import Channel, Guild

DAY = 86400.0
DAILY_COMMAND_CREATES = 200


class Rest:
    """Handlers for the non-interaction REST routes."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self._creates: dict[str, list[float]] = {}

    def routes(self) -> list[tuple[str, str, Any]]:
        """(method, path under /api/v10, handler) for every route served here."""
        return [
            ("GET", "/users/@me", self.get_me),
            ("GET", "/users/{user_id}", self.get_user),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("GET", "/applications/{application_id}/commands", self.get_commands),
            ("PUT", "/applications/{application_id}/commands", self.put_commands),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self.get_commands),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self.put_commands),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("GET", "/channels/{channel_id}/messages", self.get_messages),
            ("POST", "/channels/{channel_id}/messages", self.create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            ("POST", "/channels/{channel_id}/threads", self.create_thread),
            (
                "POST",
                "/channels/{channel_id}/messages/{message_id}/threads",
                self.create_thread_from_message,
            ),
            ("POST", "/channels/{channel_id}/typing", self.typing),
            ("GET", "/guilds/{guild_id}", self.get_guild),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self.get_roles),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member),
            ("GET", "/guilds/{guild_id}/threads/active", self.get_active_threads),
        ]

    # ---- helpers ------------------------------------------------------------------------------

    def visible_channel(self, request: web.Request) -> tuple[Channel, int]:
        """The channel in the path and the bot's permissions there; 10003 or 50001 otherwise."""
        state = self.fake.state
        channel = state.channels.get(_snowflake(request.match_info["channel_id"]))
        if channel is None:
            raise rules.unknown_channel()
        if channel.guild_id is None:
            return channel, int(
                Perm.VIEW_CHANNEL
                | Perm.SEND_MESSAGES
                | Perm.EMBED_LINKS
                | Perm.ATTACH_FILES
                | Perm.READ_MESSAGE_HISTORY
            )
        perms = state.bot_permissions_in(channel)
        if not perms & Perm.VIEW_CHANNEL:
            raise rules.missing_access()
        return channel, perms

    def member_guild(self, request: web.Request) -> Guild:
        """The guild in the path, if the bot is in it; 10004 or 50001 otherwise."""
        guild = self.fake.state.guilds.get(_snowflake(request.match_info["guild_id"]))
        if guild is None:
            raise rules.unknown_guild()
        if self.fake.bot_user.id not in guild.members:
            raise rules.missing_access()
        return guild

    def _message_in(self, channel: Channel, message_id: str) -> Any:
        message = self.fake.messages_store.by_id.get(_snowflake(message_id))
        if (
            message is None
            or message.deleted
            or message.channel_id != channel.id
            or message.ephemeral
        ):
            raise rules.unknown_message()
        return message

    # ---- identity and discovery ---------------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.StreamResponse:
        """GET /users/@me: the bot user."""
        user = self.fake.bot_user.to_json()
        user.update(verified=True, mfa_enabled=False, locale="en-US", email=None, bot=True)
        return self.fake.json(user)

    async def get_user(self, request: web.Request) -> web.StreamResponse:
        """GET /users/{id}."""
        user = self.fake.state.users.get(_snowflake(request.match_info["user_id"]))
        if user is None:
            raise rules.unknown_user()
        return self.fake.json(user.to_json())

    async def create_dm(self, request: web.Request) -> web.StreamResponse:
        """POST /users/@me/channels: the DM channel with a user (opened even if their DMs are
        closed: Discord refuses the message, not the channel)."""
        body = request[JSON_BODY]
        rid = body.get("recipient_id") if isinstance(body, dict) else None
        user = self.fake.state.users.get(_snowflake(str(rid)))
        if user is None or user.id == self.fake.bot_user.id:
            raise rules.form_error(
                ("recipient_id",), "BASE_TYPE_REQUIRED", "A known user id is required."
            )
        return self.fake.json(self.fake.state.dm_channel(user).to_json(self.fake.state))

    async def get_application(self, request: web.Request) -> web.StreamResponse:
        """GET /oauth2/applications/@me: the application, with every key discord.py reads."""
        fake = self.fake
        owner = fake.owner_user.to_json()
        return fake.json(
            {
                "id": str(fake.application_id),
                "name": fake.bot_user.username,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": owner,
                "team": None,
                "verify_key": "0" * 64,
                "flags": fake.application_flags,
                "tags": [],
                "install_params": None,
                "custom_install_url": None,
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "approximate_guild_count": len(fake.state.guilds),
                "integration_types_config": {"0": {}},
                "bot": fake.bot_user.to_json(),
            }
        )

    async def get_gateway(self, request: web.Request) -> web.StreamResponse:
        """GET /gateway."""
        return self.fake.json({"url": self.fake.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.StreamResponse:
        """GET /gateway/bot: where to connect and how many shards (AutoShardedClient asks)."""
        fake = self.fake
        used = fake.gateway.identifies_today()
        return fake.json(
            {
                "url": fake.gateway_url,
                "shards": fake.shard_count,
                "session_start_limit": {
                    "total": fake.session_start_total,
                    "remaining": max(0, fake.session_start_total - used),
                    "reset_after": int(fake.gateway.day_resets_in() * 1000),
                    "max_concurrency": fake.max_concurrency,
                },
            }
        )

    # ---- application commands -----------------------------------------------------------------

    def _command_scope(self, request: web.Request) -> int | None:
        if request.match_info["application_id"] != str(self.fake.application_id):
            raise rules.missing_access()
        if "guild_id" in request.match_info:
            return self.member_guild(request).id
        return None

    async def get_commands(self, request: web.Request) -> web.StreamResponse:
        """GET the registered commands (global or one guild's)."""
        guild_id = self._command_scope(request)
        return self.fake.json(self.fake.commands(guild_id))

    async def put_commands(self, request: web.Request) -> web.StreamResponse:
        """PUT: bulk-overwrite the commands, with Discord's validation and daily create limit."""
        fake = self.fake
        guild_id = self._command_scope(request)
        body = request[JSON_BODY]
        errors = FormErrors()
        commands = rules.check_commands(errors, body)
        self.fake.raise_form_errors(request, errors)
        existing = {(c.get("type", 1), c["name"]): c for c in fake.commands(guild_id)}
        scope = str(guild_id) if guild_id is not None else "global"
        now = fake.clock.monotonic()
        window = [t for t in self._creates.get(scope, []) if t > now - DAY]
        new = [c for c in commands if (c.get("type", 1), c["name"]) not in existing]
        if len(window) + len(new) > DAILY_COMMAND_CREATES:
            retry = (window[0] + DAY - now) if window else DAY
            raise DiscordHTTPError(
                429,
                30034,
                f"Max number of daily application command creates has been reached ({DAILY_COMMAND_CREATES})",
                extra={"retry_after": round(retry, 3), "global": False},
                headers={"Retry-After": str(int(retry) + 1), "X-RateLimit-Scope": "user"},
            )
        self._creates[scope] = window + [now] * len(new)
        stored = []
        for cmd in commands:
            ctype = cmd.get("type", 1)
            old = existing.get((ctype, cmd["name"]))
            stored.append(_stored_command(cmd, old, fake, guild_id))
        fake.set_commands(guild_id, stored)
        return fake.json(stored)

    # ---- channels -----------------------------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.StreamResponse:
        """GET /channels/{id}."""
        channel, _ = self.visible_channel(request)
        return self.fake.json(channel.to_json(self.fake.state))

    async def get_messages(self, request: web.Request) -> web.StreamResponse:
        """GET /channels/{id}/messages?limit=&before=&after=&around=: newest first."""
        channel, perms = self.visible_channel(request)
        try:
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            raise rules.form_error(("limit",), "NUMBER_TYPE_COERCE", "Value is not int.") from None
        if not 1 <= limit <= 100:
            raise rules.form_error(
                ("limit",), "NUMBER_TYPE_MAX", "int value should be between 1 and 100."
            )
        anchors = [k for k in ("before", "after", "around") if k in request.query]
        if len(anchors) > 1:
            raise rules.form_error(
                (anchors[1],), "BASE_TYPE_INVALID", "Only one of before, after, around."
            )
        if not perms & Perm.READ_MESSAGE_HISTORY:
            return self.fake.json([])
        visible = [
            m
            for m in self.fake.messages_store.select(channel.id, include_ephemeral=False)
            if not m.loading
        ]
        visible.sort(key=lambda m: m.id, reverse=True)
        if "before" in request.query:
            pivot = _snowflake(request.query["before"])
            visible = [m for m in visible if m.id < pivot][:limit]
        elif "after" in request.query:
            pivot = _snowflake(request.query["after"])
            visible = sorted((m for m in visible if m.id > pivot), key=lambda m: m.id)[:limit]
            visible.reverse()
        elif "around" in request.query:
            pivot = _snowflake(request.query["around"])
            older = [m for m in visible if m.id <= pivot][: (limit + 1) // 2]
            newer = sorted((m for m in visible if m.id > pivot), key=lambda m: m.id)[: limit // 2]
            visible = sorted(older + newer, key=lambda m: m.id, reverse=True)
        else:
            visible = visible[:limit]
        return self.fake.json([m.to_json() for m in visible])

    async def get_message(self, request: web.Request) -> web.StreamResponse:
        """GET /channels/{id}/messages/{id}."""
        channel, perms = self.visible_channel(request)
        if not perms & Perm.READ_MESSAGE_HISTORY:
            raise rules.missing_permissions()
        return self.fake.json(self._message_in(channel, request.match_info["message_id"]).to_json())

    async def create_message(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/messages: every rule of Create Message."""
        fake = self.fake
        channel, perms = self.visible_channel(request)
        if channel.is_forum or channel.type == ChannelType.GUILD_CATEGORY:
            raise rules.non_text_channel()
        body = request[JSON_BODY]
        files = request[FILES]
        errors = FormErrors()
        rules.check_message(errors, body, kind="create")
        self.fake.raise_form_errors(request, errors)
        if rules.is_empty_message(body, files=len(files)):
            raise rules.empty_message()
        if channel.type == ChannelType.DM and channel.recipient_id in fake.state.closed_dms:
            raise rules.dm_refused(fake.state.closed_dms[channel.recipient_id])
        if channel.guild_id is not None:
            needed = Perm.SEND_MESSAGES_IN_THREADS if channel.is_thread else Perm.SEND_MESSAGES
            if not perms & needed:
                raise rules.missing_permissions()
            if body.get("embeds") and not perms & Perm.EMBED_LINKS:
                raise rules.missing_permissions()
            if files and not perms & Perm.ATTACH_FILES:
                raise rules.missing_permissions()
            if channel.is_thread:
                if channel.locked and not perms & Perm.MANAGE_THREADS:
                    raise rules.thread_locked()
                if channel.archived:
                    channel.archived = False
                    await fake.dispatch_channel_event("THREAD_UPDATE", channel)
        ref = body.get("message_reference")
        if isinstance(ref, Mapping):
            target = fake.messages_store.by_id.get(_snowflake(str(ref.get("message_id"))))
            if target is None or target.deleted or target.channel_id != channel.id:
                if ref.get("fail_if_not_exists", True):
                    raise rules.form_error(
                        ("message_reference",),
                        "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                        "Unknown message",
                    )
                body = {k: v for k, v in body.items() if k != "message_reference"}
            elif not perms & Perm.READ_MESSAGE_HISTORY:
                raise rules.missing_permissions()
        if body.get("enforce_nonce") and body.get("nonce") is not None:
            existing = fake.messages_store.find_nonce(channel.id, fake.bot_user.id, body["nonce"])
            if existing is not None:
                fake.nonce_hits.append(existing.id)
                fake.changed()
                return fake.json(existing.to_json())
        message = await fake.messages_store.create(channel, body, author=fake.bot_user, files=files)
        return fake.json(message.to_json())

    async def edit_message(self, request: web.Request) -> web.StreamResponse:
        """PATCH /channels/{id}/messages/{id}: only the bot's own, non-webhook messages."""
        fake = self.fake
        channel, perms = self.visible_channel(request)
        message = self._message_in(channel, request.match_info["message_id"])
        if message.author.id != fake.bot_user.id or message.webhook_id is not None:
            raise rules.cannot_edit_others()
        body = request[JSON_BODY]
        errors = FormErrors()
        rules.check_message(errors, body, kind="edit", existing_flags=message.flags)
        self.fake.raise_form_errors(request, errors)
        if rules.is_empty_message(fake.messages_store.merged(message, body)):
            raise rules.empty_message()
        if channel.guild_id is not None and body.get("embeds") and not perms & Perm.EMBED_LINKS:
            raise rules.missing_permissions()
        if channel.is_thread and channel.archived:
            raise rules.thread_archived()
        await fake.messages_store.edit(message, body, via="channel")
        return fake.json(message.to_json())

    async def delete_message(self, request: web.Request) -> web.StreamResponse:
        """DELETE /channels/{id}/messages/{id}: the bot's own, or any with MANAGE_MESSAGES."""
        fake = self.fake
        channel, perms = self.visible_channel(request)
        message = self._message_in(channel, request.match_info["message_id"])
        if message.author.id != fake.bot_user.id and not perms & Perm.MANAGE_MESSAGES:
            raise rules.missing_permissions()
        await fake.messages_store.delete(message, via="channel")
        return web.Response(status=204)

    async def typing(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/typing."""
        channel, perms = self.visible_channel(request)
        needed = Perm.SEND_MESSAGES_IN_THREADS if channel.is_thread else Perm.SEND_MESSAGES
        if channel.guild_id is not None and not perms & needed:
            raise rules.missing_permissions()
        return web.Response(status=204)

    # ---- threads ------------------------------------------------------------------------------

    async def create_thread(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/threads: a thread without a message, or a forum post with one."""
        fake = self.fake
        state = fake.state
        channel, perms = self.visible_channel(request)
        if (
            channel.type not in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT)
            and not channel.is_forum
        ):
            raise DiscordHTTPError(400, 50024, "Cannot execute action on this channel type")
        body = request[JSON_BODY]
        errors = FormErrors()
        rules.check_thread(errors, body, parent_type=int(channel.type), forum=channel.is_forum)
        self.fake.raise_form_errors(request, errors)
        if not channel.is_forum:
            ttype = ChannelType(body["type"])
            needed = (
                Perm.CREATE_PRIVATE_THREADS
                if ttype == ChannelType.PRIVATE_THREAD
                else Perm.CREATE_PUBLIC_THREADS
            )
            if not perms & needed:
                raise rules.missing_permissions()
            thread = state.add_thread(
                channel.id,
                body["name"],
                type=ttype,
                auto_archive_duration=body.get("auto_archive_duration") or 1440,
            )
            fake.thread_ids.append(thread.id)
            await fake.dispatch_channel_event("THREAD_CREATE", thread, newly_created=True)
            return fake.json(thread.to_json(state))
        starter = body["message"]
        files = request[FILES]
        if rules.is_empty_message(starter, files=len(files)):
            raise rules.empty_message()
        if not perms & Perm.SEND_MESSAGES or not perms & Perm.SEND_MESSAGES_IN_THREADS:
            raise rules.missing_permissions()
        if starter.get("embeds") and not perms & Perm.EMBED_LINKS:
            raise rules.missing_permissions()
        if files and not perms & Perm.ATTACH_FILES:
            raise rules.missing_permissions()
        tags = [int(t) for t in body.get("applied_tags") or []]
        known = {int(t["id"]) for t in channel.available_tags}
        if any(t not in known for t in tags):
            raise rules.form_error(("applied_tags",), "BASE_TYPE_CHOICES", "Unknown tag.")
        if channel.require_tag and not tags:
            raise DiscordHTTPError(
                400, 40067, "A tag is required to create a forum post in this channel"
            )
        thread = state.add_thread(
            channel.id,
            body["name"],
            auto_archive_duration=body.get("auto_archive_duration") or 1440,
        )
        thread.applied_tags = tags
        fake.thread_ids.append(thread.id)
        message = await fake.messages_store.create(
            thread, starter, author=fake.bot_user, files=files, message_id=thread.id, dispatch=False
        )
        await fake.dispatch_channel_event("THREAD_CREATE", thread, newly_created=True)
        await fake.messages_store._dispatch("MESSAGE_CREATE", thread, message.to_json())
        return fake.json({**thread.to_json(state), "message": message.to_json()})

    async def create_thread_from_message(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/messages/{id}/threads: a thread whose id is the message's."""
        fake = self.fake
        channel, perms = self.visible_channel(request)
        if channel.type not in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT):
            raise DiscordHTTPError(400, 50024, "Cannot execute action on this channel type")
        message = self._message_in(channel, request.match_info["message_id"])
        body = request[JSON_BODY]
        errors = FormErrors()
        rules.check_thread(errors, body, parent_type=None, forum=False)
        self.fake.raise_form_errors(request, errors)
        if not perms & Perm.CREATE_PUBLIC_THREADS or not perms & Perm.READ_MESSAGE_HISTORY:
            raise rules.missing_permissions()
        if message.thread_id is not None:
            raise DiscordHTTPError(
                400, 160004, "A thread has already been created for this message"
            )
        ttype = (
            ChannelType.ANNOUNCEMENT_THREAD
            if channel.type == ChannelType.GUILD_ANNOUNCEMENT
            else ChannelType.PUBLIC_THREAD
        )
        thread = fake.state.add_thread(
            channel.id,
            body["name"],
            type=ttype,
            thread_id=message.id,
            auto_archive_duration=body.get("auto_archive_duration") or 1440,
        )
        message.thread_id = thread.id
        fake.thread_ids.append(thread.id)
        await fake.dispatch_channel_event("THREAD_CREATE", thread, newly_created=True)
        return fake.json(thread.to_json(fake.state))

    # ---- guilds -------------------------------------------------------------------------------

    async def get_guild(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}."""
        guild = self.member_guild(request)
        data = self.fake.state.guild_json(guild)
        if request.query.get("with_counts", "").lower() in ("1", "true"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return self.fake.json(data)

    async def get_guild_channels(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}/channels (threads are not listed, as on Discord)."""
        guild = self.member_guild(request)
        return self.fake.json(
            [c.to_json(self.fake.state) for c in self.fake.state.guild_channels(guild.id)]
        )

    async def get_roles(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}/roles."""
        guild = self.member_guild(request)
        return self.fake.json([r.to_json() for r in guild.roles.values()])

    async def get_member(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}/members/{user_id}."""
        guild = self.member_guild(request)
        member = guild.members.get(_snowflake(request.match_info["user_id"]))
        if member is None:
            raise rules.unknown_member()
        return self.fake.json(member.to_json())

    async def get_active_threads(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}/threads/active."""
        guild = self.member_guild(request)
        threads = [
            t
            for t in self.fake.state.guild_threads(guild.id)
            if self.fake.state.bot_permissions_in(t) & Perm.VIEW_CHANNEL
        ]
        return self.fake.json(
            {"threads": [t.to_json(self.fake.state) for t in threads], "members": []}
        )


def _snowflake(value: str) -> int:
    """A path or query snowflake; anything else is Discord's 50035 'not snowflake'."""
    if not value.isdigit() or int(value) >= 2**64:
        raise rules.form_error(("id",), "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
    return int(value)


def _stored_command(
    cmd: Mapping[str, Any], old: Mapping[str, Any] | None, fake: FakeDiscord, guild_id: int | None
) -> dict[str, Any]:
    """The command object Discord returns (ids are kept for commands that already existed)."""
    ctype = cmd.get("type", 1)
    stored: dict[str, Any] = {
        "id": old["id"] if old else str(fake.state.ids.next()),
        "application_id": str(fake.application_id),
        "version": str(fake.state.ids.next()),
        "type": ctype,
        "name": cmd["name"],
        "name_localizations": cmd.get("name_localizations"),
        "description": cmd.get("description") or "",
        "description_localizations": cmd.get("description_localizations"),
        "default_member_permissions": (
            None
            if cmd.get("default_member_permissions") is None
            else str(cmd["default_member_permissions"])
        ),
        "nsfw": bool(cmd.get("nsfw")),
        "contexts": cmd.get("contexts"),
        "integration_types": cmd.get("integration_types") or [0],
    }
    if cmd.get("options"):
        stored["options"] = cmd["options"]
    if guild_id is not None:
        stored["guild_id"] = str(guild_id)
    else:
        stored["dm_permission"] = cmd.get("dm_permission") is not False
    return stored
