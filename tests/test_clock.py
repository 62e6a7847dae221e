"""The wall clock every record is stamped with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.clock import utcnow


def test_utcnow_is_aware_utc_and_current() -> None:
    now = utcnow()
    assert now.tzinfo is UTC
    assert abs(datetime.now(UTC) - now) < timedelta(seconds=5)
