"""A process's own search index on a shared PostgreSQL database: where it lives, how it follows.

Every process that answers searches (the single-process bot, a `gateway`) keeps a Tantivy index
in a slot of its own under `[search] index_path` (bot/store/index_slots.py), fed by the
database's transaction marks (search_feed.py). Its own writes cannot trigger a catch-up, since
papers are written by whichever process polls, so it catches up on a timer and, before a search,
when the last catch-up is older than `FRESH_FOR` (one cheap `SELECT` of the watermark). A
missing index is built in the background; searches use PostgreSQL's full text meanwhile.

A one-shot command (`paperfeed search`) never builds one: at its first search it takes a free
slot that already holds an index, catches it up and answers from it; without one, PostgreSQL's
full text answers, as it always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bot.query.compile import CompiledQuery
from bot.store.index_slots import IndexPlan, Slot, claim_built_slot, claim_slot
from bot.store.postgres.search_feed import PostgresChangeFeed
from bot.store.postgres.session import Sessions
from bot.store.search_index import IndexPage
from bot.store.tantivy_index import AVAILABLE, TantivyIndex

log = logging.getLogger(__name__)

# A search older than this after the last catch-up catches up first (seconds).
FRESH_FOR = 1.0
# How often a serving process catches up on its own (seconds).
CATCH_UP_EVERY = 5.0


class LocalIndex:
    """This process's index over a PostgreSQL store, or PostgreSQL's full text while it has none."""

    def __init__(
        self,
        sessions: Sessions,
        plan: IndexPlan,
        *,
        every: float = CATCH_UP_EVERY,
        fresh_for: float = FRESH_FOR,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._feed = PostgresChangeFeed(sessions)
        self.plan = plan
        self._every = every
        self._fresh_for = fresh_for
        self._monotonic = monotonic
        self.index: TantivyIndex | None = None
        self.slot: Slot | None = None
        self._caught_at: float | None = None
        self._timer: asyncio.Task[None] | None = None
        self._tried = False
        self._opening = asyncio.Lock()
        self._working: set[asyncio.Future[int]] = set()  # catch-ups that outlive their caller
        self._written = False  # this process wrote papers since the last catch-up began

    # --- opening -----------------------------------------------------------------------

    async def start(self) -> None:
        """A serving process: take a slot, open its index (or start building it), then follow."""
        if self.plan.mode != "serve":
            return
        self._tried = True
        try:
            slot = await asyncio.to_thread(claim_slot, self.plan.path)
        except OSError as exc:  # an unwritable folder, every slot taken: the bot still runs
            log.error("no search index (searches use PostgreSQL's full text): %s", exc)
            return
        await self._open(slot, inline_max=self.plan.inline_max)
        if self.index is not None:
            self._timer = asyncio.create_task(self._follow(), name="search-index-follow")

    async def _open_existing(self) -> None:
        """A one-shot command's first search: a free slot that holds an index, caught up."""
        async with self._opening:
            if self._tried:
                return
            self._tried = True
            try:
                slot = await asyncio.to_thread(claim_built_slot, self.plan.path)
            except OSError as exc:
                log.warning("no search index to borrow (PostgreSQL answers): %s", exc)
                return
            if slot is None:
                return
            await self._open(slot, inline_max=-1)
            if self.index is not None and not self.index.ready:
                # Unusable as it is (corrupt, another schema, a restored database): leave it to
                # the serving process that rebuilds it; this command uses the full text.
                await self.close()

    async def _open(self, slot: Slot, *, inline_max: int | None) -> None:
        index = TantivyIndex(slot.directory, self._feed)
        self.slot, self.index = slot, index
        oneshot = inline_max is not None and inline_max < 0
        try:
            # The slot remembers its database: one made from another (a new database name in
            # the same config, a dump restored under the old one) is built again, not reused.
            marker = database_marker(slot.directory)
            identity = await self._feed.identity()
            recorded = marker.read_text("utf-8") if marker.exists() else None
            if recorded is not None and recorded != identity:
                if oneshot:
                    return  # left to the serving process that rebuilds it
                log.info("search index %s was made from another database", slot.directory)
                await asyncio.to_thread(shutil.rmtree, slot.directory, True)
            if oneshot and index.needs_rebuild() is not None:
                return  # a one-shot command never builds
            if recorded != identity:
                marker.write_text(identity, "utf-8")
            await index.open(inline_max=inline_max)
        except (ValueError, OSError) as exc:  # Tantivy's errors are ValueErrors
            log.error("the search index cannot be used (searches use PostgreSQL): %s", exc)
            await self.close()
            return
        if index.ready:
            self._caught_at = self._monotonic()
        log.info("search index in %s: %s", slot.directory, index.describe())

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.catch_up()
            except Exception as exc:  # a database hiccup: the next turn tries again
                log.warning("search index catch-up failed: %s", exc)

    async def close(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        if self._working:  # finished before the writer is closed (see `catch_up`)
            await asyncio.gather(*self._working, return_exceptions=True)
        index, self.index = self.index, None
        if index is not None:
            await index.close()
        slot, self.slot = self.slot, None
        if slot is not None:
            slot.release()

    # --- state -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.index is not None and self.index.ready

    def seconds_behind(self) -> float | None:
        """Since the last catch-up (None before the first): how stale a search may be."""
        if self._caught_at is None or not self.ready:
            return None
        return max(0.0, self._monotonic() - self._caught_at)

    def describe(self) -> str:
        """One line for /status: what answers searches in this process."""
        if self.ready and self.index is not None:
            behind = self.seconds_behind()
            age = f", caught up {behind:.0f} s ago" if behind is not None else ""
            return f"{self.index.describe()} (slot {self._slot_name()}){age}"
        if self.index is not None:
            retry = self.index.retry_in()
            if retry is not None:
                return (
                    f"PostgreSQL full text: the local index build failed, retrying in "
                    f"{retry:.0f} s (slot {self._slot_name()})"
                )
            return f"PostgreSQL full text while the local index is built (slot {self._slot_name()})"
        return "PostgreSQL full text (no local index)"

    def status(self) -> dict[str, object]:
        """The same as data, for heartbeats and `status --json`."""
        index = self.index
        state = "ready" if self.ready else ("building" if index is not None else "none")
        papers = index.papers() if self.ready and index is not None else None
        behind = self.seconds_behind()
        found: dict[str, object] = {
            "engine": "tantivy" if self.ready else "postgresql",
            "index": state,
            "papers": papers,
            "seconds_behind": None if behind is None else round(behind, 1),
            "slot": str(self.slot.directory) if self.slot is not None else None,
        }
        retry = index.retry_in() if index is not None else None
        if retry is not None:  # a failed build, tried again in a while
            found["index"], found["retry_in"] = "failed", round(retry)
        return found

    def _slot_name(self) -> str:
        return self.slot.directory.name if self.slot is not None else "?"

    # --- following and searching -------------------------------------------------------

    def written(self) -> None:
        """This process committed papers: its next search catches up first (read your writes)."""
        self._written = True

    async def catch_up(self) -> int:
        """Apply what changed since the watermark; how many papers."""
        index = self.index
        if index is None or not index.ready:
            return 0
        # Shielded: a cancelled caller (a stopping timer, an abandoned search) must not release
        # the index's lock while a thread still commits its writer (Tantivy then refuses the
        # next commit, "Already borrowed"); the catch-up finishes, and `close` waits for it.
        self._written = False  # a write committed from here on is read by the next one
        work = asyncio.ensure_future(index.catch_up())
        self._working.add(work)
        work.add_done_callback(self._working.discard)
        changed = await asyncio.shield(work)
        self._caught_at = self._monotonic()
        return changed

    async def search(
        self,
        query: CompiledQuery,
        *,
        now: datetime,
        limit: int,
        offset: int,
        since: datetime | None,
        hf_only: bool,
    ) -> IndexPage | None:
        """A relevance page from the local index; None when it cannot answer (full text then)."""
        if self.plan.mode == "oneshot" and not self._tried:
            await self._open_existing()
        index = self.index
        if index is None or not index.ready:
            return None
        behind = self.seconds_behind()
        if self._written or behind is None or behind >= self._fresh_for:
            await self.catch_up()
        return await asyncio.to_thread(
            index.search_now, query, now=now, limit=limit, offset=offset, since=since,
            hf_only=hf_only,
        )  # fmt: skip


def database_marker(directory: Path) -> Path:
    """The file beside a slot naming the database its index was made from."""
    return directory.with_name(directory.name + ".database")


async def open_local_index(sessions: Sessions, plan: IndexPlan) -> LocalIndex | None:
    """The process's local index (started for a serving process); None without Tantivy."""
    if not AVAILABLE:
        log.warning("the tantivy package is not installed: searches use PostgreSQL's full text")
        return None
    local = LocalIndex(sessions, plan)
    await local.start()
    return local
