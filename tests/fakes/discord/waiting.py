"""Waiting on the fake's state without sleeping: every change wakes the waiters, who re-check."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Changes:
    """An asyncio condition over 'anything in the fake changed', with predicate waits."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self.version = 0

    def notify(self) -> None:
        """Wake every waiter so it re-evaluates its predicate."""
        self.version += 1
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait_until(
        self,
        predicate: Callable[[], T | None],
        *,
        timeout: float,
        what: str,
        describe: Callable[[], str] | None = None,
    ) -> T:
        """Return the first truthy `predicate()` result; TimeoutError naming `what` otherwise."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    result = predicate()
                    if result:
                        return result
                    if self._event is None:
                        self._event = asyncio.Event()
                    await self._event.wait()
        except TimeoutError:
            detail = f"; {describe()}" if describe is not None else ""
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}{detail}") from None
