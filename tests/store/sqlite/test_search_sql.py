"""The search SQL builder on its own: which statements a query becomes, without a database."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.models import SortOrder
from bot.query.compile import compile_query
from bot.store.sqlite.search_sql import (
    COUNT_CAP,
    RANK_POOL,
    SearchPlan,
    Statement,
    build_search,
    prefer_category_listing,
)
from tests.store.contract.support import NOW

_NAMES = re.compile(r"(?<![:\w]):([a-z]\w*)")


def plan(
    text: str,
    *,
    limit: int = 10,
    offset: int = 0,
    since: bool = False,
    sort: SortOrder = "relevance",
    hf_only: bool = False,
) -> SearchPlan:
    return build_search(
        compile_query(text),
        now=NOW,
        limit=limit,
        offset=offset,
        since=NOW - timedelta(days=7) if since else None,
        sort=sort,
        hf_only=hf_only,
    )


def statements(p: SearchPlan) -> list[Statement]:
    return [s for s in (p.rows, p.count, p.by_category) if s is not None]


@pytest.mark.parametrize("sort", ["relevance", "recent", "upvotes"])
@pytest.mark.parametrize(
    "text",
    ["causal", "causal cat:cs.LG", "causal cat:cs", "causal -cat:cs.CV", "cat:cs.LG",
     "cat:cs cat:stat.ML", "(cat:cs.LG OR cat:cs.AI) -cat:cs.CV", '"graph neural" -survey'],
)  # fmt: skip
@pytest.mark.parametrize("filters", [False, True])
def test_every_named_parameter_is_bound(text: str, sort: SortOrder, filters: bool) -> None:
    p = plan(text, sort=sort, since=filters, hf_only=filters)
    for statement in statements(p):
        assert set(_NAMES.findall(statement.sql)) <= set(statement.params), statement.sql


def test_relevance_ranks_a_bounded_pool_of_the_newest_matches() -> None:
    p = plan("causal", limit=10, offset=20)
    assert p.pool == RANK_POOL and p.by_category is None
    assert p.rows.sql.startswith("WITH pool AS MATERIALIZED")
    assert p.rows.params["fts"] == compile_query("causal").fts
    assert p.rows.params["now"] == "2026-11-27T12:00:00Z"
    assert (p.rows.params["pool"], p.rows.params["last"]) == (RANK_POOL, 29)
    assert p.count.sql == (
        "SELECT count(*) FROM (SELECT 1 FROM papers_fts WHERE papers_fts MATCH :fts LIMIT :cap)"
    )
    assert p.count.params["cap"] == COUNT_CAP + 1  # one past the cap: "more than" it
    deep = plan("causal", limit=10, offset=RANK_POOL)
    assert deep.pool == RANK_POOL + 10  # a page past the pool still gets ranked
    assert deep.count.params["cap"] == COUNT_CAP + 11  # and counted past its own end


def test_relevance_reads_each_title_evidence_over_the_pool_and_tiers_first() -> None:
    compiled = compile_query("causal discovery")
    assert len(compiled.title_evidence) == 3  # all words, close together, the phrase
    p = plan("causal discovery", limit=10, offset=20)
    evidence = {k: v for k, v in p.rows.params.items() if re.fullmatch(r"t\d+", k)}
    assert evidence == {f"t{n}": e for n, e in enumerate(compiled.title_evidence)}
    for n in range(3):  # each set read from the index, over the pool's rowid range only
        assert (
            f"t{n} AS MATERIALIZED (SELECT rowid AS pk FROM papers_fts "
            f"WHERE papers_fts MATCH :t{n} AND rowid >= (SELECT min(pk) FROM pool))"
        ) in p.rows.sql
    tier = " + ".join(["0", *(f"(pool.pk IN (SELECT pk FROM t{n}))" for n in range(3))])
    assert f"SELECT pk, rel, {tier} AS tier FROM pool" in p.rows.sql
    # the page's last candidate is found by tier, then bm25; only those that can reach it
    assert "ORDER BY tier DESC, rel DESC LIMIT 1 OFFSET :last" in p.rows.sql
    assert (
        "WHERE ranked.tier > c.tier OR (ranked.tier = c.tier AND ranked.rel * :boost >= c.rel)"
    ) in p.rows.sql
    assert "ranked.tier + (ranked.rel * " in p.rows.sql  # the score: tier, then relevance < 1
    assert p.rows.params["last"] == 29


def test_a_query_asking_nothing_of_titles_has_one_tier() -> None:
    p = plan("abstract:causal")
    assert compile_query("abstract:causal").title_evidence == ()
    assert "0 AS tier" in p.rows.sql and " AS MATERIALIZED (SELECT rowid" not in p.rows.sql
    assert not any(re.fullmatch(r"t\d+", k) for k in p.rows.params)
    one = plan("causal")
    assert list(k for k in one.rows.params if re.fullmatch(r"t\d+", k)) == ["t0"]


def test_other_sorts_score_every_match_without_a_pool() -> None:
    p = plan("causal", sort="recent")
    assert p.pool is None and "pool" not in p.rows.params
    assert "t0" not in p.rows.params and "tier" not in p.rows.sql  # no title tiers
    assert "ORDER BY coalesce(p.published, p.first_seen) DESC, score DESC" in p.rows.sql


def test_one_exact_category_is_a_join_and_an_archive_a_prefix_test() -> None:
    exact = plan("causal cat:cs.LG")
    assert "CROSS JOIN paper_categories pc1" in exact.count.sql and "EXISTS" not in exact.count.sql
    assert exact.count.params["c1"] == "cs.LG"
    archive = plan("causal cat:cs")
    assert "EXISTS (SELECT 1 FROM paper_categories" in archive.count.sql
    assert archive.count.params["c1_like"] == "cs.%"
    excluded = plan("causal -cat:cs.CV")
    assert "NOT EXISTS" in excluded.count.sql


def test_filters_on_the_row_join_papers_only_when_needed() -> None:
    assert "JOIN papers" not in plan("causal").count.sql
    with_row = plan("causal", since=True, hf_only=True)
    assert "JOIN papers p ON p.pk = papers_fts.rowid" in with_row.count.sql
    assert "p.upvotes IS NOT NULL" in with_row.count.sql
    assert with_row.count.params["since"] == "2026-11-20T12:00:00Z"


def test_categories_only_counts_from_the_category_index() -> None:
    p = plan("cat:cs.LG")
    assert p.pool is None and p.by_category is not None
    assert p.count.sql.startswith("SELECT count(*) FROM (SELECT pc.paper_pk AS pk")
    assert "MATCH" not in p.rows.sql and "0.0 AS score" in p.rows.sql
    assert "DISTINCT" in plan("cat:cs").count.sql  # an archive may list a paper twice
    upvoted = plan("cat:cs.LG", sort="upvotes").by_category
    assert upvoted is not None and "ORDER BY coalesce(p.upvotes, -1) DESC" in upvoted.sql


@pytest.mark.parametrize(
    ("sort", "papers", "total", "expected"),
    [("recent", 1_000_000, 100, True), ("recent", 1_000_000, 100_000, False),
     ("upvotes", 1_000_000, 100_000, True), ("relevance", 100, 100, False)],
)  # fmt: skip
def test_category_listing_is_chosen_when_cheaper(
    sort: SortOrder, papers: int, total: int, expected: bool
) -> None:
    assert prefer_category_listing(sort, limit=10, offset=0, papers=papers, total=total) is expected
