"""An import runs with the cyclic GC off (its objects are freed by their counts) and gives the
GC back as it found it, however it ends; it leaves no cycles a paper behind."""

from __future__ import annotations

import gc
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.corpus import write_corpus
from bot.services.importer import ImportReport, import_lines
from bot.store import open_store


def corpus(n: int) -> list[str]:
    out = io.StringIO()
    write_corpus(n, out, seed=3)
    return out.getvalue().splitlines()


@pytest.fixture
def gc_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.enable() if enabled else gc.disable()


async def test_the_gc_is_off_while_importing_and_on_again_after(
    tmp_path: Path, gc_restored: None
) -> None:
    seen: list[bool] = []

    def progress(report: ImportReport) -> None:
        seen.append(gc.isenabled())

    gc.enable()
    async with open_store(str(tmp_path / "p.sqlite3")) as store:
        report = await import_lines(store, corpus(30), batch_size=10, progress=progress)
    assert report.new == 30
    assert seen and not any(seen)
    assert gc.isenabled()


async def test_a_failing_import_gives_the_gc_back_and_a_caller_s_off_stays_off(
    tmp_path: Path, gc_restored: None
) -> None:
    def broken() -> Iterator[str]:
        yield from corpus(5)
        raise OSError("disk gone")

    async with open_store(str(tmp_path / "p.sqlite3")) as store:
        gc.enable()
        with pytest.raises(OSError):
            await import_lines(store, broken(), batch_size=2)
        assert gc.isenabled()
        gc.disable()
        await import_lines(store, corpus(5), batch_size=2)
        assert not gc.isenabled()


async def cyclic_garbage(path: Path, lines: list[str], batch_size: int) -> int:
    """Objects in cycles an import leaves behind (a collection keeps them in gc.garbage)."""
    async with open_store(str(path)) as store:
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            report = await import_lines(store, lines, batch_size=batch_size)
            assert report.bad == 3
            gc.collect()
            return len(gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()


async def test_an_import_leaves_no_cycles_a_paper(tmp_path: Path, gc_restored: None) -> None:
    bad = ["{not json", '{"id": "nope", "title": "x"}', '{"id": "2401.00001"}']
    few, many = corpus(60), corpus(600)
    # Six batches each: a few small objects a batch (closures of the store's calls, ~30) are
    # left, about the same for ten times the papers; a cycle a paper would add 1,000+.
    small = await cyclic_garbage(tmp_path / "few.sqlite3", few[:5] + bad + few[5:], 10)
    large = await cyclic_garbage(tmp_path / "many.sqlite3", many[:5] + bad + many[5:], 100)
    assert large < small + 300, (small, large)
