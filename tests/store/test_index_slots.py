"""Index slots: processes on one host never share an index directory as writers, and a
restarted process takes its old slot back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.store.index_slots import claim_built_slot, claim_slot


def test_two_claims_take_different_slots_and_a_freed_one_is_taken_again(tmp_path: Path) -> None:
    base = tmp_path / "data" / "search-index"
    first, second = claim_slot(base), claim_slot(base)
    assert (first.directory, second.directory) == (
        tmp_path / "data" / "search-index.0",
        tmp_path / "data" / "search-index.1",
    )
    first.release()
    again = claim_slot(base)
    assert again.number == 0
    again.release()
    second.release()


def test_a_slot_held_by_another_process_is_not_taken(tmp_path: Path) -> None:
    base = tmp_path / "search-index"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from bot.store.index_slots import claim_slot; "
         "slot = claim_slot(Path(sys.argv[1])); print(slot.number, flush=True); sys.stdin.read()",
         str(base)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "0"
        mine = claim_slot(base)
        assert mine.number == 1
        mine.release()
    finally:
        holder.communicate("", timeout=10)  # its end drops its lock
    assert claim_slot(base).number == 0


def test_a_one_shot_claim_takes_only_a_free_slot_holding_an_index(tmp_path: Path) -> None:
    base = tmp_path / "search-index"
    assert claim_built_slot(base) is None and list(tmp_path.iterdir()) == []
    held = claim_slot(base)  # slot 0, held, with an index
    (held.directory).mkdir()
    (held.directory / "meta.json").write_text("{}")
    free_empty = claim_slot(base)  # slot 1: free after release, but holds nothing
    free_empty.release()
    built = claim_slot(base)  # slot 1 again
    assert built.number == 1
    built.release()
    assert claim_built_slot(base) is None  # 0 is held, 1 has no index
    (tmp_path / "search-index.1").mkdir()
    (tmp_path / "search-index.1" / "meta.json").write_text("{}")
    found = claim_built_slot(base)
    assert found is not None and found.number == 1
    assert claim_built_slot(base) is None  # now held by us
    found.release()
    held.release()
