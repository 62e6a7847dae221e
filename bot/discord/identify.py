"""Starting gateway shards within Discord's identify limits, across every gateway process.

Discord allows one IDENTIFY per 5 s per bucket (`shard_id % max_concurrency`) and about 1000 a
day for the whole bot; past the daily limit it ends every session and resets the token.
discord.py spaces the shards of one process only (the first shard of each process identifies
at once), so gateways sharing one bot would collide. The guard here keeps the limits for all
of them through the store's IdentifyLedger (PostgreSQL in a cluster):

* before starting: `GET /gateway/bot`'s session_start_limit must cover this process's shards
  plus a reserve, and the cluster's identifies of the last 24 h plus these shards must stay
  within the daily budget, else the start is refused with one line;
* before every IDENTIFY (discord.py's `before_identify_hook`): the crash-loop guard stops the
  gateway once the cluster spent its daily budget, then the bucket's turn is awaited.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.errors import PaperfeedError
from bot.store.interfaces import IdentifyLedger

log = logging.getLogger(__name__)

IDENTIFY_WINDOW = 5.0  # seconds: Discord's spacing of IDENTIFYs within one bucket
IDENTIFY_MARGIN = 0.5  # seconds added to the window: the IDENTIFY leaves a moment after its turn
DAILY_IDENTIFY_BUDGET = 200  # identifies a day the cluster may spend, of Discord's 1000
SESSION_RESERVE = 10  # session starts left untouched at start, for a later restart
DAY = 86_400.0


class IdentifyBudgetExhausted(PaperfeedError):
    """Starting (more) gateway sessions would spend Discord's daily identify budget."""


class GatewayStop(BaseException):
    """Carries an IdentifyBudgetExhausted out of `before_identify_hook`.

    discord.py retries every Exception raised while a shard connects, forever (every 5 s), so
    only a BaseException ends the gateway from there; the bot turns it back into the error.
    """

    def __init__(self, error: PaperfeedError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class SessionLimits:
    """GET /gateway/bot's session_start_limit."""

    total: int
    remaining: int
    reset_after: float  # seconds
    max_concurrency: int

    @classmethod
    def from_discord(cls, data: Mapping[str, Any]) -> SessionLimits:
        return cls(
            total=int(data.get("total", 1000)),
            remaining=int(data.get("remaining", 0)),
            reset_after=int(data.get("reset_after", 0)) / 1000,
            max_concurrency=max(1, int(data.get("max_concurrency", 1))),
        )


def this_process() -> str:
    """`host:pid`, recorded with each IDENTIFY so an operator can see who spent them."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


class GatewayGuard:
    """The identify limiter and the budget checks of one gateway process."""

    def __init__(
        self,
        ledger: IdentifyLedger,
        *,
        window: float = IDENTIFY_WINDOW,
        margin: float = IDENTIFY_MARGIN,
        daily_budget: int = DAILY_IDENTIFY_BUDGET,
        reserve: int = SESSION_RESERVE,
        holder: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.ledger = ledger
        self.window = window
        self.margin = margin
        self.daily_budget = daily_budget
        self.reserve = reserve
        self.holder = holder or this_process()
        self.max_concurrency = 1  # until Discord says otherwise: one bucket is never too fast
        self._sleep = sleep

    async def before_start(self, shards: int, limits: SessionLimits) -> None:
        """Refuse to start `shards` sessions that would run Discord's or our budget out."""
        self.max_concurrency = limits.max_concurrency
        if limits.remaining < shards + self.reserve:
            raise IdentifyBudgetExhausted(
                f"Discord allows {limits.remaining} more gateway session starts until its daily "
                f"reset in {_hours(limits.reset_after)}; starting {shards} shard(s) needs "
                f"{shards} plus {self.reserve} in reserve: not connecting"
            )
        spent = await self.ledger.identifies_within(DAY)
        if spent + shards > self.daily_budget:
            raise IdentifyBudgetExhausted(self._spent_line(spent, f"starting {shards} shard(s)"))
        log.info(
            "starting %d shard(s): %d of %d session starts left, max_concurrency %d",
            shards,
            limits.remaining,
            limits.total,
            limits.max_concurrency,
        )

    async def before_identify(self, shard_id: int) -> None:
        """Wait for the shard's bucket to be free across the cluster, then take its turn;
        GatewayStop when the cluster already spent its daily budget (a crash loop)."""
        spent = await self.ledger.identifies_within(DAY)
        if spent >= self.daily_budget:
            raise GatewayStop(
                IdentifyBudgetExhausted(self._spent_line(spent, f"identifying shard {shard_id}"))
            )
        bucket = shard_id % self.max_concurrency
        spacing = self.window + self.margin
        while True:
            delay = await self.ledger.claim_identify(bucket, shard_id, spacing, self.holder)
            if delay <= 0:
                log.debug("shard %d identifies (bucket %d)", shard_id, bucket)
                return
            await self._sleep(min(delay, spacing))

    def _spent_line(self, spent: int, what: str) -> str:
        return (
            f"crash-loop guard: the gateways identified {spent} times in the last 24 h "
            f"(budget {self.daily_budget} a day, Discord's limit 1000); not {what}, "
            "to keep Discord from resetting the token: find why sessions keep restarting"
        )
