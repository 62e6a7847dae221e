"""The fixtures' promises: the real setup_hook runs, and teardown leaves nothing behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.discord.endpoints import current_discord_endpoints
from tests.discord_fake.testbot import PaperTestBot
from tests.fakes.discord import FakeDiscord, schema
from tests.fakes.discord.fixtures import BotStarter, FakeFactory, StartedBot
from tests.fakes.discord.schema import SPEC_ENV


async def test_a_bot_and_fake_closed_by_hand_leave_no_task_socket_or_endpoint_behind() -> None:
    saved = current_discord_endpoints()
    before = asyncio.all_tasks()
    async with FakeDiscord(openapi=None) as fake:
        starter = BotStarter()
        started = await starter(fake, PaperTestBot)
        assert started.bot.setup_runs == 1
        assert current_discord_endpoints() == (fake.api_base, fake.gateway_url)
        await starter.close_all()
        assert started.bot.is_closed() and started.task.done()
        assert current_discord_endpoints() == saved
        await fake.wait_until(
            lambda: not fake.gateway.open_connections, what="the gateway to close"
        )
    leftovers = {t for t in asyncio.all_tasks() - before if not t.done()}
    assert leftovers == set(), leftovers


async def test_what_the_bot_logs_as_errors_is_collected(
    discord_fake: FakeDiscord, started_bot: StartedBot[PaperTestBot]
) -> None:
    assert started_bot.errors == []
    record = await discord_fake.invoke("crash")
    await discord_fake.wait_for_bot(lambda: started_bot.errors, what="the error log")
    assert "crash" in started_bot.errors[0].getMessage()
    assert record.callbacks == []  # the command died before answering


async def test_a_required_spec_that_is_missing_stops_the_fake_factory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # naming a spec makes it required (see schema.spec_required): no quiet fallback to no schema
    monkeypatch.setenv(SPEC_ENV, str(tmp_path / "nowhere.json"))
    factory = FakeFactory()
    with pytest.raises(FileNotFoundError, match=r"nowhere\.json"):
        await factory()
    assert factory.fakes == []
    await factory.close_all()


async def test_where_the_spec_is_not_required_a_missing_one_means_hand_written_rules_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(SPEC_ENV, raising=False)
    monkeypatch.setenv("CI", "false")
    monkeypatch.setattr(schema, "DEFAULT_SPEC", tmp_path / "nowhere.json")
    factory = FakeFactory()
    fake = await factory()
    assert fake.openapi is None
    await factory.close_all()
