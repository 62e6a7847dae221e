"""The SQLite row codec: the batch form writes exactly what the one-paper form writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from bot.models import Paper
from bot.store.sqlite import codec

NOW = datetime(2026, 12, 3, 7, 0, 0, 250_000, tzinfo=UTC)


def test_paper_rows_match_paper_row_for_every_kind_of_time_and_text() -> None:
    papers = [
        Paper(id="2401.00001", title="Plain", published=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        Paper(
            id="2401.00002",
            title="Odd",
            authors=('Zoë "Q" Müller', "李"),
            categories=("cs.LG", "stat.ML"),
            ai_keywords=("é", "x"),
            published=datetime(2020, 1, 1, 5, 6, 7),  # naive: taken as UTC
            updated=datetime(2021, 1, 1, 5, 6, 7, 999, tzinfo=UTC),
            hf_submitted_at=datetime(2024, 1, 2, tzinfo=timezone(timedelta(hours=2))),
            first_seen=datetime(2019, 5, 5, tzinfo=UTC),
            sources=frozenset({"import", "arxiv"}),
        ),
    ]
    rows = codec.paper_rows(papers, NOW, NOW)
    assert rows == [codec.paper_row(p, NOW, NOW) for p in papers]
    odd = dict(zip(codec.PAPER_COLUMNS, rows[1], strict=True))
    assert json.loads(odd["authors"]) == ['Zoë "Q" Müller', "李"]
    assert odd["authors"] == '["Zoë \\"Q\\" Müller", "李"]'  # as json.dumps wrote it
    assert odd["published"] == "2020-01-01T05:06:07Z"
    assert odd["updated"] == "2021-01-01T05:06:07Z"
    assert odd["hf_submitted_at"] == "2024-01-01T22:00:00Z"
    assert odd["changed_at"] == "2026-12-03T07:00:00Z"
    assert dict(zip(codec.PAPER_COLUMNS, rows[0], strict=True))["ai_keywords"] == "[]"
