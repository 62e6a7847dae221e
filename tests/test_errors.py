"""The exception tree: every expected error is a PaperfeedError, and the docstring draws them all."""

from __future__ import annotations

import inspect

import bot.errors
from bot.errors import PaperfeedError, UsageError, UserFacingError


def test_every_error_is_in_the_tree_and_drawn_in_its_docstring() -> None:
    """Issue 13: UserFacingError stood beside the tree (a discord.py error) and UsageError outside
    it (in the CLI), so neither the handlers nor a reader of bot.errors saw them."""
    classes = [c for _, c in inspect.getmembers(bot.errors, inspect.isclass)
               if c.__module__ == "bot.errors"]  # fmt: skip
    assert {UsageError, UserFacingError} <= set(classes)
    doc = bot.errors.__doc__ or ""
    for cls in classes:
        assert issubclass(cls, PaperfeedError), cls
        assert f" {cls.__name__} " in doc or f" {cls.__name__}\n" in doc, cls.__name__


def test_refusals_of_the_user_exit_2() -> None:
    assert UsageError("x").exit_code == UserFacingError("x").exit_code == 2
