"""`paperfeed run` refuses to connect when Discord has too few session starts left: one line,
exit 1, and not a single IDENTIFY spent."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.fakes.discord.fixtures import FakeFactory


async def test_run_with_too_few_session_starts_left_is_one_line_and_no_identify(
    tmp_path: Path, discord_fake_factory: FakeFactory
) -> None:
    fake = await discord_fake_factory(session_start_total=5)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[discord]\napi_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
        f'[database]\npath = "{tmp_path / "p.sqlite3"}"\n'
        "[sources.huggingface]\nenabled = false\n[sources.arxiv]\nenabled = false\n"
        "[health]\nport = 0\n"
    )

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "run"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
            env={**os.environ, "DISCORD_TOKEN": fake.token},
        )  # fmt: skip

    proc = await asyncio.to_thread(run)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "5 more gateway session starts" in last and "not connecting" in last
    assert fake.token not in proc.stdout + proc.stderr
    assert fake.gateway.connections == [] and fake.gateway.identifies == []
