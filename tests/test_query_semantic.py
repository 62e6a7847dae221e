"""like:ID and about:"text" (issue 17): how they parse, what they refuse, and how they behave
where the semantic extra is missing (these tests need no extra)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import QueryError
from bot.models import Paper
from bot.query.compile import compile_query
from bot.semantic import INSTALL_HINT, availability
from bot.services.feeds import FeedSpecError, validate
from bot.services.follows import FollowService
from bot.services.library import fused_order
from bot.services.matching import queue_matches
from bot.store import open_store
from tests.factories import NOW, make_feed_spec, make_paper


@pytest.fixture
def without_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(availability, "_REQUIRED_MODULES", ("paperfeed_no_such_module",))


@pytest.mark.parametrize(
    ("text", "like", "about", "understood"),
    [
        ("like:2401.01234", ("2401.01234",), (), "like:2401.01234"),
        ("like:https://arxiv.org/abs/2401.01234v3", ("2401.01234",), (), "like:2401.01234"),
        ("like:arXiv:hep-th/9901001", ("hep-th/9901001",), (), "like:hep-th/9901001"),
        ('about:"Causal  Representation learning"', (), ("Causal Representation learning",),
         'about:"Causal Representation learning"'),
        ("About:diffusion", (), ("diffusion",), 'about:"diffusion"'),
        ('cat:cs.LG about:"graph networks"', (), ("graph networks",),
         'cat:cs.LG about:"graph networks"'),
        ('transformers -survey like:2401.01234 about:"x y"', ("2401.01234",), ("x y",),
         'transformers -survey like:2401.01234 about:"x y"'),
        ("like:2401.01234 like:2401.01234", ("2401.01234",), (), "like:2401.01234"),
    ],
)  # fmt: skip
def test_semantic_predicates_parse(
    text: str, like: tuple[str, ...], about: tuple[str, ...], understood: str
) -> None:
    compiled = compile_query(text)
    assert (compiled.like, compiled.about) == (like, about)
    assert compiled.is_semantic
    assert compiled.describe() == understood
    again = compile_query(understood)  # what is shown can be typed again
    assert (again.like, again.about, again.fts) == (like, about, compiled.fts)


def test_the_rest_of_the_query_knows_nothing_of_meaning() -> None:
    compiled = compile_query('cat:cs.LG diffusion about:"denoising"')
    rest = compiled.without_semantic()
    assert rest.fts == compiled.fts == '"diffusion"'
    assert rest.include_categories == (("cs.LG",),) and not rest.is_semantic
    alone = compile_query('about:"denoising"')
    assert alone.fts is None and not alone.has_rest
    assert not compile_query("diffusion").is_semantic


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("like:foo", "like:foo is not an arXiv id or paper link"),
        ("diffusion OR like:2401.01234", "put them beside the rest (AND), not inside OR, NOT or -"),
        ('-about:"x"', "not inside OR, NOT or -"),
        ("NOT like:2401.01234", "not inside OR, NOT or -"),
        ("(a about:b) OR c", "not inside OR"),
        ('about:"' + "w " * 120 + '"', "too long"),
    ],
)
def test_semantic_predicates_are_refused_where_they_mean_nothing(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_query(text)


def test_reciprocal_rank_fusion_orders_by_both_rankings() -> None:
    papers = [make_paper(n) for n in range(1, 5)]  # keyword order: 1, 2, 3, 4
    a, b, c, d = (p.id for p in papers)
    similarity = {a: 0.1, b: 0.2, c: 0.9, d: 0.8}
    by_meaning = fused_order(papers, similarity, keywords=False)
    assert [p.id for p in by_meaning] == [c, d, b, a]
    fused = fused_order(papers, similarity, keywords=True)
    # 1/(60 + keyword rank) + 1/(60 + meaning rank): c 1/63 + 1/61 beats a 1/61 + 1/64,
    # which just beats b 1/62 + 1/63; d 1/64 + 1/62 comes last.
    assert [p.id for p in fused] == [c, a, b, d]
    missing = fused_order(papers, {c: 0.5}, keywords=False)
    assert [p.id for p in missing] == [c, a, b, d]  # no vector: after those with one


# -- without the extra ----------------------------------------------------------------------------


def test_a_feed_with_about_is_refused_without_the_extra(without_extra: None) -> None:
    with pytest.raises(FeedSpecError, match="query: semantic search needs the extra"):
        validate(make_feed_spec(query='about:"graph neural networks"'))
    validate(make_feed_spec(query="graph neural networks"))  # the rest is unchanged


async def test_a_follow_with_like_is_refused_without_the_extra(without_extra: None) -> None:
    async with open_store(":memory:", clock=lambda: NOW) as store:
        follows = FollowService(store, lambda: NOW)
        with pytest.raises(QueryError, match=r"pip install 'paperfeed\[semantic\]'"):
            await follows.follow(7, "like:2401.01234")
        assert await store.follows.list() == []


def test_search_with_about_without_the_extra_is_one_line(
    cli_config: Path, without_extra: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", 'about:"graph networks"']) == 2
    assert capsys.readouterr().err == f"paperfeed: {INSTALL_HINT}\n"


async def test_a_stored_semantic_feed_matches_nothing_without_the_model() -> None:
    """A feed made while the extra was installed must not take every paper once it is gone."""
    async with open_store(":memory:", clock=lambda: NOW) as store:
        await store.feeds.add(make_feed_spec("meaning", query='about:"anything"'), guild_id=1)
        await store.feeds.add(make_feed_spec("words", query="things"), guild_id=1)
        papers: list[Paper] = [make_paper(1), make_paper(2)]
        await store.papers.upsert(papers)
        assert await queue_matches(store, [p.id for p in papers], NOW) == 2  # "words" only
        owed = {(d.feed_id, d.paper_id) for d in await store.outbox.deliveries()}
        words = await store.feeds.find("words", 1)
        assert words is not None and {f for f, _ in owed} == {words.id}


def test_search_results_show_the_similarity_when_meaning_ranked_them() -> None:
    from bot.discord.listings import related_embed, search_results_embed
    from bot.models import SearchHit

    a, b = make_paper(1, title="Gas giants"), make_paper(2, title="Hot Jupiters")
    ranked = search_results_embed(
        [SearchHit(b, 0.47, 0.47), SearchHit(a, 0.12, 0.12)], query="x", page=1, pages=1, total=2
    )
    lines = ranked["description"].split("\n")
    assert lines[0].startswith("**1.** [Hot Jupiters]") and lines[1].endswith("similarity 0.47")
    assert lines[3].endswith("similarity 0.12")
    plain = search_results_embed([SearchHit(a, 3.2)], query="x", page=1, pages=1, total=1)
    assert "similarity" not in plain["description"]
    empty = related_embed(a, [])
    assert empty["title"] == "Related to: Gas giants" and "paperfeed embed" in empty["description"]
