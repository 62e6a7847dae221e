"""Shared pytest configuration for the whole test suite."""

from __future__ import annotations

import pytest

from tests.fakes.discord.schema import locate_openapi_spec, spec_required

pytest_plugins = ["tests.fakes.discord.fixtures", "tests.pg.fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    """Where Discord's OpenAPI spec is required (CI), a missing one stops the run at once with
    one line, rather than as an error in every test that starts the fake."""
    if spec_required():
        try:
            locate_openapi_spec()
        except FileNotFoundError as exc:
            raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> str:
    """Say whether the fake checks bodies against the spec: a missing spec is never silent."""
    try:
        return f"discord fake: request bodies checked against {locate_openapi_spec()}"
    except FileNotFoundError as exc:
        return f"discord fake: hand-written rules only; the OpenAPI layer is off: {exc}"
