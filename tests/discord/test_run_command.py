"""`paperfeed run` refuses to start without a usable token, in one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_run_without_a_token_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "PAPERFEED_CONFIG")}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Discord token" in lines[0]
    assert "Traceback" not in proc.stderr


async def test_run_with_a_refused_token_is_exit_2_and_never_shows_it(
    tmp_path: Path, discord_fake
) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    token = "MTIzNDU2.wrong-token-SENTINEL.xyz"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[discord]\napi_base = "{discord_fake.api_base}"\ngateway_url = "{discord_fake.gateway_url}"\n'
        f'[database]\npath = "{tmp_path / "p.sqlite3"}"\n'
        "[sources.huggingface]\nenabled = false\n[sources.arxiv]\nenabled = false\n"
        "[health]\nport = 0\n"
    )

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "run"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
            env={**os.environ, "DISCORD_TOKEN": token},
        )  # fmt: skip

    proc = await asyncio.to_thread(run)
    assert proc.returncode == 2, proc.stderr
    assert "refused the token" in proc.stderr
    assert "SENTINEL" not in proc.stdout + proc.stderr


async def test_sync_commands_registers_every_command_without_starting_the_bot(
    tmp_path: Path,
    discord_fake,  # type: ignore[no-untyped-def]
) -> None:
    import asyncio

    config = tmp_path / "config.toml"
    config.write_text(
        f'[discord]\napi_base = "{discord_fake.api_base}"\ngateway_url = "{discord_fake.gateway_url}"\n'
        f'[database]\npath = "{tmp_path / "p.sqlite3"}"\n[health]\nport = 0\n'
    )
    guild = discord_fake.world.guild.id

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "sync-commands", "--guild", str(guild)],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
            env={**os.environ, "DISCORD_TOKEN": discord_fake.token},
        )  # fmt: skip

    proc = await asyncio.to_thread(run)
    assert proc.returncode == 0, proc.stderr
    names = {c["name"] for c in discord_fake.commands(guild)}
    assert {"feed", "search", "paper", "trending", "status", "help"} <= names
    assert f"registered {len(names)} slash command(s)" in proc.stdout
    assert discord_fake.messages() == []  # nothing was delivered: no publisher ran
