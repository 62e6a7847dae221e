"""Hugging Face JSON → papers: every field, absent and null ones, and items that are broken."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import SourceResponseError
from bot.sources.huggingface_parse import (
    normalise_github_repo,
    paper_from_item,
    parse_paper_detail,
    parse_paper_list,
)
from tests.sources.samples import fixture_bytes, fixture_json, hf_body, hf_item


def daily() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = fixture_json("hf_daily_papers.json")
    return items


def test_a_full_daily_item_fills_every_field() -> None:
    page = parse_paper_list(fixture_bytes("hf_daily_papers.json"))
    assert page.problems == [] and page.count == 3
    paper = page.papers[0]
    assert paper.id == "2609.11873"
    assert paper.version is None
    assert paper.title == "Sparse Mixture-of-Depths Routing for Long-Context Retrieval"
    assert paper.abstract.startswith("Long-context retrieval models spend most of their compute")
    assert "\n" not in paper.abstract and "  " not in paper.abstract
    assert paper.abstract.endswith(
        "41% fewer FLOPs."
    )  # the paper's full abstract, not the outer copy
    assert paper.authors == ("Ines Carvalho", "Tomasz Wielgosz", "Priya Raman", "Kenji Okabe")
    assert paper.published == datetime(2026, 9, 16, 17, 42, 5, tzinfo=UTC)  # paper's, not outer
    assert paper.hf_submitted_at == datetime(2026, 9, 18, 4, 12, 33, 918000, tzinfo=UTC)
    assert paper.upvotes == 57
    assert paper.num_comments == 4
    assert paper.github_repo == "https://github.com/icarvalho/sparse-mod"
    assert paper.github_stars == 212
    assert paper.project_page == "https://sparse-mod.github.io/"
    assert paper.ai_summary and paper.ai_summary.startswith("Routing tokens")
    assert paper.ai_keywords == (
        "mixture-of-depths",
        "token routing",
        "long-context retrieval",
        "FLOPs",
    )
    assert paper.thumbnail == (
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2609.11873.png"
    )
    assert paper.organization == "Lisbon NLP Group"
    assert paper.sources == frozenset({"huggingface"})
    assert paper.categories == () and paper.updated is None and paper.doi is None


def test_a_fresh_item_without_optional_fields_leaves_them_unknown() -> None:
    paper = parse_paper_list(fixture_bytes("hf_daily_papers.json")).papers[1]
    assert paper.id == "2609.12004"
    assert paper.upvotes == 0 and paper.num_comments == 0  # a real zero, not "unknown"
    assert paper.github_repo is None and paper.github_stars is None
    assert paper.project_page is None and paper.organization is None
    assert paper.ai_summary is None and paper.ai_keywords == ()


def test_null_optional_fields_count_as_absent_and_short_repo_is_normalised() -> None:
    page = parse_paper_list(fixture_bytes("hf_daily_papers.json"))
    paper = page.papers[2]
    assert page.problems == []
    assert paper.project_page is None and paper.ai_summary is None and paper.ai_keywords == ()
    assert paper.github_repo == "https://github.com/seo-lab/grasp-diffusion"
    assert paper.github_stars == 31
    assert paper.organization == "seo-lab"  # no fullname: the name will do


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("thu-ml/Causal-Forcing", "https://github.com/thu-ml/Causal-Forcing"),
        ("https://github.com/owner/repo", "https://github.com/owner/repo"),
        ("https://github.com/owner/repo/", "https://github.com/owner/repo"),
        ("http://www.github.com/owner/repo.git", "https://github.com/owner/repo"),
        ("github.com/owner/repo", "https://github.com/owner/repo"),
        ("github.com/owner/repo/tree/main", "https://github.com/owner/repo/tree/main"),
        ("https://gitlab.com/group/project", "https://gitlab.com/group/project"),
        ("  ", None),
        ("not a repo", None),
    ],
)
def test_github_repo_forms(raw: str, expected: str | None) -> None:
    assert normalise_github_repo(raw) == expected


def test_outer_comments_and_thumbnail_win_with_the_paper_as_fallback() -> None:
    item = hf_item("2609.00001", numComments=9, thumbnail="https://cdn.example/inner.png")
    del item["numComments"], item["thumbnail"]
    paper = paper_from_item(item).paper
    assert paper.num_comments == 9
    assert paper.thumbnail == "https://cdn.example/inner.png"


def test_organization_on_the_outer_item_is_used_when_the_paper_has_none() -> None:
    item = hf_item("2609.00001")
    item["organization"] = {"name": "acme", "fullname": "Acme Research"}
    assert paper_from_item(item).paper.organization == "Acme Research"


def test_the_flat_detail_object_parses_with_the_same_rule() -> None:
    parsed = parse_paper_detail(fixture_bytes("hf_paper_detail.json"))
    paper = parsed.paper
    assert parsed.problems == []
    assert paper.id == "2609.11873" and paper.upvotes == 63 and paper.github_stars == 240
    assert paper.num_comments is None  # the detail object does not carry it
    assert paper.thumbnail is None  # thumbnailUrl is null there
    assert paper.authors[-1] == "Kenji Okabe"
    assert paper.organization == "Lisbon NLP Group"


def test_search_results_have_the_daily_shape() -> None:
    page = parse_paper_list(fixture_bytes("hf_search.json"))
    assert [p.id for p in page.papers] == ["2608.04417", "2607.20931"]
    assert page.papers[0].ai_keywords == ("speculative decoding", "discrete diffusion")
    assert page.papers[1].hf_submitted_at is None


def test_an_empty_array_is_no_papers_and_no_problem() -> None:
    page = parse_paper_list(b"[]")
    assert page.papers == [] and page.problems == [] and page.count == 0


def test_an_old_style_id_is_accepted() -> None:
    assert paper_from_item(hf_item("hep-th/9901001")).paper.id == "hep-th/9901001"


def test_a_versioned_id_keeps_its_version() -> None:
    paper = paper_from_item(hf_item("arXiv:2609.00001v2")).paper
    assert (paper.id, paper.version) == ("2609.00001", 2)


def broken_items() -> list[tuple[str, Any]]:
    no_id = hf_item("2609.00002")
    del no_id["paper"]["id"]
    numeric_id = hf_item("2609.00003")
    numeric_id["paper"]["id"] = 2609.00003
    no_title = hf_item("2609.00005")
    del no_title["paper"]["title"], no_title["title"]
    return [
        ("not an object", "just a string"),
        ("no id", no_id),
        ("id is a number", numeric_id),
        ("bad id", hf_item("not-an-id")),
        ("paper is a list", {"paper": ["2609.00004"]}),
        ("no title", no_title),
    ]


@pytest.mark.parametrize(("what", "bad"), broken_items())
def test_a_broken_item_is_skipped_and_reported_and_the_rest_kept(what: str, bad: Any) -> None:
    page = parse_paper_list(hf_body([hf_item("2609.00001"), bad, hf_item("2609.00009")]))
    assert [p.id for p in page.papers] == ["2609.00001", "2609.00009"], what
    assert len(page.problems) == 1 and page.problems[0].startswith("item 1: skipped:")
    assert page.count == 3


@pytest.mark.parametrize(
    ("field", "value", "attribute"),
    [
        ("upvotes", "57", "upvotes"),
        ("upvotes", True, "upvotes"),
        ("githubStars", 3.5, "github_stars"),
        ("githubRepo", ["owner/repo"], "github_repo"),
        ("githubRepo", "no way", "github_repo"),
        ("projectPage", "javascript:alert(1)", "project_page"),
        ("publishedAt", "yesterday", "published"),
        ("ai_keywords", "one, two", "ai_keywords"),
        ("authors", {"name": "A"}, "authors"),
        ("organization", 7, "organization"),
    ],
)
def test_a_wrong_type_in_an_optional_field_drops_the_field_not_the_paper(
    field: str, value: Any, attribute: str
) -> None:
    page = parse_paper_list(hf_body([hf_item("2609.00001", **{field: value})]))
    assert len(page.papers) == 1
    assert getattr(page.papers[0], attribute) in (None, ())
    assert len(page.problems) == 1 and field in page.problems[0]


def test_authors_keep_their_order_and_hidden_ones() -> None:
    authors = [
        {"name": "B Second", "hidden": True},
        {"name": " A  First "},
        {"_id": "x"},
        "C Plain",
    ]
    assert paper_from_item(hf_item("2609.00001", authors=authors)).paper.authors == (
        "B Second",
        "A First",
        "C Plain",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (fixture_bytes("html_error_page.html"), "HTML page"),
        (b'[{"paper": {"id": "2609.00001", "title": "Cut', "not valid JSON"),
        (b"", "empty response"),
        (b"   \n", "empty response"),
        (b'{"papers": []}', "expected a JSON array"),
        (b'{"error": "Too big: expected number to be <=100"}', "Too big"),
        (b"null", "expected a JSON array"),
        (b"\xff\xfe garbage", "not valid JSON"),
    ],
)
def test_a_body_that_is_not_a_json_array_is_a_response_error(body: bytes, message: str) -> None:
    with pytest.raises(SourceResponseError, match=message) as err:
        parse_paper_list(body)
    assert err.value.source == "huggingface"


def test_a_detail_body_that_is_not_a_paper_is_a_response_error() -> None:
    with pytest.raises(SourceResponseError, match="expected a paper object"):
        parse_paper_detail(b"[]")
    with pytest.raises(SourceResponseError, match="no paper id"):
        parse_paper_detail(json.dumps({"title": "Orphan"}))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "id",
        "title",
        "summary",
        "authors",
        "upvotes",
        "githubRepo",
        "githubStars",
        "projectPage",
        "ai_keywords",
        "organization",
        "publishedAt",
        "submittedOnDailyAt",
        "thumbnail",
        "numComments",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(KEYS, JSON, max_size=8) | JSON, max_size=4))
def test_any_json_array_parses_without_raising(items: list[Any]) -> None:
    page = parse_paper_list(json.dumps(items))
    assert page.count == len(items)
    assert len(page.papers) <= len(items)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(KEYS, JSON, max_size=8))
def test_damaging_any_field_of_a_good_item_never_raises(damage: dict[str, Any]) -> None:
    item = hf_item("2609.00001")
    item["paper"].update(damage)
    page = parse_paper_list(hf_body([item]))
    assert len(page.papers) + sum("skipped" in p for p in page.problems) == 1


def test_a_bad_field_of_a_flat_object_is_reported_once() -> None:
    detail = json.loads(fixture_bytes("hf_paper_detail.json"))
    detail["numComments"] = "several"
    detail["thumbnail"] = "not a url"
    parsed = parse_paper_detail(json.dumps(detail))
    assert parsed.paper.num_comments is None
    assert len(parsed.problems) == 2
