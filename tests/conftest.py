"""Shared pytest configuration for the whole test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.fakes.discord.schema import locate_openapi_spec, spec_required

pytest_plugins = ["tests.fakes.discord.fixtures", "tests.pg.fixtures"]

PAPERS = Path(__file__).parent / "fixtures" / "papers.jsonl"


def pytest_configure(config: pytest.Config) -> None:
    """Where Discord's OpenAPI spec is required (CI), a missing one stops the run at once with
    one line, rather than as an error in every test that starts the fake."""
    if spec_required():
        try:
            locate_openapi_spec()
        except FileNotFoundError as exc:
            raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> str:
    """Say whether the fake checks bodies against the spec: a missing spec is never silent."""
    try:
        return f"discord fake: request bodies checked against {locate_openapi_spec()}"
    except FileNotFoundError as exc:
        return f"discord fake: hand-written rules only; the OpenAPI layer is off: {exc}"


@pytest.fixture
def cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config file naming a database that does not exist yet, used by every CLI call here."""
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\npath = "{tmp_path / "papers.sqlite3"}"\n')
    monkeypatch.setenv("PAPERFEED_CONFIG", str(path))
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    return path


@pytest.fixture
def cli_env(cli_config: Path) -> Path:
    """The CLI's working folder, its database holding the fixture corpus."""
    assert main(["import", str(PAPERS)]) == 0
    return cli_config.parent
