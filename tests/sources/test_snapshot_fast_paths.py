"""The import's inline fast paths (snapshot fields, bare ids, authors, JSON list columns) give
exactly what the general helpers give, on recorded, generated and malformed lines."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.corpus import write_corpus
from bot.errors import PaperIdError
from bot.models import Paper, parse_paper_id
from bot.sources import snapshot
from bot.sources.snapshot import SnapshotLineError, parse_snapshot_line
from bot.store.common.codec import json_strings
from bot.store.sqlite import codec

FIXTURES = Path(__file__).parent.parent / "fixtures"
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def general_authors(obj: dict[str, Any]) -> tuple[str, ...]:
    """The authors rule spelled out plainly: [last, first, suffix] entries (padded, or cut to
    three), stripped, joined; entries that are not lists of strings are skipped; else the string."""
    parsed = obj.get("authors_parsed")
    if type(parsed) is list:
        names = []
        for item in parsed:
            if type(item) is not list or not item or not all(isinstance(p, str) for p in item):
                continue
            last, first, suffix = (p.strip() for p in [*item, "", ""][:3])
            names.append(" ".join(p for p in (first, last, suffix) if p))
        if names:
            return tuple(names)
    text = snapshot._text(obj, "authors")
    parts = snapshot._AUTHOR_SPLIT(text)
    return tuple(p.strip() for p in parts if p.strip())


def general_parse(line: str) -> Paper | str:
    """A line read by the general helpers only (no inline field reads): the paper, or the error."""
    try:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = snapshot._stdlib_loads(line)
        if type(obj) is not dict:
            raise SnapshotLineError("not a JSON object")
        if not isinstance(obj.get("id"), str):
            raise SnapshotLineError("no paper id")
        try:
            ref = parse_paper_id(obj["id"])
        except PaperIdError as exc:
            raise SnapshotLineError(str(exc)) from None
        title = snapshot._text(obj, "title")
        if not title:
            raise SnapshotLineError(f"{ref.id}: no title")
        versions = snapshot._versions(obj.get("versions"))
        when = snapshot._date(obj.get("update_date"))
        return Paper(
            id=ref.id,
            title=title,
            abstract=snapshot._text(obj, "abstract"),
            version=len(versions) or ref.version,
            authors=general_authors(obj),
            categories=snapshot._codes(obj.get("categories")),
            published=versions[0] if versions else when,
            updated=versions[-1] if versions else when,
            doi=snapshot._text(obj, "doi") or None,
            journal_ref=snapshot._text(obj, "journal-ref") or None,
            comments=snapshot._text(obj, "comments") or None,
            sources=frozenset({"import"}),
        )
    except SnapshotLineError as exc:
        return type(exc).__name__ + ": " + str(exc).split(" (")[0]


def fast_parse(line: str) -> Paper | str:
    try:
        return parse_snapshot_line(line)
    except SnapshotLineError as exc:
        return type(exc).__name__ + ": " + str(exc).split(" (")[0]


def rows(paper: Paper | str) -> Any:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return paper if isinstance(paper, str) else codec.paper_rows([paper], now, now)


def recorded_and_generated_lines() -> list[str]:
    out = io.StringIO()
    write_corpus(300, out, seed=7)
    lines = out.getvalue().splitlines()
    for name in ("papers.jsonl", "real_papers.jsonl", "hf_style_corpus.jsonl"):
        lines += (FIXTURES / name).read_text().splitlines()
    return [line for line in lines if line.strip()]


LINES = recorded_and_generated_lines()


def test_recorded_and_generated_lines_give_the_general_paths_rows() -> None:
    assert len(LINES) > 300
    for line in LINES:
        assert rows(fast_parse(line)) == rows(general_parse(line)), line[:120]


# Replacements for one field of a good line: the shapes real snapshots and broken files have.
odd_values = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=30),
    st.sampled_from(["  padded\n title ", "\t", "", "a\u00a0b", "x\x00y", "é  ü"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
author_entries = st.lists(
    st.one_of(
        st.lists(st.sampled_from(["", " ", "Ng", " Wu ", "Jr.", "Marie-Curie"]), max_size=4),
        st.lists(st.one_of(st.text(max_size=4), st.integers(), st.none()), max_size=4),
        st.text(max_size=4),
        st.none(),
    ),
    max_size=5,
)
ids = st.one_of(
    st.sampled_from(
        [
            "2401.01234",
            "2401.01234v3",
            "0704.0001",
            " 2401.01234",
            "2401.01234 ",
            "arXiv:2401.01234v2",
            "hep-th/9901001",
            "math.GT/0309136v1",
            "https://arxiv.org/abs/2401.01234v2",
            "\u0662\u0664\u0660\u0661.\u0660\u0661\u0662\u0663\u0664",
            "2401.012",
            "nonsense",
            "",
        ]
    ),
    st.text(max_size=12),
    st.integers(),
)
FIELDS = ["title", "abstract", "doi", "journal-ref", "comments", "categories", "authors"]


@SETTINGS
@given(
    base=st.sampled_from(LINES),
    field=st.sampled_from(FIELDS),
    value=odd_values,
    authors=st.one_of(st.none(), author_entries),
    paper_id=st.one_of(st.none(), ids),
)
def test_odd_and_malformed_fields_give_the_general_paths_result(
    base: str, field: str, value: Any, authors: list[Any] | None, paper_id: Any
) -> None:
    obj = json.loads(base)
    obj[field] = value
    if authors is not None:
        obj["authors_parsed"] = authors
    if paper_id is not None:
        obj["id"] = paper_id
    line = json.dumps(obj)
    assert rows(fast_parse(line)) == rows(general_parse(line))


@pytest.mark.parametrize("line", ["[1, 2]", "null", '{"id": 5}', '{"title": "x"}', "{bad"])
def test_lines_that_are_not_papers_fail_alike(line: str) -> None:
    assert fast_parse(line) == general_parse(line)
    assert isinstance(fast_parse(line), str)


@SETTINGS
@given(items=st.lists(st.text(max_size=8), max_size=5))
def test_json_list_columns_are_the_text_json_dumps_writes(items: list[str]) -> None:
    assert json_strings(items) == json.dumps(items)
    assert json_strings(items, ensure_ascii=False) == json.dumps(items, ensure_ascii=False)
