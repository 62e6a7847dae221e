"""Interactions: what a test injects (slash commands, autocomplete, buttons, selects) and how the
fake judges the bot's answers (callbacks with the 3-second deadline, follow-ups, @original).

Injection is as strict as Discord's client: the command must be registered (the bot synced it),
options must exist with the right types, required ones must be there, values must respect
choices and ranges, and a member without the command's default permissions cannot use it
(pass `force=True` to bypass that last check and test the bot's own guard).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import rules
from .records import (
    FILES,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    JSON_BODY,
    CallbackRecord,
    InteractionRecord,
    Message,
)
from .rules import DiscordHTTPError, FormErrors
from .state import ALL_PERMISSIONS, Channel, ChannelType, Member, Perm, Role, User

if TYPE_CHECKING:
    from .server import FakeDiscord

TYPE_PING = 1
TYPE_APPLICATION_COMMAND = 2
TYPE_MESSAGE_COMPONENT = 3
TYPE_AUTOCOMPLETE = 4
TYPE_MODAL_SUBMIT = 5

CALLBACK_PONG = 1
CALLBACK_MESSAGE = 4
CALLBACK_DEFERRED_MESSAGE = 5
CALLBACK_DEFERRED_UPDATE = 6
CALLBACK_UPDATE = 7
CALLBACK_AUTOCOMPLETE = 8
CALLBACK_MODAL = 9

#: which callback types Discord takes for each interaction type
ALLOWED_CALLBACKS = {
    TYPE_APPLICATION_COMMAND: {CALLBACK_MESSAGE, CALLBACK_DEFERRED_MESSAGE, CALLBACK_MODAL},
    TYPE_MESSAGE_COMPONENT: {
        CALLBACK_MESSAGE,
        CALLBACK_DEFERRED_MESSAGE,
        CALLBACK_DEFERRED_UPDATE,
        CALLBACK_UPDATE,
        CALLBACK_MODAL,
    },
    TYPE_AUTOCOMPLETE: {CALLBACK_AUTOCOMPLETE},
    TYPE_MODAL_SUBMIT: {
        CALLBACK_MESSAGE,
        CALLBACK_DEFERRED_MESSAGE,
        CALLBACK_DEFERRED_UPDATE,
        CALLBACK_UPDATE,
    },
}

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


class InvalidInjection(ValueError):
    """The test asked for an interaction Discord's client would never send."""


