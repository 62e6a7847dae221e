"""`paperfeed import`: streams a snapshot, skips bad lines with their numbers, never duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.services.importer import import_lines
from bot.sources.snapshot import SnapshotLineError, parse_snapshot_line
from bot.store import open_store

FIXTURE = Path(__file__).parent / "fixtures" / "papers.jsonl"


def test_snapshot_line_is_parsed_with_order_and_primary_category() -> None:
    line = FIXTURE.read_text().splitlines()[0]
    paper = parse_snapshot_line(line)
    assert paper.id == "2410.00101"
    assert paper.title == "Causal Discovery from Heterogeneous Time Series with Latent Confounders"
    assert paper.authors == ("Kun Zhang", "Bernhard Scholkopf")
    assert paper.categories == ("cs.LG", "stat.ML")
    assert paper.abstract.startswith("We study causal discovery")
    assert paper.version == 1
    assert paper.published is not None and paper.published.year == 2024
    assert paper.sources == {"import"}


def test_multi_version_line_keeps_latest_version_and_both_times() -> None:
    obj = json.loads(FIXTURE.read_text().splitlines()[1])
    obj["versions"].append({"version": "v2", "created": "Tue, 5 Nov 2024 09:00:00 GMT"})
    paper = parse_snapshot_line(json.dumps(obj))
    assert paper.version == 2
    assert paper.published is not None and paper.updated is not None
    assert paper.updated > paper.published


async def test_import_counts_and_skips_bad_lines_with_their_numbers(tmp_path: Path) -> None:
    lines = FIXTURE.read_text().splitlines()
    lines.insert(2, "{not json")
    lines.insert(5, json.dumps({"id": "not-an-id", "title": "x"}))
    lines.insert(7, json.dumps({"id": "2410.09999", "title": 5}))
    lines.insert(9, "[1, 2]")
    async with open_store(str(tmp_path / "p.sqlite3")) as store:
        report = await import_lines(store, iter(lines), batch_size=4)
        assert report.new == 20
        assert report.bad == 4
        assert [p.split(":")[0] for p in report.problems] == [
            "line 3",
            "line 6",
            "line 8",
            "line 10",
        ]
        assert await store.papers.count() == 20
        again = await import_lines(store, iter(lines), batch_size=7)
        assert again.new == 0 and again.updated == 0
        assert await store.papers.count() == 20


async def test_reimport_with_a_new_title_counts_as_updated(tmp_path: Path) -> None:
    line = FIXTURE.read_text().splitlines()[0]
    revised = json.loads(line)
    revised["title"] = "Causal Discovery from Heterogeneous Time Series"
    revised["update_date"] = "2025-01-15"
    async with open_store(str(tmp_path / "p.sqlite3")) as store:
        await import_lines(store, [line])
        report = await import_lines(store, [json.dumps(revised)])
        stored = await store.papers.get("2410.00101")
    assert (report.new, report.updated, report.unchanged) == (0, 1, 0)
    assert stored is not None and stored.title == revised["title"]


async def test_progress_is_reported_per_batch(tmp_path: Path) -> None:
    seen: list[int] = []
    async with open_store(str(tmp_path / "p.sqlite3")) as store:
        await import_lines(
            store,
            FIXTURE.read_text().splitlines(),
            batch_size=8,
            progress=lambda r: seen.append(r.new),
        )
    assert seen == [8, 16, 20]


def test_bad_lines_are_worded_by_the_standard_reader_and_its_extras_still_read() -> None:
    """orjson reads the lines; what it refuses goes to json.loads, so messages and the odd
    line it would refuse (NaN, a lone surrogate, a huge integer) behave as they always did."""
    with pytest.raises(SnapshotLineError) as bad:
        parse_snapshot_line('{"id": "2410.00101", "title": "x",}')
    assert str(bad.value) == (
        "not JSON (Expecting property name enclosed in double quotes at column 35)"
    )
    for extra in ('"n": NaN', '"s": "a\\ud800b"', '"n": 123456789012345678901234567890'):
        paper = parse_snapshot_line('{"id": "2410.00101", "title": "x", ' + extra + "}")
        assert paper.id == "2410.00101"
