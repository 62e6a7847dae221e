"""Source runs and state: health read from the recorded runs, state kept between polls."""

from __future__ import annotations

from datetime import timedelta

from bot.models import SourceRun
from bot.store.interfaces import Database
from tests.store.contract.support import NOW


async def test_source_health_counts_consecutive_failures(db: Database) -> None:
    t = NOW
    for error in (None, "timeout", "HTTP 500"):
        t += timedelta(minutes=20)
        await db.sources.record_run(SourceRun("huggingface", t, t, fetched=3, error=error))
    health = await db.sources.health("huggingface")
    assert health.consecutive_failures == 2
    assert health.last_error == "HTTP 500"
    assert health.last_success == NOW + timedelta(minutes=20)
    assert health.last_run == t
    assert (await db.sources.health("arxiv")).last_run is None


async def test_runs_are_newest_first_and_remember_new_papers(db: Database) -> None:
    for n, new in enumerate((2, 0, 0), 1):
        t = NOW + timedelta(hours=n)
        await db.sources.record_run(SourceRun("arxiv", t - timedelta(minutes=1), t, 5, new, 1))
    runs = await db.sources.runs("arxiv", limit=2)
    assert [r.finished_at for r in runs] == [NOW + timedelta(hours=3), NOW + timedelta(hours=2)]
    assert runs[0].fetched == 5 and runs[0].updated == 1
    assert await db.sources.last_new_paper_at("arxiv") == NOW + timedelta(hours=1)
    assert await db.sources.last_new_paper_at("huggingface") is None


async def test_source_state_round_trips(db: Database) -> None:
    assert await db.sources.get_state("arxiv", "etag") is None
    await db.sources.set_state("arxiv", "etag", '"abc"')
    await db.sources.set_state("arxiv", "etag", '"def"')
    assert await db.sources.get_state("arxiv", "etag") == '"def"'
    assert await db.sources.get_state("huggingface", "etag") is None


async def test_a_run_keeps_its_warnings_apart_from_failures(db: Database) -> None:
    await db.sources.record_run(SourceRun("huggingface", NOW, NOW, fetched=3, warnings=2))
    (run,) = await db.sources.runs("huggingface")
    assert run.warnings == 2 and run.error is None
    health = await db.sources.health("huggingface")
    assert health.warnings == 2 and health.consecutive_failures == 0
    assert health.last_success == NOW


async def test_listings_are_remembered_once_read(db: Database) -> None:
    assert await db.sources.seen_listings("arxiv", ["arxiv/cs.LG", "arxiv/cs.CV"]) == set()
    await db.sources.mark_listings_seen("arxiv", ["arxiv/cs.LG"], NOW)
    assert await db.sources.seen_listings("arxiv", ["arxiv/cs.LG", "arxiv/cs.CV"]) == {
        "arxiv/cs.LG"
    }
    await db.sources.mark_listings_seen("arxiv", ["arxiv/cs.LG"], NOW)  # again: no error
    assert await db.sources.seen_listings("huggingface", ["huggingface"]) == set()


async def test_each_warning_is_new_once_until_a_poll_goes_without_it(db: Database) -> None:
    assert await db.sources.note_warnings("huggingface", ["a", "b"], NOW) == {"a", "b"}
    assert await db.sources.note_warnings("huggingface", ["a", "b", "c"], NOW) == {"c"}
    assert await db.sources.note_warnings("arxiv", ["a"], NOW) == {"a"}  # per source
    assert await db.sources.note_warnings("huggingface", ["c"], NOW) == set()
    assert await db.sources.note_warnings("huggingface", ["a", "c"], NOW) == {"a"}
    assert await db.sources.note_warnings("huggingface", [], NOW) == set()
    assert await db.sources.note_warnings("huggingface", ["c"], NOW) == {"c"}
