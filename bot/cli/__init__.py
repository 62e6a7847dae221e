"""The command line (`paperfeed ...`): each module registers its commands; main runs one."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from bot import __version__
from bot.cli import feeds, ops, papers, runtime
from bot.cli.common import Handler
from bot.config import load_config
from bot.errors import ConfigError, PaperfeedError
from bot.logs import setup_logging

COMMAND_MODULES = (papers, ops, runtime, feeds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperfeed",
        description="Research papers from arXiv and Hugging Face Papers, delivered to Discord.",
    )
    parser.add_argument("--version", action="version", version=f"paperfeed {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $PAPERFEED_CONFIG or ./config.toml)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; expected failures print one line and set the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, os.environ)
        setup_logging(config.logging)
        if config.database.url and args.command != "check-config":
            # Interim, until the PostgreSQL store is wired in (issue 14): a URL must never
            # silently mean "SQLite after all".
            raise ConfigError(
                "[database] url: PostgreSQL is not available in this build yet; "
                "unset it (and $PAPERFEED_DATABASE_URL) to use SQLite"
            )
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
