"""Issue 12 items 13 and 16: what the repository keeps out of git, and CI's missing-spec check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("path", [".env", "secrets/discord_token", "docker/.env"])
def test_the_files_the_readme_has_users_create_are_ignored(path: str) -> None:
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT, capture_output=True
    )
    assert proc.returncode == 0, f"{path} is not covered by .gitignore"


def test_the_example_env_file_is_not_ignored() -> None:
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", "config.example.toml"],
        cwd=ROOT,
        capture_output=True,
    )
    assert proc.returncode == 1


def test_ci_without_the_spec_fails_at_once_in_one_line(tmp_path: Path) -> None:
    clone = tmp_path / "paperfeed"
    (clone / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", clone / ".ci" / "run")
    env = {k: v for k, v in os.environ.items() if k != "PAPERFEED_DISCORD_OPENAPI"}
    proc = subprocess.run(
        ["bash", ".ci/run"], cwd=clone, capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    expected = tmp_path / "shared" / "recordings" / "discord_openapi.json"
    assert str(expected) in lines[0] and "PAPERFEED_DISCORD_OPENAPI" in lines[0]
    assert not (clone / ".venv").exists()  # it stopped before installing anything


def test_pytest_in_ci_without_the_spec_stops_before_running_anything(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "discord_openapi.json"
    env = {**os.environ, "CI": "true", "PAPERFEED_DISCORD_OPENAPI": str(missing)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_models.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 4, proc.stdout + proc.stderr  # pytest's "usage error"
    lines = [line for line in proc.stderr.strip().splitlines() if line]
    assert len(lines) == 1, proc.stderr
    assert str(missing) in lines[0]
    assert "passed" not in proc.stdout
