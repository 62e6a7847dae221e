"""The publisher's send rate as the docs state it is the rate the code uses.

Both docs once quoted different rates (issue 12, item 15); this fails when either drifts from
`RateLimiter`'s defaults again.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.services.publisher import RateLimiter

ROOT = Path(__file__).resolve().parents[2]
# "44/s with a burst of 5 (at most 49" or "44 per second with a burst of 5 (at most 49".
STATED = re.compile(r"(\d+)(?:/s| per second) with a burst of (\d+) \(at most (\d+)")


def stated_rates(doc: str) -> list[tuple[int, int, int]]:
    text = " ".join((ROOT / "docs" / doc).read_text(encoding="utf-8").split())
    return [(int(r), int(b), int(m)) for r, b, m in STATED.findall(text)]


@pytest.mark.parametrize("doc", ["reliability.md", "benchmarks.md"])
def test_the_documented_send_rate_is_the_codes(doc: str) -> None:
    limiter = RateLimiter()
    stated = stated_rates(doc)
    assert stated, f"docs/{doc} no longer states the send rate in the expected words"
    for rate, burst, at_most in stated:
        assert (rate, burst) == (limiter.rate, limiter.burst), f"docs/{doc} says {rate}/s"
        assert at_most == limiter.rate + limiter.burst, f"docs/{doc} says at most {at_most}"
