"""Progress for long commands (`paperfeed import`): a live bar on a terminal, plain lines elsewhere.

A bar redrawn with carriage returns is unreadable in a log file or `docker logs`, so when the
stream is not a terminal the reporter prints an ordinary line every `interval` seconds instead.
Rendering is pure (the clock and the stream are injected), so both modes are tested exactly.
"""

from __future__ import annotations

import math
import os
import stat
import time
from collections.abc import Callable
from typing import TextIO

from bot.clock import MonotonicClock

BAR_WIDTH = 24
REDRAW_EVERY = 0.2  # seconds between bar redraws: smooth without flooding a slow terminal
PLAIN_EVERY = 10.0  # seconds between plain lines


def format_count(n: int) -> str:
    return f"{n:,}"


def format_rate(per_second: float) -> str:
    return f"{per_second:,.0f}/s"


def format_eta(seconds: float) -> str:
    """H:MM:SS, or M:SS under an hour; "?" when it cannot be known."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def render_bar(
    items: int,
    elapsed: float,
    done_bytes: int | None,
    total_bytes: int | None,
    *,
    noun: str = "papers",
    width: int = BAR_WIDTH,
) -> str:
    """One bar line: fill, percentage, count, rate and ETA (fill and ETA need a known size)."""
    rate = items / elapsed if elapsed > 0 else 0.0
    parts: list[str] = []
    if total_bytes and done_bytes is not None:
        fraction = min(1.0, max(0.0, done_bytes / total_bytes))
        filled = int(fraction * width)
        parts.append("[" + "#" * filled + "-" * (width - filled) + f"] {fraction:4.0%}")
    parts.append(f"{format_count(items)} {noun}")
    parts.append(format_rate(rate))
    if total_bytes and done_bytes:
        byte_rate = done_bytes / elapsed if elapsed > 0 else 0.0
        remaining = max(0, total_bytes - done_bytes)
        parts.append("ETA " + (format_eta(remaining / byte_rate) if byte_rate > 0 else "?"))
    return "  ".join(parts)


def render_line(
    items: int,
    elapsed: float,
    done_bytes: int | None,
    total_bytes: int | None,
    *,
    verb: str = "imported",
    noun: str = "papers",
    size: Callable[[float], str] = format_bytes,
) -> str:
    """One plain line for logs: `imported 120,000 papers (8,100/s), 45% of 1.2 GB, ETA 0:42`."""
    rate = items / elapsed if elapsed > 0 else 0.0
    line = f"{verb} {format_count(items)} {noun} ({format_rate(rate)})"
    if total_bytes and done_bytes is not None:
        fraction = min(1.0, max(0.0, done_bytes / total_bytes))
        line += f", {fraction:.0%} of {size(total_bytes)}"
        byte_rate = done_bytes / elapsed if elapsed > 0 else 0.0
        if byte_rate > 0 and done_bytes < total_bytes:
            line += f", ETA {format_eta((total_bytes - done_bytes) / byte_rate)}"
    return line


class Progress:
    """Reports how far a job has got on `stream`: a bar on a terminal, plain lines otherwise."""

    def __init__(
        self,
        stream: TextIO,
        total_bytes: int | None = None,
        *,
        clock: MonotonicClock = time.monotonic,
        interval: float = PLAIN_EVERY,
        verb: str = "imported",
        noun: str = "papers",
        size: Callable[[float], str] = format_bytes,
    ) -> None:
        """`size` renders the total in plain lines: bytes by default, or e.g. a paper count."""
        self._stream = stream
        self._size = size
        self._total = total_bytes if total_bytes and total_bytes > 0 else None
        self._clock = clock
        self._interval = interval
        self._verb = verb
        self._noun = noun
        self._start = clock()
        self._last_shown: float | None = None
        self._drawn = 0  # width of the bar on screen, to blank what a shorter one leaves
        self._items = 0
        self._done: int | None = None
        try:
            self.tty = stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False

    def update(self, items: int, done_bytes: int | None = None) -> None:
        """Record how many items and bytes are done; draw if it is time to."""
        self._items = items
        self._done = done_bytes
        now = self._clock()
        every = REDRAW_EVERY if self.tty else self._interval
        if self._last_shown is not None and now - self._last_shown < every:
            return
        if self._last_shown is None and not self.tty and now - self._start < every:
            return  # a short job prints no progress lines at all, only its result
        self._last_shown = now
        self._show(now)

    def finish(self) -> None:
        """Draw the final state and end the bar's line (plain mode prints nothing more)."""
        if self.tty:
            self._show(self._clock())
            self._stream.write("\n")
            self._stream.flush()

    def _show(self, now: float) -> None:
        elapsed = now - self._start
        if self.tty:
            text = render_bar(self._items, elapsed, self._done, self._total, noun=self._noun)
            pad = " " * max(0, self._drawn - len(text))
            self._drawn = len(text)
            self._stream.write("\r" + text + pad)
        else:
            line = render_line(
                self._items,
                elapsed,
                self._done,
                self._total,
                verb=self._verb,
                noun=self._noun,
                size=self._size,
            )
            self._stream.write(line + "\n")
        self._stream.flush()


def file_size(stream: TextIO) -> int | None:
    """The size of the regular file behind a stream; None for a pipe, a terminal or standard input."""
    try:
        info = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) and info.st_size > 0 else None


def bytes_read(stream: TextIO) -> int | None:
    """How far into its file a text stream has read (to within one read-ahead chunk)."""
    buffer = getattr(stream, "buffer", None)
    try:
        return int(buffer.tell()) if buffer is not None else None
    except (OSError, ValueError):
        return None
