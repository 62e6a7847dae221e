"""Several processes on one PostgreSQL database: who is alive (heartbeats) and which process
polls each source (leases).

Every process records a heartbeat (its roles, shards, host, pid and version) every
`HEARTBEAT_INTERVAL`; `paperfeed status` and `/status` list them and flag one silent for longer
than `SILENT_AFTER`. Where the store offers it, a process also holds a presence lock bound to a
connection of its own, so a killed publisher stops counting toward the fair shares as soon as
the database drops its connection, not only once its heartbeat is `SILENT_AFTER` old. Pollers
hold one lease per source, renewed well before it runs out; only the holder polls, and when
it dies another takes the lease once it has run out. A lease is an optimisation, never the
guarantee: a poll made twice (a paused old leader waking up) stores nothing twice, because
papers and deliveries have unique keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot import __version__
from bot.errors import PaperfeedError
from bot.models import ProcessBeat
from bot.store.interfaces import ClusterPresence, ClusterStore, Presence

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 10.0  # seconds between a process's heartbeats
SILENT_AFTER = timedelta(seconds=3 * HEARTBEAT_INTERVAL)  # then `status` flags it
FORGET_AFTER = timedelta(days=1)  # a process silent this long is dropped from the list
LEASE_MIN = 3.0  # seconds: a lease never shorter (a renewal must fit in it several times)
LEASE_MAX = 15.0  # and never longer: a dead leader's sources wait at most this for a new one


def lease_ttl(interval: timedelta) -> timedelta:
    """A quarter of the poll interval, within 3 to 15 s: takeover ≤ interval + ttl."""
    seconds = min(max(interval.total_seconds() / 4, LEASE_MIN), LEASE_MAX)
    return timedelta(seconds=seconds)


def lease_name(source: str) -> str:
    return f"poll:{source}"


@dataclass(frozen=True)
class Identity:
    """This process, as its heartbeat and leases name it."""

    id: str
    host: str
    pid: int
    roles: tuple[str, ...]
    shards: str
    version: str = __version__

    @classmethod
    def here(cls, roles: Sequence[str], shards: str) -> Identity:
        host = socket.gethostname()
        pid = os.getpid()
        started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return cls(f"{host}:{pid}:{started}", host, pid, tuple(roles), shards)


@dataclass(frozen=True)
class ProcessStatus:
    """One process as `status` shows it: its heartbeat, how long ago, and whether it is silent."""

    beat: ProcessBeat
    age: timedelta
    silent: bool

    def document(self) -> dict[str, object]:
        b = self.beat
        return {
            "id": b.id, "roles": list(b.roles), "shards": b.shards, "host": b.host,
            "pid": b.pid, "version": b.version, "started_at": b.started_at.isoformat(),
            "last_beat": b.last_beat.isoformat(), "seconds_since_beat": round(self.age.total_seconds(), 1),
            "silent": self.silent, "search": dict(b.search) if b.search is not None else None,
        }  # fmt: skip

    def line(self) -> str:
        b = self.beat
        shards = f" shards {b.shards}" if b.shards else ""
        state = "SILENT" if self.silent else "ok"
        search = f"; searches: {search_summary(b.search)}" if b.search is not None else ""
        return (
            f"{','.join(b.roles)}{shards} on {b.host} pid {b.pid} (v{b.version}): "
            f"{state}, last beat {self.age.total_seconds():.0f} s ago{search}"
        )


def search_summary(search: Mapping[str, object]) -> str:
    """A heartbeat's search state in words: the local index (papers, how far behind) or
    PostgreSQL's full text (while the index is built, or without one)."""
    if search.get("engine") == "tantivy":
        papers, behind = search.get("papers"), search.get("seconds_behind")
        held = f", {papers:,} papers" if isinstance(papers, int) else ""
        late = f", caught up {behind:.0f} s ago" if isinstance(behind, int | float) else ""
        return f"local index{held}{late}"
    if search.get("index") == "building":
        return "PostgreSQL full text while the local index is built"
    if search.get("index") == "failed":
        retry = search.get("retry_in")
        when = f", retrying in {retry} s" if isinstance(retry, int) else ""
        return f"PostgreSQL full text: the local index build failed{when}"
    return "PostgreSQL full text"


async def cluster_status(
    cluster: ClusterStore, silent_after: timedelta = SILENT_AFTER
) -> list[ProcessStatus]:
    """Every recorded process, judged on the database's clock."""
    found = []
    for beat in await cluster.processes():
        age = max(beat.now - beat.last_beat, timedelta(0))
        found.append(ProcessStatus(beat, age, age > silent_after))
    return found


def gone(beat: ProcessBeat) -> bool:
    """A process of this version (which holds a presence lock while it runs) whose lock is
    free: its connection dropped, it died. Others are judged by their heartbeat alone."""
    return beat.present is False and beat.version == __version__


