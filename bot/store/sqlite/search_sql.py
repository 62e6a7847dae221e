"""The SQL of a search, built from a compiled query without touching a database.

Pure: `build_search` turns a `CompiledQuery` and the page options into statements (text plus
named parameters); `bot.store.sqlite.papers` runs them. So the plans can be tested on their
text alone, and the same statements run in the contract suite.

Relevance puts title evidence first, then bm25 x a gentle recency: a title that holds every
query word beats one that holds some, whatever the abstracts say; one holding them close
together, or as the phrase, beats that (`CompiledQuery.title_evidence`; a paper's tier is how
many of those expressions its title matches). Within a tier, bm25 with field weights, times the
recency bonus, decides.

It ranks the newest `RANK_POOL` matches (all of them when there are fewer): bm25 and the title
tier inside the full-text index first, then papers' rows only for the candidates above the
page's last one in tier, or in its tier with bm25 within the recency bonus of it, since no other
can reach the page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.models import SortOrder
from bot.query.compile import CompiledQuery
from bot.store.sqlite import codec

# bm25 column weights: title, authors, abstract.
BM25 = "bm25(papers_fts, 10.0, 4.0, 1.0)"
# A gentle recency tie-break: at most +10 % for a paper published today, fading over ~6 months.
RECENCY = "(1.0 + 0.1 / (1.0 + max(0.0, julianday(:now) - julianday(coalesce(p.published, p.first_seen))) / 180.0))"
# The most RECENCY can multiply a score by (a hair above 1.1, against rounding).
RECENCY_MAX = 1.1000001
# Relevance ranks at most this many matches: the newest ones (highest pk, the order papers
# arrived in). Ranking costs a bm25 evaluation per match (3-20 us), so without a bound a word
# found in a third of a million papers takes most of a second to rank; with it, tens of ms.
# Queries with fewer matches are ranked exactly; `total` counts up to COUNT_CAP. See
# docs/benchmarks.md for what the bound costs in ranking quality.
RANK_POOL = 2_000
# Searches with words count at most this many matches (or the page's end, if further): past
# it the total is reported as "more than" the cap. An exact count costs a visit per match,
# which PostgreSQL pays in full (a heap row each: ~1.5 s for 300,000 matches); both backends
# count the same way so they give the same answers.
COUNT_CAP = RANK_POOL


def count_cap(limit: int, offset: int) -> int:
    """How many matches a search with words counts before reporting "more than" that."""
    return max(COUNT_CAP, limit + offset)


@dataclass(frozen=True)
class Statement:
    sql: str
    params: dict[str, Any]


@dataclass(frozen=True)
class SearchPlan:
    """The statements of one search; which ones run depends on what the first ones answer."""

    rows: Statement  # the page; with `pool`, each row also carries the pool's size
    count: Statement  # every match for `total`, at most `count_cap` + 1 of them with words
    # Relevance's candidate bound: a page whose pool_size is below it already knows the total.
    pool: int | None = None
    # Categories-only queries: the page listed from the category index, for when that is
    # cheaper than walking papers newest first (see `prefer_category_listing`).
    by_category: Statement | None = None


def build_search(
    query: CompiledQuery,
    *,
    now: datetime,
    limit: int,
    offset: int,
    since: datetime | None,
    sort: SortOrder,
    hf_only: bool,
) -> SearchPlan:
    """The statements for one page of a search (see the module docstring for the ranking)."""
    params: dict[str, Any] = {"now": codec.ts(now), "limit": limit, "offset": offset}
    needs_row = since is not None or hf_only
    if query.fts is not None:
        # Counting and candidate search stay inside the index unless a filter needs the row.
        joins: list[str] = []
        where = _filters(query, since, hf_only, params, pk="papers_fts.rowid", joins=joins)
        where.insert(0, "papers_fts MATCH :fts")
        params["fts"] = query.fts
        source = "papers_fts"
        if needs_row:
            source += " JOIN papers p ON p.pk = papers_fts.rowid"
        source = " ".join([source, *joins])
    else:
        where = _filters(query, since, hf_only, params)
        source = "papers p"
    where_sql = " AND ".join(where) if where else "1"
    # With words, count at most one match past the cap (see COUNT_CAP).
    count = Statement(
        f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE {where_sql} LIMIT :cap)",
        {**params, "cap": count_cap(limit, offset) + 1},
    )
    by_category = None
    if query.fts is None:
        # Only cat: filters: count (and maybe list) from the category index instead of testing
        # every paper. Its own parameters: the names differ from `where`'s.
        count_params = dict(params)
        in_categories = _in_categories(query, since, hf_only, count_params)
        count = Statement(f"SELECT count(*) FROM {in_categories}", count_params)
        order = "coalesce(p.published, p.first_seen) || '' DESC"  # not the index
        if sort == "upvotes":
            order = "coalesce(p.upvotes, -1) DESC, " + order
        by_category = Statement(
            "SELECT p.*, 0.0 AS score FROM papers p WHERE p.pk IN "
            f"(SELECT c.pk FROM {in_categories}) ORDER BY {order} "
            "LIMIT :limit OFFSET :offset",
            count_params,
        )
    if query.fts is not None and sort == "relevance":
        pool = max(RANK_POOL, limit + offset)
        params["pool"] = pool
        params["last"] = max(limit + offset - 1, 0)
        params["boost"] = RECENCY_MAX
        evidence, tier = _title_tier(query, params)
        relevance = f"(ranked.rel * {RECENCY})"
        rows = Statement(
            f"WITH pool AS MATERIALIZED (SELECT papers_fts.rowid AS pk, -{BM25} AS rel "
            f"FROM {source} WHERE {where_sql} ORDER BY papers_fts.rowid DESC LIMIT :pool), "
            f"{evidence}"
            f"ranked AS MATERIALIZED (SELECT pk, rel, {tier} AS tier FROM pool), "
            "cut AS (SELECT tier, rel FROM ranked ORDER BY tier DESC, rel DESC "
            "LIMIT 1 OFFSET :last) "
            # The tier first; within it bm25 x recency, squashed below 1 so the score
            # itself orders the results (tier 2 with any relevance beats tier 1).
            f"SELECT p.*, ranked.tier + {relevance} / (1.0 + {relevance}) AS score, "
            "(SELECT count(*) FROM pool) AS pool_size "
            "FROM ranked JOIN papers p ON p.pk = ranked.pk, "
            "(SELECT coalesce(max(tier), -1) AS tier, coalesce(max(rel), 0.0) AS rel FROM cut) AS c "
            "WHERE ranked.tier > c.tier OR (ranked.tier = c.tier AND ranked.rel * :boost >= c.rel) "
            "ORDER BY score DESC, p.published DESC LIMIT :limit OFFSET :offset",
            params,
        )
        return SearchPlan(rows=rows, count=count, pool=pool)
    full, score = source, "0.0"
    if query.fts is not None:
        score = f"(-{BM25}) * {RECENCY}"
        if not needs_row:
            full += " JOIN papers p ON p.pk = papers_fts.rowid"
    order = {
        "relevance": "coalesce(p.published, p.first_seen) DESC",  # no words: newest
        "recent": "coalesce(p.published, p.first_seen) DESC, score DESC",
        "upvotes": "coalesce(p.upvotes, -1) DESC, coalesce(p.published, p.first_seen) DESC",
    }[sort]
    rows = Statement(
        f"SELECT p.*, {score} AS score FROM {full} WHERE {where_sql} "
        f"ORDER BY {order} LIMIT :limit OFFSET :offset",
        params,
    )
    return SearchPlan(rows=rows, count=count, by_category=by_category)


def _title_tier(query: CompiledQuery, params: dict[str, Any]) -> tuple[str, str]:
    """The title-evidence CTEs (`t0`, `t1`, ...) and the pool's tier expression over them.

    Each set is read from the index over the pool's rowid range only; the tier counts the sets
    a candidate is in (0 when the query asks nothing of titles).
    """
    evidence, tier = "", "0"
    for n, expression in enumerate(query.title_evidence):
        params[f"t{n}"] = expression
        evidence += (
            f"t{n} AS MATERIALIZED (SELECT rowid AS pk FROM papers_fts "
            f"WHERE papers_fts MATCH :t{n} AND rowid >= (SELECT min(pk) FROM pool)), "
        )
        tier += f" + (pool.pk IN (SELECT pk FROM t{n}))"
    return evidence, tier


def prefer_category_listing(
    sort: SortOrder, *, limit: int, offset: int, papers: int, total: int
) -> bool:
    """Whether to list a categories-only page from the category index rather than by date.

    Newest first can walk the papers_appeared index, visiting about (limit + offset) x papers /
    total entries; listing the category's papers and sorting them costs about `total`. Take
    the cheaper; upvotes must sort.
    """
    return sort == "upvotes" or (limit + offset) * papers > total * total


def _filters(
    query: CompiledQuery,
    since: datetime | None,
    hf_only: bool,
    params: dict[str, Any],
    *,
    pk: str = "p.pk",
    joins: list[str] | None = None,
) -> list[str]:
    """WHERE clauses for the parts of a query that live outside the full-text index.

    Category tests compare with `pk` (the paper's key as the query names it); `since` and
    `hf_only` read the paper's row as `p`. Given a `joins` list, a group that is one exact
    category becomes a join appended there instead (a paper has that category at most once):
    a seek in the (paper_pk, category) index per row, about twice as fast as EXISTS.
    """
    where: list[str] = []
    n = 0
    for group in query.include_categories:
        if joins is not None and len(group) == 1 and "." in group[0]:
            n += 1
            params[f"c{n}"] = group[0]
            joins.append(
                f"CROSS JOIN paper_categories pc{n} "
                f"ON pc{n}.paper_pk = {pk} AND pc{n}.category = :c{n}"
            )
            continue
        parts = []
        for category in group:
            n += 1
            parts.append(_category_test(category, f"c{n}", params))
        where.append(
            f"EXISTS (SELECT 1 FROM paper_categories pc WHERE pc.paper_pk = {pk} AND "
            f"({' OR '.join(parts)}))"
        )
    if query.exclude_categories:
        parts = []
        for category in query.exclude_categories:
            n += 1
            parts.append(_category_test(category, f"c{n}", params))
        where.append(
            f"NOT EXISTS (SELECT 1 FROM paper_categories pc WHERE pc.paper_pk = {pk} AND "
            f"({' OR '.join(parts)}))"
        )
    if since is not None:
        where.append("coalesce(p.published, p.first_seen) >= :since")
        params["since"] = codec.ts(since)
    if hf_only:
        where.append("p.upvotes IS NOT NULL")
    return where


def _in_categories(
    query: CompiledQuery, since: datetime | None, hf_only: bool, params: dict[str, Any]
) -> str:
    """`FROM ... WHERE` text for the papers passing a cat:-only query, as `c.pk`.

    The first category group is read from `paper_categories` (its primary key starts with the
    category); every other filter is tested on those papers only.
    """
    first, rest = query.include_categories[0], query.include_categories[1:]
    tests = [_category_test(c, f"g{n}", params) for n, c in enumerate(first, 1)]
    # One exact category lists each paper once; alternatives or an archive may repeat one.
    distinct = "DISTINCT " if len(first) > 1 or "." not in first[0] else ""
    source = (
        f"(SELECT {distinct}pc.paper_pk AS pk FROM paper_categories pc "
        f"WHERE {' OR '.join(tests)}) AS c"
    )
    others = _filters(replace(query, include_categories=rest), since, hf_only, params, pk="c.pk")
    if since is not None or hf_only:
        source += " JOIN papers p ON p.pk = c.pk"
    return f"{source} WHERE {' AND '.join(others) if others else '1'}"


def _category_test(category: str, name: str, params: dict[str, Any]) -> str:
    """`cs.LG` is one category; `cs` (no dot) is the whole archive."""
    params[name] = category
    if "." in category:
        return f"pc.category = :{name}"
    params[name + "_like"] = category + ".%"
    return f"(pc.category = :{name} OR pc.category LIKE :{name}_like)"
