"""The two kinds of clock, named apart: wall time that is stored, and monotonic time that paces.

Code that stamps or compares records takes a `Clock` (aware UTC datetimes, so zones never mix);
code that measures intervals or spaces requests takes a `MonotonicClock` (seconds as a float,
never set back). Both are plain callables, so a test passes a fake of either kind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
MonotonicClock = Callable[[], float]


def utcnow() -> datetime:
    """The default wall clock: aware UTC, so stored and compared times never mix zones."""
    return datetime.now(UTC)
