"""What the program needs from a database, one small protocol per concern, no backend types.

Services and the Discord layer depend on these protocols only; `bot.store.sqlite` implements
them today and a PostgreSQL backend will implement them next, checked by the same contract
suite (`tests/store/contract`). The rules every backend keeps:

* Every write method is atomic on its own, and joins the caller's `Database.transaction()`
  when one is open in the same task, so a poll commits its papers and deliveries together.
* A read never sees another task's uncommitted writes (they may still roll back); a read
  inside the task's own open transaction sees that transaction's writes.
* A (feed, paper) pair is owed at most once, ever; a feed name is unique within its guild.
* Times are aware datetimes in, UTC out.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.models import (
    Delivery,
    DeliveryState,
    DmItem,
    DueDelivery,
    Feed,
    FeedOrigin,
    FeedSpec,
    Follow,
    FollowMode,
    Lease,
    Paper,
    ProcessBeat,
    SearchPage,
    SortOrder,
    SourceHealth,
    SourceRun,
    UpsertResult,
)

if TYPE_CHECKING:
    from bot.query.compile import CompiledQuery


class PaperRepository(Protocol):
    """Papers, merged from every source, and the ranked search over them."""

    async def upsert(self, papers: Iterable[Paper]) -> UpsertResult:
        """Insert new papers and merge known ones together; report which were new, which
        changed at all (`changed`) and which of those changed in a way feeds act on (`updated`)."""
        ...

    async def get(self, paper_id: str) -> Paper | None: ...

    async def get_many(self, ids: Sequence[str]) -> list[Paper]:
        """Papers by id, in the order asked, skipping unknown ids."""
        ...

    async def count(self) -> int: ...

    async def search(
        self,
        query: CompiledQuery,
        *,
        limit: int = 10,
        offset: int = 0,
        since: datetime | None = None,
        sort: SortOrder = "relevance",
        hf_only: bool = False,
    ) -> SearchPage:
        """One page of matches, ranked as `sort` says; `total` counts every match, up to
        `count_cap` for queries with words (then `total_exact` is False).

        Relevance puts title evidence first: a paper's tier is how many of the query's
        `title_evidence` expressions its title matches, and a higher tier always ranks first;
        within a tier, field-weighted relevance with a gentle recency bonus. Each hit's score
        is its tier plus that relevance squashed below 1, so scores alone order the page.
        """
        ...

    async def recent(self, since: datetime, limit: int = 5000) -> list[Paper]:
        """Papers that appeared since a time, newest first (a new feed's backfill)."""
        ...

    async def top(self, since: datetime, limit: int = 10) -> list[Paper]:
        """The most upvoted Hugging Face papers that appeared since a time."""
        ...

    async def search_index_built(self) -> bool:
        """Wait for a search index build under way (after `SearchIndexBuilding`); whether
        searches with words run now."""
        ...


class FeedRepository(Protocol):
    """Feeds: made in Discord or the CLI, or managed by the configuration file."""

    async def add(
        self,
        spec: FeedSpec,
        *,
        guild_id: int | None,
        origin: FeedOrigin = FeedOrigin.DISCORD,
        backfill_used: int | None = None,
    ) -> Feed:
        """Store a new feed; a name already used in the guild raises DuplicateFeedName.

        `backfill_used` (default: all of its `backfill`) is how many old papers the feed has
        had already; a feed added without its backfill takes no backlog later either.
        """
        ...

    async def update(self, feed_id: int, spec: FeedSpec, guild_id: int | None) -> None: ...

    async def get(self, feed_id: int) -> Feed | None: ...

    async def find(self, name: str, guild_id: int | None) -> Feed | None:
        """A feed by name within one guild (None: config feeds not yet bound to a guild)."""
        ...

    async def list(self, *, guild_id: int | None = None, active_only: bool = False) -> list[Feed]:
        """Feeds in creation order, of one guild or all, paused ones unless `active_only`."""
        ...

    async def remove(self, feed_id: int) -> bool:
        """Delete a feed and what it is owed; False when there was no such feed."""
        ...

    async def set_paused(self, feed_id: int, paused: bool, reason: str | None = None) -> None: ...

    async def bind_guild(self, feed_id: int, guild_id: int) -> None:
        """Record the guild of a config feed once Discord says where its channel lives."""
        ...

    async def sync_config(
        self, specs: Sequence[FeedSpec]
    ) -> tuple[builtins.list[Feed], builtins.list[Feed]]:
        """Make the file-managed feeds equal the config's [[feeds]]; return (added, removed).

        Feeds it adds have had none of their backfill yet.
        """
        ...

    async def backfill_left(self) -> dict[int, int]:
        """Active feeds that may still take old papers (backlog), with how many."""
        ...

    async def use_backfill(self, feed_id: int, count: int) -> None:
        """Count old papers queued to a feed against its `backfill`."""
        ...


class Outbox(Protocol):
    """Papers owed to feeds, and the record of each attempt to post them."""

    async def queue(self, pairs: Iterable[tuple[int, str]]) -> int:
        """Owe papers to feeds, each (feed, paper) pair once ever; return how many are new."""
        ...

    async def deliveries(
        self, *, feed_id: int | None = None, states: Sequence[DeliveryState] | None = None
    ) -> list[Delivery]:
        """Deliveries in the order they were queued, optionally of one feed or some states."""
        ...

    async def depth(self) -> int:
        """How many deliveries wait to be sent (queued or sending)."""
        ...

    async def due(self, now: datetime, limit: int = 500) -> list[DueDelivery]:
        """Queued deliveries of active instant feeds whose retry time has come, oldest first."""
        ...

    async def in_flight(self) -> list[DueDelivery]:
        """Deliveries whose send was recorded but whose outcome was not: reconcile these first."""
        ...

    async def mark_sending(
        self, delivery_ids: Sequence[int], nonce: str | None, now: datetime
    ) -> None:
        """Record the attempt before the send, so a crash leaves a trace to reconcile."""
        ...

    async def mark_sent(
        self,
        delivery_ids: Sequence[int],
        message_id: int,
        now: datetime,
        thread_id: int | None = None,
    ) -> None:
        """Record where the message landed, and the feed's last post time."""
        ...

    async def mark_retry(self, delivery_id: int, error: str, next_attempt_at: datetime) -> None:
        """Back to the queue after a transient failure, not before `next_attempt_at`."""
        ...

    async def requeue(self, delivery_ids: Sequence[int], error: str | None = None) -> None:
        """Undo an attempt that never reached Discord (the feed paused, or shutdown)."""
        ...

    async def mark_failed(self, delivery_ids: Sequence[int], error: str) -> None:
        """Discord refused the message for good (e.g. 400); keep the reason for /status."""
        ...

    async def mark_skipped(self, delivery_ids: Sequence[int], reason: str) -> None:
        """Dropped on purpose (e.g. a digest that over-filled); keep the reason."""
        ...

    async def posted_to_channel_by_others(
        self, channel_id: int, paper_ids: Sequence[str], feed_id: int
    ) -> dict[str, str]:
        """Which of these papers a feed other than `feed_id` sent (or is sending) to the
        channel, each with that feed's name: one channel never gets the same paper twice."""
        ...

    async def digest_candidates(self, feed_id: int) -> list[tuple[int, Paper]]:
        """A digest feed's unsent (delivery id, paper) pairs, best first."""
        ...

    async def last_digest(self, feed_id: int) -> str | None:
        """The day (YYYY-MM-DD) of the feed's last digest, if it ever had one."""
        ...

    async def set_last_digest(self, feed_id: int, day: str) -> None: ...

    async def counts(self, since: datetime) -> dict[str, int]:
        """Deliveries by state (sent ones only since a time), for status and metrics."""
        ...

    async def states_by_feed(self, guild_id: int) -> dict[int, dict[str, int]]:
        """Unsent deliveries of one guild's feeds, counted by feed and state (for /status)."""
        ...

    # Claims: one channel in flight in one publisher at a time, across processes. A claim lasts
    # until `until` unless renewed; an expired one may be taken by another publisher.

    async def claim(
        self,
        owner: str,
        now: datetime,
        until: datetime,
        *,
        limit: int = 500,
        channels: int = 64,
        in_flight_only: bool = False,
        busy: Sequence[int] = (),
    ) -> list[DueDelivery]:
        """Claim up to `channels` channels nobody else holds that have work for active instant
        feeds, oldest first, and return that work (at most `limit`, by id): attempts left in
        flight (to reconcile) and, unless `in_flight_only`, queued deliveries that are due.
        Channels in `busy` (the caller's own, still being sent to) are left alone."""
        ...

    async def claim_channel(
        self, owner: str, channel_id: int, now: datetime, until: datetime
    ) -> bool:
        """Claim one channel (e.g. for a digest); False when another publisher holds it."""
        ...

    async def channels_with_work(self, now: datetime, window: int = 4096) -> int:
        """How many channels the oldest `window` claimable deliveries go to, whoever holds
        them: what publishers split into fair shares."""
        ...

    async def renew_claims(self, owner: str, until: datetime) -> set[int]:
        """Extend the owner's claims; return the channels it still holds."""
        ...

    async def release_claims(self, owner: str, channel_ids: Iterable[int]) -> None:
        """Give channels back at the end of a round."""
        ...


@runtime_checkable
class RestBudget(Protocol):
    """A token bucket shared by every process (PostgreSQL): Discord's global limit is per bot."""

    async def take(self, name: str, rate: float, burst: int) -> float:
        """Take one token: 0.0 when a request may go now, else the seconds to wait first."""
        ...


@runtime_checkable
class OutboxWatch(Protocol):
    """Wake-ups when deliveries are queued by any process (PostgreSQL's LISTEN/NOTIFY)."""

    def watch_outbox(self, wake: Callable[[], None]) -> AbstractAsyncContextManager[None]:
        """While open, call `wake` soon after another process queues deliveries; a hint only."""
        ...


class Presence(Protocol):
    """A lock the database holds for this process while its connection lives."""

    async def hold(self) -> None:
        """Take it, or take it again after its connection was lost."""
        ...

    async def release(self) -> None: ...


@runtime_checkable
class ClusterPresence(Protocol):
    """Connection-bound liveness (PostgreSQL): a killed process is seen gone at once."""

    def presence(self, process_id: str) -> Presence: ...


# (item id, follow id, mode, relevance): a waiting DM item of a follow being paused or removed
# that another active follow of the same member also matches, handed over to that follow with
# its mode and relevance. Only an item still queued and unplanned, still the paused or removed
# follow's, and whose new follow is still active is handed over; every other is dropped.
KeptItem = tuple[int, int, FollowMode, int]


class FollowRepository(Protocol):
    """Members' personal follows and what the bot keeps per member (a notice, the daily DM day).

    A follow name is unique per member; nothing here is ever shown to another member.
    """

    async def add(
        self,
        user_id: int,
        name: str,
        query: str,
        *,
        mode: FollowMode = "daily",
        time: str = "08:00",
        min_upvotes: int = 0,
    ) -> Follow:
        """Store a new follow; a name the member already uses is a StoreError."""
        ...

    async def get(self, follow_id: int) -> Follow | None: ...

    async def find(self, user_id: int, name: str) -> Follow | None: ...

    async def list(
        self, *, user_id: int | None = None, active_only: bool = False
    ) -> builtins.list[Follow]:
        """Follows in creation order, of one member or all, paused ones unless `active_only`."""
        ...

    async def remove(self, follow_id: int, *, keep: Sequence[KeptItem] = ()) -> bool:
        """Delete a follow and the papers it queued that were not yet planned into a DM, but for
        the `keep` items, handed to another active follow of the member (see KeptItem)."""
        ...

    async def set_paused(
        self,
        follow_id: int,
        paused: bool,
        reason: str | None = None,
        *,
        keep: Sequence[KeptItem] = (),
    ) -> None:
        """Pause or resume a follow; pausing drops (skips, with `reason`) the papers it queued
        that were not yet planned into a DM, so a resume starts fresh rather than sending them,
        but for the `keep` items, handed to another active follow of the member (KeptItem)."""
        ...

    async def pause_member(self, user_id: int, reason: str) -> int:
        """Pause every active follow of a member (their DMs are closed); return how many."""
        ...

    async def forget(self, user_id: int) -> int:
        """Delete everything kept about a member: follows, DM items, notice; return the follows."""
        ...

    async def set_notice(self, user_id: int, text: str) -> None: ...

    async def take_notice(self, user_id: int) -> str | None:
        """The member's pending notice, cleared as it is read (told once)."""
        ...

    async def last_daily(self, user_id: int) -> str | None:
        """The day (YYYY-MM-DD) of the member's last daily DM (or day found empty)."""
        ...

    async def set_last_daily(self, user_ids: Sequence[int], day: str) -> None: ...

    async def counts(self) -> dict[str, int]:
        """ "follows", "active" and "members", for status and metrics."""
        ...


class DmQueue(Protocol):
    """Papers owed to members by DM, each (member, paper) once ever, and each attempt to send.

    An item is *planned* when a message nonce is set on it (before any send); planned items
    are only ever sent in that message, so a restart sends the same message, never a new one.
    """

    async def queue(self, items: Iterable[tuple[int, str, int, FollowMode, int]]) -> int:
        """Owe (user, paper, follow, mode, relevance) items, each (user, paper) once ever;
        return how many are new."""
        ...

    async def items(
        self, *, user_id: int | None = None, states: Sequence[DeliveryState] | None = None
    ) -> list[DmItem]:
        """Items in the order they were queued, optionally of one member or some states."""
        ...

    async def daily_due(self, now: datetime) -> list[int]:
        """Members with an active daily follow whose time has come and no daily DM today."""
        ...

    async def instant_due(self, now: datetime, window: timedelta) -> list[int]:
        """Members whose oldest unplanned instant item has waited `window`, and who have an
        active follow."""
        ...

    async def candidates(
        self, user_ids: Sequence[int], mode: FollowMode, *, limit: int | None = None
    ) -> dict[int, list[tuple[DmItem, Paper]]]:
        """Unplanned queued items of these members in one mode, best first: most upvoted,
        then most relevant (follows matched), then newest; at most `limit` per member."""
        ...

    async def count_waiting(
        self, user_ids: Sequence[int], mode: FollowMode
    ) -> dict[int, tuple[int, int]]:
        """(how many, the highest item id) of each member's unplanned queued items in one mode;
        (0, 0) for a member with none."""
        ...

    async def drop_unplanned(
        self, user_ids: Sequence[int], mode: FollowMode, reason: str, up_to_id: int
    ) -> int:
        """Skip these members' unplanned queued items in one mode, up to an item id (what a
        full daily DM left out); items queued after it stay. Returns how many."""
        ...

    async def plan(
        self,
        messages: Sequence[tuple[str, Sequence[int]]],
        texts: Mapping[str, str | None] | None = None,
    ) -> None:
        """Set each message's nonce on its items: from now on they go in that message only.
        Each message's item order and text (`texts` by nonce; none when absent) are kept
        until it is settled, so a resend after a crash is the same message."""
        ...

    async def message_plans(self, nonces: Sequence[str]) -> dict[str, tuple[str | None, list[int]]]:
        """(text, item ids in order) of planned messages not yet settled, by nonce; messages
        planned before the store kept them are left out."""
        ...

    async def drop_waiting(self, reason: str) -> int:
        """Skip every waiting item, planned or not, of every member (follows were switched
        off: nothing queued before goes out when they are switched on). Returns how many."""
        ...

    async def planned(self, now: datetime, *, in_flight: bool) -> list[DmItem]:
        """Planned items to send: those a previous run left `sending` (`in_flight`), else
        queued ones whose retry time has come; in id order."""
        ...

    async def mark_sending(self, item_ids: Sequence[int], now: datetime) -> None: ...

    async def mark_sent(self, item_ids: Sequence[int], message_id: int, now: datetime) -> None: ...

    async def mark_retry(self, item_ids: Sequence[int], error: str, when: datetime) -> None: ...

    async def mark_failed(self, item_ids: Sequence[int], error: str) -> None: ...

    async def mark_skipped(self, item_ids: Sequence[int], reason: str) -> None: ...

    async def refuse(self, user_id: int, item_ids: Sequence[int], error: str) -> None:
        """The member's DMs are closed: these items are refused, every other waiting item of
        theirs is dropped; nothing is retried."""
        ...

    async def counts(self, since: datetime) -> dict[str, int]:
        """ "sent" DMs (messages) since a time, "refused" DMs, "waiting" items."""
        ...


class VectorStore(Protocol):
    """Each paper's sentence embedding, as bytes, tagged with the model that made it.

    The store keeps vectors opaque (the semantic layer encodes them); every write gets a new,
    growing sequence number, so a reader catches up with `written_after` alone. A vector of
    another model counts as missing: a model change re-embeds. An upsert that changes a paper's
    title or abstract deletes its vector, so the new text is embedded.
    """

    async def put(self, model: str, vectors: Sequence[tuple[str, bytes]]) -> int:
        """Store (paper id, vector) pairs, replacing what the papers had; ids unknown to the
        store are skipped. Returns how many were written."""
        ...

    async def get(self, model: str, paper_ids: Sequence[str]) -> dict[str, bytes]:
        """The vectors of these papers made by `model` (papers without one are left out)."""
        ...

    async def have(self, model: str, paper_ids: Sequence[str]) -> set[str]:
        """Which of these papers already have a vector of `model`."""
        ...

    async def missing(
        self, model: str, *, since: datetime | None = None, limit: int = 100
    ) -> builtins.list[tuple[str, str, str]]:
        """Up to `limit` (id, title, abstract) of papers without a vector of `model`, newest
        first; only those that appeared since `since` when given."""
        ...

    async def count_missing(self, model: str, *, since: datetime | None = None) -> int: ...

    async def count(self, model: str) -> int:
        """How many papers have a vector of `model`."""
        ...

    async def written_after(
        self, model: str, seq: int, limit: int = 10_000
    ) -> builtins.list[tuple[int, str, bytes]]:
        """(seq, paper id, vector) of `model` written after `seq`, in order: a reader that keeps
        the vectors in memory stays current by asking with the last seq it saw."""
        ...

    async def written_in(
        self, model: str, seqs: Sequence[int]
    ) -> builtins.list[tuple[int, str, bytes]]:
        """(seq, paper id, vector) of `model` with these seqs, in order. Seqs are given out in
        write order but committed in any order (two writers at once): a reader asks again for
        the numbers it found missing, until they commit or it gives up on them."""
        ...


class SourceLog(Protocol):
    """Each poll of each upstream, and the small state a source keeps between polls."""

    async def record_run(self, run: SourceRun) -> None: ...

    async def runs(self, source: str, limit: int = 50) -> list[SourceRun]:
        """The latest runs of a source, newest first."""
        ...

    async def health(self, source: str) -> SourceHealth:
        """Last success, last error and the run of failures since, from the recorded runs."""
        ...

    async def last_new_paper_at(self, source: str) -> datetime | None:
        """When a run of this source last brought an unseen id (for the stale check)."""
        ...

    async def seen_listings(self, source: str, listings: Sequence[str]) -> set[str]:
        """Which of a source's listings (a source, or one arXiv category) the bot has read
        before; all of them while the source's upgrade wildcard ("<source>/*") stands."""
        ...

    async def mark_listings_seen(self, source: str, listings: Sequence[str], now: datetime) -> None:
        """Remember listings as read; the source's upgrade wildcard gives way to their names."""
        ...

    async def note_warnings(self, source: str, keys: Sequence[str], now: datetime) -> set[str]:
        """Keep this poll's warnings (by key) in place of the last; return the new ones."""
        ...

    async def get_state(self, source: str, key: str) -> str | None: ...

    async def set_state(self, source: str, key: str, value: str) -> None: ...


class IdentifyLedger(Protocol):
    """Gateway IDENTIFYs of every process sharing the database: Discord's limits are per bot,
    so spacing per bucket and the daily count must be kept where all gateways see them."""

    async def claim_identify(self, bucket: int, shard_id: int, window: float, holder: str) -> float:
        """Take the bucket's next IDENTIFY and record it (0.0), unless the bucket's last one is
        under `window` seconds old or another process is deciding: then the seconds to wait
        before asking again."""
        ...

    async def identifies_within(self, seconds: float) -> int:
        """How many IDENTIFYs were recorded in the last `seconds` seconds, by anyone."""
        ...


class ClusterStore(Protocol):
    """Heartbeats and leases of the processes sharing one database (PostgreSQL only; a SQLite
    store has none: it serves one process, which runs every role and leads every source)."""

    async def beat(
        self,
        process_id: str,
        roles: Sequence[str],
        shards: str,
        host: str,
        pid: int,
        version: str,
        search: Mapping[str, object] | None = None,
    ) -> None:
        """Record that this process is alive now (on the database's clock), and what answers
        its searches."""
        ...

    async def processes(self) -> builtins.list[ProcessBeat]: ...

    async def forget(self, process_id: str) -> None: ...

    async def forget_silent(self, older_than: timedelta) -> int:
        """Drop processes silent this long; how many went."""
        ...

    async def acquire(self, name: str, owner: str, ttl: timedelta) -> int | None:
        """Take or renew a lease for `ttl`; its epoch if `owner` holds it now, else None."""
        ...

    async def holds(self, name: str, owner: str, epoch: int) -> bool: ...

    async def release(self, name: str, owner: str) -> None: ...

    async def leases(self) -> builtins.list[Lease]: ...


class Database(Protocol):
    """One open database: its repositories, its transactions and its maintenance."""

    @property
    def papers(self) -> PaperRepository: ...

    @property
    def feeds(self) -> FeedRepository: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def sources(self) -> SourceLog: ...

    @property
    def follows(self) -> FollowRepository: ...

    @property
    def dms(self) -> DmQueue: ...

    @property
    def identifies(self) -> IdentifyLedger: ...

    @property
    def vectors(self) -> VectorStore: ...

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Everything inside commits together or not at all; nesting joins the outer one."""
        ...

    async def backup(self, destination: str | os.PathLike[str]) -> Path:
        """A consistent copy of the committed data in a new file only its owner can read.

        Creates nothing but that file: an existing destination, or a folder that is missing,
        not a folder or not writable, is a StoreError.
        """
        ...

    async def integrity_check(self) -> str:
        """The word "ok", or the backend's description of what is damaged."""
        ...

    async def check_writable(self, timeout: float = 2.0) -> bool:
        """True when the database still takes writes; raises StoreError saying why not."""
        ...
