"""`FakeDiscord`: the loopback server (REST at /api/v10, gateway over websocket) and the Python
API tests use to drive it and to read what the bot did.

Every HTTP request passes the same gate, in Discord's order of concerns: a `DiscordBot` user
agent, the bot token (not for interaction and webhook routes), scripted answers a test asked
for, the global and per-route rate limits, a JSON (or multipart) body, the OpenAPI schema when
enabled, then the route's own rules. Answers are JSON with Content-Type exactly
`application/json` (discord.py decodes nothing else) and carry `X-RateLimit-*` and `Via`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from aiohttp import BodyPartReader, web

from . import rules
from .clock import FakeClock
from .gateway import Gateway
from .interactions import Interactions, InvalidInjection
from .messages import MessageStore
from .ratelimit import MESSAGE_CREATE, VIA, BucketSpec, RateLimiter, normalise_route
from .records import (
    FILES,
    JSON_BODY,
    DeletionRecord,
    EditRecord,
    InteractionRecord,
    InvalidRequest,
    Message,
    RequestRecord,
)
from .rest import Rest
from .rules import DiscordHTTPError, FormErrors
from .schema import OpenAPIValidator
from .state import (
    INTENT_GUILDS,
    Channel,
    ChannelType,
    Guild,
    Member,
    Overwrite,
    Perm,
    Role,
    User,
    WorldState,
)
from .waiting import Changes
from .world import World, seed_world

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
#: the OpenAPI check's findings for this request, and whether a handler has reported them yet
SCHEMA_ERRORS: web.RequestKey[FormErrors] = web.RequestKey("schema_errors", FormErrors)
SCHEMA_REPORTED: web.RequestKey[bool] = web.RequestKey("schema_reported", bool)
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class _Script:
    route: str
    statuses: deque[int]
    retry_after: float
    scope: str
    match: dict[str, str]
    body: dict[str, Any] | None


class FakeDiscord:
    """A strict, in-process Discord for end-to-end tests of a real discord.py bot.

    Use `async with FakeDiscord() as fake:` (or the `discord_fake` fixture); `fake.api_base` and
    `fake.gateway_url` are what the bot must be pointed at, `fake.token` is its token.
    """

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        token: str = "fake-bot-token.paperfeed",
        bot_name: str = "paperbot",
        shard_count: int = 1,
        max_concurrency: int = 1,
        identify_window: float = 5.0,
        identify_rate_limit: bool = False,
        session_start_total: int = 1000,
        privileged_intents: int = 0,
        interaction_deadline: float = 3.0,
        interaction_token_ttl: float = 900.0,
        message_rate: tuple[int, float] = (5, 5.0),
        default_rate: tuple[int, float] = (50, 1.0),
        global_rate: tuple[int, float] = (50, 1.0),
        nonce_window: float = 120.0,
        openapi: OpenAPIValidator | None = None,
        world: bool = True,
        require_user_agent: bool = True,
    ) -> None:
        self.clock = clock or FakeClock()
        self.token = token
        self.shard_count = shard_count
        #: identify buckets (`shard_id % max_concurrency`), one IDENTIFY per `identify_window`
        #: seconds each; enforced (op 9 for a too-early IDENTIFY) only with `identify_rate_limit`
        self.max_concurrency = max_concurrency
        self.identify_window = identify_window
        self.identify_rate_limit = identify_rate_limit
        #: IDENTIFYs allowed per day; one more ends every session and resets the token
        self.session_start_total = session_start_total
        self.token_reset = False
        self.privileged_intents = privileged_intents
        self.interaction_deadline = interaction_deadline
        self.interaction_token_ttl = interaction_token_ttl
        self.nonce_window = nonce_window
        self.openapi = openapi
        self.require_user_agent = require_user_agent
        self.application_flags = 0
        bot = User(id=0, username=bot_name, bot=True)
        self.state = WorldState(self.clock, bot)
        bot.id = self.state.ids.next()
        self.state.users = {bot.id: bot}
        self.application_id = bot.id
        self.bot_user = bot
        self.owner_user = self.state.add_user("app-owner")
        self.world: World | None = seed_world(self.state) if world else None
        self.limiter = RateLimiter(
            self.clock,
            global_limit=global_rate[0],
            global_per=global_rate[1],
            default=BucketSpec(*default_rate),
        )
        self.limiter.set_bucket(MESSAGE_CREATE, *message_rate)
        self.gateway = Gateway(self)
        self.messages_store = MessageStore(self)
        self.interactions_api = Interactions(self)
        self.rest = Rest(self)
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[RequestRecord] = []
        self.unhandled: list[RequestRecord] = []
        self.internal_errors: list[str] = []
        self.nonce_hits: list[int] = []
        self.thread_ids: list[int] = []
        self._scripts: list[_Script] = []
        self._changes = Changes()
        self.clock.on_advance(self.changed)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> Self:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(middlewares=[self._gate], client_max_size=26 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume-gateway", self.gateway.handle)
        routes: list[tuple[str, str, Handler]] = [
            *self.rest.routes(),
            (
                "POST",
                "/interactions/{interaction_id}/{interaction_token}/callback",
                self.interactions_api.callback,
            ),
            ("POST", "/webhooks/{webhook_id}/{webhook_token}", self.interactions_api.followup),
            (
                "GET",
                "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
                self.interactions_api.get_message,
            ),
            (
                "PATCH",
                "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
                self.interactions_api.edit_message,
            ),
            (
                "DELETE",
                "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
                self.interactions_api.delete_message,
            ),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, handler)
        app.router.add_route("*", "/{tail:.*}", self._unhandled)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def close(self) -> None:
        """Close gateway connections and stop listening."""
        if self._runner is None:
            return
        await self.gateway.close()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What `[discord] api_base` must be to use this fake."""
        return f"{self.base_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """What `[discord] gateway_url` must be to use this fake."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        """What READY names as `resume_gateway_url` (a different path, so tests can tell)."""
        return f"ws://127.0.0.1:{self.port}/resume-gateway"

    def changed(self) -> None:
        """Wake everything waiting on the fake."""
        self._changes.notify()

    def json(
        self, data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        """A JSON answer with Content-Type exactly `application/json`."""
        response = web.Response(body=json.dumps(data).encode(), status=status)
        response.headers["Content-Type"] = "application/json"
        response.headers.update(headers or {})
        return response

    def check_clean(self) -> None:
        """AssertionError if the fake crashed or the bot called routes the fake does not serve."""
        problems = [*self.internal_errors]
        problems += [f"unserved route: {r.method} {r.path}" for r in self.unhandled]
        if problems:
            raise AssertionError("fake Discord saw problems:\n" + "\n".join(problems))

    # ---- the gate -----------------------------------------------------------------------------

    @web.middleware
    async def _gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        canonical = resource.canonical if resource is not None else request.path
        if canonical in ("/gateway", "/resume-gateway"):
            return await handler(request)
        route = (
            canonical.removeprefix(API_PREFIX)
            if canonical.startswith(API_PREFIX + "/")
            else canonical
        )
        record = RequestRecord(
            method=request.method,
            path=request.path,
            route=route,
            query=dict(request.query),
            body=None,
            at=self.clock.monotonic(),
        )
        self.requests.append(record)
        headers: dict[str, str] = {"Via": VIA}
        scope: str | None = None
        try:
            response, scope = await self._serve(request, handler, record, headers)
        except DiscordHTTPError as exc:
            response = self.json(exc.body(), status=exc.status, headers=exc.headers)
            record.code = exc.code
            scope = exc.headers.get("X-RateLimit-Scope")
        except Exception:
            self.internal_errors.append(
                f"{request.method} {request.path}:\n{traceback.format_exc()}"
            )
            log.exception("fake Discord crashed on %s %s", request.method, request.path)
            response = self.json({"message": "500: Internal Server Error", "code": 0}, status=500)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        record.status = response.status
        self.limiter.note_status(response.status, record.key, scope)
        self.changed()
        return response

    async def _serve(
        self, request: web.Request, handler: Handler, record: RequestRecord, headers: dict[str, str]
    ) -> tuple[web.StreamResponse, str | None]:
        request[JSON_BODY], request[FILES] = None, []
        if record.route == "/{tail}":
            self.unhandled.append(record)
            raise rules.not_found()
        needs_auth = (
            not record.route.startswith(("/interactions/", "/webhooks/"))
            and record.route != "/gateway"
        )
        # Webhook-style routes are used by plain HTTP clients too; bot routes need Discord's UA.
        user_agent = request.headers.get("User-Agent", "")
        if self.require_user_agent and needs_auth and not user_agent.startswith("DiscordBot ("):
            raise DiscordHTTPError(400, 0, "User-Agent must be 'DiscordBot ($url, $version)'")
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            raise rules.unauthorized()
        await self._read_body(request, record)
        scripted = self._scripted(record, request.match_info)
        if scripted is not None:
            return scripted
        decision = self.limiter.check(record.key, _major(request.match_info))
        headers.update(decision.headers)
        if not decision.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after)))
            return self.json(decision.body(), status=429), decision.scope
        # The spec's findings are reported together with the route's own rule checks (which
        # name fields more precisely), after the 404/403 checks, as handlers do.
        request[SCHEMA_ERRORS], request[SCHEMA_REPORTED] = FormErrors(), False
        if self.openapi is not None and request[JSON_BODY] is not None:
            self.openapi.check(
                request.method, record.route, request[JSON_BODY], request[SCHEMA_ERRORS]
            )
        try:
            response = await handler(request)
        except DiscordHTTPError as exc:
            if exc.code == 50035 and not request[SCHEMA_REPORTED] and request[SCHEMA_ERRORS]:
                merged = FormErrors()
                merged.tree = exc.errors or {}
                merged.merge(request[SCHEMA_ERRORS])
                exc.errors = merged.tree
            raise
        if response.status < 300 and request[SCHEMA_ERRORS] and not request[SCHEMA_REPORTED]:
            self.internal_errors.append(
                f"{record.key} accepted a body the OpenAPI spec refuses: {request[SCHEMA_ERRORS].tree}"
            )
        return response, None

    def raise_form_errors(self, request: web.Request, errors: FormErrors) -> None:
        """Raise 50035 with the route's own errors plus the OpenAPI check's, if there are any."""
        request[SCHEMA_REPORTED] = True
        errors.merge(request[SCHEMA_ERRORS])
        errors.raise_if_any()

    async def _read_body(self, request: web.Request, record: RequestRecord) -> None:
        if not request.can_read_body:
            return
        if request.content_type == "multipart/form-data":
            payload: Any = None
            files: list[dict[str, Any]] = []
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    raise rules.invalid_json()
                if part.name == "payload_json":
                    try:
                        payload = json.loads(await part.text())
                    except ValueError:
                        raise rules.invalid_json() from None
                elif part.filename is not None:
                    data = await part.read()
                    files.append(
                        {
                            "id": str(self.state.ids.next()),
                            "filename": part.filename,
                            "size": len(data),
                            "url": f"{self.base_url}/attachments/{part.filename}",
                            "proxy_url": f"{self.base_url}/attachments/{part.filename}",
                            "content_type": part.headers.get("Content-Type"),
                        }
                    )
            request[JSON_BODY], request[FILES] = payload, files
            record.body = payload
            return
        text = await request.text()
        if not text.strip():
            return
        if request.content_type != "application/json":
            raise rules.invalid_json()
        try:
            request[JSON_BODY] = record.body = json.loads(text)
        except ValueError:
            raise rules.invalid_json() from None

    async def _unhandled(self, request: web.Request) -> web.StreamResponse:
        raise rules.not_found()

    # ---- scripted answers and rate limits -----------------------------------------------------

    def script(
        self,
        route: str,
        statuses: Sequence[int],
        *,
        retry_after: float = 0.05,
        scope: str = "user",
        match: Mapping[str, int | str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next requests to `route` (`"POST /channels/{id}/messages"`) with these
        statuses, one each, before any other check; `match` narrows it to path values."""
        self._scripts.append(
            _Script(
                route=normalise_route(route),
                statuses=deque(statuses),
                retry_after=retry_after,
                scope=scope,
                match={k: str(v) for k, v in (match or {}).items()},
                body=body,
            )
        )

    def _scripted(
        self, record: RequestRecord, match_info: Mapping[str, str]
    ) -> tuple[web.StreamResponse, str | None] | None:
        key = normalise_route(record.key)
        for script in self._scripts:
            if script.route != key or not script.statuses:
                continue
            if any(match_info.get(k) != v for k, v in script.match.items()):
                continue
            status = script.statuses.popleft()
            record.scripted = True
            if status == 429:
                headers = {
                    "Retry-After": str(max(1, math.ceil(script.retry_after))),
                    "X-RateLimit-Scope": script.scope,
                    "Via": VIA,
                }
                if script.scope == "global":
                    headers["X-RateLimit-Global"] = "true"
                message = (
                    "The resource is being rate limited."
                    if script.scope == "shared"
                    else "You are being rate limited."
                )
                data = script.body or {
                    "message": message,
                    "retry_after": script.retry_after,
                    "global": script.scope == "global",
                }
                return self.json(data, status=429, headers=headers), script.scope
            defaults = {
                401: rules.unauthorized(),
                403: rules.missing_permissions(),
                404: rules.not_found(),
            }
            if script.body is not None:
                data = script.body
            elif status in defaults:
                data = defaults[status].body()
            else:
                data = {"message": f"{status}: scripted error", "code": 0}
            return self.json(data, status=status), None
        return None

    def set_bucket(self, route: str, limit: int, per: float) -> None:
        """Give a route its own rate limit (per channel/guild/webhook), e.g. 5 per 0.5 s."""
        self.limiter.set_bucket(route, limit, per)

    @property
    def invalid_requests(self) -> list[InvalidRequest]:
        """Every 401/403/429 (not scope shared), with fake-clock timestamps."""
        return self.limiter.invalid

    def invalid_request_count(self, window: float = 600.0) -> int:
        """Invalid requests in the last `window` seconds (Discord's ban is 10,000 per 10 min)."""
        return self.limiter.invalid_count(window)

    def requests_to(
        self, route: str | None = None, *, status: int | None = None
    ) -> list[RequestRecord]:
        """Requests to a route (`"POST /channels/{id}/messages"`), or all, optionally by status."""
        key = normalise_route(route) if route else None
        return [
            r
            for r in self.requests
            if (key is None or normalise_route(r.key) == key)
            and (status is None or r.status == status)
        ]

    def request_count(self, route: str | None = None, *, status: int | None = None) -> int:
        """How many requests a route got (all routes when None)."""
        return len(self.requests_to(route, status=status))

    # ---- reading what the bot did -------------------------------------------------------------

    def messages(
        self,
        channel: Channel | int | None = None,
        *,
        include_deleted: bool = False,
        include_ephemeral: bool = True,
    ) -> list[Message]:
        """Messages the bot made, oldest first, optionally in one channel."""
        return self.messages_store.select(
            _id(channel) if channel is not None else None,
            include_deleted=include_deleted,
            include_ephemeral=include_ephemeral,
        )

    def message(self, message_id: int) -> Message:
        """One message by id (KeyError if the bot never made it)."""
        return self.messages_store.by_id[message_id]

    def embeds(self, channel: Channel | int | None = None) -> list[dict[str, Any]]:
        """Every embed in the (undeleted) messages, in order."""
        return [e for m in self.messages(channel) for e in m.embeds]

    @property
    def edits(self) -> list[EditRecord]:
        """Every accepted edit, oldest first."""
        return self.messages_store.edits

    @property
    def deletions(self) -> list[DeletionRecord]:
        """Every accepted deletion, oldest first."""
        return self.messages_store.deletions

    def threads(self, parent: Channel | int | None = None) -> list[Channel]:
        """Threads and forum posts the bot created, optionally under one parent."""
        found = [
            self.state.channels.get(t) or self.state.deleted_channels[t] for t in self.thread_ids
        ]
        return [t for t in found if parent is None or t.parent_id == _id(parent)]

    def commands(self, guild: int | None = None) -> list[dict[str, Any]]:
        """The registered commands: global, or one guild's."""
        return list(self.global_commands if guild is None else self.guild_commands.get(guild, []))

    def set_commands(self, guild: int | None, commands: list[dict[str, Any]]) -> None:
        """Replace the registered commands (what a bulk overwrite does)."""
        if guild is None:
            self.global_commands = commands
        else:
            self.guild_commands[guild] = commands
        self.changed()

    @property
    def interactions(self) -> list[InteractionRecord]:
        """Every injected interaction, oldest first."""
        return list(self.interactions_api.by_id.values())

    # ---- injecting interactions ---------------------------------------------------------------

    async def invoke(
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
        deliver: bool = True,
    ) -> InteractionRecord:
        """A user runs `/command [sub] [sub]` with these options (default: alice in #papers).

        `deliver=False` records the interaction without sending it to the bot (for tests that
        answer it over plain HTTP)."""
        return await self.interactions_api.command(
            command,
            options,
            channel=channel,
            member=member,
            user=user,
            roles=roles,
            permissions=permissions,
            dm=dm,
            locale=locale,
            force=force,
            deliver=deliver,
        )

    async def autocomplete(
        self,
        command: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        channel: Channel | int | None = None,
        member: Member | None = None,
        user: User | None = None,
        dm: bool = False,
        force: bool = False,
        deliver: bool = True,
    ) -> InteractionRecord:
        """A user types into option `focused`; the bot must answer with choices (type 8)."""
        return await self.interactions_api.command(
            command,
            options,
            channel=channel,
            member=member,
            user=user,
            dm=dm,
            force=force,
            focused=focused,
            deliver=deliver,
        )

    async def click(
        self,
        message: Message | int,
        custom_id: str,
        *,
        member: Member | None = None,
        user: User | None = None,
        roles: Iterable[Role | int] = (),
        permissions: int | None = None,
    ) -> InteractionRecord:
        """A user clicks the button `custom_id` on one of the bot's messages."""
        return await self.interactions_api.component(
            message, custom_id, member=member, user=user, roles=roles, permissions=permissions
        )

    async def select(
        self,
        message: Message | int,
        custom_id: str,
        values: Sequence[str],
        *,
        member: Member | None = None,
        user: User | None = None,
    ) -> InteractionRecord:
        """A user picks `values` in the string select `custom_id` on one of the bot's messages."""
        return await self.interactions_api.component(
            message, custom_id, values=values, member=member, user=user
        )

    # ---- waiting ------------------------------------------------------------------------------

    async def wait_until(
        self, predicate: Callable[[], T | None], *, timeout: float = 5.0, what: str = "a condition"
    ) -> T:
        """Wait (no polling, no sleeping) until `predicate()` is truthy; return its value."""
        return await self._changes.wait_until(
            predicate, timeout=timeout, what=what, describe=self._describe
        )

    async def wait_for_bot(
        self, predicate: Callable[[], T | None], *, timeout: float = 5.0, what: str = "the bot"
    ) -> T:
        """Wait for a condition inside the bot, which the fake cannot observe: re-check after
        every pass of the event loop (yielding, never sleeping on the clock)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    result = predicate()
                    if result:
                        return result
                    await asyncio.sleep(0)
        except TimeoutError:
            raise TimeoutError(
                f"timed out after {timeout:g}s waiting for {what}; {self._describe()}"
            ) from None

    async def wait_for_messages(
        self,
        channel: Channel | int,
        n: int = 1,
        *,
        timeout: float = 5.0,
        include_ephemeral: bool = True,
    ) -> list[Message]:
        """Wait until the channel holds at least `n` bot messages; return them all."""

        def ready() -> list[Message] | None:
            found = self.messages(channel, include_ephemeral=include_ephemeral)
            return found if len(found) >= n else None

        return await self.wait_until(
            ready, timeout=timeout, what=f"{n} message(s) in channel {_id(channel)}"
        )

    async def wait_for_callback(
        self, interaction: InteractionRecord, *, timeout: float = 5.0
    ) -> InteractionRecord:
        """Wait until the bot made its first callback attempt (accepted or not)."""
        await self.wait_until(
            lambda: interaction.callbacks, timeout=timeout, what=f"a callback to {interaction.name}"
        )
        return interaction

    async def wait_for_original(
        self, interaction: InteractionRecord, *, loaded: bool = True, timeout: float = 5.0
    ) -> Message:
        """Wait for the interaction's original response once acknowledged (by default: no longer
        'thinking…'); for a component answered with type 6 or 7 that is the component's message."""

        def ready() -> Message | None:
            if not interaction.acknowledged:
                return None
            message = self.messages_store.by_id.get(interaction.original_message_id or 0)
            if message is None or (loaded and message.loading):
                return None
            return message

        return await self.wait_until(
            ready, timeout=timeout, what=f"the original response to {interaction.name}"
        )

    async def wait_for_followups(
        self, interaction: InteractionRecord, n: int = 1, *, timeout: float = 5.0
    ) -> list[Message]:
        """Wait until the bot sent `n` follow-ups (not counting one that replaced 'thinking…')."""

        def ready() -> list[Message] | None:
            ids = interaction.followup_ids
            return [self.messages_store.by_id[i] for i in ids] if len(ids) >= n else None

        return await self.wait_until(
            ready, timeout=timeout, what=f"{n} follow-up(s) to {interaction.name}"
        )

    async def wait_for_requests(
        self, route: str, n: int = 1, *, timeout: float = 5.0
    ) -> list[RequestRecord]:
        """Wait until a route was requested `n` times (answered)."""

        def ready() -> list[RequestRecord] | None:
            found = [r for r in self.requests_to(route) if r.status]
            return found if len(found) >= n else None

        return await self.wait_until(ready, timeout=timeout, what=f"{n} request(s) to {route}")

    async def wait_for_gateway(
        self, kind: str = "identify", n: int = 1, *, timeout: float = 5.0
    ) -> None:
        """Wait until `n` connections completed `identify` (READY sent) or `resume` (RESUMED)."""
        event = "READY" if kind == "identify" else "RESUMED"

        def ready() -> bool:
            return sum(1 for f in self.gateway.frames if f.direction == "out" and f.t == event) >= n

        await self.wait_until(ready, timeout=timeout, what=f"{n} gateway {kind}(s)")

    def _describe(self) -> str:
        recent = ", ".join(f"{r.key}→{r.status}" for r in self.requests[-5:]) or "none"
        return (
            f"{len(self.messages())} message(s), {len(self.interactions)} interaction(s); "
            f"last requests: {recent}"
        )

    # ---- gateway controls ---------------------------------------------------------------------

    def add_guilds(self, count: int, *, prefix: str = "guild") -> list[tuple[Guild, Channel]]:
        """`count` guilds with the bot and one text channel each, their ids spread round-robin
        over the shards; for sharding tests that need many guilds."""
        made = []
        for n in range(count):
            shard = (n % self.shard_count, self.shard_count)
            guild = self.state.add_guild(f"{prefix} {n}", shard=shard)
            made.append((guild, self.state.add_channel(guild.id, "papers")))
        self.changed()
        return made

    def shard_of(self, guild_id: int, shard_count: int | None = None) -> int:
        """Discord's routing formula: the shard that carries a guild's events."""
        return (guild_id >> 22) % (shard_count or self.shard_count)

    async def drop_gateway(self, *, code: int = 4000) -> None:
        """Close the bot's gateway connection (resumable); it should reconnect and RESUME."""
        await self.gateway.drop(code=code)

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; not resumable means a fresh IDENTIFY."""
        await self.gateway.invalidate(resumable=resumable)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT."""
        await self.gateway.request_reconnect()

    async def dispatch(
        self, event: str, data: dict[str, Any], *, guild_id: int | None = None, intent: int = 0
    ) -> bool:
        """Send any dispatch event to the bot (kept for replay while it is disconnected)."""
        return await self.gateway.dispatch(event, data, guild_id=guild_id, intent=intent)

    async def dispatch_channel_event(self, event: str, channel: Channel, **extra: Any) -> None:
        """CHANNEL_*/THREAD_* events, which need the GUILDS intent."""
        data = {**channel.to_json(self.state), **extra}
        await self.gateway.dispatch(event, data, guild_id=channel.guild_id, intent=INTENT_GUILDS)

    # ---- world controls -----------------------------------------------------------------------

    async def create_channel(
        self,
        name: str,
        *,
        guild: int | None = None,
        type: ChannelType = ChannelType.GUILD_TEXT,
        overwrites: Iterable[Overwrite] = (),
        notify: bool = True,
    ) -> Channel:
        """A new channel (in the default guild unless `guild`), announced with CHANNEL_CREATE."""
        gid = guild if guild is not None else self._default_guild()
        channel = self.state.add_channel(gid, name, type=type, overwrites=overwrites)
        if notify:
            await self.dispatch_channel_event("CHANNEL_CREATE", channel)
        self.changed()
        return channel

    async def delete_channel(self, channel: Channel | int, *, notify: bool = True) -> None:
        """The channel disappears: from now on requests get 404 10003."""
        removed = self.state.remove_channel(_id(channel))
        if notify:
            event = "THREAD_DELETE" if removed.is_thread else "CHANNEL_DELETE"
            await self.dispatch_channel_event(event, removed)
        self.changed()

    async def forbid_channel(
        self, channel: Channel | int, *, deny: int = Perm.SEND_MESSAGES, notify: bool = False
    ) -> None:
        """Deny the bot (by a member overwrite) these permissions: sends get 403 50013."""
        await self.set_overwrite(channel, self.bot_user.id, deny=deny, member=True, notify=notify)

    async def hide_channel(self, channel: Channel | int, *, notify: bool = False) -> None:
        """Deny the bot VIEW_CHANNEL there: requests get 403 50001 Missing Access."""
        await self.forbid_channel(channel, deny=Perm.VIEW_CHANNEL, notify=notify)

    async def set_overwrite(
        self,
        channel: Channel | int,
        target: int,
        *,
        allow: int = 0,
        deny: int = 0,
        member: bool | None = None,
        notify: bool = False,
    ) -> None:
        """Set a permission overwrite (role or member) on a channel; threads use their parent's."""
        ch = self.state.channels[_id(channel)]
        holder = self.state.channels[ch.parent_id] if ch.is_thread and ch.parent_id else ch
        existing = next((o for o in holder.overwrites if o.id == target), None)
        if existing is not None:
            allow |= existing.allow & ~deny
            deny |= existing.deny & ~allow
        self.state.set_overwrite(holder.id, target, allow=allow, deny=deny, member=member)
        if notify:
            await self.dispatch_channel_event("CHANNEL_UPDATE", holder)
        self.changed()

    # ---- direct messages ----------------------------------------------------------------------

    def close_dms(self, user: User | Member, *, code: int = 50007) -> None:
        """The user refuses DMs from the bot: sends to their DM channel get 403 `code`
        (50007, or 50278 for "no mutual guilds"); opening the channel still works."""
        if code not in rules.DM_REFUSALS:
            raise InvalidInjection(f"DM refusal codes are {sorted(rules.DM_REFUSALS)}, not {code}")
        self.state.closed_dms[user.id] = code
        self.changed()

    def open_dms(self, user: User | Member) -> None:
        """The user accepts DMs from the bot again."""
        self.state.closed_dms.pop(user.id, None)
        self.changed()

    def dm_channel_of(self, user: User | Member) -> Channel | None:
        """The bot's DM channel with this user, if one was ever opened."""
        return next(
            (
                c
                for c in self.state.channels.values()
                if c.type == ChannelType.DM and c.recipient_id == user.id
            ),
            None,
        )

    def dms(self, user: User | Member) -> list[Message]:
        """Messages the bot sent to this user's DMs (not interaction answers), oldest first."""
        channel = self.dm_channel_of(user)
        if channel is None:
            return []
        found = self.messages(channel, include_ephemeral=False)
        return [m for m in found if m.interaction_id is None and m.webhook_id is None]

    async def wait_for_dms(
        self, user: User | Member, n: int = 1, *, timeout: float = 5.0
    ) -> list[Message]:
        """Wait (without sleeping) until the user has at least `n` DMs from the bot."""

        def ready() -> list[Message] | None:
            found = self.dms(user)
            return found if len(found) >= n else None

        return await self.wait_until(ready, timeout=timeout, what=f"{n} DM(s) to {user.id}")

    def _default_guild(self) -> int:
        if self.world is None:
            raise InvalidInjection("guild= is required when the fake has no default world")
        return self.world.guild.id


def _id(obj: Channel | int) -> int:
    return obj if isinstance(obj, int) else obj.id


def _major(match_info: Mapping[str, str]) -> str:
    """Discord's top-level resources, which get separate buckets."""
    keys = (
        "channel_id",
        "guild_id",
        "webhook_id",
        "webhook_token",
        "interaction_id",
        "interaction_token",
    )
    return "+".join(match_info[k] for k in keys if k in match_info)
