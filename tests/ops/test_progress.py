"""Import progress: a bar with rate and ETA on a terminal, plain periodic lines elsewhere."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.progress import (
    Progress,
    bytes_read,
    file_size,
    format_bytes,
    format_eta,
    render_bar,
    render_line,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "papers.jsonl"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_eta_and_sizes_read_naturally() -> None:
    assert format_eta(42) == "0:42"
    assert format_eta(3 * 3600 + 5 * 60 + 9) == "3:05:09"
    assert format_eta(float("inf")) == "?"
    assert format_eta(float("nan")) == "?"
    assert format_bytes(512) == "512 B"
    assert format_bytes(1_234_567) == "1.2 MB"
    assert format_bytes(4_500_000_000) == "4.5 GB"


def test_bar_shows_fill_percentage_count_rate_and_eta() -> None:
    text = render_bar(120_000, 15.0, 250, 1000, width=8)
    assert text == "[##------]  25%  120,000 papers  8,000/s  ETA 0:45"


def test_bar_without_a_size_still_shows_count_and_rate() -> None:
    assert render_bar(5000, 2.0, None, None) == "5,000 papers  2,500/s"


def test_plain_line() -> None:
    line = render_line(120_000, 15.0, 450_000_000, 1_000_000_000)
    assert line == "imported 120,000 papers (8,000/s), 45% of 1.0 GB, ETA 0:18"
    assert render_line(10, 0.0, None, None) == "imported 10 papers (0/s)"


def test_terminal_mode_redraws_one_line_and_ends_it() -> None:
    clock, stream = FakeClock(), Stream(tty=True)
    progress = Progress(stream, 1000, clock=clock)
    assert progress.tty
    clock.now += 1
    progress.update(8000, 200)
    clock.now += 0.05  # too soon to redraw
    progress.update(9000, 220)
    clock.now += 1
    progress.update(16000, 400)
    clock.now += 2
    progress.update(32000, 1000)
    progress.finish()
    out = stream.getvalue()
    assert out.count("\n") == 1 and out.endswith("\n")
    frames = [f.rstrip() for f in out.rstrip("\n").split("\r") if f]
    assert frames[0].startswith("[####")
    assert "20%" in frames[0] and "8,000 papers" in frames[0] and "8,000/s" in frames[0]
    assert "ETA 0:04" in frames[0]
    assert not any("9,000" in f for f in frames)
    assert "100%" in frames[-1] and "32,000 papers" in frames[-1]


def test_plain_mode_prints_a_line_every_interval_and_nothing_for_short_jobs() -> None:
    clock, stream = FakeClock(), Stream(tty=False)
    progress = Progress(stream, 1_000_000, clock=clock, interval=10)
    assert not progress.tty
    clock.now += 4
    progress.update(40_000, 100_000)
    assert stream.getvalue() == ""  # a short job prints only its result
    clock.now += 8
    progress.update(96_000, 240_000)
    clock.now += 5
    progress.update(136_000, 340_000)  # within 10 s of the last line: nothing
    clock.now += 6
    progress.update(184_000, 460_000)
    progress.finish()
    assert stream.getvalue().splitlines() == [
        "imported 96,000 papers (8,000/s), 24% of 1.0 MB, ETA 0:38",
        "imported 184,000 papers (8,000/s), 46% of 1.0 MB, ETA 0:27",
    ]


def test_a_stream_without_isatty_counts_as_plain() -> None:
    progress = Progress(object(), None, clock=FakeClock())  # type: ignore[arg-type]
    assert not progress.tty


def test_file_size_and_position_of_a_text_stream(tmp_path: Path) -> None:
    path = tmp_path / "lines.jsonl"
    path.write_text("x" * 99 + "\n" + "y" * 99 + "\n")
    with path.open(encoding="utf-8") as stream:
        assert file_size(stream) == 200
        assert bytes_read(stream) == 0
        for _ in stream:
            pass
        assert bytes_read(stream) == 200
    assert file_size(io.StringIO("abc")) is None
    assert bytes_read(io.StringIO("abc")) is None


def test_import_command_reports_progress_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{tmp_path / "p.sqlite3"}"\n')
    monkeypatch.setenv("PAPERFEED_CONFIG", str(config))
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert main(["import", str(FIXTURE), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["new"] == 20  # stdout holds only the JSON document
    bar = [line for line in err.split("\n") if "papers" in line and "%" in line]
    assert bar and "100%" in bar[-1] and "20 papers" in bar[-1]
