"""Paper vectors: stored beside papers, per model, readable in write order, resumable gaps."""

from __future__ import annotations

from datetime import timedelta

from bot.store.interfaces import Database
from tests.store.contract.support import NOW, paper

A = "model-a@1"
B = "model-b@2"


def blob(n: int) -> bytes:
    return bytes([n]) * 16


async def test_put_get_and_have_per_model(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001"), paper("2401.00002")])
    assert await db.vectors.put(A, [("2401.00001", blob(1)), ("9999.99999", blob(9))]) == 1
    assert await db.vectors.get(A, ["2401.00001", "2401.00002"]) == {"2401.00001": blob(1)}
    assert await db.vectors.have(A, ["2401.00001", "2401.00002"]) == {"2401.00001"}
    assert await db.vectors.have(B, ["2401.00001"]) == set()  # another model's vector is stale
    assert await db.vectors.count(A) == 1 and await db.vectors.count(B) == 0


async def test_missing_lists_papers_without_a_vector_of_the_model_newest_first(
    db: Database,
) -> None:
    await db.papers.upsert(
        [
            paper("2401.00001", "Old", published=NOW - timedelta(days=40)),
            paper("2401.00002", "Mid", published=NOW - timedelta(days=10), abstract="Text."),
            paper("2401.00003", "New", published=NOW - timedelta(days=1)),
        ]
    )
    await db.vectors.put(B, [("2401.00003", blob(3))])
    assert [m[0] for m in await db.vectors.missing(A)] == ["2401.00003", "2401.00002", "2401.00001"]
    assert await db.vectors.count_missing(A) == 3
    recent = await db.vectors.missing(A, since=NOW - timedelta(days=30), limit=10)
    assert recent[1] == ("2401.00002", "Mid", "Text.")
    assert await db.vectors.count_missing(A, since=NOW - timedelta(days=30)) == 2
    # An interrupted run continues: what was stored is no longer missing.
    await db.vectors.put(A, [("2401.00003", blob(3))])
    assert [m[0] for m in await db.vectors.missing(A, limit=1)] == ["2401.00002"]
    assert await db.vectors.count_missing(A) == 2


async def test_written_after_follows_every_write_in_order(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001"), paper("2401.00002")])
    await db.vectors.put(A, [("2401.00001", blob(1)), ("2401.00002", blob(2))])
    first = await db.vectors.written_after(A, 0)
    assert [(pid, v) for _, pid, v in first] == [("2401.00001", blob(1)), ("2401.00002", blob(2))]
    last = first[-1][0]
    assert await db.vectors.written_after(A, last) == []
    # A re-embedded paper is written again, with a newer seq, and replaces the old vector.
    await db.vectors.put(A, [("2401.00001", blob(7))])
    again = await db.vectors.written_after(A, last)
    assert [(pid, v) for _, pid, v in again] == [("2401.00001", blob(7))]
    assert again[0][0] > last
    assert await db.vectors.count(A) == 2
    assert len(await db.vectors.written_after(A, 0, limit=1)) == 1


async def test_written_in_reads_given_seqs(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001"), paper("2401.00002"), paper("2401.00003")])
    await db.vectors.put(A, [("2401.00001", blob(1)), ("2401.00002", blob(2))])
    await db.vectors.put(B, [("2401.00003", blob(3))])
    rows = await db.vectors.written_after(A, 0)
    first, second = rows[0][0], rows[1][0]
    third = (await db.vectors.written_after(B, 0))[0][0]
    assert await db.vectors.written_in(A, [second, first, third, 10_000]) == [
        (first, "2401.00001", blob(1)),
        (second, "2401.00002", blob(2)),
    ]
    assert await db.vectors.written_in(A, []) == []


async def test_a_model_change_replaces_the_vector(db: Database) -> None:
    await db.papers.upsert([paper("2401.00001")])
    await db.vectors.put(A, [("2401.00001", blob(1))])
    await db.vectors.put(B, [("2401.00001", blob(2))])
    assert await db.vectors.get(A, ["2401.00001"]) == {}
    assert await db.vectors.get(B, ["2401.00001"]) == {"2401.00001": blob(2)}
    assert await db.vectors.count_missing(A) == 1


async def test_put_joins_the_callers_transaction(db: Database) -> None:
    try:
        async with db.transaction():
            await db.papers.upsert([paper("2401.00001")])
            await db.vectors.put(A, [("2401.00001", blob(1))])
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert await db.papers.get("2401.00001") is None
    assert await db.vectors.count(A) == 0


async def test_a_new_title_or_abstract_makes_the_vector_missing_again(db: Database) -> None:
    ids = ["2401.00001", "2401.00002", "2401.00003", "2401.00004"]
    await db.papers.upsert([paper(i, f"Title {i}", abstract="Old.") for i in ids])
    await db.vectors.put(A, [(i, blob(n)) for n, i in enumerate(ids)])
    await db.vectors.put(B, [("2401.00002", blob(9))])
    await db.papers.upsert(
        [
            paper("2401.00001", "A better title", abstract="Old."),
            paper("2401.00002", "Title 2401.00002", abstract="New."),
            paper("2401.00003", "Title 2401.00003", abstract="Old.", upvotes=50),  # text same
            paper("2401.00004", "Title 2401.00004", abstract=""),  # nothing new: stored kept
        ]
    )
    assert await db.vectors.have(A, ids) == {"2401.00003", "2401.00004"}
    assert await db.vectors.have(B, ids) == set()  # whatever model made it
    assert [m[0] for m in await db.vectors.missing(A)] == ["2401.00001", "2401.00002"]
    assert (await db.vectors.missing(A))[0][1] == "A better title"
    # The same text again changes nothing.
    await db.vectors.put(A, [("2401.00001", blob(7))])
    await db.papers.upsert([paper("2401.00001", "A better title", abstract="Old.")])
    assert await db.vectors.get(A, ["2401.00001"]) == {"2401.00001": blob(7)}
