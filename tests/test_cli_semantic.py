"""The semantic commands without the extra: one line saying how to install it, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.semantic import INSTALL_HINT, availability


@pytest.fixture
def without_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(availability, "_REQUIRED_MODULES", ("paperfeed_no_such_module",))


@pytest.mark.parametrize(
    "command", [["embed"], ["embed", "--since", "30d"], ["related", "2006.11239"]]
)
def test_without_the_extra_one_line_says_how_to_install_it(
    command: list[str], cli_config: Path, without_extra: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(command) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"paperfeed: {INSTALL_HINT}\n"
    assert not (cli_config.parent / "papers.sqlite3").exists()  # nothing was opened or made


def test_embed_takes_since_or_all_not_both(
    cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["embed", "--since", "30d", "--all"]) == 2
    assert "not allowed with" in capsys.readouterr().err
