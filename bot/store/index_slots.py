"""Which index directory a process on a shared database writes: one slot each, locked for life.

Tantivy takes one writer per directory, and every process answering searches keeps its own
index, so processes on one host take numbered slots under the configured path (`<path>.0`,
`<path>.1`, ...), each guarded by an exclusive `flock` on `<path>.N.slot` held until the
process ends (the kernel drops it when the process dies, however it dies). A restarted process
takes the lowest free slot again, usually its own, and catches up instead of rebuilding.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.store.file_locks import try_flock

# Slots looked at before giving up: far more processes than one host runs.
MAX_SLOTS = 64


@dataclass(frozen=True)
class IndexPlan:
    """How a process uses its search index. On PostgreSQL, `serve` opens (or builds) one in a
    slot at start and keeps it caught up, `oneshot` uses an existing one at the first search
    if a free slot holds one, `off` has none; on SQLite `path` is the index folder itself."""

    path: Path  # SQLite: the index folder; PostgreSQL: slots are `<path>.0`, `<path>.1`, ...
    mode: Literal["serve", "oneshot", "off"] = "serve"
    inline_max: int | None = None  # papers up to which a missing index is built before serving
    # SQLite: an import's batches are indexed by a helper process (bot/store/sqlite/index_helper.py).
    helper: bool = False


@dataclass
class Slot:
    """A claimed slot: its index directory and the open lock file that holds it."""

    number: int
    directory: Path
    _fd: int | None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the lock


def slot_directory(base: Path, number: int) -> Path:
    return base.with_name(f"{base.name}.{number}")


def _slot_file(base: Path, number: int) -> Path:
    """The slot's own lock file; not `<slot>.lock`, which a rebuild of the slot's index takes."""
    return base.with_name(f"{base.name}.{number}.slot")


def _lock(base: Path, number: int, *, create: bool) -> int | None:
    """The slot's lock file, open and locked by us; None when another holds it (or, without
    `create`, when it does not exist)."""
    return try_flock(_slot_file(base, number), fcntl.LOCK_EX, create=create)


def claim_slot(base: Path) -> Slot:
    """The lowest free slot, claimed for this process (its folder is made if need be)."""
    base.parent.mkdir(parents=True, exist_ok=True)
    for number in range(MAX_SLOTS):
        fd = _lock(base, number, create=True)
        if fd is not None:
            return Slot(number, slot_directory(base, number), fd)
    raise OSError(f"{base}: all {MAX_SLOTS} index slots are taken by running processes")


def claim_built_slot(base: Path) -> Slot | None:
    """A free slot that already holds an index (for a one-shot command), or None: nothing is made."""
    for number in range(MAX_SLOTS):
        directory = slot_directory(base, number)
        if not _slot_file(base, number).exists():
            if not directory.exists():
                return None  # slots are taken lowest first: none further up
            continue
        fd = _lock(base, number, create=False)
        if fd is None:
            continue
        if (directory / "meta.json").exists():
            return Slot(number, directory, fd)
        with contextlib.suppress(OSError):
            os.close(fd)
    return None
