"""Issue 12 item 5: an unreachable Discord is retried with capped backoff, one line per attempt."""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import discord
import pytest

from bot.config import LoggingConfig
from bot.discord.endpoints import current_discord_endpoints, use_discord_endpoints
from bot.discord.runner import backoff_delays, login_with_retry
from bot.logs import setup_logging
from tests.fakes.discord.server import FakeDiscord

TOKEN = "MTIzNDU2.retry-token-SENTINEL.xyz"


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released): connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_backoff_doubles_from_30_s_and_is_capped() -> None:
    delays = backoff_delays()
    assert [next(delays) for _ in range(7)] == [30, 60, 120, 240, 300, 300, 300]


async def test_login_retries_until_discord_answers(
    discord_fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    saved = current_discord_endpoints()
    unreachable = f"http://127.0.0.1:{closed_port()}/api/v10"
    use_discord_endpoints(unreachable, discord_fake.gateway_url)
    waited: list[float] = []

    async def wait(delay: float) -> bool:
        waited.append(delay)
        if len(waited) == 2:  # Discord comes back during the second pause
            use_discord_endpoints(discord_fake.api_base, discord_fake.gateway_url)
        return False

    client = discord.Client(intents=discord.Intents.none())
    try:
        with caplog.at_level(logging.WARNING, logger="bot.discord.runner"):
            assert await login_with_retry(client, discord_fake.token, unreachable, wait=wait)
        assert client.user is not None
    finally:
        await client.close()
        use_discord_endpoints(*saved)
    assert waited == [30, 60]
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.discord.runner"]
    assert len(lines) == 2
    assert lines[0].startswith(f"cannot reach Discord at {unreachable}")
    assert lines[0].endswith("retrying in 30 s") and lines[1].endswith("retrying in 1 min")


async def test_a_stop_during_the_pause_ends_the_login_quietly() -> None:
    saved = current_discord_endpoints()
    unreachable = f"http://127.0.0.1:{closed_port()}/api/v10"
    use_discord_endpoints(unreachable, "ws://127.0.0.1:1")

    async def stopped(delay: float) -> bool:
        return True

    client = discord.Client(intents=discord.Intents.none())
    try:
        assert not await login_with_retry(client, "x", unreachable, wait=stopped)
    finally:
        await client.close()
        use_discord_endpoints(*saved)


def test_discord_network_errors_later_are_one_log_line() -> None:
    stream = io.StringIO()
    setup_logging(LoggingConfig(level="INFO"), stream)
    try:
        error = OSError(111, "Connect call failed ('127.0.0.1', 1)")
        logging.getLogger("discord.shard").error(
            "Attempting a reconnect for shard ID %s in %.2fs", 0, 3.5, exc_info=error
        )
    finally:
        setup_logging(LoggingConfig(level="INFO"))
    text = stream.getvalue()
    assert len(text.strip().splitlines()) == 1, text
    assert "Connect call failed" in text and "Traceback" not in text


def test_paperfeed_run_keeps_trying_an_unreachable_discord_then_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    port = closed_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[discord]\napi_base = "http://127.0.0.1:{port}/api/v10"\n'
        f'gateway_url = "ws://127.0.0.1:{port}"\n'
        f'[database]\npath = "{tmp_path / "p.sqlite3"}"\n'
        "[sources.huggingface]\nenabled = false\n[sources.arxiv]\nenabled = false\n"
        "[health]\nport = 0\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "run"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "DISCORD_TOKEN": TOKEN},
    )  # fmt: skip
    seen = threading.Event()
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "cannot reach Discord" in line:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(timeout=60), "".join(lines)
        assert proc.poll() is None, "".join(lines)  # still running: it waits, then retries
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
    text = "".join(lines)
    assert "Traceback" not in text
    assert "SENTINEL" not in text + out
    [retry] = [line for line in lines if "cannot reach Discord" in line]
    assert f"http://127.0.0.1:{port}/api/v10" in retry and "retrying in 30 s" in retry
    assert not any("PyNaCl" in line or "davey" in line for line in lines), text


async def test_the_bot_does_not_warn_about_voice_libraries(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace
    from typing import Any, cast

    from bot.discord.client import PaperfeedBot

    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    with caplog.at_level(logging.WARNING, logger="discord"):
        bot = PaperfeedBot(
            cast(Any, None),
            lambda client: cast(Any, SimpleNamespace(stop=lambda: None)),
            None,
            clock=lambda: datetime.now(UTC),
        )
        async with bot:  # sets up and closes, never connecting
            pass
    assert [r.getMessage() for r in caplog.records if "voice" in r.getMessage()] == []
