"""The fake gateway: HELLO, heartbeats, IDENTIFY → READY → GUILD_CREATE, RESUME with replay.

Sharding as Discord does it: a session carries the guilds whose `(guild_id >> 22) % num_shards`
is its shard id; IDENTIFYs are counted per day (one past the limit ends every session and
resets the token) and, per bucket `shard_id % max_concurrency`, at most one per window (a
too-early one gets op 9 when the fake enforces it). Every IDENTIFY is kept in `identifies`.

Frames are plain JSON text (discord.py parses text frames directly even when it asked for
zlib-stream). Sessions outlive connections: events dispatched while the bot is disconnected are
kept and replayed on RESUME, as Discord does. Tests can drop the connection, invalidate the
session or ask the bot to reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .state import INTENT_GUILDS, PRIVILEGED_INTENTS

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger(__name__)

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

HEARTBEAT_INTERVAL_MS = 41250
DAY = 86_400.0  # seconds: the session start limit's period
PAYLOAD_MAX = 4096
SENDS_PER_MINUTE = 120


@dataclass
class GatewayFrame:
    """One frame on the wire, for tests that check the conversation."""

    direction: str  # "in" (from the bot) or "out" (to the bot)
    op: int | None
    t: str | None
    s: int | None
    d: Any
    connection: int


@dataclass
class Session:
    """A gateway session: what READY named, the events since, and its current connection."""

    id: str
    shard: tuple[int, int]
    intents: int
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    connection: Connection | None = None
    invalidated: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True)
class IdentifyRecord:
    """One IDENTIFY the fake received with a valid token: when, for which shard, and its fate."""

    at: float  # the fake clock's monotonic time
    shard: tuple[int, int]
    bucket: int  # shard_id % max_concurrency
    accepted: bool  # False: refused with op 9 (too early in its bucket)
    connection: int


@dataclass
class Connection:
    """One websocket connection from the bot."""

    number: int
    path: str
    query: dict[str, str]
    ws: web.WebSocketResponse
    session: Session | None = None
    kind: str | None = None  # "identify" or "resume", once the bot said which
    close_code: int | None = None
    sends: list[float] = field(default_factory=list)


class Gateway:
    """The websocket side of the fake."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.frames: list[GatewayFrame] = []
        self.heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS
        self.accepting = True
        self.identifies: list[IdentifyRecord] = []
        self._day_started = fake.clock.monotonic()
        self._day_start_index = 0

    # ---- test controls ------------------------------------------------------------------------

    @property
    def open_connections(self) -> list[Connection]:
        """Connections still open."""
        return [c for c in self.connections if not c.ws.closed]

    def current_session(self, shard_id: int = 0) -> Session | None:
        """The newest live session for a shard."""
        for session in reversed(list(self.sessions.values())):
            if session.shard[0] == shard_id and not session.invalidated:
                return session
        return None

    def session_for(self, guild_id: int | None) -> Session | None:
        """The newest live session that carries a guild's events, by Discord's shard formula."""
        for session in reversed(list(self.sessions.values())):
            if session.invalidated:
                continue
            shard_id, shard_count = session.shard
            if (0 if guild_id is None else (guild_id >> 22) % shard_count) == shard_id:
                return session
        return None

    def identifies_today(self) -> int:
        """IDENTIFYs counted against today's session start limit (the day restarts after 24 h)."""
        now = self.fake.clock.monotonic()
        if now - self._day_started >= DAY:
            self._day_started = now
            self._day_start_index = len(self.identifies)
        return len(self.identifies) - self._day_start_index

    def day_resets_in(self) -> float:
        """Seconds until today's session start limit resets."""
        return max(0.0, DAY - (self.fake.clock.monotonic() - self._day_started))

    def identify_gaps(self) -> dict[int, list[float]]:
        """Per bucket, the seconds between consecutive IDENTIFYs (what the window limits)."""
        gaps: dict[int, list[float]] = {}
        last: dict[int, float] = {}
        for record in self.identifies:
            if record.bucket in last:
                gaps.setdefault(record.bucket, []).append(record.at - last[record.bucket])
            last[record.bucket] = record.at
        return gaps

    def count(self, kind: str) -> int:
        """How many connections went through `identify` or `resume`."""
        return sum(1 for c in self.connections if c.kind == kind)

    async def drop(self, *, code: int = 4000, shard_id: int | None = None) -> None:
        """Close the bot's connection(s) with a resumable code; the session stays alive."""
        for conn in self.open_connections:
            if shard_id is None or (conn.session and conn.session.shard[0] == shard_id):
                await self._close(conn, code)

    @contextlib.asynccontextmanager
    async def outage(self, *, code: int = 4000) -> AsyncIterator[None]:
        """Drop the bot's connections and hold new ones (no HELLO) until the block ends, so
        events dispatched inside are certainly missed and then replayed on RESUME."""
        self.accepting = False
        try:
            await self.drop(code=code)
            yield
        finally:
            self.accepting = True
            self.fake.changed()

    async def invalidate(self, *, resumable: bool = False, shard_id: int = 0) -> None:
        """Send op 9; unless resumable, the session is gone and the bot must IDENTIFY again."""
        session = self.current_session(shard_id)
        if session is None or session.connection is None:
            raise RuntimeError("no connected gateway session to invalidate")
        if not resumable:
            session.invalidated = True
        await self._send(
            session.connection, {"op": OP_INVALID_SESSION, "d": resumable, "s": None, "t": None}
        )

    async def request_reconnect(self, shard_id: int = 0) -> None:
        """Send op 7: the bot should reconnect and resume."""
        session = self.current_session(shard_id)
        if session is None or session.connection is None:
            raise RuntimeError("no connected gateway session")
        await self._send(session.connection, {"op": OP_RECONNECT, "d": None, "s": None, "t": None})

    async def dispatch(
        self, event: str, data: dict[str, Any], *, guild_id: int | None = None, intent: int = 0
    ) -> bool:
        """Send (or, while disconnected, keep for replay) an event; False if the intent is off."""
        session = self.session_for(guild_id)
        if session is None:
            return False
        if intent and not session.intents & intent:
            return False
        async with session.lock:
            session.seq += 1
            frame = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
            session.events.append(frame)
            if session.connection is not None and not session.connection.ws.closed:
                await self._send(session.connection, frame)
        return True

    async def close(self) -> None:
        """Close every open connection (used when the fake stops)."""
        self.accepting = True
        self.fake.changed()
        for conn in self.open_connections:
            await self._close(conn, 1001)

    # ---- websocket handler --------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one gateway connection."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(
            number=len(self.connections) + 1,
            path=request.path,
            query=dict(request.query),
            ws=ws,
        )
        self.connections.append(conn)
        self.fake.changed()
        try:
            if request.query.get("v") != "10" or request.query.get("encoding") != "json":
                await self._close(conn, 4012)
                return ws
            if not self.accepting:
                await self.fake.wait_until(
                    lambda: self.accepting, timeout=60.0, what="the outage to end"
                )
            await self._send(
                conn,
                {
                    "op": OP_HELLO,
                    "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                    "s": None,
                    "t": None,
                },
            )
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    await self._close(conn, 4002)
                    break
                if len(msg.data.encode()) > PAYLOAD_MAX:
                    await self._close(conn, 4002)
                    break
                now = self.fake.clock.monotonic()
                conn.sends = [t for t in conn.sends if t > now - 60] + [now]
                if len(conn.sends) > SENDS_PER_MINUTE:
                    await self._close(conn, 4008)
                    break
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await self._close(conn, 4002)
                    break
                await self._receive(conn, payload)
        finally:
            conn.close_code = conn.close_code or ws.close_code
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
            self.fake.changed()
        return ws

    async def _receive(self, conn: Connection, payload: Any) -> None:
        op = payload.get("op") if isinstance(payload, dict) else None
        data = payload.get("d") if isinstance(payload, dict) else None
        self.frames.append(GatewayFrame("in", op, None, None, _redact(op, data), conn.number))
        self.fake.changed()
        if op == OP_HEARTBEAT:
            await self._send(conn, {"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == OP_IDENTIFY:
            await self._identify(conn, data)
        elif op == OP_RESUME:
            await self._resume(conn, data)
        elif op in (OP_PRESENCE_UPDATE, OP_VOICE_STATE_UPDATE, OP_REQUEST_GUILD_MEMBERS):
            if conn.session is None:
                await self._close(conn, 4003)
        else:
            await self._close(conn, 4001)

    async def _identify(self, conn: Connection, data: Any) -> None:
        if conn.session is not None:
            await self._close(conn, 4005)
            return
        if not isinstance(data, dict) or data.get("token") != self.fake.token:
            await self._close(conn, 4004)
            return
        intents = data.get("intents")
        if (
            isinstance(intents, bool)
            or not isinstance(intents, int)
            or intents < 0
            or intents >= 1 << 26
        ):
            await self._close(conn, 4013)
            return
        if intents & PRIVILEGED_INTENTS & ~self.fake.privileged_intents:
            await self._close(conn, 4014)
            return
        shard = data.get("shard", [0, 1])
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in shard)
            or not 0 <= shard[0] < shard[1]
        ):
            await self._close(conn, 4010)
            return
        if not await self._admit_identify(conn, (shard[0], shard[1])):
            return
        session = Session(id=secrets.token_hex(16), shard=(shard[0], shard[1]), intents=intents)
        self.sessions[session.id] = session
        conn.session = session
        conn.kind = "identify"
        session.connection = conn
        guilds = [
            g
            for g in self.fake.state.guilds.values()
            if (g.id >> 22) % shard[1] == shard[0] and self.fake.bot_user.id in g.members
        ]
        ready = {
            "v": 10,
            "user": {**self.fake.bot_user.to_json(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.fake.resume_gateway_url,
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "application": {"id": str(self.fake.application_id), "flags": 0},
            "shard": [shard[0], shard[1]],
            "_trace": ["fake-discord"],
        }
        await self.dispatch_to(session, "READY", ready)
        if intents & INTENT_GUILDS:
            for guild in guilds:
                await self.dispatch_to(
                    session, "GUILD_CREATE", self.fake.state.guild_create_json(guild)
                )
        self.fake.changed()

    async def _admit_identify(self, conn: Connection, shard: tuple[int, int]) -> bool:
        """Count the IDENTIFY; refuse it past the daily limit (every session ends, the token
        is reset) or, when enforced, too early in its bucket (op 9, not resumable)."""
        fake = self.fake
        now = fake.clock.monotonic()
        bucket = shard[0] % fake.max_concurrency
        previous = [r.at for r in self.identifies if r.bucket == bucket and r.accepted]
        too_early = bool(previous) and now - previous[-1] < fake.identify_window
        refused = fake.identify_rate_limit and too_early
        self.identifies.append(IdentifyRecord(now, shard, bucket, not refused, conn.number))
        self.fake.changed()
        if self.identifies_today() > fake.session_start_total:
            log.warning("fake gateway: daily IDENTIFY limit passed; resetting the bot token")
            fake.token_reset = True
            fake.token = "reset-" + secrets.token_hex(8)
            for session in self.sessions.values():
                session.invalidated = True
            for open_conn in self.open_connections:
                await self._close(open_conn, 4004)
            return False
        if refused:
            await self._send(conn, {"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return False
        return True

    async def dispatch_to(self, session: Session, event: str, data: dict[str, Any]) -> None:
        """Dispatch on one session regardless of intents (READY, GUILD_CREATE, RESUMED)."""
        async with session.lock:
            session.seq += 1
            frame = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
            session.events.append(frame)
            if session.connection is not None:
                await self._send(session.connection, frame)

    async def _resume(self, conn: Connection, data: Any) -> None:
        conn.kind = "resume"
        if not isinstance(data, dict) or data.get("token") != self.fake.token:
            await self._close(conn, 4004)
            return
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq")
        if session is None or session.invalidated or not isinstance(seq, int) or seq > session.seq:
            await self._send(conn, {"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        old = session.connection
        if old is not None and old is not conn and not old.ws.closed:
            await self._close(old, 4009)
        async with session.lock:
            conn.session = session
            session.connection = conn
            for frame in session.events:
                if frame["s"] > seq:
                    await self._send(conn, frame)
            session.seq += 1
            resumed = {
                "op": OP_DISPATCH,
                "t": "RESUMED",
                "s": session.seq,
                "d": {"_trace": ["fake-discord"]},
            }
            session.events.append(resumed)
            await self._send(conn, resumed)
        self.fake.changed()

    async def _send(self, conn: Connection, frame: dict[str, Any]) -> None:
        if conn.ws.closed:
            return
        self.frames.append(
            GatewayFrame(
                "out", frame.get("op"), frame.get("t"), frame.get("s"), frame.get("d"), conn.number
            )
        )
        try:
            await conn.ws.send_str(json.dumps(frame))
        except ConnectionResetError:
            log.debug("gateway connection %s went away while sending", conn.number)
        self.fake.changed()

    async def _close(self, conn: Connection, code: int) -> None:
        conn.close_code = code
        if conn.session is not None and conn.session.connection is conn:
            conn.session.connection = None
        if not conn.ws.closed:
            await conn.ws.close(code=code)
        self.fake.changed()


def _redact(op: Any, data: Any) -> Any:
    """Keep tokens out of the frame log."""
    if op in (OP_IDENTIFY, OP_RESUME) and isinstance(data, dict) and "token" in data:
        return {**data, "token": "***"}
    return data
