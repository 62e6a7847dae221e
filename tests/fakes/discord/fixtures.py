"""Pytest fixtures: a started FakeDiscord, and a real discord.py bot running against it.

`start_bot(fake, make_bot)` points discord.py at the fake with the product's own
`bot.discord.endpoints.use_discord_endpoints` (restoring the previous endpoints afterwards),
builds the bot with `make_bot()`, logs in (running the bot's real `setup_hook`), connects, and
returns once `on_ready` fired. Teardown closes every bot, then every fake, and fails the test if
the fake crashed or the bot called a route the fake does not serve.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import discord
import pytest

from bot.discord.endpoints import current_discord_endpoints, use_discord_endpoints

from .schema import openapi_validator_or_none
from .server import FakeDiscord

BotT = TypeVar("BotT", bound=discord.Client)

#: Client options that make a bot start fast against the fake (on_ready 50 ms after the last guild).
FAST_CLIENT_OPTIONS: dict[str, Any] = {"guild_ready_timeout": 0.05}


class _ErrorLog(logging.Handler):
    """Collects what discord.py logs at ERROR and above (exceptions in commands and events)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class StartedBot(Generic[BotT]):
    """A bot connected to a fake; `errors` holds what discord.py logged at ERROR level."""

    bot: BotT
    fake: FakeDiscord
    task: asyncio.Task[None]
    _log: _ErrorLog = field(repr=False)

    @property
    def errors(self) -> list[logging.LogRecord]:
        """ERROR records discord.py logged (e.g. 'Ignoring exception in command')."""
        return self._log.records

    async def stop(self) -> None:
        """Close the bot and wait for its connection task to end."""
        try:
            await self.bot.close()
            try:
                await asyncio.wait_for(asyncio.shield(self.task), timeout=5.0)
            except TimeoutError:
                self.task.cancel()
                await asyncio.gather(self.task, return_exceptions=True)
        finally:
            logging.getLogger("discord").removeHandler(self._log)


class BotStarter:
    """The `start_bot` fixture's value: `await start_bot(fake, make_bot)`."""

    def __init__(self) -> None:
        self.started: list[StartedBot[Any]] = []
        self._saved: tuple[str, str] | None = None
        self._fake: FakeDiscord | None = None

    async def __call__(
        self,
        fake: FakeDiscord,
        make_bot: Callable[[], BotT],
        *,
        timeout: float = 10.0,
        token: str | None = None,
    ) -> StartedBot[BotT]:
        """Start `make_bot()` against `fake` (with `token`, default the fake's); return once
        `on_ready` fired. Errors while starting (LoginFailure, PrivilegedIntentsRequired...)
        propagate after the bot is closed."""
        if (
            self._fake is not None
            and self._fake is not fake
            and any(not s.task.done() for s in self.started)
        ):
            raise RuntimeError("discord.py's endpoints are process-wide: one fake at a time")
        if self._saved is None:
            self._saved = current_discord_endpoints()
        self._fake = fake
        use_discord_endpoints(fake.api_base, fake.gateway_url)
        bot = make_bot()
        errors = _ErrorLog()
        logging.getLogger("discord").addHandler(errors)
        task: asyncio.Task[None] | None = None
        try:
            await bot.login(fake.token if token is None else token)
            task = asyncio.create_task(bot.connect(reconnect=True), name=f"discord.py bot {bot!r}")
            ready = asyncio.create_task(bot.wait_until_ready(), name="wait until ready")
            done, _ = await asyncio.wait(
                {task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if ready not in done:
                ready.cancel()
                await asyncio.gather(ready, return_exceptions=True)
                if task in done:
                    failure = task.exception()
                    if failure is not None:
                        raise failure
                    raise RuntimeError("the bot stopped before it was ready")
                raise TimeoutError(f"the bot was not ready after {timeout}s")
        except BaseException:
            await bot.close()
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
            logging.getLogger("discord").removeHandler(errors)
            raise
        started = StartedBot(bot=bot, fake=fake, task=task, _log=errors)
        self.started.append(started)
        return started

    async def close_all(self) -> None:
        """Stop every bot (newest first), then put discord.py's endpoints back."""
        try:
            for started in reversed(self.started):
                await started.stop()
        finally:
            if self._saved is not None:
                use_discord_endpoints(*self._saved)


class FakeFactory:
    """The `discord_fake_factory` fixture's value: `await discord_fake_factory(**options)`."""

    def __init__(self) -> None:
        self.fakes: list[FakeDiscord] = []
        self._tasks_before = asyncio.all_tasks()

    async def __call__(self, **options: Any) -> FakeDiscord:
        """A started FakeDiscord; `openapi` defaults to Discord's spec where it exists. A missing
        spec is an error where it is required (CI, or $PAPERFEED_DISCORD_OPENAPI set); elsewhere
        the hand-written rules apply alone, as pytest's header says (see schema.py)."""
        if "openapi" not in options:
            options["openapi"] = openapi_validator_or_none()
        fake = await FakeDiscord(**options).start()
        self.fakes.append(fake)
        return fake

    async def close_all(self) -> None:
        """Close every fake, then fail if one crashed or saw a route it does not serve."""
        for fake in reversed(self.fakes):
            await fake.close()
        for fake in self.fakes:
            fake.check_clean()
        await self.check_no_tasks_left()

    async def check_no_tasks_left(self, grace: float = 1.0) -> None:
        """AssertionError if a task started during the test still runs after teardown (tasks
        that end on their own within `grace` seconds, such as discord.py's ready delay after a
        late READY, are waited for)."""
        current = asyncio.current_task()
        leftovers = {
            t for t in asyncio.all_tasks() - self._tasks_before if t is not current and not t.done()
        }
        if leftovers:
            _, pending = await asyncio.wait(leftovers, timeout=grace)
            if pending:
                raise AssertionError(
                    f"tasks left running after the bot and the fake closed: {pending}"
                )


@pytest.fixture
async def discord_fake_factory() -> AsyncIterator[FakeFactory]:
    """Started fakes on demand, closed at teardown (after every bot `start_bot` started), then
    a check that the fakes did not crash and that no task was left running.

    Request bodies are validated against Discord's OpenAPI spec unless `openapi=None` is passed;
    where the spec is required (CI) a missing file stops the run, elsewhere it is reported in
    pytest's header and only the hand-written rules apply.
    """
    factory = FakeFactory()
    yield factory
    await factory.close_all()


@pytest.fixture
async def discord_fake(discord_fake_factory: FakeFactory) -> FakeDiscord:
    """A started fake with the default world (guild 'Paper Lab', see `fake.world`)."""
    return await discord_fake_factory()


@pytest.fixture
async def start_bot(discord_fake_factory: FakeFactory) -> AsyncIterator[BotStarter]:
    """`await start_bot(fake, make_bot)` → StartedBot; every bot is closed at teardown."""
    starter = BotStarter()
    yield starter
    await starter.close_all()