async def live_publishers(cluster: ClusterStore, silent_after: timedelta = SILENT_AFTER) -> int:
    """Processes doing the publisher's work whose heartbeat is recent and whose connection
    lives: the outbox's sharers."""
    return sum(
        1
        for p in await cluster_status(cluster, silent_after)
        if not p.silent
        and not gone(p.beat)
        and ("publisher" in p.beat.roles or "all" in p.beat.roles)
    )


class Heartbeat:
    """Records this process's heartbeat until stopped; a clean stop removes its row."""

    def __init__(
        self,
        cluster: ClusterStore,
        me: Identity,
        interval: float = HEARTBEAT_INTERVAL,
        search: Callable[[], Mapping[str, object]] | None = None,
    ) -> None:
        self._cluster = cluster
        self._me = me
        self._interval = interval
        self._search = search  # what answers this process's searches, told with each beat
        self._task: asyncio.Task[None] | None = None
        self.beats = 0
        self._presence: Presence | None = (
            cluster.presence(me.id) if isinstance(cluster, ClusterPresence) else None
        )

    async def hold_presence(self) -> None:
        """Hold the presence lock, again after a lost connection; while started, before each
        beat. Failing, the beat's age alone tells the others this process lives."""
        if self._presence is None:
            return
        try:
            await self._presence.hold()
        except PaperfeedError as exc:
            log.warning("could not hold this process's presence lock: %s", exc)

    async def beat(self) -> None:
        me = self._me
        search = self._search() if self._search is not None else None
        await self._cluster.beat(me.id, me.roles, me.shards, me.host, me.pid, me.version, search)
        self.beats += 1

    async def start(self) -> None:
        """The first beat now (so `status` lists the process at once), then in the background."""
        await self.hold_presence()
        try:
            await self.beat()
            gone = await self._cluster.forget_silent(FORGET_AFTER)
            if gone:
                log.info("forgot %d process(es) silent for more than a day", gone)
        except PaperfeedError as exc:
            log.warning("heartbeat failed: %s", exc)
        self._task = asyncio.create_task(self._loop(), name="paperfeed heartbeat")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.hold_presence()
            try:
                await self.beat()
            except PaperfeedError as exc:
                log.warning("heartbeat failed: %s", exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        with contextlib.suppress(PaperfeedError):
            await self._cluster.forget(self._me.id)
        if self._presence is not None:
            await self._presence.release()


class Leadership:
    """Which sources this process polls: a lease per source, renewed in the background.

    `may_poll(source)` renews the lease and says whether this process holds it now; the
    scheduler asks it before every poll. A lease is renewed every third of its time to live,
    so a live leader keeps it and a dead one loses it within one time to live.
    """

    def __init__(self, cluster: ClusterStore, owner: str, ttls: dict[str, timedelta]) -> None:
        self._cluster = cluster
        self._owner = owner
        self._ttls = ttls
        self.epochs: dict[str, int] = {}  # the term of each lease this process holds
        self._task: asyncio.Task[None] | None = None

    async def _renew(self, source: str) -> int | None:
        try:
            epoch = await self._cluster.acquire(lease_name(source), self._owner, self._ttls[source])
        except PaperfeedError as exc:
            log.warning("cannot renew the lease to poll %s: %s", source, exc)
            epoch = None
        held = self.epochs.get(source)
        if epoch is not None and held != epoch:
            log.info("now polling %s (lease epoch %d)", source, epoch)
        elif epoch is None and held is not None:
            log.warning("lost the lease to poll %s: another process polls it now", source)
        if epoch is None:
            self.epochs.pop(source, None)
        else:
            self.epochs[source] = epoch
        return epoch

    async def may_poll(self, source: str) -> bool:
        return await self._renew(source) is not None

    async def still_leads(self, source: str, epoch: int) -> bool:
        """After a poll: whether the term it began in is still this process's (the fence)."""
        try:
            return await self._cluster.holds(lease_name(source), self._owner, epoch)
        except PaperfeedError:
            return False

    async def start(self) -> None:
        for source in self._ttls:
            await self._renew(source)
        self._task = asyncio.create_task(self._loop(), name="paperfeed leases")

    async def _loop(self) -> None:
        period = min(t.total_seconds() for t in self._ttls.values()) / 3
        while True:
            await asyncio.sleep(period)
            for source in self._ttls:
                await self._renew(source)

    async def stop(self) -> None:
        """Give every lease up, so another process takes over at once rather than at expiry."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for source in list(self.epochs):
            with contextlib.suppress(PaperfeedError):
                await self._cluster.release(lease_name(source), self._owner)
        self.epochs.clear()
