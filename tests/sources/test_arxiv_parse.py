"""arXiv RSS and Atom → papers: every field, old-style ids, the error feed, broken bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import SourceResponseError
from bot.sources.arxiv_parse import (
    api_error_message,
    parse_api_feed,
    parse_listing,
    split_creators,
)
from tests.sources.samples import api_feed, fixture_bytes, rss_listing


def test_listing_sorts_new_and_cross_from_replacements() -> None:
    listing = parse_listing(fixture_bytes("arxiv_listing.xml"))
    assert [p.id for p in listing.papers] == ["2609.11873", "2609.12004", "2609.12220"]
    assert [(p.id, p.version) for p in listing.replaced] == [("2603.08812", 3), ("2512.30117", 2)]
    assert listing.problems == [] and listing.complete


def test_a_listing_item_carries_what_the_listing_knows() -> None:
    paper = parse_listing(fixture_bytes("arxiv_listing.xml")).papers[0]
    assert paper.title == "Sparse Mixture-of-Depths Routing for Long-Context Retrieval"
    assert paper.version == 1
    assert paper.abstract.startswith("Long-context retrieval models spend")
    assert "Announce Type" not in paper.abstract and "arXiv:" not in paper.abstract
    assert paper.authors == ("Ines Carvalho", "Tomasz Wielgosz", "Priya Raman", "Kenji Okabe")
    assert paper.categories == ("cs.CL", "cs.LG")
    assert paper.sources == frozenset({"arxiv"})
    # The listing has no submission time, comments or primary category: the API fills them.
    assert paper.published is None and paper.comments is None


def test_listing_text_keeps_its_characters() -> None:
    paper = parse_listing(fixture_bytes("arxiv_listing.xml")).papers[1]
    assert "p < 0.01 improvements hold across & beyond" in paper.abstract


def test_a_replacement_keeps_its_doi_and_journal_reference() -> None:
    replaced = parse_listing(fixture_bytes("arxiv_listing.xml")).replaced[0]
    assert replaced.doi == "10.5555/tmlr.2026.0412"
    assert replaced.journal_ref == "Transactions on Machine Learning Research, 2026"
    assert replaced.authors == ("Sofia Lindqvist", "Arjun Mehta", "Chloé Dubois")


def test_an_empty_listing_is_no_papers_and_no_problem() -> None:
    listing = parse_listing(rss_listing([]).encode())
    assert listing.papers == [] and listing.replaced == [] and listing.problems == []


def test_an_unknown_announce_type_is_kept_as_news_and_reported() -> None:
    listing = parse_listing(rss_listing(["2609.00001"], kind="sideways").encode())
    assert [p.id for p in listing.papers] == ["2609.00001"]
    assert "unknown announce type 'sideways'" in listing.problems[0]


def test_a_listing_item_without_a_usable_id_is_skipped_and_reported() -> None:
    body = rss_listing(["2609.00001", "2609.00002"]).replace(
        "oai:arXiv.org:2609.00002v1", "oai:arXiv.org:nonsense"
    )
    body = body.replace("arXiv:2609.00002v1", "arXiv:nonsense").replace(
        "https://arxiv.org/abs/2609.00002", "https://example.org/elsewhere"
    )
    listing = parse_listing(body.encode())
    assert [p.id for p in listing.papers] == ["2609.00001"]
    assert listing.problems == ["item 1: skipped: no arXiv id in guid 'oai:arXiv.org:nonsense'"]


def test_the_description_backs_up_a_missing_guid() -> None:
    body = rss_listing(["2609.00001"]).replace(
        '<guid isPermaLink="false">oai:arXiv.org:2609.00001v1</guid>', ""
    )
    paper = parse_listing(body.encode()).papers[0]
    assert (paper.id, paper.version) == ("2609.00001", 1)


@pytest.mark.parametrize(
    ("creators", "names"),
    [
        ("A. One, B. Two", ("A. One", "B. Two")),
        ("A. One, B. Two, and C. Three", ("A. One", "B. Two", "C. Three")),
        ("Solo Author", ("Solo Author",)),
        ("", ()),
    ],
)
def test_split_creators(creators: str, names: tuple[str, ...]) -> None:
    assert split_creators(creators) == names


def test_api_entries_fill_every_field_primary_category_first() -> None:
    page = parse_api_feed(fixture_bytes("arxiv_api_listing_ids.xml"))
    assert page.total_results == 5 and page.problems == [] and page.complete
    first = page.papers[0]
    assert (first.id, first.version) == ("2609.11873", 1)
    assert first.title == "Sparse Mixture-of-Depths Routing for Long-Context Retrieval"
    assert first.abstract == (
        "Long-context retrieval models spend most of their compute on tokens that never "
        "influence the answer. We route each token through a learned subset of layers, "
        "skipping depth where the router is confident."
    )
    assert first.categories == ("cs.CL", "cs.LG")
    assert first.published == datetime(2026, 9, 16, 17, 42, 5, tzinfo=UTC)
    assert first.comments == "14 pages, 6 figures; code at https://github.com/icarvalho/sparse-mod"
    assert first.doi is None and first.journal_ref is None
    replaced = page.papers[3]
    assert (replaced.id, replaced.version) == ("2603.08812", 3)
    assert replaced.published == datetime(2026, 3, 10, 16, 30, tzinfo=UTC)
    assert replaced.updated == datetime(2026, 9, 16, 12, 0, 41, tzinfo=UTC)
    assert replaced.doi == "10.5555/tmlr.2026.0412"
    assert replaced.journal_ref == "Transactions on Machine Learning Research, 2026"
    assert page.papers[4].categories == ("stat.ML", "cs.LG", "math.OC")


def test_old_style_ids_and_affiliations() -> None:
    page = parse_api_feed(fixture_bytes("arxiv_api_oldstyle.xml"))
    hep, math = page.papers
    assert (hep.id, hep.version) == ("hep-th/9912045", 3)
    assert hep.authors == ("Elena Marchetti", "Jonas Falk")  # affiliations are not authors
    assert hep.title == "Learning Effective Couplings from Lattice Data with Shallow Networks"
    assert hep.abstract.startswith("We fit effective couplings")
    assert hep.journal_ref == "Nucl.Phys.B999:1-21,2000"
    assert (math.id, math.version) == ("math/0309136", 2)
    assert math.categories == ("math.GT", "math.PR")


def test_the_api_error_feed_is_a_response_error_with_arxivs_message() -> None:
    body = fixture_bytes("arxiv_api_error.xml")
    with pytest.raises(SourceResponseError, match=r"incorrect id format for 2609\.1x") as err:
        parse_api_feed(body)
    assert err.value.source == "arxiv"
    assert api_error_message(body) == "API error: incorrect id format for 2609.1x"
    assert api_error_message(fixture_bytes("arxiv_api_empty.xml")) is None


def test_no_results_is_no_papers() -> None:
    page = parse_api_feed(fixture_bytes("arxiv_api_empty.xml"))
    assert page.papers == [] and page.total_results == 0 and page.problems == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (fixture_bytes("html_error_page.html"), "not an RSS or Atom feed.*We'll be right back"),
        (b"", "empty response"),
        (b"<<<>>> this is not xml", "not an RSS or Atom feed"),
        (b'{"json": "instead"}', "not an RSS or Atom feed"),
        (b"<?xml version='1.0'?><error>busy</error>", "not an RSS or Atom feed"),
    ],
)
@pytest.mark.parametrize("parse", [parse_listing, parse_api_feed])
def test_a_body_that_is_no_feed_is_a_response_error(
    body: bytes, message: str, parse: object
) -> None:
    with pytest.raises(SourceResponseError, match=message):
        parse(body)  # type: ignore[operator]


def test_a_body_naming_a_local_file_is_never_read_as_one(tmp_path: Path) -> None:
    secret = tmp_path / "feed.xml"
    secret.write_bytes(api_feed(["2609.00001"]).encode())
    with pytest.raises(SourceResponseError):
        parse_api_feed(str(secret).encode())


def cut_inside_the_third_entry(body: str) -> bytes:
    third = body.index("<entry>", body.index("<entry>", body.index("<entry>") + 1) + 1)
    return body[: third + 200].encode()


def test_a_truncated_api_answer_keeps_the_complete_entries_and_reports() -> None:
    body = cut_inside_the_third_entry(api_feed(["2609.00001", "2609.00002", "2609.00003"]))
    page = parse_api_feed(body)
    assert [p.id for p in page.papers] == ["2609.00001", "2609.00002"]
    assert not page.complete
    assert (
        "cut short" in page.problems[0] and "kept the 2 complete entries of 3" in page.problems[0]
    )


def test_a_truncated_listing_keeps_the_complete_items_and_reports() -> None:
    body = rss_listing(["2609.00001", "2609.00002", "2609.00003"])
    cut = body.index("<item>", body.index("<item>", body.index("<item>") + 1) + 1) + 150
    listing = parse_listing(body[:cut].encode())
    assert [p.id for p in listing.papers] == ["2609.00001", "2609.00002"]
    assert not listing.complete and "cut short" in listing.problems[0]


def test_a_body_cut_before_its_first_entry_ended_is_a_response_error() -> None:
    body = api_feed(["2609.00001"])
    with pytest.raises(SourceResponseError, match="before its first entry ended"):
        parse_api_feed(body[: body.index("<entry>") + 120].encode())


def test_an_api_entry_without_a_usable_id_is_skipped() -> None:
    body = api_feed(["2609.00001", "2609.00002"]).replace(
        "http://arxiv.org/abs/2609.00002v1", "http://example.org/thing"
    )
    page = parse_api_feed(body.encode())
    assert [p.id for p in page.papers] == ["2609.00001"]
    assert page.problems == ["entry 1: skipped: id is not an arXiv id: 'http://example.org/thing'"]
