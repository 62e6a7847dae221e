"""`paperfeed healthcheck`: the URL it asks follows [health], and port 0 has nothing to ask."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.health import health_url
from bot.config import HealthConfig


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8080, "http://127.0.0.1:8080/healthz"),
        ("0.0.0.0", 9100, "http://127.0.0.1:9100/healthz"),
        ("", 9100, "http://127.0.0.1:9100/healthz"),
        ("::", 9100, "http://[::1]:9100/healthz"),
        ("::1", 9100, "http://[::1]:9100/healthz"),
        ("10.1.2.3", 80, "http://10.1.2.3:80/healthz"),
        ("127.0.0.1", 0, None),
    ],
)
def test_health_url_follows_the_configuration(host: str, port: int, url: str | None) -> None:
    assert health_url(HealthConfig(host, port)) == url


def run(tmp_path: Path, config: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.toml"
    path.write_text(config)
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(path), "healthcheck", "--timeout", "2"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_port_zero_is_healthy_with_nothing_to_ask(tmp_path: Path) -> None:
    result = run(tmp_path, "[health]\nport = 0\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("healthy:") and "port = 0" in result.stdout


def test_nothing_listening_is_unhealthy_in_one_line(tmp_path: Path) -> None:
    from tests.ops.support import free_port

    port = free_port()
    result = run(tmp_path, f"[health]\nport = {port}\n")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        line for line in result.stdout.splitlines() if line.startswith("unhealthy: no answer")
    ]
    assert f"127.0.0.1:{port}" in result.stdout
