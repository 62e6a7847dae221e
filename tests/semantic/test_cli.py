"""`paperfeed embed` and `paperfeed related` on real papers with the real model."""

from __future__ import annotations

import pytest

from bot.semantic import INSTALL_HINT, semantic_available

if not semantic_available():
    pytest.skip(INSTALL_HINT, allow_module_level=True)

import json
from pathlib import Path

from bot.cli import main
from tests.semantic.support import FIXTURE


@pytest.fixture
def loaded(cli_config: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["import", str(FIXTURE)]) == 0
    capsys.readouterr()
    return cli_config


def test_embed_then_related(loaded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["related", "2006.11239"]) == 1
    assert "run `paperfeed embed` first" in capsys.readouterr().err

    assert main(["embed", "--since", "3650d", "--json"]) == 0
    recent = json.loads(capsys.readouterr().out)
    assert 0 < recent["embedded"] < 26  # the older papers wait for a wider window
    assert main(["embed", "--json"]) == 0
    rest = json.loads(capsys.readouterr().out)
    assert rest["embedded"] == 26 - recent["embedded"] and rest["vectors"] == 26
    assert rest["model"].startswith("all-MiniLM-L6-v2")
    assert main(["embed"]) == 0
    assert capsys.readouterr().out.startswith("embedded 0 papers")

    assert main(["related", "https://arxiv.org/abs/2006.11239v2", "--limit", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["id"] == "2006.11239" and len(doc["results"]) == 3
    assert doc["results"][0]["id"] == "2112.10752"
    assert doc["results"][0]["similarity"] > 0.7

    assert main(["related", "2006.11239", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("papers most similar to 2006.11239 (Denoising Diffusion")
    assert lines[1].startswith("  1. 0.8") and "High-Resolution Image Synthesis" in lines[1]
    assert len(lines) == 3


def test_related_to_a_paper_not_in_the_database(
    loaded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["related", "2401.99999"]) == 2
    assert "2401.99999: not in the database" in capsys.readouterr().err
