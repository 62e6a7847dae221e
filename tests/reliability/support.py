"""Shared pieces of the reliability drills: a fake Discord that can hold or drop a message
request, paper builders, a counter of posts per (channel, paper), and the figures log.

`HoldingDiscord` is the strict loopback Discord with two extra faults a test can arm:

* `hold(before=True)`: the next message create is received, then held *before* Discord
  processes it (the bot is waiting for an answer that has not been decided yet);
* `hold(before=False)`: the next message create is processed (the message exists), then the
  answer is held: the bot has sent but cannot have recorded the send;
* `drop_after_create(n)`: the next `n` message creates are processed, then the connection is
  dropped without an answer: an ambiguous failure, the bot cannot know the message exists.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, TypeVar

import aiohttp
from aiohttp import web

from bot.models import Paper
from tests import factories
from tests.factories import paper_id
from tests.fakes.discord import FakeDiscord

MESSAGE_CREATE = re.compile(r"^/api/v10/channels/\d+/messages$")
_FOOTER_ID = re.compile(r"arXiv:([^\s·]+)")
_VERSION = re.compile(r"v\d+$")
T = TypeVar("T")


@dataclass
class Hold:
    """One armed hold: which side of the processing it waits on, and its two events."""

    before: bool
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    path: str = ""
    armed: bool = True


class HoldingDiscord(FakeDiscord):
    """FakeDiscord plus held and dropped message creates (see the module docstring)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.current_hold: Hold | None = None
        self._drops = 0
        self.dropped: list[str] = []

    def hold(self, *, before: bool) -> Hold:
        """Arm a hold for the next message create; `release` it, then await `done`."""
        self.current_hold = Hold(before=before)
        return self.current_hold

    def drop_after_create(self, count: int = 1) -> None:
        """The next `count` message creates succeed inside Discord but the answer never comes."""
        self._drops = count

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        is_create = request.method == "POST" and MESSAGE_CREATE.match(request.path) is not None
        hold = self.current_hold
        if is_create and hold is not None and hold.armed:
            hold.armed = False
            hold.path = request.path
            try:
                if hold.before:
                    body = await request.read()
                    hold.reached.set()
                    self.changed()  # wake whoever waits on the fake for this
                    await hold.release.wait()
                    return await self._replay(request, body)
                response = await super()._gate(request, handler)
                hold.reached.set()
                self.changed()
                await hold.release.wait()
                return response
            finally:
                hold.done.set()
        if is_create and self._drops > 0:
            response = await super()._gate(request, handler)
            if response.status == 200:
                self._drops -= 1
                self.dropped.append(request.path)
                if request.transport is not None:
                    request.transport.close()
            return response
        return await super()._gate(request, handler)

    async def _replay(self, request: web.Request, body: bytes) -> web.StreamResponse:
        """Process a held request as Discord would, even if its client died meanwhile: send the
        same request again from here, and answer the original with what came back."""
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("authorization", "user-agent", "content-type")
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.base_url + request.path_qs, data=body, headers=headers) as reply,
        ):
            data = await reply.read()
            response = web.Response(body=data, status=reply.status)
            response.headers["Content-Type"] = reply.headers.get("Content-Type", "")
            return response


def paper_id_of(message_embeds: Iterable[dict[str, Any]]) -> str | None:
    """The arXiv id a paper post carries (footer `arXiv:<id>`, else the embed url)."""
    for embed in message_embeds:
        match = _FOOTER_ID.search((embed.get("footer") or {}).get("text", ""))
        if match:
            return _VERSION.sub("", match.group(1))
        url = str(embed.get("url", ""))
        if "/abs/" in url or "/papers/" in url:
            return url.rstrip("/").rsplit("/", 1)[-1]
    return None


def posts_by_pair(
    fake: FakeDiscord, channels: Iterable[int] | None = None
) -> Counter[tuple[int, str]]:
    """How many undeleted, non-ephemeral bot messages each (channel, paper) has."""
    wanted = set(channels) if channels is not None else None
    counts: Counter[tuple[int, str]] = Counter()
    for message in fake.messages(include_ephemeral=False):
        if wanted is not None and message.channel_id not in wanted:
            continue
        paper_id = paper_id_of(message.embeds)
        if paper_id is not None:
            counts[(message.channel_id, paper_id)] += 1
    return counts


def duplicates(counts: Counter[tuple[int, str]]) -> dict[tuple[int, str], int]:
    return {pair: n for pair, n in counts.items() if n > 1}


