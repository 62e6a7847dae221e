"""The search index on Tantivy: a directory beside the database, caught up from its change log.

Words reach the index already tokenized by SQLite's own FTS5 tokenizer (porter over unicode61
without diacritics, migration 0001), joined by spaces under Tantivy's whitespace tokenizer: the
index finds exactly the words FTS5, the feed matcher and PostgreSQL's lexemes find. Queries are
built from the query's syntax tree, never from what a user typed.

The database stays the truth. The index reads a change log (`ChangeFeed`: SQLite's
`search_changes`) in order and records how far it has read in `paperfeed.json` beside its own
files, written after each Tantivy commit; applying a change twice is harmless (a paper is
deleted by key and added again), so a crash between the two loses nothing. A missing, corrupt
or other-schema index is rebuilt from the papers (`paperfeed search-index rebuild`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import itertools
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeVar, cast

from bot.errors import IndexBusy
from bot.query.compile import NEAR_SLACK, CompiledQuery, _title_run
from bot.query.nodes import And, Category, Node, Not, Or, Phrase, Term, _make_and
from bot.store.common.tokens import Fts5Tokens
from bot.store.file_locks import try_flock, wait_flock
from bot.store.search_index import (
    FIRST_POOL,
    Candidate,
    Fetch,
    Hit,
    IndexPage,
    Ranked,
    exact_top,
    order_key,
    squash,
)

try:
    import tantivy

    AVAILABLE = True
except ImportError:  # pragma: no cover - a platform without a wheel: FTS5 answers instead
    AVAILABLE = False

log = logging.getLogger(__name__)
T = TypeVar("T")

# Bumped whenever the fields or their tokens change: an index of another version is rebuilt.
SCHEMA_VERSION = 3
STATE_FILE = "paperfeed.json"
# Per-field BM25 boosts, the column weights of the SQLite store's bm25().
BOOSTS = {"title": 10.0, "authors": 4.0, "abstract": 1.0}
TEXT_FIELDS = {None: ("title", "authors", "abstract"), "title": ("title",)}
TEXT_FIELDS |= {"author": ("authors",), "abstract": ("abstract",)}
# Common-word pairs (issue 19, after Lucene's CommonGrams): beside the abstract, a field holding
# each adjacent word pair that involves one of these tokens (FTS5's porter forms of the six most
# frequent English words: the, of, and, a, in, to; a test keeps them equal to the tokenizer's),
# at its first word's position; every other position holds FILLER, so the positions line up
# with the abstract's and the field's length is the abstract's. A phrase whose adjacent pairs
# each involve one of them ("mixture of experts": mixtur|of of|expert) is asked as a phrase of
# pair terms there, whose postings are short, and no position of "of" (in nearly every paper)
# is read: the same matches, exactly. Only the six: their positions are the ones too many to
# read (the 35 function words before cost a 1M import ~30 % more CPU for phrases of rarer
# words, whose positions are cheap to read anyway; docs/benchmarks.md).
COMMON = frozenset({"the", "of", "and", "a", "in", "to"})
PAIRS = "abstract_pairs"
PAIR_JOIN = "|"  # FTS5 never keeps it in a token (unicode61 splits there)
FILLER = "_"  # nor this: no query asks for it
# A prefix with more expansions than this matches through one term set (constant score).
MAX_EXPANSIONS = 256
# Rows read from the database per step of a rebuild or catch-up.
BATCH = 5_000
# Writer memory: the steady writer takes Tantivy's minimum; a rebuild takes more.
STEADY_HEAP = 15_000_000
BUILD_HEAP = 200_000_000
# An import's batches (`catch_up(lag=True)`) go to one larger writer that commits every
# BULK_COMMIT papers and at close: with the steady writer's commit per batch, Tantivy made a
# small segment per batch and merged them again and again (2x the CPU a paper).
BULK_HEAP = 50_000_000
BULK_COMMIT = 250_000
# Papers above which opening builds a missing index in the background (searches use FTS5).
BUILD_INLINE_MAX = 20_000
# A bot that found another process rebuilding tries again after this many seconds.
BUSY_RETRY = 60.0
# A background build that failed (a dropped connection mid-scan, a full disk) is tried again
# after this many seconds, doubled after each failure up to BUILD_RETRY_MAX.
BUILD_RETRY_FIRST = 1.0
BUILD_RETRY_MAX = 600.0
# The background build's clock and pause (tests put fakes here).
_now: Callable[[], float] = time.monotonic
_pause: Callable[[float], Awaitable[None]] = asyncio.sleep


@dataclass(frozen=True, slots=True)
class IndexDoc:
    """What the index holds of one paper."""

    pk: int
    title: str
    authors: str
    abstract: str
    categories: tuple[str, ...]
    appeared: int  # Unix seconds: published, else first seen
    hf: bool  # Hugging Face knows it (upvotes is not null)


class ChangeFeed(Protocol):
    """The database side: its change log and the papers' indexed fields."""

    async def head(self) -> int:
        """The safe watermark: every change numbered at or below it is visible now, or never
        will be (SQLite: the log's last number; PostgreSQL: below the oldest running writer)."""
        ...

    async def changed(self, after: int, upto: int) -> list[int]:
        """The keys of papers changed (or deleted) with numbers in (after, upto]."""
        ...

    async def documents(self, pks: Sequence[int]) -> list[IndexDoc]: ...

    async def scan(self, after_pk: int, limit: int) -> list[IndexDoc]: ...

    async def count(self) -> int: ...

    async def forget(self, upto: int) -> None: ...


Progress = Callable[[int, int], None]


class CatchUpHelper(Protocol):
    """Another process that catches the index up from the log while an import stores its
    batches here: the import's Python (parsing here, tokenizing there) runs under two
    interpreters' locks instead of one (bot/store/sqlite/index_helper.py)."""

    async def start(self) -> bool:
        """Start it; True once it holds the index's writer (False: it could not, and ended)."""
        ...

    def nudge(self) -> None:
        """More changes are committed: catch up to them."""
        ...

    def running(self) -> bool:
        """It has not ended (an ended one is taken back, and its work done here)."""
        ...

    async def finish(self) -> None:
        """Catch up to the log's end, commit, and end; its failures are logged, not raised."""
        ...


def schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("pk", indexed=True, fast=True)
    for field in BOOSTS:
        builder.add_text_field(field, tokenizer_name="whitespace", index_option="position")
    builder.add_text_field(PAIRS, tokenizer_name="whitespace", index_option="position")
    builder.add_text_field("category", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("archive", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("appeared", indexed=True, fast=True)
    builder.add_boolean_field("hf", indexed=True)
    return builder.build()


class TantivyIndex:
    """The `SearchIndex` on Tantivy (see the module docstring)."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        feed: ChangeFeed,
        *,
        helper: Callable[[], CatchUpHelper] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self._feed = feed
        # What makes a helper process for an import's batches (`catch_up(lag=True)`), the one
        # running, and whether starting one failed (the import then goes on here).
        self._new_helper = helper
        self._helper: CatchUpHelper | None = None
        self._helper_failed = False
        self._helper_lock = asyncio.Lock()  # one start or end of a helper at a time
        self._schema = schema()
        self._tokens = Fts5Tokens()
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        self._seq = 0
        self._lock = asyncio.Lock()
        self._build: asyncio.Task[int] | None = None
        self._state = "closed"
        self._read_only_said = False
        self._busy_said = False
        self._folder: tuple[int, int] | None = None  # (device, inode) of the folder opened
        # The watermark of the last commit (`_seq` runs ahead of it while an import lags), the
        # papers applied since, and whether the writer is the large one.
        self._saved = 0
        self._unsaved = 0
        self._bulk = False
        # No key above this was ever added (None: ask the index): a key above it needs no
        # delete first. Tantivy keeps every delete in memory until the commit (~1 KiB each).
        self._top_pk: int | None = None
        # When (monotonic) a failed background build is tried again.
        self._retry_at: float | None = None
        # What answers searches until the index is ready (`describe`; the SQLite store says
        # so when it no longer keeps FTS5, bot/store/sqlite/fulltext.py).
        self.meanwhile = "searches use the database's full text meanwhile"

    # --- state -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._index is not None and self._state == "ready"

    def describe(self) -> str:
        if self._state == "ready" and self._index is not None:
            return f"Tantivy index, {self._index.searcher().num_docs:,} papers"
        retry = self.retry_in()
        if retry is not None:
            return f"Tantivy index build failed, retrying in {retry:.0f} s; {self.meanwhile}"
        return f"Tantivy index {self._state}; {self.meanwhile}"

    @property
    def building(self) -> bool:
        """A build runs in the background (started by `open`): `wait_built` waits for it."""
        return self._build is not None and not self._build.done()

    def retry_in(self) -> float | None:
        """Seconds until a failed background build is tried again; None when none failed."""
        if self._retry_at is None or self._state == "ready":
            return None
        return max(0.0, self._retry_at - _now())

    def papers(self) -> int:
        """How many papers the index holds now (0 while it has none open)."""
        return self._index.searcher().num_docs if self._index is not None else 0

    @property
    def seq(self) -> int:
        """How far into the change log the index has read."""
        return self._seq

    def needs_rebuild(self) -> str | None:
        """Why the directory cannot be used as it is (missing, corrupt, other schema), or None."""
        if not (self.directory / "meta.json").exists():
            return "missing"
        try:
            state = json.loads((self.directory / STATE_FILE).read_text("utf-8"))
            version, seq = int(state["schema"]), int(state["seq"])
        except (OSError, ValueError, KeyError, TypeError):
            return "corrupt (no readable state file)"
        if version != SCHEMA_VERSION:
            return f"made by schema {version}, this paperfeed uses {SCHEMA_VERSION}"
        try:
            index = tantivy.Index.open(str(self.directory))
            index.searcher()
        except (ValueError, OSError) as exc:
            return f"corrupt ({exc})"
        self._index, self._seq, self._saved = index, seq, seq
        self._folder = _identity(self.directory)
        return None

    async def open(self, *, inline_max: int | None = None) -> None:
        """Use the directory's index, caught up; or build it (in the background when large)."""
        why = await asyncio.to_thread(self.needs_rebuild)
        if why is None and await self._feed.head() < self._seq:
            # The log has never reached what the index read: the file was replaced by an
            # older copy (a restored backup), and the index holds papers it no longer has.
            why = "ahead of the database (restored from a backup?)"
            self._index = None
        if why is None:
            self._state = "ready"
            await self.catch_up()
            await asyncio.to_thread(self.warm_up)
            return
        papers = await self._feed.count()
        if papers:  # a new, empty database is not news
            log.info("search index %s: %s; building it from %d papers", self.directory, why, papers)
        if papers <= (BUILD_INLINE_MAX if inline_max is None else inline_max):
            try:
                await self.rebuild()
                return
            except IndexBusy as exc:
                self._say_busy(exc)
        self._state = "building"
        self._build = asyncio.create_task(self._build_when_free(), name="search-index-build")
        self._build.add_done_callback(_log_failure)

    async def open_to_catch_up(self) -> bool:
        """Open the directory's index only to write into it (a helper process): True when it
        is whole and this process now holds its writer (the large one, as an import's)."""
        if await asyncio.to_thread(self.needs_rebuild) is not None:
            return False
        self._state = "ready"
        async with self._lock:
            return self._take_writer(bulk=True) is not None

    async def _build_when_free(self) -> int:
        """Rebuild; while another process rebuilds, keep FTS5 and look again later (its index
        may then be whole and only need catching up); after a failure, try again with a
        growing pause (the full text answers meanwhile, not until a restart)."""
        pause = BUILD_RETRY_FIRST
        while True:
            try:
                built = await self.rebuild()
                self._retry_at = None
                return built
            except IndexBusy as exc:
                self._say_busy(exc)
                busy = True
            except Exception as exc:  # a dropped connection, a full disk: tried again later
                if self.ready:  # swapped in; only its first catch-up failed: the next one runs
                    log.warning("search index %s: catching up failed: %s", self.directory, exc)
                    self._retry_at = None
                    return 0
                busy = False
                self._retry_at = _now() + pause
                log.error(
                    "building the search index %s failed (%s); %s; trying again in %.0f s",
                    self.directory, str(exc) or type(exc).__name__, self.meanwhile, pause,
                )  # fmt: skip
            await _pause(BUSY_RETRY if busy else pause)
            if not busy:
                pause = min(pause * 2, BUILD_RETRY_MAX)
                continue
            if await asyncio.to_thread(self.needs_rebuild) is None:
                self._state = "ready"
                await self.catch_up()
                log.info("search index %s: built by another process; in use", self.directory)
                return 0

    def _say_busy(self, exc: IndexBusy) -> None:
        if not self._busy_said:
            log.info("%s; %s; looking again every %d s", exc, self.meanwhile, BUSY_RETRY)
            self._busy_said = True

    async def wait_built(self) -> None:
        """Until a background build (started by `open`) has ended, however it ended."""
        if self._build is not None:
            await asyncio.wait([self._build])

    async def close(self) -> None:
        await self._take_back()
        if self._build is not None and not self._build.done():
            self._build.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._build
        async with self._lock:
            writer, self._writer, self._bulk = self._writer, None, False
            if writer is not None:
                await asyncio.to_thread(_finish, writer)
                if self._seq > self._saved:  # an import's last papers: now on disk, recorded
                    _write_state(self.directory, self._seq)
                    self._saved, self._unsaved = self._seq, 0
                    with contextlib.suppress(Exception):  # the log is pruned next time instead
                        await self._feed.forget(self._seq)
            self._index = None
            self._state = "closed"
        self._tokens.close()

    # --- writing -----------------------------------------------------------------------

    async def rebuild(self, progress: Progress | None = None) -> int:
        """Build a fresh index from every paper, then swap it in; how many papers it holds."""
        rebuilding = try_flock(_lock_path(self.directory), fcntl.LOCK_EX)
        if rebuilding is None:
            raise IndexBusy(
                f"search index {self.directory}: another process is rebuilding it "
                f"(it holds {_lock_path(self.directory)}); try again when that is done"
            )
        try:
            # Catch-ups under way elsewhere finish first; later ones skip until the swap is done.
            writing = await asyncio.to_thread(wait_flock, _write_path(self.directory))
            try:
                done = await self._rebuild_locked(progress)
            finally:
                os.close(writing)  # closing a descriptor releases its lock
        finally:
            os.close(rebuilding)
        await self.catch_up()
        if done:
            log.info("search index built: %d papers in %s", done, self.directory)
        return done

    async def _rebuild_locked(self, progress: Progress | None) -> int:
        """`rebuild` once it holds both locks beside the index (see `catch_up`)."""
        async with self._lock:
            self._state = "building"
            writer, self._writer, self._bulk = self._writer, None, False
            if writer is not None:
                await asyncio.to_thread(_finish, writer)
            head = await self._feed.head()  # changes after this are applied by catch-up
            total = await self._feed.count()
            fresh = self.directory.with_name(self.directory.name + ".new")
            shutil.rmtree(fresh, ignore_errors=True)
            fresh.mkdir(parents=True, mode=0o700)
            fresh.chmod(0o700)  # the owner only, as the database beside it, whatever the umask
            index = tantivy.Index(self._schema, path=str(fresh))
            done, last = 0, 0
            if progress is not None:
                progress(0, total)
            # An empty database (every new one) needs no writer: the new index is complete.
            writer = index.writer(heap_size=BUILD_HEAP, num_threads=1) if total else None
            while writer is not None:
                docs = await self._feed.scan(last, BATCH)
                if not docs:
                    break
                await asyncio.to_thread(self._add, writer, docs)
                done, last = done + len(docs), docs[-1].pk
                if progress is not None:
                    progress(done, total)
            if writer is not None:
                await asyncio.to_thread(_finish, writer)
            _write_state(fresh, head)
            old = self.directory.with_name(self.directory.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if self.directory.exists():
                self.directory.rename(old)
            fresh.rename(self.directory)
            shutil.rmtree(old, ignore_errors=True)
            self._index = tantivy.Index.open(str(self.directory))
            self._folder = _identity(self.directory)
            self._seq = self._saved = head
            self._unsaved = 0
            self._state = "ready"
        return done

    async def catch_up(self, *, lag: bool = False) -> int:
        """Apply the change log past the watermark; how many papers changed.

        With `lag` (an import's batches) the changes go to a larger writer that commits only
        every BULK_COMMIT papers; the recorded watermark and the log stay behind until then, so
        a crash in between is caught up from the log at the next start. Without it, anything
        applied and not yet committed is committed now.

        A catch-up holds the write lock beside the index shared; a rebuild holds it alone from
        start to swap. So while another process rebuilds, catch-ups here wait for the next
        call (the rebuild replays the log from where it started, so nothing is pruned; searches
        use the index as it is); after, an index folder replaced since this object opened it
        is opened again first (the writer it had would write into the new folder as if it
        were the old one, and break it)."""
        if self._index is None or self._state != "ready":
            return 0
        if lag and await self._handed_over():
            return 0
        await self._take_back()  # the import is over (or a search wants what it stored)
        head = await self._feed.head()
        if self._idle(head, lag):
            return 0
        try:
            shared = try_flock(_write_path(self.directory), fcntl.LOCK_SH)
        except OSError:  # a folder this process cannot write to: nothing is rebuilt here either
            return await self._catch_up_guarded(lag, head)
        if shared is None:
            return 0
        try:
            if _identity(self.directory) != self._folder:
                async with self._lock:
                    if _identity(self.directory) != self._folder:
                        self._reopen()
            return await self._catch_up_guarded(lag, head)
        finally:
            os.close(shared)

    async def _handed_over(self) -> bool:
        """An import's batch goes to the helper process (started at the first one); False
        when there is none to use (none asked for, or it could not start)."""
        async with self._helper_lock:
            if self._helper is not None and not self._helper.running():
                self._helper_failed = True
                await self._take_back_locked()
                return False
            if self._helper is None:
                if self._new_helper is None or self._helper_failed:
                    return False
                await self._release_writer()
                helper = self._new_helper()
                if not await helper.start():
                    self._helper_failed = True
                    return False
                self._helper = helper
                log.debug("search index %s: an import's batches are indexed by a helper", self)
            self._helper.nudge()
            return True

    async def _release_writer(self) -> None:
        """Commit what was applied and finish the writer, so another process can take it."""
        async with self._lock:
            await self._finish_writer()

    async def _finish_writer(self) -> None:
        """Finish the writer on a thread (its last commit, its merges) and record how far it
        read. Called under the lock."""
        writer, self._writer, self._bulk = self._writer, None, False
        if writer is None:
            return
        await _settle(functools.partial(_finish, writer))
        if self._seq != self._saved:
            _write_state(self.directory, self._seq)
            self._saved, self._unsaved = self._seq, 0

    async def _take_back(self) -> None:
        """The helper commits up to the log's end and stops; the index is read again as it
        left it (what it did not commit, if it failed, is still in the log: applied here)."""
        if self._helper is None:  # nearly every catch-up: no lock to take
            return
        async with self._helper_lock:
            await self._take_back_locked()

    async def _take_back_locked(self) -> None:
        helper, self._helper = self._helper, None
        if helper is None:
            return
        await helper.finish()
        async with self._lock:
            if self._index is None:
                return
            self._read_recorded()
            self._unsaved, self._top_pk = 0, None

    def _reopen(self) -> None:
        """The folder another process rebuilt: its index, its watermark, a new writer later.
        What the old writer applied and did not commit is still in the log: applied again."""
        log.info("search index %s was rebuilt by another process; using the new one", self)
        self._writer, self._bulk = None, False  # for the replaced folder: dropped uncommitted
        self._index = tantivy.Index.open(str(self.directory))
        self._folder = _identity(self.directory)
        self._seq = self._saved = _read_seq(self.directory)
        self._unsaved, self._top_pk = 0, None

    async def _catch_up_guarded(self, lag: bool, head: int) -> int:
        """`catch_up` up to `head`, read just before (any watermark read earlier is safe: all
        below it has ended; asking the server again cost a round trip per catch-up)."""
        if self._index is None or self._state != "ready":
            return 0
        if self._idle(head, lag):
            return 0
        async with self._lock:
            if self._index is None:
                return 0
            applied = 0
            pks: list[int] | None = None
            if head > self._seq and self._writer is not None:
                # Holding the writer, this process alone commits to the index (and prunes the
                # log), so the log past its watermark is what it has to apply.
                pks = await self._feed.changed(self._seq, head)
                if not pks:
                    # Only other transactions moved the watermark (on PostgreSQL any write on
                    # the server: heartbeats, the outbox, other databases): no commit, no
                    # watermark written, no reader reopened, whose cold caches cost the next
                    # search more than the commit did (issue 19: `framework cat:cs.CV` 2.6 ->
                    # 16 ms at 100k). The recorded watermark stays at the last commit; the
                    # range after it holds nothing to apply.
                    if self._seq == self._saved:
                        self._saved = head
                    self._seq = head
            if head > self._seq:
                if lag and not self._bulk and self._writer is not None and self._seq == self._saved:
                    # All it applied is committed: finish it (its merges may take a while, on a
                    # thread), so the larger writer can take Tantivy's lock.
                    small, self._writer = self._writer, None
                    await _settle(functools.partial(_finish, small))
                since = self._seq
                writer = self._take_writer(bulk=lag)
                if writer is None or head <= self._seq:  # read-only, or another process did it
                    return 0
                if pks is None or self._seq != since:  # another process may have applied some
                    pks = await self._feed.changed(self._seq, head)
                for start in range(0, len(pks), BATCH):
                    chunk = pks[start : start + BATCH]
                    docs = await self._feed.documents(chunk)
                    await _settle(functools.partial(self._replace, writer, chunk, docs))
                applied = len(pks)
                self._seq = head
                self._unsaved += applied
            committing = self._seq != self._saved and not (lag and self._unsaved < BULK_COMMIT)
            if committing:
                assert self._writer is not None  # what applied the changes
                await _settle(self._writer.commit)
                _write_state(self.directory, self._seq)
                self._saved, self._unsaved = self._seq, 0
                self._index.reload()
            if not lag and self._bulk and self._seq == self._saved:
                await self._end_bulk()
            saved = self._saved
        if committing:
            await self._feed.forget(saved)
        return applied

    def _idle(self, head: int, lag: bool) -> bool:
        """Nothing for a catch-up to do: no change to apply, nothing to commit, and no
        import's writer left to give back."""
        if head > self._seq:
            return False
        return lag or (self._seq == self._saved and not self._bulk)

    async def _end_bulk(self) -> None:
        """The import is over (a catch-up without `lag` committed its last papers): finish
        its large writer on a thread and let the next change take the small one, so a
        long-running bot does not keep BULK_HEAP for nothing. Called under the lock."""
        if self._writer is not None:
            await self._finish_writer()  # everything is committed: nothing to record
            log.debug("search index %s: the import's writer is finished", self.directory)

    def _take_writer(self, *, bulk: bool = False) -> tantivy.IndexWriter | None:
        """The writer; None while another process holds it (we then only read).

        The steady one is small; an import (`bulk`) gets a larger one (the caller has finished
        the small one), kept until close.
        """
        if self._writer is None and self._index is not None:
            try:
                if bulk:
                    self._writer = self._index.writer(heap_size=BULK_HEAP, num_threads=1)
                else:
                    self._writer = self._index.writer(heap_size=STEADY_HEAP, num_threads=1)
                self._bulk = bulk
                self._top_pk = None
                self._read_recorded()  # another process may have written (and pruned the log)
            except ValueError as exc:
                if not self._read_only_said:
                    log.info("search index %s is written by another process: %s", self, exc)
                    self._read_only_said = True
                self._read_recorded()
                return None
        return self._writer

    def _read_recorded(self) -> None:
        """What another process (or an import's helper) committed: its watermark and its
        documents. A writer commits, then records its watermark: that is read first, then the
        index reloaded, so the searcher holds at least what the watermark says."""
        assert self._index is not None
        recorded = _read_seq(self.directory)
        self._index.reload()
        self._saved = max(self._saved, recorded)
        self._seq = max(self._seq, self._saved)

    def _replace(
        self, writer: tantivy.IndexWriter, pks: Sequence[int], docs: Sequence[IndexDoc]
    ) -> None:
        top = self._top_pk
        if top is None:
            assert self._index is not None
            top = _top_pk(self._index.searcher())
        for pk in pks:
            if pk <= top:  # an import's new papers are above it: nothing to delete
                writer.delete_documents_by_term("pk", pk)
        self._add(writer, docs)
        self._top_pk = max(top, max((d.pk for d in docs), default=0))

    def _add(self, writer: tantivy.IndexWriter, docs: Sequence[IndexDoc]) -> None:
        tokens = self._tokens
        for d in docs:
            doc = tantivy.Document()
            doc.add_integer("pk", d.pk)
            for field, text in (
                ("title", d.title),
                ("authors", d.authors),
                ("abstract", d.abstract),
            ):
                words = tokens(text)
                if words:
                    doc.add_text(field, " ".join(words))
            if words:  # the abstract's
                doc.add_text(PAIRS, pair_text(words))
            for category in dict.fromkeys(c.lower() for c in d.categories):
                doc.add_text("category", category)
            for archive in dict.fromkeys(c.lower().split(".", 1)[0] for c in d.categories):
                doc.add_text("archive", archive)
            doc.add_integer("appeared", d.appeared)
            doc.add_boolean("hf", d.hf)
            writer.add_document(doc)

    # --- searching ---------------------------------------------------------------------

    async def search(
        self,
        query: CompiledQuery,
        *,
        now: datetime,
        limit: int,
        offset: int,
        since: datetime | None,
        hf_only: bool,
        exhaustive: bool = False,
    ) -> IndexPage:
        await self.catch_up()
        return await asyncio.to_thread(
            self.search_now, query, now=now, limit=limit, offset=offset, since=since,
            hf_only=hf_only, exhaustive=exhaustive,
        )  # fmt: skip

    def warm_up(self) -> None:
        """One small search at open, so that the first user's search is not the one that
        starts the count's threads and reads the first pages of every field's terms and of
        the fast fields (a few ms at 1M; reads little else, so the memory stays small)."""
        if self._index is None:
            return
        Q, Occur = tantivy.Query, tantivy.Occur
        searcher = self._index.searcher()
        probe = [(Occur.Should, Q.term_query(self._schema, f, "warm")) for f in BOOSTS]
        _COUNTING.submit(_count, searcher, Q.boolean_query(probe)).result()
        some = [address for _, address in searcher.search(Q.all_query(), 1, count=False).hits]
        searcher.fast_field_values("pk", some)
        searcher.fast_field_values("appeared", some)

    def search_now(
        self,
        query: CompiledQuery,
        *,
        now: datetime,
        limit: int,
        offset: int,
        since: datetime | None,
        hf_only: bool,
        exhaustive: bool = False,
        first_pool: int | None = None,
    ) -> IndexPage:
        """The page, without catching up first (`exhaustive` scores every match: the floor)."""
        assert self._index is not None
        searcher = self._index.searcher()
        translation = Translation(self._schema, searcher, self._tokens)
        built = translation.build(query, since, hf_only)
        if built is None:
            return IndexPage(0, ())
        main, levels = built
        if limit <= 0:
            return IndexPage(_count(searcher, main), ())
        when = now.timestamp()
        tiers = _tiers(main, levels, translation.split(query, since, hf_only))
        hits: list[Ranked] = []
        position, end = 0, offset + limit
        pool = max(first_pool or FIRST_POOL, end)
        head: Head | None = None
        if exhaustive or (levels and (len(levels) > 1 or not _few_titles(translation, query))):
            # The exact count runs beside the ranking (Tantivy lets go of the GIL): neither
            # needs the other, and at 1M each costs a few ms for a broad word.
            counted = _COUNTING.submit(_count, searcher, main)
        else:
            # One pass counts every match and ranks the best `pool` of the whole match: each
            # tier's best are among them (same scores), so the tiers' own passes are mostly
            # skipped. The title tier's papers are listed meanwhile, to tell the tiers apart.
            listed = _COUNTING.submit(_top_tier, searcher, levels[-1]) if levels else None
            head = _head(searcher, main, pool)
            if listed is not None:
                members = listed.result()  # None: too many after all, the tier gets its pass
                (ranked,) = head.tiers
                if members is None:
                    head = Head(head.total, ([],), False)
                else:  # a phrase has two tiers: in the title or not
                    top = [hit for hit in ranked if hit[2] in members]
                    rest = [hit for hit in ranked if hit[2] not in members]
                    head = Head(head.total, (top, rest), head.complete)
            counted = _done(head.total)
        for n, (tier, tier_query) in enumerate(tiers):
            if position >= end:
                break
            # A tier's size is counted only when the page may start past it; otherwise the
            # pool tells it (a pool holding every match) or the page fills inside it.
            size: int | None = None
            if offset > position or exhaustive:
                last = n == len(tiers) - 1
                size = counted.result() - position if last else _count(searcher, tier_query)
            if size == 0 or (size is not None and position + size <= offset):
                position += size or 0
                continue
            first, upto = max(offset - position, 0), end - position

            known = head.tiers[n] if head is not None and n < len(head.tiers) else None

            def fetch(
                start: int,
                stop: int,
                q: tantivy.Query = tier_query,
                known: Sequence[Hit] | None = known,
            ) -> Sequence[Hit]:
                if known is not None and (stop <= len(known) or head is None or head.complete):
                    return known[start:stop]
                return _hits(searcher, q, start, stop)

            def since_fetch(at: int, q: tantivy.Query = tier_query) -> Fetch:
                recent = translation.appeared_since(q, at)
                return lambda start, stop: _hits(searcher, recent, start, stop)

            held: int | None
            if exhaustive:
                every = _candidates(
                    searcher, tier_query, size if size is not None else _count(searcher, tier_query)
                )
                best, held = sorted(every, key=lambda c: order_key(when, c))[:upto], len(every)
            else:
                best, held = exact_top(
                    fetch, now=when, wanted=upto, first_pool=pool, since=since_fetch
                )
            hits += [Ranked(c.pk, squash(tier, c, when)) for c in best[first:upto]]
            if len(best) >= upto:
                break  # the page is full
            position += held if held is not None else len(best)
        return IndexPage(counted.result(), tuple(hits))

    # --- other orders than relevance ---------------------------------------------------

    async def search_recent(
        self,
        query: CompiledQuery,
        *,
        now: datetime,
        limit: int,
        offset: int,
        since: datetime | None,
        hf_only: bool,
        hf: bool | None = None,
    ) -> IndexPage:
        await self.catch_up()
        return await asyncio.to_thread(
            self.search_recent_now, query, now=now, limit=limit, offset=offset, since=since,
            hf_only=hf_only, hf=hf,
        )  # fmt: skip

    def search_recent_now(
        self,
        query: CompiledQuery,
        *,
        now: datetime,
        limit: int,
        offset: int,
        since: datetime | None,
        hf_only: bool,
        hf: bool | None = None,
        first_pool: int = FIRST_POOL,
    ) -> IndexPage:
        """The page newest first, without catching up first (see `SearchIndex.search_recent`;
        `first_pool` as `exact_top`'s, for tests).

        One pass orders the matches by the `appeared` fast field (no scoring) and counts them:
        it fixes which appearance each place of the page holds, but not which of the papers
        sharing one. Those are ranked by relevance within their appearance (each appearance is
        a term: a short posting list): the page's first and last appearances may have papers
        before or after the page; every one between lies wholly in it, so it is ranked whole.
        Those of the first appearance before the page are ranked too: a page deep inside
        thousands of papers of one second costs about its depth, as a deep relevance page does
        (at 1M, 10 ms for a broad word's first page; 140 ms at offset 30,000 of one second).
        """
        assert self._index is not None
        searcher = self._index.searcher()
        translation = Translation(self._schema, searcher, self._tokens)
        built = translation.build(query, since, hf_only, hf)
        if built is None:
            return IndexPage(0, ())
        main, levels = built
        if limit <= 0:
            return IndexPage(_count(searcher, main), ())
        # From one place before the page: whether the page's first appearance began before it.
        start = max(offset - 1, 0)
        found = searcher.search(
            main, offset + limit - start, count=True, order_by_field="appeared", offset=start
        )
        total = int(found.count or 0)  # type: ignore[attr-defined]  # the stub lacks it
        values = [int(value) for value, _ in found.hits]
        placed = values[offset - start :]
        if not placed:
            return IndexPage(total, ())
        runs = [(value, len(list(same))) for value, same in itertools.groupby(placed)]
        tiers = _tiers(main, levels)
        when = now.timestamp()
        first, taken = runs[0]
        if offset == 0 or values[0] != first:
            skip = 0  # the page starts its first appearance
        elif len(runs) > 1:  # it ends inside the page: the page holds its last `taken`
            skip = _count(searcher, _narrowed(main, self._appeared_at(first))) - taken
        else:  # the page lies inside it: what precedes it is the newer matches
            newer = tantivy.Query.range_query(
                self._schema, "appeared", tantivy.FieldType.Integer, first + 1, None
            )
            skip = offset - _count(searcher, _narrowed(main, newer))
        at_first = self._appeared_at(first)
        hits = _ranked_slice(searcher, tiers, at_first, skip, skip + taken, when, first_pool)
        if len(runs) > 2:
            inner = [value for value, _ in runs[1:-1]]
            between = tantivy.Query.term_set_query(self._schema, "appeared", inner)
            hits += _ranked_all(searcher, tiers, between, sum(n for _, n in runs[1:-1]), when)
        if len(runs) > 1:
            last, taken = runs[-1]
            at_last = self._appeared_at(last)
            hits += _ranked_slice(searcher, tiers, at_last, 0, taken, when, first_pool)
        return IndexPage(total, tuple(hits))

    async def matching_keys(
        self,
        query: CompiledQuery,
        *,
        since: datetime | None,
        hf_only: bool,
        hf: bool | None = None,
    ) -> list[int]:
        await self.catch_up()
        return await asyncio.to_thread(
            self.matching_keys_now, query, since=since, hf_only=hf_only, hf=hf
        )

    def matching_keys_now(
        self,
        query: CompiledQuery,
        *,
        since: datetime | None,
        hf_only: bool,
        hf: bool | None = None,
    ) -> list[int]:
        """Every match's key, highest first, without catching up first (keys only: none is
        scored, the `pk` fast field orders them)."""
        assert self._index is not None
        searcher = self._index.searcher()
        translation = Translation(self._schema, searcher, self._tokens)
        built = translation.build(query, since, hf_only, hf)
        if built is None:
            return []
        main = built[0]
        found = searcher.search(main, KEYS_STEP, count=True, order_by_field="pk")
        keys = [int(pk) for pk, _ in found.hits]
        total = int(found.count or 0)  # type: ignore[attr-defined]
        if total > len(keys):  # a second pass for the rest, not one per step
            rest = searcher.search(
                main, total - len(keys), count=False, order_by_field="pk", offset=len(keys)
            )
            keys += [int(pk) for pk, _ in rest.hits]
        return keys

    async def relevance(
        self,
        query: CompiledQuery,
        pks: Sequence[int],
        *,
        now: datetime,
        since: datetime | None,
        hf_only: bool,
    ) -> dict[int, float]:
        await self.catch_up()
        return await asyncio.to_thread(
            self.relevance_now, query, pks, now=now, since=since, hf_only=hf_only
        )

    def relevance_now(
        self,
        query: CompiledQuery,
        pks: Sequence[int],
        *,
        now: datetime,
        since: datetime | None,
        hf_only: bool,
    ) -> dict[int, float]:
        """The score `search_now` gives each of these keys that matches, without catching up
        first (a key that does not match is left out)."""
        assert self._index is not None
        if not pks:
            return {}
        searcher = self._index.searcher()
        built = Translation(self._schema, searcher, self._tokens).build(query, since, hf_only)
        if built is None:
            return {}
        main, levels = built
        keys = tantivy.Query.term_set_query(self._schema, "pk", list(pks))
        ranked = _ranked_all(searcher, _tiers(main, levels), keys, len(pks), now.timestamp())
        return {hit.pk: hit.score for hit in ranked}

    def _appeared_at(self, at: int) -> tantivy.Query:
        """The papers that appeared at `at` (Unix seconds): one term of the `appeared` field."""
        return tantivy.Query.term_query(self._schema, "appeared", at)

    def __repr__(self) -> str:
        return f"TantivyIndex({str(self.directory)!r})"


@dataclass(frozen=True, slots=True)
class Split:
    """A match that is one leaf: its per-field queries (a union, scores summed in this order)
    and the clauses beside it that add no score (negations, filters)."""

    alternatives: tuple[tantivy.Query, ...]
    rest: tuple[tuple[tantivy.Occur, tantivy.Query], ...]
    # Per alternative: whether it is the leaf in the title (the same matches as a lone title
    # level, which then only repeats the walk).
    in_title: tuple[bool, ...]


def _tiers(
    main: tantivy.Query, levels: Sequence[tantivy.Query], split: Split | None = None
) -> list[tuple[int, tantivy.Query]]:
    """(tier, query) from the highest tier down: tier t holds level t but not level t + 1.

    With a `split`, a title tier is asked as a union of per-field branches, each holding the
    tier's conditions: the same matches and the same scores (each branch adds its field's
    score and zeros, in the union's order), but Tantivy then walks the few title matches and
    seeks each field in them, where ``main AND level`` fills the whole union first (at 1M,
    the phrase's top tier: 8.4 against 2.1 ms)."""
    Q, Occur = tantivy.Query, tantivy.Occur
    out = []
    for tier in range(len(levels), -1, -1):
        conditions = []
        if tier:
            conditions.append((Occur.Must, Q.const_score_query(levels[tier - 1], 0.0)))
        if tier < len(levels):
            conditions.append((Occur.MustNot, levels[tier]))
        if tier and split is not None:
            # The negated words are asked once, around the union, not in every branch: the
            # same matches and scores (they add none), at 1M `framework -survey`'s top tier
            # ~6.5 -> ~5 ms.
            kept = [(occur, q) for occur, q in split.rest if occur != Occur.MustNot]
            dropped = [(occur, q) for occur, q in split.rest if occur == Occur.MustNot]
            # With one level, the title branch is that level's matches already: asked without
            # it (it adds zero), the same matches and scores for less work (at 1M
            # `framework -survey`'s title tier ~4.8 -> ~4.3 ms).
            implied = len(levels) == 1 and tier == 1
            branches = [
                Q.boolean_query(
                    [(Occur.Must, alternative), *kept, *([] if implied and alone else conditions)]
                )
                for alternative, alone in zip(split.alternatives, split.in_title, strict=True)
            ]
            union = Q.boolean_query([(Occur.Should, b) for b in branches])
            out.append(
                (tier, Q.boolean_query([(Occur.Must, union), *dropped]) if dropped else union)
            )
            continue
        clauses = [(Occur.Must, main), *conditions]
        out.append((tier, Q.boolean_query(clauses) if len(clauses) > 1 else main))
    return out


# A top tier of at most this many papers (bounded by the title's word counts) is picked out of
# one pass that counts and ranks the whole match; a larger one gets its own pass, beside the
# count. A phrase's titles are bounded by its rarest word's: listed when that is at most
# PHRASE_BOUND_MAX (at 1M, "mixture of experts": 1,931 titles, 7,411 hold "mixture").
TOP_TIER_MAX = 2_500
PHRASE_BOUND_MAX = 10_000

# Where a search's exact count runs while its thread ranks (see `search_now`).
_COUNTING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="search-count")


def _count(searcher: tantivy.Searcher, query: tantivy.Query) -> int:
    """Every match, counted without scoring one: the keys a value-count aggregation sees (every
    live document holds one): ~1.6x faster than a scored count for a broad word at 1M."""
    found = searcher.aggregate(query, {"n": {"value_count": {"field": "pk"}}})
    return int(cast(dict[str, dict[str, float]], found)["n"]["value"])


@dataclass(frozen=True, slots=True)
class Head:
    """The whole match's count and best `pool` matches, split by tier."""

    total: int
    # Each tier's matches among the best, from the top tier down, in the engine's order.
    tiers: tuple[list[Hit], ...]
    complete: bool  # the best were every match, so `tiers` hold them all


def _head(searcher: tantivy.Searcher, main: tantivy.Query, pool: int) -> Head:
    """Count and rank `main` in one pass (the count alone costs nearly as much: at 1M the
    phrase's ~7 ms is reading every match's positions). Those of the best that are in the
    top tier keep the score the tier's own query gives them (the levels add zero), so they
    are the tier's best too, in the same order, as far as the pass reached."""
    found = searcher.search(main, pool, count=True)
    total = int(found.count or 0)  # type: ignore[attr-defined]  # the stub lacks it
    hits = found.hits
    addresses = [address for _, address in hits]
    pks = cast(list[int], searcher.fast_field_values("pk", addresses))
    appeared = cast(list[int], searcher.fast_field_values("appeared", addresses))
    best = list(zip([score for score, _ in hits], appeared, pks, strict=True))
    complete = len(hits) < pool
    return Head(total, (best,), complete)


def _few_titles(translation: Translation, query: CompiledQuery) -> bool:
    """Whether the match is one phrase whose rarest word is in at most PHRASE_BOUND_MAX
    titles: then its title tier is listed (`_top_tier`) rather than ranked by its own pass.
    A single word's tier is as cheap to rank as to list; a broad one's costs more to list."""
    bounded = translation.title_bound(query)
    return bounded is not None and not bounded[1] and bounded[0] <= PHRASE_BOUND_MAX


def _top_tier(searcher: tantivy.Searcher, top_level: tantivy.Query) -> set[int] | None:
    """The keys of every paper meeting the top title level, when at most TOP_TIER_MAX do.

    Listing them costs ~0.7 ms a thousand at 1M; asking the level of the best keys only (a
    set of key terms) cost more: 1.7 ms for a union of terms, 8 ms for a term set."""
    level = tantivy.Query.const_score_query(top_level, 0.0)
    found = searcher.search(level, TOP_TIER_MAX, count=True)
    if int(found.count or 0) > TOP_TIER_MAX:  # type: ignore[attr-defined]
        return None
    return set(cast(list[int], searcher.fast_field_values("pk", [a for _, a in found.hits])))


def _done(value: int) -> Future[int]:
    done: Future[int] = Future()
    done.set_result(value)
    return done


def _candidates(searcher: tantivy.Searcher, query: tantivy.Query, k: int) -> list[Candidate]:
    if k <= 0:
        return []
    hits = searcher.search(query, k, count=False).hits
    addresses = [address for _, address in hits]
    pks = searcher.fast_field_values("pk", addresses)
    appeared = searcher.fast_field_values("appeared", addresses)
    return [
        Candidate(int(pk or 0), float(score), int(at or 0))
        for (score, _), pk, at in zip(hits, pks, appeared, strict=True)
    ]


def _hits(searcher: tantivy.Searcher, query: tantivy.Query, start: int, stop: int) -> list[Hit]:
    """The matches ranked `start` to `stop` by BM25, as (BM25, appeared, key) tuples."""
    if stop <= start:
        return []
    hits = searcher.search(query, stop - start, count=False, offset=start).hits
    addresses = [address for _, address in hits]
    return list(
        zip(
            [score for score, _ in hits],
            # Every document holds both (see _add): no None among them.
            cast(list[int], searcher.fast_field_values("appeared", addresses)),
            cast(list[int], searcher.fast_field_values("pk", addresses)),
            strict=True,
        )
    )


# Keys of matches read by the first pass of `matching_keys_now`; more take one more pass.
KEYS_STEP = 10_000


def _narrowed(query: tantivy.Query, only: tantivy.Query) -> tantivy.Query:
    """`query`'s matches that `only` matches too, scored as by `query` alone."""
    Q, Occur = tantivy.Query, tantivy.Occur
    return Q.boolean_query([(Occur.Must, query), (Occur.Must, Q.const_score_query(only, 0.0))])


def _ranked_slice(
    searcher: tantivy.Searcher,
    tiers: Sequence[tuple[int, tantivy.Query]],
    only: tantivy.Query,
    first: int,
    upto: int,
    now: float,
    first_pool: int = FIRST_POOL,
) -> list[Ranked]:
    """The matches `only` keeps, ranked `first` to `upto` by relevance (as `search_now`
    ranks: the tier, then BM25 x recency, then the newer, then the higher key); a tier is
    counted only when the slice may start past it."""
    hits: list[Ranked] = []
    position = 0
    for tier, tier_query in tiers:
        if position >= upto:
            break
        narrowed = _narrowed(tier_query, only)
        if first > position:
            size = _count(searcher, narrowed)
            if position + size <= first:
                position += size
                continue

        def fetch(start: int, stop: int, q: tantivy.Query = narrowed) -> Sequence[Hit]:
            return _hits(searcher, q, start, stop)

        best, _ = exact_top(fetch, now=now, wanted=upto - position, first_pool=first_pool)
        hits += [Ranked(c.pk, squash(tier, c, now)) for c in best[max(first - position, 0) :]]
        if len(best) >= upto - position:
            break
        position += len(best)  # fewer than wanted: the tier's every match
    return hits


def _ranked_all(
    searcher: tantivy.Searcher,
    tiers: Sequence[tuple[int, tantivy.Query]],
    only: tantivy.Query,
    size: int,
    now: float,
) -> list[Ranked]:
    """Every match `only` keeps (at most `size` of them), newest first, then by relevance as
    `_ranked_slice` ranks."""
    keyed: list[tuple[tuple[int, int, float, int, int], Ranked]] = []
    for tier, tier_query in tiers:
        if len(keyed) >= size:
            break
        for bm25, at, pk in _hits(searcher, _narrowed(tier_query, only), 0, size - len(keyed)):
            found = Candidate(pk, bm25, at)
            keyed.append(
                ((-at, -tier, *order_key(now, found)), Ranked(pk, squash(tier, found, now)))
            )
    keyed.sort(key=lambda pair: pair[0])
    return [hit for _, hit in keyed]


def pair_text(words: Sequence[str]) -> str:
    """The abstract's pairs field for its tokens (see COMMON): only the common words' positions
    are visited in Python, the rest is filled by list and join."""
    n, join = len(words), PAIR_JOIN
    out = [FILLER] * n
    for i in itertools.compress(range(n), map(COMMON.__contains__, words)):
        if i:  # f-strings and a local: ~15 % less than `+` twice, ~40 pairs an abstract
            out[i - 1] = f"{words[i - 1]}{join}{words[i]}"
        if i + 1 < n:
            out[i] = f"{words[i]}{join}{words[i + 1]}"
    return " ".join(out)


def _idf(docs: int, having: int) -> float:
    """BM25's idf as Tantivy computes it."""
    return math.log(1.0 + (docs - having + 0.5) / (having + 0.5))


def _lock_path(directory: Path) -> Path:
    """The rebuild lock: a file beside the index (not in it: the rebuild replaces the folder)."""
    return directory.with_name(directory.name + ".lock")


def _write_path(directory: Path) -> Path:
    """The write lock: catch-ups hold it shared, a rebuild alone (see `catch_up`)."""
    return directory.with_name(directory.name + ".write.lock")


def _identity(directory: Path) -> tuple[int, int] | None:
    """Which folder is at `directory` now (a rebuild puts another one there)."""
    try:
        found = directory.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


async def _settle(call: Callable[[], T]) -> T:
    """`call` on a thread, run to its end even when the caller is cancelled (re-raised after):
    the index's lock must not be let go while a thread still uses its writer (Tantivy then
    refuses the next use: "Already borrowed")."""
    work = asyncio.ensure_future(asyncio.to_thread(call))
    cancelled = False
    while not work.done():
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            cancelled = True
        except Exception:  # the work's own error: result() below raises it
            pass
    if cancelled:
        if not work.cancelled():
            work.exception()  # retrieved: its error, if any, is not logged as forgotten
        raise asyncio.CancelledError
    return work.result()


def _top_pk(searcher: tantivy.Searcher) -> int:
    """The highest key the index holds (0 when empty)."""
    hits = searcher.search(tantivy.Query.all_query(), 1, count=False, order_by_field="pk").hits
    return int(hits[0][0]) if hits else 0


def _finish(writer: tantivy.IndexWriter) -> None:
    writer.commit()
    writer.wait_merging_threads()


def _read_seq(directory: Path) -> int:
    """The watermark another process recorded (0 when unreadable: then nothing is skipped)."""
    try:
        return int(json.loads((directory / STATE_FILE).read_text("utf-8"))["seq"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _write_state(directory: Path, seq: int) -> None:
    """The watermark, replaced atomically after the index committed what it covers."""
    tmp = directory / (STATE_FILE + ".tmp")
    with open(
        os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8"
    ) as out:
        json.dump({"schema": SCHEMA_VERSION, "seq": seq}, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, directory / STATE_FILE)


def _log_failure(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("building the search index failed: %s", task.exception())


# --- the query language on Tantivy -----------------------------------------------------------


class Translation:
    """A compiled query's syntax tree as Tantivy queries: the match, and the title levels."""

    def __init__(
        self, schema_: tantivy.Schema, searcher: tantivy.Searcher, tokens: Fts5Tokens
    ) -> None:
        self._schema = schema_
        self._searcher = searcher
        self._tokens = tokens

    def build(
        self,
        query: CompiledQuery,
        since: datetime | None,
        hf_only: bool,
        hf: bool | None = None,
    ) -> tuple[tantivy.Query, list[tantivy.Query]] | None:
        """(match query, cumulative title levels); None when the words can match nothing.
        `hf`: only the matches Hugging Face knows (True) or only the others (False)."""
        Q, Occur = tantivy.Query, tantivy.Occur
        root = query.ast
        if root is None:
            return None
        conjuncts = root.children if isinstance(root, And) else (root,)
        words = [node for node in conjuncts if not _has_category(node)]
        text = self._conjunction(words, TEXT_FIELDS, boosted=True)
        if text is None:
            return None
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = [(Occur.Must, text)]
        clauses.extend(self._filters(query, since, hf_only, hf))
        main = text if len(clauses) == 1 else Q.boolean_query(clauses)
        return main, self._levels(words)

    def split(self, query: CompiledQuery, since: datetime | None, hf_only: bool) -> Split | None:
        """`build`'s match as a union over fields plus clauses that add no score, when it is
        one word or phrase (maybe with negated words and filters); None otherwise."""
        Occur = tantivy.Occur
        root = query.ast
        if root is None:
            return None
        conjuncts = root.children if isinstance(root, And) else (root,)
        words = [node for node in conjuncts if not _has_category(node)]
        wanted = [node for node in words if not isinstance(node, Not)]
        if len(wanted) != 1 or not isinstance(wanted[0], Term | Phrase):
            return None
        fields = self._leaf_fields(wanted[0], TEXT_FIELDS[wanted[0].field], boosted=True)
        if len(fields) < 2:
            return None
        alternatives = [q for _, q in fields]
        in_title = tuple(field == "title" for field, _ in fields)
        rest: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for node in words:
            if isinstance(node, Not):
                excluded = self._node(node.child, TEXT_FIELDS, True)
                if excluded is not None:  # as _conjunction: excluding nothing excludes nothing
                    rest.append((Occur.MustNot, excluded))
        rest.extend(self._filters(query, since, hf_only))
        return Split(tuple(alternatives), tuple(rest), in_title)

    def title_bound(self, query: CompiledQuery) -> tuple[int, bool] | None:
        """At most how many titles meet the top title level, when the match is one plain word or
        phrase (the fewest titles holding one of its words), and whether that is exact (one
        word); None otherwise."""
        root = query.ast
        if root is None:
            return None
        conjuncts = root.children if isinstance(root, And) else (root,)
        wanted = [n for n in conjuncts if not isinstance(n, Not) and not _has_category(n)]
        if len(wanted) != 1 or not isinstance(wanted[0], Term | Phrase):
            return None
        leaf = wanted[0]
        if leaf.field not in (None, "title") or (isinstance(leaf, Term) and leaf.prefix):
            return None
        words = self._tokens(_leaf_text(leaf))
        if not words:
            return None
        return min(self._searcher.doc_freq("title", word) for word in words), len(words) == 1

    def _filters(
        self, query: CompiledQuery, since: datetime | None, hf_only: bool, hf: bool | None = None
    ) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        """The clauses that narrow a match without scoring: categories, `since`, `hf_only`
        and `hf` (whether Hugging Face knows the paper; both given and differing: nothing)."""
        Q, Occur = tantivy.Query, tantivy.Occur
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for group in query.include_categories:
            either = [self._category(value) for value in group]
            found = (
                either[0]
                if len(either) == 1
                else Q.boolean_query([(Occur.Should, q) for q in either])
            )
            clauses.append((Occur.Must, Q.const_score_query(found, 0.0)))
        for value in query.exclude_categories:
            clauses.append((Occur.MustNot, self._category(value)))
        if since is not None:
            at_least = Q.range_query(
                self._schema, "appeared", tantivy.FieldType.Integer, int(since.timestamp()), None
            )
            clauses.append((Occur.Must, Q.const_score_query(at_least, 0.0)))
        wanted = {hf} if hf is not None else set()
        if hf_only:
            wanted.add(True)
        for flag in sorted(wanted):
            known = Q.term_query(self._schema, "hf", flag)
            clauses.append((Occur.Must, Q.const_score_query(known, 0.0)))
        return clauses

    def appeared_since(self, query: tantivy.Query, at: int) -> tantivy.Query:
        """`query`'s matches that appeared at `at` (Unix seconds) or later, scored as by `query`."""
        recent = tantivy.Query.range_query(
            self._schema, "appeared", tantivy.FieldType.Integer, at, None
        )
        return _narrowed(query, recent)

    def _category(self, value: str) -> tantivy.Query:
        lower = value.lower()
        field = "category" if "." in lower else "archive"
        return tantivy.Query.term_query(self._schema, field, lower)

    # Title levels: every wanted word in the title; then close together; then as the phrase.
    def _levels(self, words: Sequence[Node]) -> list[tantivy.Query]:
        Q, Occur = tantivy.Query, tantivy.Occur
        every = self._title_only(_make_and(words))
        if every is None:
            return []
        levels = [every]
        leaves = _title_run(words)
        runs = [self._tokens(_leaf_text(leaf)) for leaf in leaves]
        if len(leaves) >= 2 and all(runs) and sum(map(len, runs)) >= 2:
            slop = max(sum(map(len, runs)) - 2, 0) + NEAR_SLACK
            orders = itertools.permutations(runs) if len(runs) <= 4 else iter([tuple(runs)])
            close = [
                Q.phrase_query(self._schema, "title", [w for run in order for w in run], slop=slop)
                for order in orders
            ]
            near = (
                close[0] if len(close) == 1 else Q.boolean_query([(Occur.Should, q) for q in close])
            )
            phrase = Q.phrase_query(self._schema, "title", [w for run in runs for w in run])
            levels.append(Q.boolean_query([(Occur.Must, every), (Occur.Must, near)]))
            levels.append(Q.boolean_query([(Occur.Must, levels[-1]), (Occur.Must, phrase)]))
        return levels

    def _title_only(self, node: Node | None) -> tantivy.Query | None:
        """The wanted words looked for in the title alone; None if the query asks nothing of it."""
        Q, Occur = tantivy.Query, tantivy.Occur
        if isinstance(node, Term | Phrase):
            if node.field not in (None, "title"):
                return None
            return self._leaf(node, ("title",), boosted=False) or Q.empty_query()
        if isinstance(node, And):
            parts = [p for p in map(self._title_only, node.children) if p is not None]
            if len(parts) < 2:
                return parts[0] if parts else None
            return Q.boolean_query([(Occur.Must, p) for p in parts])
        if isinstance(node, Or):
            alternatives = [self._title_only(child) for child in node.children]
            if any(a is None for a in alternatives):
                return None
            return Q.boolean_query([(Occur.Should, a) for a in alternatives if a is not None])
        return None

    def _node(
        self, node: Node, fields: dict[str | None, tuple[str, ...]], boosted: bool
    ) -> tantivy.Query | None:
        if isinstance(node, Term | Phrase):
            return self._leaf(node, fields[node.field], boosted)
        if isinstance(node, And):
            return self._conjunction(node.children, fields, boosted)
        if isinstance(node, Or):
            parts = [self._node(child, fields, boosted) for child in node.children]
            alive = [p for p in parts if p is not None]
            if not alive:
                return None
            if len(alive) == 1:
                return alive[0]
            return tantivy.Query.boolean_query([(tantivy.Occur.Should, p) for p in alive])
        raise ValueError(f"not a words-only node: {node!r}")

    def _conjunction(
        self, children: Sequence[Node], fields: dict[str | None, tuple[str, ...]], boosted: bool
    ) -> tantivy.Query | None:
        """Every wanted child, no unwanted one; None (nothing) when a wanted one matches nothing."""
        Occur = tantivy.Occur
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for child in children:
            if isinstance(child, Not):
                excluded = self._node(child.child, fields, boosted)
                if excluded is not None:  # excluding nothing excludes nothing
                    clauses.append((Occur.MustNot, excluded))
                continue
            built = self._node(child, fields, boosted)
            if built is None:
                return None
            clauses.append((Occur.Must, built))
        if not any(occur == Occur.Must for occur, _ in clauses):
            return None  # compile_query refuses a group that only excludes
        if len(clauses) == 1:
            return clauses[0][1]
        return tantivy.Query.boolean_query(clauses)

    def _leaf(
        self, leaf: Term | Phrase, fields: Sequence[str], boosted: bool
    ) -> tantivy.Query | None:
        """One word or phrase in these fields (each boosted by its weight); None: matches nothing."""
        per_field = [q for _, q in self._leaf_fields(leaf, fields, boosted)]
        if not per_field:
            return None
        if len(per_field) == 1:
            return per_field[0]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in per_field])

    def _leaf_fields(
        self, leaf: Term | Phrase, fields: Sequence[str], boosted: bool
    ) -> list[tuple[str, tantivy.Query]]:
        """The leaf in each field where it can match (boosted by the field's weight), with the
        field it is asked in."""
        words = self._tokens(_leaf_text(leaf))
        if not words:
            return []
        prefix = isinstance(leaf, Term) and leaf.prefix
        per_field = []
        for field in fields:
            found = self._in_field(field, words, prefix)
            if found is not None:
                boosted_found = (
                    tantivy.Query.boost_query(found, BOOSTS[field]) if boosted else found
                )
                per_field.append((field, boosted_found))
        return per_field

    def _in_field(self, field: str, words: list[str], prefix: bool) -> tantivy.Query | None:
        Q, Occur = tantivy.Query, tantivy.Occur
        if not prefix:
            if len(words) == 1:
                return Q.term_query(self._schema, field, words[0])
            if field == "abstract":
                paired = self._pairs(words)
                if paired is not None:
                    return paired
            return Q.phrase_query(self._schema, field, list(words))
        if len(words) > 1:
            return Q.phrase_prefix_query(self._schema, field, list(words))
        expansions = [t for t, _ in self._searcher.terms_with_prefix(field, words[0])]
        if not expansions:
            return None
        if len(expansions) > MAX_EXPANSIONS:
            return Q.term_set_query(self._schema, field, expansions)
        if len(expansions) == 1:
            return Q.term_query(self._schema, field, expansions[0])
        return Q.boolean_query(
            [(Occur.Should, Q.term_query(self._schema, field, t)) for t in expansions]
        )

    def _pairs(self, words: list[str]) -> tantivy.Query | None:
        """The abstract phrase as a phrase of pair terms, when each adjacent pair involves a
        common word (None otherwise): the same matches; boosted so that its BM25 is the word
        phrase's (same length and phrase count; the boost trades the pairs' idf sum for the
        words')."""
        Q = tantivy.Query
        adjacent = list(itertools.pairwise(words))
        if not all(a in COMMON or b in COMMON for a, b in adjacent):
            return None
        pairs = [a + PAIR_JOIN + b for a, b in adjacent]
        found = (
            Q.term_query(self._schema, PAIRS, pairs[0])
            if len(pairs) == 1
            else Q.phrase_query(self._schema, PAIRS, list(pairs))
        )
        searcher = self._searcher
        # Tantivy's N counts the deleted documents its segments still hold, as its doc
        # frequencies do: every document ever added holds `hf`, true or false.
        docs = searcher.doc_freq("hf", True) + searcher.doc_freq("hf", False)
        words_idf = sum(_idf(docs, searcher.doc_freq("abstract", w)) for w in words)
        pairs_idf = sum(_idf(docs, searcher.doc_freq(PAIRS, p)) for p in pairs)
        if words_idf <= 0.0 or pairs_idf <= 0.0:
            return found
        return Q.boost_query(found, words_idf / pairs_idf)


def _leaf_text(leaf: Term | Phrase) -> str:
    return leaf.text if isinstance(leaf, Term) else " ".join(leaf.words)


def _has_category(node: Node) -> bool:
    if isinstance(node, Category):
        return True
    if isinstance(node, Term | Phrase):
        return False
    children = (node.child,) if isinstance(node, Not) else node.children
    return any(_has_category(child) for child in children)
