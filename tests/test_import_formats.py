"""Issue 12 item 8: `paperfeed import` reads .gz directly and says what a wrong file looks like."""

from __future__ import annotations

import bz2
import gzip
import json
import zipfile
from pathlib import Path

import pytest

from bot.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "papers.jsonl"


@pytest.fixture(autouse=True)
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\npath = "{tmp_path / "papers.sqlite3"}"\n')
    monkeypatch.setenv("PAPERFEED_CONFIG", str(path))
    monkeypatch.chdir(tmp_path)
    return path


def run_import(capsys: pytest.CaptureFixture[str], file: Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["import", str(file)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_gzipped_snapshot_is_read_directly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packed = tmp_path / "arxiv-metadata-oai-snapshot.json.gz"
    packed.write_bytes(gzip.compress(FIXTURE.read_bytes()))
    code, out, err = run_import(capsys, packed)
    assert code == 0, err
    assert "imported 20 papers" in out and "bad=0" in out


def test_a_bzip2_snapshot_is_read_directly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packed = tmp_path / "snapshot.json.bz2"
    packed.write_bytes(bz2.compress(FIXTURE.read_bytes()))
    code, out, err = run_import(capsys, packed)
    assert code == 0, err
    assert "imported 20 papers" in out


def one_line_exit_1(code: int, out: str, err: str) -> str:
    assert code == 1, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "imported" not in out
    return lines[0]


def test_a_json_array_is_refused_in_one_line_naming_both_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    array = tmp_path / "papers.json"
    objects = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    array.write_text(json.dumps(objects, indent=2))
    line = one_line_exit_1(*run_import(capsys, array))
    assert "JSON array" in line and "JSON lines" in line


def test_a_zip_archive_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "snapshot.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(FIXTURE, "papers.jsonl")
    line = one_line_exit_1(*run_import(capsys, archive))
    assert "ZIP" in line and "JSON lines" in line


def test_text_that_is_not_the_snapshot_format_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "papers.csv"
    csv.write_text("id,title\n2401.00001,Something\n2401.00002,Else\n")
    line = one_line_exit_1(*run_import(capsys, csv))
    assert "JSON lines" in line and "line 1" in line


def test_some_bad_lines_still_import_the_rest_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("{not json\n" + FIXTURE.read_text())
    code, out, err = run_import(capsys, mixed)
    assert code == 0
    assert "line 1" in err and "bad=1" in out


def test_a_truncated_gzip_file_is_one_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "snapshot.json.gz"
    broken.write_bytes(gzip.compress(FIXTURE.read_bytes())[:200])
    line = one_line_exit_1(*run_import(capsys, broken))
    assert "cannot read" in line
