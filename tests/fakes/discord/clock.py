"""A clock the fake reads for every deadline and window, so tests move time instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable


class FakeClock:
    """Real time plus an offset that only grows; `advance()` makes deadlines pass at once."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._listeners: list[Callable[[], None]] = []

    @property
    def offset(self) -> float:
        """How far this clock runs ahead of real time, in seconds."""
        return self._offset

    def monotonic(self) -> float:
        """Seconds on a monotonic scale: what deadlines and rate-limit windows are measured in."""
        return time.monotonic() + self._offset

    def time(self) -> float:
        """Seconds since the Unix epoch: what timestamps, snowflakes and reset headers carry."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Jump forward, waking whoever waits on the fake so they see the new time."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self._offset += seconds
        for listener in list(self._listeners):
            listener()

    def on_advance(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every `advance()`."""
        self._listeners.append(listener)
