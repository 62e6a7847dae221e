"""Papers: upserts never duplicate, sources merge into one row, lookups keep the order asked."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from bot.models import Paper
from bot.query.compile import compile_query
from bot.services.importer import import_lines
from bot.store.interfaces import Database
from tests.store.contract.support import NOW, paper


async def test_first_upsert_is_new_second_identical_is_nothing(db: Database) -> None:
    batch = [paper("2401.00001"), paper("2401.00002")]
    first = await db.papers.upsert(batch)
    assert sorted(first.new) == ["2401.00001", "2401.00002"] and first.updated == ()
    second = await db.papers.upsert(batch)
    assert second.new == () and second.updated == () and second.unchanged == 2
    assert await db.papers.count() == 2


async def test_same_paper_from_both_sources_is_one_row_with_both(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001")])
    hf = Paper(
        id="2401.00001",
        title="A paper",
        upvotes=12,
        num_comments=2,
        github_repo="https://github.com/x/y",
        github_stars=40,
        sources=frozenset({"huggingface"}),
    )
    result = await db.papers.upsert([hf])
    assert result.updated == ("2401.00001",) and result.new == ()
    stored = await db.papers.get("2401.00001")
    assert stored is not None
    assert stored.sources == {"arxiv", "huggingface"}
    assert stored.upvotes == 12 and stored.github_stars == 40
    assert stored.authors == ("Ada Lovelace", "Alan Turing")  # kept from arXiv
    assert stored.categories == ("cs.LG", "cs.AI")
    assert await db.papers.count() == 1


async def test_new_version_and_new_upvotes_are_updates(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001", upvotes=1), paper("2401.00002")])
    result = await db.papers.upsert(
        [paper("2401.00001", upvotes=5), paper("2401.00002", version=2)]
    )
    assert sorted(result.updated) == ["2401.00001", "2401.00002"]
    v2 = await db.papers.get("2401.00002")
    assert v2 is not None and v2.version == 2
    # an older version seen later changes nothing
    again = await db.papers.upsert([paper("2401.00002", version=1)])
    assert again.updated == () and again.new == ()


async def test_a_new_title_is_a_stored_change_but_not_one_feeds_act_on(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001", title="A first title")])
    result = await db.papers.upsert([paper("2401.00001", title="A better title", updated=NOW)])
    assert result.changed == ("2401.00001",) and result.unchanged == 0
    assert result.updated == ()  # same version, votes and sources: feeds have nothing new
    stored = await db.papers.get("2401.00001")
    assert stored is not None and stored.title == "A better title"
    again = await db.papers.upsert([paper("2401.00001", title="A better title", updated=NOW)])
    assert again.changed == () and again.unchanged == 1


async def test_duplicates_inside_one_batch_merge(db: Database) -> None:
    result = await db.papers.upsert(
        [paper("2401.00001"), paper("2401.00001", upvotes=3, sources=frozenset({"huggingface"}))]
    )
    assert result.new == ("2401.00001",)
    stored = await db.papers.get("2401.00001")
    assert stored is not None and stored.sources == {"arxiv", "huggingface"}


async def test_a_stored_paper_reads_back_as_written(db: Database) -> None:
    written = paper(
        "2401.00001",
        abstract="Ünïcode — and “quotes”.",
        doi="10.1/x",
        ai_keywords=("a", "b"),
        hf_submitted_at=NOW - timedelta(hours=3),
        first_seen=NOW - timedelta(days=2),
    )
    await db.papers.upsert([written])
    assert await db.papers.get("2401.00001") == written


async def test_get_many_keeps_the_order_asked_and_skips_unknown_ids(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001"), paper("2401.00002")])
    found = await db.papers.get_many(["2401.00002", "2401.09999", "2401.00001"])
    assert [p.id for p in found] == ["2401.00002", "2401.00001"]
    assert await db.papers.get("2401.09999") is None


async def test_recent_is_newest_first_since_a_time(db: Database) -> None:
    await db.papers.upsert(
        [paper(f"2401.0000{n}", published=NOW - timedelta(days=n)) for n in range(1, 5)]
    )
    recent = await db.papers.recent(NOW - timedelta(days=3, hours=1))
    assert [p.id for p in recent] == ["2401.00001", "2401.00002", "2401.00003"]
    assert [p.id for p in await db.papers.recent(NOW - timedelta(days=9), limit=2)] == [
        "2401.00001",
        "2401.00002",
    ]


async def test_top_is_most_upvoted_hugging_face_papers(db: Database) -> None:
    await db.papers.upsert(
        [
            paper("2401.00001", upvotes=5),
            paper("2401.00002", upvotes=50),
            paper("2401.00003"),  # not on Hugging Face
            paper("2401.00004", upvotes=99, published=NOW - timedelta(days=30)),
        ]
    )
    top = await db.papers.top(NOW - timedelta(days=7))
    assert [p.id for p in top] == ["2401.00002", "2401.00001"]


async def test_nul_characters_are_removed_alike_and_the_paper_stays_idempotent(
    db: Database,
) -> None:
    """PostgreSQL text cannot hold U+0000: every store drops it, so the batch never fails."""
    dirty = paper(
        "2401.00001",
        title="Null\x00 hypothesis",
        abstract="An ab\x00stract.",
        authors=("Ada\x00 Lovelace", "\x00"),
        categories=("cs.LG\x00",),
        comments="5 pages\x00",
        ai_keywords=("nul\x00",),
    )
    first = await db.papers.upsert([dirty, paper("2401.00002")])
    assert sorted(first.new) == ["2401.00001", "2401.00002"]
    stored = await db.papers.get("2401.00001")
    assert stored is not None
    assert (stored.title, stored.abstract, stored.comments) == (
        "Null hypothesis",
        "An abstract.",
        "5 pages",
    )
    assert stored.authors == ("Ada Lovelace",) and stored.categories == ("cs.LG",)
    assert stored.ai_keywords == ("nul",)
    again = await db.papers.upsert([dirty])
    assert again.new == () and again.changed == () and again.unchanged == 1
    found = await db.papers.search(compile_query("hypothesis abstract"))
    assert [h.paper.id for h in found.hits] == ["2401.00001"]


async def test_an_import_line_with_nul_characters_is_loaded(db: Database) -> None:
    line = json.dumps({"id": "2401.00003", "title": "Zero\u0000 bytes", "authors": "A. Author",
                       "abstract": "Text with \u0000 inside.", "categories": "cs.DB"})  # fmt: skip
    report = await import_lines(db, [line, line.replace("2401.00003", "2401.00004")])
    assert report.new == 2 and report.bad == 0
    stored = await db.papers.get("2401.00003")
    assert stored is not None and stored.title == "Zero bytes"
    assert (await import_lines(db, [line])).unchanged == 1


async def test_a_large_batch_again_with_a_few_new_titles_changes_only_those(db: Database) -> None:
    """Bulk sizes take the store's bulk path (PostgreSQL lexes only words it lacks)."""
    many = [paper(f"2402.{i:05d}", f"Bulk paper number {i}") for i in range(300)]
    assert len((await db.papers.upsert(many)).new) == 300
    revised = [
        paper(p.id, "Quaternion retitled") if i % 100 == 7 else p for i, p in enumerate(many)
    ]
    result = await db.papers.upsert(revised)
    assert sorted(result.changed) == ["2402.00007", "2402.00107", "2402.00207"]
    assert result.unchanged == 297 and result.new == ()
    assert (await db.papers.search(compile_query("quaternion retitled"))).total == 3
    assert (await db.papers.search(compile_query("number"))).total == 297


async def test_upserts_started_together_land_in_the_order_they_were_called(db: Database) -> None:
    """An import hands the store its next batch before the last one is written: a bulk batch
    (prepared off the event loop on PostgreSQL) must still land before a later small one."""
    bulk = [paper(f"2403.{i:05d}", "Earlier title") for i in range(3000)]
    later = paper("2403.00042", "Later title", updated=NOW)
    first, second = await asyncio.gather(db.papers.upsert(bulk), db.papers.upsert([later]))
    assert len(first.new) == 3000 and second.changed == ("2403.00042",)
    stored = await db.papers.get("2403.00042")
    assert stored is not None and stored.title == "Later title"