def make_paper(n: int, *, title: str | None = None, month: str = "2611", **kw: Any) -> Paper:
    """A plain arXiv paper with id `<month>.<n:05d>`, seen today (the live bot runs on real time)."""
    about = {
        "title": title or f"Reliable delivery study number {n}",
        "abstract": "We measure how often a paper reaches its channel exactly once.",
        "authors": ("Rosa Delgado", "Amir Haddad"),
        "published": datetime.now(UTC) - timedelta(hours=3),
    }
    return factories.make_paper(paper_id(n, month), **{**about, **kw})


def record_figures(name: str, **figures: Any) -> None:
    """Append one JSON line of figures to $PAPERFEED_RELIABILITY_REPORT (for docs/reliability.md)."""
    path = os.environ.get("PAPERFEED_RELIABILITY_REPORT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"test": name, **figures}, default=str) + "\n")


# ---- `paperfeed run` as a real process -------------------------------------------------------


def write_run_config(path: Path, fake: FakeDiscord, db: Path, **sections: str) -> Path:
    """A config for `paperfeed run` against the loopback Discord, sources off unless given."""
    parts = {
        "discord": f'api_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n',
        "database": f'path = "{db}"\n',
        "sources.huggingface": "enabled = false\n",
        "sources.arxiv": "enabled = false\n",
        "health": "port = 0\n",
        "logging": 'level = "INFO"\n',
    }
    parts.update(sections)
    path.write_text("".join(f"[{name}]\n{body}" for name, body in parts.items()))
    return path


class BotProcess:
    """`python -m bot --config CFG run`, started again and again; output kept per run.

    Always `await cleanup()` in a finally: a process still running is killed and reaped.
    """

    def __init__(self, config: Path, token: str, workdir: Path, args: Sequence[str] = ()) -> None:
        self.config = config
        self.workdir = workdir
        self.args = tuple(args)  # after `run`, e.g. ("--role", "poller") for a cluster process
        self.env = {**os.environ, "DISCORD_TOKEN": token, "PYTHONUNBUFFERED": "1"}
        self.env.pop("PAPERFEED_CONFIG", None)
        self.proc: asyncio.subprocess.Process | None = None
        self.module = "bot"  # what `python -m` runs: the program, or a drill's wrapper of it
        self.runs = 0
        self._files: list[IO[bytes]] = []

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"run-{self.runs}.stdout"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"run-{self.runs}.stderr"

    async def start(self) -> None:
        assert self.proc is None or self.proc.returncode is not None, "still running"
        self._close_files()
        self.runs += 1
        out, err = open(self.stdout_path, "wb"), open(self.stderr_path, "wb")  # noqa: SIM115
        self._files = [out, err]
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self.module, "--config", str(self.config), "run", *self.args,
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=err,
            env=self.env, cwd=self.workdir,
        )  # fmt: skip

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def output(self) -> str:
        """Everything this run wrote so far, stdout then stderr."""
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(
            errors="replace"
        )

    async def kill(self) -> int:
        """SIGKILL: no handler runs, nothing is flushed."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        return await self.proc.wait()

    async def terminate(self, timeout: float = 10.0) -> tuple[int, float]:
        """SIGTERM, then the exit status and how long the process took to exit."""
        assert self.proc is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        return code, loop.time() - started

    async def wait_until(
        self, fake: FakeDiscord, predicate: Callable[[], T | None], *, timeout: float, what: str
    ) -> T:
        """Wait on the fake for `predicate`; fail with the process's output if it exits first."""
        assert self.proc is not None
        waiter = asyncio.ensure_future(fake.wait_until(predicate, timeout=timeout, what=what))
        exited = asyncio.ensure_future(self.proc.wait())
        try:
            await asyncio.wait({waiter, exited}, return_when=asyncio.FIRST_COMPLETED)
            if waiter.done():
                return waiter.result()
            raise AssertionError(
                f"paperfeed run exited ({exited.result()}) while waiting for {what}:\n"
                + self.output()[-3000:]
            )
        finally:
            for task in (waiter, exited):
                task.cancel()
            await asyncio.gather(waiter, exited, return_exceptions=True)

    async def cleanup(self) -> None:
        try:
            if self.proc is not None and self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
        finally:
            self._close_files()

    def _close_files(self) -> None:
        for handle in self._files:
            handle.close()
        self._files = []


def db_rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the database from outside the bot (only while the bot is not running)."""
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()
