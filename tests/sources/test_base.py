"""The shared result type: merging by id, and how problems and errors are kept apart."""

from __future__ import annotations

import logging

import pytest

from bot.errors import SourceResponseError, SourceUnavailable
from bot.models import Paper
from bot.sources.base import FetchResult, ResultBuilder, merge_by_id


def paper(pid: str, **kw: object) -> Paper:
    return Paper(id=pid, title=f"Paper {pid}", sources=frozenset({"huggingface"}), **kw)  # type: ignore[arg-type]


def test_merge_by_id_keeps_first_seen_order_and_merges_later_sightings() -> None:
    merged = merge_by_id([paper("1", upvotes=1), paper("2")], [paper("1", upvotes=4), paper("3")])
    assert [p.id for p in merged] == ["1", "2", "3"]
    assert merged[0].upvotes == 4


def test_a_result_without_an_error_is_ok_and_lists_every_paper() -> None:
    result = FetchResult(papers=[paper("1")], replaced=[paper("2", version=3)])
    assert result.ok and [p.id for p in result.all_papers] == ["1", "2"]
    assert not FetchResult(error="down").ok


def test_the_first_failure_is_the_error_and_every_failure_a_problem() -> None:
    run = ResultBuilder("huggingface")
    run.add([paper("1")], ["odd field"], where="page 0")
    run.fail(SourceResponseError("huggingface", "not JSON"), where="page 1")
    run.fail(SourceUnavailable("huggingface", "HTTP 503"), where="trending")
    result = run.build()
    assert result.error == "page 1: not JSON"
    assert result.problems == ["page 0: odd field", "page 1: not JSON", "trending: HTTP 503"]
    assert run.unavailable and [p.id for p in result.papers] == ["1"]


def test_a_degraded_request_is_a_problem_but_not_the_error() -> None:
    run = ResultBuilder("arxiv")
    run.degrade(SourceUnavailable("arxiv", "HTTP 503"), where="enrichment")
    result = run.build()
    assert result.ok and result.problems == ["enrichment: HTTP 503"] and run.unavailable


def test_problems_are_summed_up_quietly_per_fetch(caplog: pytest.LogCaptureFixture) -> None:
    # warnings reach the log once per item and kind through the poller, not at every fetch
    run = ResultBuilder("arxiv")
    run.note(["one", "two", "three"])
    with caplog.at_level(logging.DEBUG, logger="bot.sources"):
        run.build()
    (record,) = caplog.records
    assert record.levelno == logging.DEBUG and "3 problem(s)" in record.getMessage()
