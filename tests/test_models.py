"""Canonical paper ids: every form a user or an upstream writes names one version-less id."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.errors import PaperIdError
from bot.models import Paper, feed_relevant_change, merge_papers, parse_paper_id


@pytest.mark.parametrize(
    ("text", "expected_id", "expected_version"),
    [
        ("2401.01234", "2401.01234", None),
        ("2401.01234v2", "2401.01234", 2),
        ("arXiv:2401.01234", "2401.01234", None),
        ("arxiv:2401.01234v7", "2401.01234", 7),
        ("0704.0001", "0704.0001", None),
        ("hep-th/9901001", "hep-th/9901001", None),
        ("quant-ph/0201082v1", "quant-ph/0201082", 1),
        ("math.GT/0309136", "math.GT/0309136", None),
        ("  2401.01234  ", "2401.01234", None),
        ("https://arxiv.org/abs/2401.01234", "2401.01234", None),
        ("https://arxiv.org/abs/2401.01234v3", "2401.01234", 3),
        ("http://arxiv.org/abs/hep-th/9901001v2", "hep-th/9901001", 2),
        ("https://arxiv.org/pdf/2401.01234v1", "2401.01234", 1),
        ("https://arxiv.org/pdf/2401.01234.pdf", "2401.01234", None),
        ("https://export.arxiv.org/abs/2401.01234", "2401.01234", None),
        ("arxiv.org/abs/2401.01234", "2401.01234", None),
        ("https://huggingface.co/papers/2602.23229", "2602.23229", None),
        ("https://huggingface.co/papers/2602.23229/", "2602.23229", None),
        ("https://hf.co/papers/2602.23229", "2602.23229", None),
    ],
)
def test_every_accepted_form_names_the_same_paper(
    text: str, expected_id: str, expected_version: int | None
) -> None:
    ref = parse_paper_id(text)
    assert ref.id == expected_id
    assert ref.version == expected_version


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "2401.123",
        "2401.123456",
        "24010.1234",
        "hep-th/990100",
        "https://example.com/abs/2401.01234",
        "https://arxiv.org/list/cs.LG",
        "2401.01234v",
        "x" * 1000,
        "2401.01234; DROP TABLE papers",
    ],
)
def test_anything_else_is_a_clear_error(text: str) -> None:
    with pytest.raises(PaperIdError, match=r"arXiv|URL"):
        parse_paper_id(text)


def _paper(**kw: object) -> Paper:
    base = Paper(id="2401.01234", title="A title", sources=frozenset({"arxiv"}))
    return replace(base, **kw)  # type: ignore[arg-type]


def test_merge_keeps_what_was_known_and_takes_newer_signals() -> None:
    t1 = datetime(2024, 1, 2, tzinfo=UTC)
    t2 = datetime(2024, 2, 2, tzinfo=UTC)
    old = _paper(version=1, categories=("cs.LG", "cs.AI"), published=t1, updated=t1, upvotes=3)
    hf = _paper(
        version=None,
        upvotes=10,
        github_repo="https://github.com/a/b",
        sources=frozenset({"huggingface"}),
        updated=t2,
    )
    merged = merge_papers(old, hf)
    assert merged.categories == ("cs.LG", "cs.AI")
    assert merged.version == 1
    assert merged.upvotes == 10
    assert merged.github_repo == "https://github.com/a/b"
    assert merged.sources == {"arxiv", "huggingface"}
    assert merged.published == t1 and merged.updated == t2
    assert feed_relevant_change(old, merged)


def test_merge_of_an_identical_observation_changes_nothing() -> None:
    paper = _paper(version=2, upvotes=5)
    assert merge_papers(paper, paper) == paper
    assert not feed_relevant_change(paper, merge_papers(paper, paper))


def test_an_older_version_never_replaces_a_newer_one() -> None:
    merged = merge_papers(_paper(version=3), _paper(version=1))
    assert merged.version == 3


def test_links_show_only_what_exists() -> None:
    arxiv_only = _paper()
    assert set(arxiv_only.links()) == {"arxiv", "pdf"}
    full = _paper(
        sources=frozenset({"arxiv", "huggingface"}),
        github_repo="https://github.com/a/b",
        project_page="https://a.github.io",
    )
    assert list(full.links()) == ["arxiv", "pdf", "huggingface", "code", "project"]
    assert full.url == "https://huggingface.co/papers/2401.01234"
