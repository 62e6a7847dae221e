"""The shipped sample: `paperfeed import --sample` makes every README example find something."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from bot.cli import main
from bot.data import sample_path
from bot.sources.snapshot import parse_snapshot_line

README = Path(__file__).resolve().parents[1] / "README.md"
# `paperfeed search ...` and `paperfeed show ...` as the README writes them, up to a comment.
EXAMPLE = re.compile(r"^\s*(?:\.venv/bin/)?paperfeed (search|show) ([^#\n]+)", re.MULTILINE)


def readme_examples() -> list[list[str]]:
    """Every search and show command in the README's shell blocks and prose, as argv."""
    found = []
    for match in EXAMPLE.finditer(README.read_text(encoding="utf-8").replace("`", "\n")):
        argv = [match.group(1), *shlex.split(match.group(2))]
        if any(arg.isupper() for arg in argv[1:2]):  # a synopsis (QUERY, ID), not an example
            continue
        found.append([a for a in argv if a != "--json"])
    return found


@pytest.fixture
def database(cli_config: Path) -> Path:
    return cli_config.parent


def test_the_sample_is_real_snapshot_lines() -> None:
    lines = sample_path().read_text(encoding="utf-8").splitlines()
    papers = [parse_snapshot_line(line) for line in lines]
    assert len(papers) >= 10 and len({p.id for p in papers}) == len(papers)
    for paper in papers:
        assert paper.title and paper.abstract and paper.authors and paper.categories
        assert paper.published is not None
    assert any(p.comments for p in papers)


def test_every_readme_example_finds_papers_in_the_sample(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = readme_examples()
    assert len([e for e in examples if e[0] == "search"]) >= 3, examples
    assert any(e[0] == "show" for e in examples), examples
    assert main(["import", "--sample", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["new"] >= 10 and report["bad"] == 0
    for argv in examples:
        assert main([*argv, "--json"]) == 0, argv
        out = json.loads(capsys.readouterr().out)
        if argv[0] == "search":
            assert out["total"] >= 1, argv
        elif "--payload" in argv:
            assert out["embeds"][0]["title"], argv
        else:
            assert out["id"], argv
    assert main(["import", "--sample", "--json"]) == 0  # twice adds nothing
    assert json.loads(capsys.readouterr().out)["new"] == 0


def test_import_needs_a_file_or_the_sample(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import"]) == 2
    assert main(["import", "x.jsonl", "--sample"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("--sample" in line for line in err)
