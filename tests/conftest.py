"""Shared pytest configuration for the whole test suite."""

pytest_plugins = ["tests.fakes.discord.fixtures", "tests.pg.fixtures"]
