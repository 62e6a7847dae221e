"""Helpers for the operations tests: a stepping clock, papers, a free loopback port."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta

from bot.models import Paper
from tests import factories
from tests.factories import NOW


class StepClock:
    """Each reading is `step` later than the last, so durations are known exactly."""

    def __init__(self, start: datetime = NOW, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        return current


def make_paper(pid: str, title: str = "Causal discovery at scale", **kw: object) -> Paper:
    """A paper the operations tests can find by searching for "causal"."""
    about = {"abstract": "We study causal discovery.", "authors": ("Ada Lovelace",)}
    return factories.make_paper(pid, **{"title": title, **about, **kw})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
