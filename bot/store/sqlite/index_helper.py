"""An import's search-index work in a second process, beside the one that stores the papers.

An import is bound by Python: parsing and encoding papers on one side, tokenizing them for the
index on the other, and one interpreter runs one thread of Python at a time. So while
`paperfeed import` stores its batches, a helper (`main` below, in a new interpreter)
opens the same file and index, takes the index's writer, and catches up from the change log
whenever the importer says a batch is committed; at the end it commits and exits, and the
importer's index reads what it wrote. The database stays the truth: whatever the helper has
not committed is still in the log, applied by the importer (if the helper fails) or by the
next start (if both die). The helper dies with its parent (Linux) and on end of input.

Talk, one line each: importer -> helper `go` (a batch is committed) and `finish`;
helper -> importer `ready` (it holds the writer), `busy` (it could not: the importer keeps
the work), `log {...}` (a log record, logged by the importer as its own), then `done`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

# The helper's command line: `-c`, not `-m`: the package imports this module before `-m` would
# run it as __main__ (a second copy of it).
_RUN = f"import sys; from {__name__} import main; sys.exit(main())"
# How long the importer waits for the helper to open the index and take its writer.
START_TIMEOUT = 60.0


class SqliteIndexHelper:
    """The importer's side: starts the helper, tells it of committed batches, waits for it."""

    def __init__(self, database: str, directory: Path) -> None:
        self._database = database
        self._directory = directory
        self._process: asyncio.subprocess.Process | None = None
        self._listening: asyncio.Task[None] | None = None
        self._answer: asyncio.Future[bytes] | None = None

    async def start(self) -> bool:
        if not sys.executable:  # an embedded interpreter: nothing to start
            return False
        level = logging.getLogger().getEffectiveLevel()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _RUN, self._database, str(self._directory),
                "--parent", str(os.getpid()), "--log-level", str(level),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                # Out of the terminal's process group: Ctrl-C is the importer's to handle (its
                # store's close then tells this one to commit and end).
                start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            log.warning("search index: no helper process (%s); the import indexes here", exc)
            return False
        self._process = process
        self._answer = asyncio.get_running_loop().create_future()
        self._listening = asyncio.create_task(self._listen(process), name="index-helper-output")
        try:
            answer = await asyncio.wait_for(asyncio.shield(self._answer), START_TIMEOUT)
        except TimeoutError:
            answer = b""
        if answer == b"ready":
            return True
        if answer != b"busy":
            log.warning("search index: the helper process did not start; the import indexes here")
        await self._end()
        return False

    async def _listen(self, process: asyncio.subprocess.Process) -> None:
        """Its output until it exits: its first answer, and its log records, logged here as
        this process logs (text or JSON, the same levels)."""
        assert process.stdout is not None
        async for line in process.stdout:
            if line.startswith(b"log "):
                _relog(line[4:])
            elif self._answer is not None and not self._answer.done():
                self._answer.set_result(line.strip())
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(b"")

    def nudge(self) -> None:
        self._say(b"go\n")

    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        """The helper's process id while it runs (for tools and tests)."""
        return self._process.pid if self.running() and self._process is not None else None

    async def finish(self) -> None:
        self._say(b"finish\n")
        await self._end()

    def _say(self, line: bytes) -> None:
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return
        with contextlib.suppress(OSError):  # it has died: finish says so
            process.stdin.write(line)

    async def _end(self) -> None:
        """Close its input (it then commits and exits) and wait for it."""
        process, self._process = self._process, None
        listening, self._listening = self._listening, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            if listening is not None:
                await listening  # until it exits (it says `done` just before)
            code = await process.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.shield(process.wait())
            raise
        if code != 0:
            log.warning(
                "search index: the helper process ended with status %d; what it did not "
                "commit is caught up here",
                code,
            )


def _relog(data: bytes) -> None:
    """A record the helper logged, handed to this process's loggers."""
    try:
        fields = json.loads(data)
        record = logging.makeLogRecord(
            {
                "name": str(fields["name"]),
                "levelno": int(fields["levelno"]),
                "levelname": logging.getLevelName(int(fields["levelno"])),
                "msg": "%s",
                "args": (f"(index helper) {fields['message']}",),
                "exc_text": fields.get("exc") or None,
            }
        )
    except (ValueError, KeyError, TypeError):
        return
    logger = logging.getLogger(record.name)
    if logger.isEnabledFor(record.levelno):
        logger.handle(record)


# -- the helper's side --------------------------------------------------------------------


class _ToImporter(logging.Handler):
    """The helper's log records, one JSON line each on its output, for the importer to log."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            exc = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
            line = json.dumps(
                {
                    "name": record.name,
                    "levelno": record.levelno,
                    "message": record.getMessage(),
                    "exc": exc,
                }
            )
            _say("log " + line)
        except Exception:
            self.handleError(record)


async def _serve(database: str, directory: Path) -> int:
    from bot.store.sqlite.connection import open_connections
    from bot.store.sqlite.search_feed import SqliteChangeFeed
    from bot.store.tantivy_index import TantivyIndex

    conns = await open_connections(database, create=False)
    try:
        index = TantivyIndex(directory, SqliteChangeFeed(conns))
        try:
            if not await index.open_to_catch_up():
                _say("busy")
                return 0
            _say("ready")
            requests = await _lines()
            while True:
                line = await requests.readline()
                await index.catch_up(lag=True)
                if line.strip() != b"go":  # `finish`, or the importer closed its end
                    break
            await index.catch_up()  # the rest, committed
        finally:
            await index.close()
    finally:
        await conns.close()
    _say("done")
    return 0


async def _lines() -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


_said = threading.Lock()


def _say(line: str) -> None:
    with _said:  # log records may come from other threads
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _die_with(parent: int) -> None:
    """Be killed when the importer dies, however it dies (Linux), so no orphan keeps the
    index's writer from the next start; elsewhere, end of input ends it."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before that took hold
        sys.exit(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paperfeed-index-helper")
    parser.add_argument("database")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--log-level", type=int, default=logging.WARNING)
    args = parser.parse_args(argv)
    _die_with(args.parent)
    root = logging.getLogger()
    root.addHandler(_ToImporter())
    root.setLevel(args.log_level)
    try:
        return asyncio.run(_serve(args.database, args.directory))
    except Exception:
        log.exception("search index helper for %s failed", args.directory)
        return 1
