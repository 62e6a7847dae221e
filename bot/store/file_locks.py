"""Advisory file locks (`flock`) held by an open descriptor: closing it, or the process dying,
lets go. The search index's slots, rebuilds and writers are guarded with them."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def try_flock(path: Path, kind: int, *, create: bool = True) -> int | None:
    """A descriptor holding `path` as `kind` (LOCK_EX or LOCK_SH); None when another holder
    stands in the way, or, without `create`, when the file does not exist."""
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o600)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def wait_flock(path: Path) -> int:
    """A descriptor holding `path` alone, once its other holders have let go (blocks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd
