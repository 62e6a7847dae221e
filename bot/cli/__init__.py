"""The command line (`paperfeed ...`): each module registers its commands; main runs one."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from bot import __version__
from bot.cli import feeds, follows, health, ops, papers, runtime, semantic
from bot.cli.common import Handler
from bot.config import load_config
from bot.errors import PaperfeedError
from bot.logs import setup_logging

COMMAND_MODULES = (papers, ops, runtime, feeds, follows, health, semantic)
# Commands whose free text may start with "-" (`paperfeed search -survey diffusion`).
FREE_TEXT_COMMANDS = ("search",)


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (the README promises one line, never a usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> Parser:
    parser = Parser(
        prog="paperfeed",
        description="Research papers from arXiv and Hugging Face Papers, delivered to Discord.",
    )
    parser.add_argument("--version", action="version", version=f"paperfeed {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $PAPERFEED_CONFIG or ./config.toml)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def subcommand_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def words_after_options(sub: argparse.ArgumentParser, tokens: Sequence[str]) -> list[str]:
    """Reorder one command's arguments so that its free text comes last, after `--`.

    argparse reads any token that starts with "-" as an option, so `search -survey` was a usage
    error. Here a long option the command knows (exact or an unambiguous prefix, as argparse
    allows) keeps its value; another `--word` is left to argparse to refuse; `-h` is help;
    every other token, dashes included, is a word of the text, in the order typed.
    """
    takes_value: dict[str, bool] = {}
    for action in sub._actions:
        for option in action.option_strings:
            takes_value[option] = action.nargs != 0
    options: list[str] = []
    words: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == "--":
            words.extend(tokens[i:])
            break
        if token in ("-h", "--help"):
            options.append(token)
            continue
        if not token.startswith("--"):
            words.append(token)  # a word, or `-survey`: an excluded word, not an option
            continue
        name = token.split("=", 1)[0]
        known = [o for o in takes_value if o.startswith("--") and o.startswith(name)]
        exact = name if name in takes_value else (known[0] if len(known) == 1 else None)
        options.append(token)
        if exact is not None and takes_value[exact] and "=" not in token and i < len(tokens):
            options.append(tokens[i])
            i += 1
    return [*options, "--", *words] if words else options


def prepare_argv(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """Find the command after the global options; give free-text commands their words."""
    args = list(argv)
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--config":
            i += 2
            continue
        if token.startswith("-"):
            i += 1
            continue
        if token in FREE_TEXT_COMMANDS:
            sub = subcommand_parsers(parser)[token]
            return [*args[: i + 1], *words_after_options(sub, args[i + 1 :])]
        break
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; expected failures print one line and set the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(prepare_argv(parser, sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:  # `paperfeed` alone: what it can do, not an error
        parser.print_help()
        return 0
    try:
        config = load_config(args.config, os.environ)
        setup_logging(config.logging)
        handler: Handler = args.handler
        return asyncio.run(handler(args, config))
    except PaperfeedError as exc:
        print(f"paperfeed: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("paperfeed: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
