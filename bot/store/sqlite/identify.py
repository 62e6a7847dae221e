"""Gateway IDENTIFYs for the single SQLite process: kept in memory, since no other process
shares its Discord limits (SQLite runs one process, `--role all`, by contract)."""

from __future__ import annotations

import time
from collections.abc import Callable


class LocalIdentifies:
    """The IdentifyLedger of one process; its daily count starts afresh with the process."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._last: dict[int, float] = {}
        self._times: list[float] = []

    async def claim_identify(self, bucket: int, shard_id: int, window: float, holder: str) -> float:
        now = self._monotonic()
        last = self._last.get(bucket)
        if last is not None and now - last < window:
            return last + window - now
        self._last[bucket] = now
        self._times = [t for t in self._times if now - t < 2 * 86_400] + [now]
        return 0.0

    async def identifies_within(self, seconds: float) -> int:
        now = self._monotonic()
        return sum(1 for t in self._times if now - t < seconds)
