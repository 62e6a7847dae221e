"""Issue 13: the sources live in one registry; nothing outside `bot/sources/` spells their names."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from bot.models import SourceRun
from bot.sources.registry import NAMES, SOURCES, label_of, stale_reason

BOT = Path(__file__).resolve().parent.parent.parent / "bot"
# bot/config.py defines the contract's `[sources.arxiv]` and `[sources.huggingface]` tables.
ALLOWED = {BOT / "config.py"}


def test_no_module_outside_the_sources_spells_a_source_name() -> None:
    quoted = re.compile("|".join(rf"[\"']{re.escape(name)}[\"']" for name in NAMES))
    found = [
        f"{path.relative_to(BOT.parent)}:{n}: {line.strip()}"
        for path in sorted(BOT.rglob("*.py"))
        if BOT / "sources" not in path.parents and path not in ALLOWED
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if quoted.search(line)
    ]
    assert found == []


def test_every_source_has_a_name_a_label_and_a_config_table() -> None:
    from bot.config import Config

    sources_config = Config().sources
    for kind in SOURCES:
        assert kind.label and label_of(kind.name) == kind.label
        assert hasattr(sources_config, kind.name), kind.name
    assert label_of("elsewhere") == "elsewhere"


def test_each_source_states_its_own_stale_rule() -> None:
    """A weekday: a quiet Hugging Face Monday is stale on Tuesday; arXiv is judged per day."""
    tuesday = datetime(2026, 12, 1, 12, tzinfo=UTC)
    monday_runs = [
        SourceRun(source=name, started_at=datetime(2026, 11, 30, h, tzinfo=UTC),
                  finished_at=datetime(2026, 11, 30, h, 1, tzinfo=UTC), fetched=3, new=0)
        for name in NAMES for h in (8, 16)
    ]  # fmt: skip
    reasons = {name: stale_reason(name, [r for r in monday_runs if r.source == name], tuesday)
               for name in NAMES}  # fmt: skip
    assert sum(reason is not None for reason in reasons.values()) == 1, reasons
    assert stale_reason("elsewhere", monday_runs, tuesday) is None