class Interactions:
    """Builds interaction payloads, dispatches them, and serves the callback/webhook routes."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.by_id: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}

    # ---- injection ----------------------------------------------------------------------------

    def _context(
        self,
        *,
        channel: Channel | int | None,
        member: Member | None,
        user: User | None,
        roles: Iterable[Role | int],
        permissions: int | None,
        dm: bool,
    ) -> tuple[Channel, Member | None, User, int]:
        state = self.fake.state
        world = self.fake.world
        if dm:
            who = user or (member.user if member else None) or (world.alice.user if world else None)
            if who is None:
                raise InvalidInjection("a DM interaction needs user=")
            return (
                state.dm_channel(who),
                None,
                who,
                ALL_PERMISSIONS if permissions is None else permissions,
            )
        if channel is None:
            if world is None:
                raise InvalidInjection("channel= is required when the fake has no default world")
            channel = world.papers
        ch = state.channels.get(channel if isinstance(channel, int) else channel.id)
        if ch is None or ch.guild_id is None:
            raise InvalidInjection(f"channel {channel} is not a guild channel the fake knows")
        if member is None:
            if user is not None:
                member = state.member_of(ch.guild_id, user.id)
            elif world is not None and world.guild.id == ch.guild_id:
                member = world.alice
        if member is None:
            raise InvalidInjection("member= is required (a Member of the channel's guild)")
        if member.guild_id != ch.guild_id:
            raise InvalidInjection("that member is not in the channel's guild")
        extra = [r if isinstance(r, int) else r.id for r in roles]
        if extra:
            member = Member(
                user=member.user,
                guild_id=member.guild_id,
                roles=list(dict.fromkeys([*member.roles, *extra])),
                joined_at=member.joined_at,
                nick=member.nick,
            )
        perms = state.permissions_in(ch, member) if permissions is None else permissions
        return ch, member, member.user, perms

    def _command(self, name: str, guild_id: int | None) -> tuple[dict[str, Any], bool]:
        if guild_id is not None:
            for cmd in self.fake.guild_commands.get(guild_id, []):
                if cmd["name"] == name and cmd.get("type", 1) == 1:
                    return cmd, True
        for cmd in self.fake.global_commands:
            if cmd["name"] == name and cmd.get("type", 1) == 1:
                return cmd, False
        where = f"in guild {guild_id} or globally" if guild_id is not None else "globally"
        raise InvalidInjection(f"/{name} is not registered {where}: did the bot sync its commands?")

    def _check_allowed(
        self, cmd: Mapping[str, Any], *, guild_id: int | None, member: Member | None, force: bool
    ) -> None:
        if force:
            return
        if guild_id is None:
            contexts = cmd.get("contexts")
            if cmd.get("dm_permission") is False or (contexts is not None and 1 not in contexts):
                raise InvalidInjection(f"/{cmd['name']} is not available in DMs")
            return
        contexts = cmd.get("contexts")
        if contexts is not None and 0 not in contexts:
            raise InvalidInjection(f"/{cmd['name']} is not available in guilds")
        needed = cmd.get("default_member_permissions")
        if needed is not None and member is not None:
            guild = self.fake.state.guilds[guild_id]
            have = self.fake.state.base_permissions(guild, member)
            if have != ALL_PERMISSIONS and (int(needed) == 0 or int(needed) & ~have):
                raise InvalidInjection(
                    f"Discord hides /{cmd['name']} from this member (needs permissions {needed}); "
                    "pass force=True to send it anyway"
                )

    def _options(
        self,
        cmd: Mapping[str, Any],
        path: Sequence[str],
        values: Mapping[str, Any],
        *,
        guild_id: int | None,
        focused: str | None,
        resolved: dict[str, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        defs: list[dict[str, Any]] = list(cmd.get("options") or [])
        chain: list[tuple[str, int]] = []
        for part in path:
            found = next((o for o in defs if o["name"] == part and o["type"] in (1, 2)), None)
            if found is None:
                raise InvalidInjection(f"/{cmd['name']} has no sub-command or group {part!r}")
            chain.append((part, found["type"]))
            defs = list(found.get("options") or [])
        if any(o["type"] in (1, 2) for o in defs):
            raise InvalidInjection(
                f"/{cmd['name']} needs a sub-command: one of {[o['name'] for o in defs]}"
            )
        leaf = [
            self._option_value(o, values, guild_id=guild_id, focused=focused, resolved=resolved)
            for o in defs
        ]
        unknown = set(values) - {o["name"] for o in defs}
        if unknown:
            raise InvalidInjection(f"/{cmd['name']} has no option(s) {sorted(unknown)}")
        options = [o for o in leaf if o is not None]
        for name, otype in reversed(chain):
            options = [{"name": name, "type": otype, "options": options}]
        return options

    def _option_value(
        self,
        definition: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        guild_id: int | None,
        focused: str | None,
        resolved: dict[str, dict[str, Any]],
    ) -> dict[str, Any] | None:
        name = definition["name"]
        otype = definition["type"]
        if name not in values:
            if definition.get("required") and focused is None:
                raise InvalidInjection(f"option {name!r} is required")
            return None
        value = values[name]
        if name == focused:
            if not definition.get("autocomplete"):
                raise InvalidInjection(f"option {name!r} does not autocomplete")
            return {"name": name, "type": otype, "value": str(value), "focused": True}
        if otype == rules.OPTION_STRING:
            if not isinstance(value, str):
                raise InvalidInjection(f"option {name!r} takes a string")
            lo, hi = definition.get("min_length"), definition.get("max_length")
            if (lo is not None and len(value) < lo) or (hi is not None and len(value) > hi):
                raise InvalidInjection(f"option {name!r}: length out of range")
        elif otype == rules.OPTION_INTEGER:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInjection(f"option {name!r} takes an integer")
        elif otype == rules.OPTION_NUMBER:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInjection(f"option {name!r} takes a number")
        elif otype == rules.OPTION_BOOLEAN:
            if not isinstance(value, bool):
                raise InvalidInjection(f"option {name!r} takes a boolean")
        elif otype in (6, 7, 8, 9):
            value = self._resolve(name, otype, value, guild_id=guild_id, resolved=resolved)
        else:
            raise InvalidInjection(f"option type {otype} is not supported by the fake")
        if otype in (rules.OPTION_INTEGER, rules.OPTION_NUMBER):
            lo, hi = definition.get("min_value"), definition.get("max_value")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise InvalidInjection(f"option {name!r}: {value} is outside [{lo}, {hi}]")
        choices = definition.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise InvalidInjection(f"option {name!r}: {value!r} is not one of its choices")
        return {"name": name, "type": otype, "value": value}

    def _resolve(
        self,
        name: str,
        otype: int,
        value: Any,
        *,
        guild_id: int | None,
        resolved: dict[str, dict[str, Any]],
    ) -> str:
        state = self.fake.state
        obj_id = value if isinstance(value, int) else getattr(value, "id", None)
        if not isinstance(obj_id, int):
            raise InvalidInjection(f"option {name!r} takes a user, channel or role (object or id)")
        if otype == 7:
            ch = state.channels.get(obj_id)
            if ch is None:
                raise InvalidInjection(f"option {name!r}: no channel {obj_id}")
            perms = 0
            if ch.guild_id is not None:
                perms = state.bot_permissions_in(ch)
            resolved.setdefault("channels", {})[str(obj_id)] = {
                **ch.to_json(state),
                "permissions": str(perms),
            }
            return str(obj_id)
        guild = state.guilds.get(guild_id) if guild_id is not None else None
        if guild is not None and obj_id in guild.roles and otype in (8, 9):
            resolved.setdefault("roles", {})[str(obj_id)] = guild.roles[obj_id].to_json()
            return str(obj_id)
        user = state.users.get(obj_id)
        if user is None or otype == 8:
            raise InvalidInjection(f"option {name!r}: nothing to resolve for {obj_id}")
        resolved.setdefault("users", {})[str(obj_id)] = user.to_json()
        if guild is not None and obj_id in guild.members:
            resolved.setdefault("members", {})[str(obj_id)] = {
                **guild.members[obj_id].to_json(with_user=False),
                "permissions": str(state.base_permissions(guild, guild.members[obj_id])),
            }
        return str(obj_id)

    def _payload(
        self,
        itype: int,
        channel: Channel,
        member: Member | None,
        user: User,
        perms: int,
        data: dict[str, Any],
        *,
        locale: str,
        message: Message | None = None,
    ) -> tuple[int, str, dict[str, Any]]:
        state = self.fake.state
        iid = state.ids.next()
        token = "fake-interaction-" + secrets.token_urlsafe(24)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.fake.application_id),
            "type": itype,
            "token": token,
            "version": 1,
            "channel_id": str(channel.id),
            "channel": channel.to_json(state),
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "data": data,
        }
        if channel.guild_id is not None and member is not None:
            payload.update(
                guild_id=str(channel.guild_id),
                guild={"id": str(channel.guild_id), "locale": "en-US", "features": []},
                member={**member.to_json(), "permissions": str(perms)},
                app_permissions=str(state.bot_permissions_in(channel)),
                guild_locale="en-US",
                authorizing_integration_owners={"0": str(channel.guild_id)},
                context=0,
            )
        else:
            payload.update(
                user=user.to_json(),
                app_permissions=str(perms),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if message is not None:
            payload["message"] = message.to_json()
        return iid, token, payload

    async def _dispatch(
        self,
        iid: int,
        token: str,
        itype: int,
        payload: dict[str, Any],
        channel: Channel,
        user: User,
        *,
        deliver: bool = True,
    ) -> InteractionRecord:
        now = self.fake.clock.monotonic()
        record = InteractionRecord(
            id=iid,
            token=token,
            type=itype,
            payload=payload,
            guild_id=channel.guild_id,
            channel_id=channel.id,
            user_id=user.id,
            dispatched_at=now,
            deadline=now + self.fake.interaction_deadline,
            token_expires_at=now + self.fake.interaction_token_ttl,
        )
        self.by_id[iid] = record
        self._by_token[token] = record
        sent = not deliver or await self.fake.gateway.dispatch(
            "INTERACTION_CREATE", payload, guild_id=channel.guild_id
        )
        if not sent:
            raise RuntimeError(
                "no gateway session to deliver the interaction to: is the bot running?"
            )
        self.fake.changed()
        return record

    async def command(
        self,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        channel: Channel | int | None = None,
        member: Member | None = None,
        user: User | None = None,
        roles: Iterable[Role | int] = (),
        permissions: int | None = None,
        dm: bool = False,
        locale: str = "en-US",
        force: bool = False,
        focused: str | None = None,
        deliver: bool = True,
    ) -> InteractionRecord:
        """Dispatch a slash command (or, with `focused`, an autocomplete) from a user; with
        `deliver=False` only record it, so a test can answer it over HTTP itself."""
        ch, mem, who, perms = self._context(
            channel=channel, member=member, user=user, roles=roles, permissions=permissions, dm=dm
        )
        name, *path = command.split()
        cmd, is_guild = self._command(name, ch.guild_id)
        self._check_allowed(cmd, guild_id=ch.guild_id, member=mem, force=force)
        resolved: dict[str, dict[str, Any]] = {}
        opts = self._options(
            cmd, path, dict(options or {}), guild_id=ch.guild_id, focused=focused, resolved=resolved
        )
        if focused is not None and not _has_focus(opts):
            raise InvalidInjection(f"autocomplete needs a value for the focused option {focused!r}")
        data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 1, "options": opts}
        if is_guild:
            data["guild_id"] = str(ch.guild_id)
        if resolved:
            data["resolved"] = resolved
        itype = TYPE_AUTOCOMPLETE if focused is not None else TYPE_APPLICATION_COMMAND
        iid, token, payload = self._payload(itype, ch, mem, who, perms, data, locale=locale)
        return await self._dispatch(iid, token, itype, payload, ch, who, deliver=deliver)

    async def component(
        self,
        message: Message | int,
        custom_id: str,
        *,
        values: Sequence[str] | None = None,
        member: Member | None = None,
        user: User | None = None,
        roles: Iterable[Role | int] = (),
        permissions: int | None = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """Dispatch a button click (no `values`) or a string-select choice on a bot message."""
        msg = self.fake.messages_store.by_id.get(
            message if isinstance(message, int) else message.id
        )
        if msg is None or msg.deleted:
            raise InvalidInjection("no such (undeleted) message")
        comp = _find_component(msg.components, custom_id)
        if comp is None:
            raise InvalidInjection(f"message {msg.id} has no component {custom_id!r}")
        if comp.get("disabled"):
            raise InvalidInjection(f"component {custom_id!r} is disabled")
        ctype = comp.get("type")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if ctype == 2:
            if values is not None:
                raise InvalidInjection(f"{custom_id!r} is a button: pass no values")
            if comp.get("style") in (5, 6):
                raise InvalidInjection("link and premium buttons send no interaction")
        elif ctype == 3:
            if values is None:
                raise InvalidInjection(f"{custom_id!r} is a select: pass values=")
            allowed = [o["value"] for o in comp.get("options") or []]
            lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
            if not lo <= len(values) <= hi or any(v not in allowed for v in values):
                raise InvalidInjection(
                    f"values {list(values)} are not a valid choice for {custom_id!r}"
                )
            data["values"] = list(values)
        else:
            raise InvalidInjection(f"component type {ctype} is not supported by the fake")
        dm = msg.guild_id is None
        channel = self.fake.state.channels.get(msg.channel_id)
        if channel is None:
            raise InvalidInjection("the message's channel is gone")
        if dm and user is None and channel.recipient_id is not None:
            user = self.fake.state.users.get(channel.recipient_id)
        ch, mem, who, perms = self._context(
            channel=None if dm else channel,
            member=member,
            user=user,
            roles=roles,
            permissions=permissions,
            dm=dm,
        )
        iid, token, payload = self._payload(
            TYPE_MESSAGE_COMPONENT, ch, mem, who, perms, data, locale=locale, message=msg
        )
        record = await self._dispatch(iid, token, TYPE_MESSAGE_COMPONENT, payload, ch, who)
        record.original_message_id = msg.id
        return record

    # ---- HTTP: callback -----------------------------------------------------------------------

    def _record(self, token: str) -> InteractionRecord:
        record = self._by_token.get(token)
        if record is None:
            raise rules.unknown_webhook()
        return record

    async def callback(self, request: web.Request) -> web.StreamResponse:
        """POST /interactions/{id}/{token}/callback: the first (and only) answer."""
        fake = self.fake
        body = request[JSON_BODY]
        record = self.by_id.get(int(request.match_info["interaction_id"]))
        if record is None or record.token != request.match_info["interaction_token"]:
            raise rules.unknown_interaction()
        ctype = body.get("type") if isinstance(body, dict) else None
        now = fake.clock.monotonic()
        try:
            if record.acknowledged:
                raise rules.already_acknowledged()
            if now > record.deadline:
                record.expired = True
                raise rules.unknown_interaction()
            message = await self._apply_callback(request, record, body)
        except DiscordHTTPError as exc:
            record.callbacks.append(CallbackRecord(ctype, body, now, exc.status, exc.code))
            fake.changed()
            raise
        with_response = request.query.get("with_response", "").lower() in ("1", "true")
        status = 200 if with_response else 204
        record.callbacks.append(CallbackRecord(ctype, body, now, status))
        fake.changed()
        if not with_response:
            return web.Response(status=204)
        original = fake.messages_store.by_id.get(record.original_message_id or 0)
        response: dict[str, Any] = {
            "interaction": {
                "id": str(record.id),
                "type": record.type,
                "response_message_id": str(original.id) if original else None,
                "response_message_loading": bool(original and original.loading),
                "response_message_ephemeral": bool(original and original.ephemeral),
            }
        }
        if message is not None:
            response["resource"] = {"type": ctype, "message": message.to_json()}
        return fake.json(response)

    async def _apply_callback(
        self, request: web.Request, record: InteractionRecord, body: Any
    ) -> Message | None:
        fake = self.fake
        files = request[FILES]
        errors = FormErrors()
        if not isinstance(body, dict):
            raise rules.form_error(
                (), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
            )
        ctype = body.get("type")
        if ctype not in ALLOWED_CALLBACKS.get(record.type, set()):
            raise rules.form_error(
                ("type",),
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Callback type {ctype} is not valid for this interaction.",
            )
        data = body.get("data")
        if data is not None and not isinstance(data, dict):
            raise rules.form_error(
                ("data",), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
            )
        channel = fake.state.channels[record.channel_id]
        if ctype == CALLBACK_MESSAGE:
            data = data or {}
            rules.check_message(errors, data, kind="interaction", path=("data",))
            fake.raise_form_errors(request, errors)
            if rules.is_empty_message(data, files=len(files)):
                raise rules.empty_message()
            message = await fake.messages_store.create(
                channel,
                data,
                author=fake.bot_user,
                files=files,
                webhook_id=fake.application_id,
                interaction=record,
            )
            record.original_message_id = message.id
            record.acknowledged_with = ctype
            return message
        if ctype == CALLBACK_DEFERRED_MESSAGE:
            flags = 0
            if data is not None:
                flags = data.get("flags") or 0
                if not isinstance(flags, int) or flags & ~FLAG_EPHEMERAL or set(data) - {"flags"}:
                    raise rules.form_error(
                        ("data", "flags"),
                        "MESSAGE_FLAGS_INVALID",
                        "Only EPHEMERAL can be set when deferring.",
                    )
            message = await fake.messages_store.create(
                channel,
                {"content": ""},
                author=fake.bot_user,
                webhook_id=fake.application_id,
                interaction=record,
                extra_flags=FLAG_LOADING | flags,
            )
            record.original_message_id = message.id
            record.acknowledged_with = ctype
            return message
        if ctype == CALLBACK_DEFERRED_UPDATE:
            record.acknowledged_with = ctype
            return None
        if ctype == CALLBACK_UPDATE:
            target = fake.messages_store.by_id.get(record.original_message_id or 0)
            if target is None or target.deleted:
                raise rules.unknown_message()
            rules.check_message(
                errors, data or {}, kind="edit", path=("data",), existing_flags=target.flags
            )
            fake.raise_form_errors(request, errors)
            if rules.is_empty_message(fake.messages_store.merged(target, data or {})):
                raise rules.empty_message()
            await fake.messages_store.edit(target, data or {}, via="callback")
            record.acknowledged_with = ctype
            return target
        if ctype == CALLBACK_AUTOCOMPLETE:
            focused = _focused(record.payload.get("data", {}).get("options") or [])
            rules.check_autocomplete_result(
                errors, data, focused.get("type", rules.OPTION_STRING) if focused else 3
            )
            fake.raise_form_errors(request, errors)
            assert isinstance(data, dict)
            record.autocomplete_choices = list(data["choices"])
            record.acknowledged_with = ctype
            return None
        if ctype == CALLBACK_MODAL:
            rules.check_modal(errors, data)
            fake.raise_form_errors(request, errors)
            assert isinstance(data, dict)
            record.modal = dict(data)
            record.acknowledged_with = ctype
            return None
        raise rules.form_error(
            ("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "Unknown callback type."
        )

    # ---- HTTP: follow-ups and @original -------------------------------------------------------

    def _webhook_record(self, request: web.Request) -> InteractionRecord:
        if request.match_info["webhook_id"] != str(self.fake.application_id):
            raise rules.unknown_webhook()
        record = self._record(request.match_info["webhook_token"])
        if self.fake.clock.monotonic() > record.token_expires_at:
            raise rules.invalid_webhook_token()
        if not record.acknowledged or record.acknowledged_with in (CALLBACK_AUTOCOMPLETE,):
            raise rules.unknown_webhook()
        return record

    def _webhook_message(self, record: InteractionRecord, message_id: str) -> Message:
        if message_id == "@original":
            mid = record.original_message_id
        elif message_id.isdigit() and int(message_id) in [
            *record.followup_ids,
            record.original_message_id,
        ]:
            mid = int(message_id)
        else:
            mid = None
        message = self.fake.messages_store.by_id.get(mid or 0)
        if message is None or message.deleted:
            raise rules.unknown_message()
        return message

    async def followup(self, request: web.Request) -> web.StreamResponse:
        """POST /webhooks/{app}/{token}: a follow-up message (the first one after a defer replaces
        the 'thinking…' placeholder, as Discord does)."""
        fake = self.fake
        record = self._webhook_record(request)
        body = request[JSON_BODY]
        errors = FormErrors()
        rules.check_message(errors, body, kind="webhook")
        fake.raise_form_errors(request, errors)
        files = request[FILES]
        if rules.is_empty_message(body, files=len(files)):
            raise rules.empty_message()
        original = fake.messages_store.by_id.get(record.original_message_id or 0)
        if (
            original is not None
            and original.loading
            and record.acknowledged_with == CALLBACK_DEFERRED_MESSAGE
        ):
            update = {
                k: v
                for k, v in body.items()
                if k in ("content", "embeds", "components", "attachments")
            }
            message = await fake.messages_store.edit(
                original, update, via="followup", clear_loading=True
            )
        else:
            channel = fake.state.channels.get(record.channel_id)
            if channel is None:
                raise rules.unknown_channel()
            message = await fake.messages_store.create(
                channel,
                body,
                author=fake.bot_user,
                files=files,
                webhook_id=fake.application_id,
                interaction=record,
            )
            record.followup_ids.append(message.id)
        fake.changed()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return fake.json(message.to_json())
        return web.Response(status=204)

    async def get_message(self, request: web.Request) -> web.StreamResponse:
        """GET /webhooks/{app}/{token}/messages/{id|@original}."""
        record = self._webhook_record(request)
        return self.fake.json(
            self._webhook_message(record, request.match_info["message_id"]).to_json()
        )

    async def edit_message(self, request: web.Request) -> web.StreamResponse:
        """PATCH /webhooks/{app}/{token}/messages/{id|@original}."""
        fake = self.fake
        record = self._webhook_record(request)
        message = self._webhook_message(record, request.match_info["message_id"])
        body = request[JSON_BODY]
        errors = FormErrors()
        rules.check_message(errors, body, kind="edit", existing_flags=message.flags)
        fake.raise_form_errors(request, errors)
        if rules.is_empty_message(
            fake.messages_store.merged(message, body), files=len(request[FILES])
        ):
            raise rules.empty_message()
        if request[FILES]:
            body = {**body, "attachments": [*(body.get("attachments") or []), *request[FILES]]}
        await fake.messages_store.edit(message, body, via="webhook", clear_loading=True)
        return fake.json(message.to_json())

    async def delete_message(self, request: web.Request) -> web.StreamResponse:
        """DELETE /webhooks/{app}/{token}/messages/{id|@original}."""
        record = self._webhook_record(request)
        message = self._webhook_message(record, request.match_info["message_id"])
        await self.fake.messages_store.delete(message, via="webhook")
        return web.Response(status=204)


def _has_focus(options: list[dict[str, Any]]) -> bool:
    return _focused(options) is not None


def _focused(options: list[dict[str, Any]]) -> dict[str, Any] | None:
    for opt in options:
        if opt.get("focused"):
            return opt
        inner = _focused(opt.get("options") or [])
        if inner is not None:
            return inner
    return None


def _find_component(components: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    for comp in components:
        if comp.get("custom_id") == custom_id:
            return comp
        inner = _find_component(comp.get("components") or [], custom_id)
        if inner is not None:
            return inner
    return None


__all__ = ["ChannelType", "Interactions", "InvalidInjection", "Perm"]
