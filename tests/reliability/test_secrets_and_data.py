"""Secrets and data: the token never shows, the database is private, and a locked, read-only or
full database is a clear error that the next attempt recovers from, without corruption."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
import stat
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest

from bot.clock import utcnow
from bot.config import describe, parse_config_text
from bot.errors import ConfigError, StoreError
from bot.models import FeedSpec
from bot.secrets import Secret
from bot.services.poller import Poller
from bot.sources.base import FetchResult
from bot.store import open_store
from tests.fakes.discord import FakeDiscord
from tests.reliability.conftest import LiveBot
from tests.reliability.support import (
    BotProcess,
    duplicates,
    make_paper,
    posts_by_pair,
    record_figures,
    write_run_config,
)

# Shaped like a real bot token, and easy to find in any output.
TOKEN = "MTA5ODc2NTQzMjE5ODc2NTQz.GxSENTINEL.rel1abil1ty-t0ken-do-not-print"
WRONG = "MTA5ODc2NTQzMjE5ODc2NTQz.GxWRONGSENTINEL.n0t-the-r1ght-t0ken"
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\S+ |\{\")")  # a text or a JSON log record


def leaks(text: str, *secrets: str) -> list[str]:
    """Pieces of a secret (any part of 8+ characters between its dots) found in `text`."""
    parts = {p for s in secrets for p in s.split(".") if len(p) >= 8} | set(secrets)
    return sorted(p for p in parts if p in text)


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_a_refused_token_exits_2_with_one_line_and_never_shows(
    tmp_path: Path, fmt: str
) -> None:
    fake = await FakeDiscord(token=TOKEN, openapi=None).start()
    bot = BotProcess(
        write_run_config(
            tmp_path / "config.toml", fake, tmp_path / "p.sqlite3",
            logging=f'level = "DEBUG"\nformat = "{fmt}"\nlevels = {{"discord" = "DEBUG"}}\n',
        ),
        WRONG,
        tmp_path,
    )  # fmt: skip
    try:
        await bot.start()
        assert bot.proc is not None
        code = await asyncio.wait_for(bot.proc.wait(), 60)
        output = bot.output()
        assert code == 2, output[-2000:]
        said = [
            line for line in bot.stderr_path.read_text().splitlines() if not LOG_LINE.match(line)
        ]
        assert said == ["paperfeed: Discord refused the token (401): check $DISCORD_TOKEN"]
        assert "Traceback" not in output
        assert not leaks(output, WRONG, TOKEN)
        assert fake.invalid_request_count() == 1  # one 401, no retry loop
        record_figures(f"secrets/refused-token-{fmt}", exit_code=code, leaks=0)
    finally:
        await bot.cleanup()
        await fake.close()


async def test_the_token_never_shows_in_a_running_bots_debug_logs(tmp_path: Path) -> None:
    """Login, gateway identify, deliveries, a slash command and shutdown, all at DEBUG."""
    fake = await FakeDiscord(token=TOKEN, openapi=None, message_rate=(50, 1.0)).start()
    db = tmp_path / "p.sqlite3"
    bot = BotProcess(
        write_run_config(
            tmp_path / "config.toml", fake, db,
            logging='level = "DEBUG"\nlevels = {"discord" = "DEBUG", "discord.http" = "DEBUG", '
                    '"discord.gateway" = "DEBUG", "aiohttp" = "DEBUG", "httpx" = "DEBUG"}\n',
        ),
        TOKEN,
        tmp_path,
    )  # fmt: skip
    try:
        world = fake.world
        assert world is not None
        async with open_store(str(db)) as store:
            await store.papers.upsert([make_paper(n) for n in range(1, 6)])
            feed = await store.feeds.add(
                FeedSpec(name="leak-check", channel_id=world.papers.id, query="x", backfill=0),
                guild_id=world.guild.id,
            )
            await store.outbox.queue([(feed.id, make_paper(n).id) for n in range(1, 6)])
        await bot.start()
        await bot.wait_until(fake, lambda: len(fake.messages()) >= 5, timeout=60, what="5 posts")
        record = await fake.invoke("feed list", member=world.mod)
        await fake.wait_for_original(record)
        code, _ = await bot.terminate()
        assert code == 0
        output = bot.output()
        assert not leaks(output, TOKEN), "the token appeared in the logs"
        record_figures("secrets/debug-logs", log_lines=len(output.splitlines()), leaks=0)
    finally:
        await bot.cleanup()
        await fake.close()


async def run_cli(cwd: Path, args: list[str], token: str = TOKEN) -> tuple[str, str, int]:
    """`python -m bot ARGS` with $DISCORD_TOKEN set; (stdout, stderr, exit status)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "DISCORD_TOKEN": token}, cwd=cwd,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return out.decode(), err.decode(), proc.returncode


async def test_the_token_is_in_no_repr_error_or_traceback(tmp_path: Path) -> None:
    config = parse_config_text("[discord]\n", {"DISCORD_TOKEN": TOKEN})
    assert config.discord.token.get() == TOKEN
    for text in (repr(config), str(config), repr(config.discord), str(describe(config))):
        assert not leaks(text, TOKEN)
    assert repr(Secret(TOKEN)) == "Secret('***')" and f"{Secret(TOKEN)}" == "Secret('***')"
    # a token written into the file is refused without being echoed
    with pytest.raises(ConfigError) as refused:
        parse_config_text(f'[discord]\ntoken = "{TOKEN}"\n', {})
    assert not leaks(str(refused.value), TOKEN)
    # check-config, text and JSON, as a user runs it
    (tmp_path / "config.toml").write_text("[health]\nport = 0\n")
    for args in (["check-config"], ["check-config", "--json"]):
        out, err, code = await run_cli(tmp_path, ["--config", str(tmp_path / "config.toml"), *args])
        assert code == 0 and not leaks(out + err, TOKEN)
    # a login refused by Discord: the exception and its traceback name no token
    fake = await FakeDiscord(token=TOKEN, openapi=None).start()
    from bot.discord.endpoints import current_discord_endpoints, use_discord_endpoints

    saved = current_discord_endpoints()
    use_discord_endpoints(fake.api_base, fake.gateway_url)
    client = discord.Client(intents=discord.Intents.none())
    try:
        with pytest.raises(discord.LoginFailure) as failed:
            await client.login(WRONG)
        text = "".join(traceback.format_exception(failed.value))
        assert not leaks(text + repr(failed.value), WRONG, TOKEN)
    finally:
        await client.close()
        use_discord_endpoints(*saved)
        await fake.close()


async def test_invite_url_with_a_refused_token_names_no_token(tmp_path: Path) -> None:
    fake = await FakeDiscord(token=TOKEN, openapi=None).start()
    config = tmp_path / "config.toml"
    config.write_text(f'[discord]\napi_base = "{fake.api_base}"\n[health]\nport = 0\n')
    try:
        out, err, code = await run_cli(tmp_path, ["--config", str(config), "invite-url"], WRONG)
        assert code == 2 and "refused the token" in err
        assert not leaks(out + err, WRONG, TOKEN)
    finally:
        await fake.close()


# ---- the database on disk --------------------------------------------------------------------


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_database_its_journal_and_backups_are_owner_only_even_with_umask_0(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    db = data / "p.sqlite3"
    with umask(0):
        async with open_store(str(db)) as store:
            await store.papers.upsert([make_paper(1)])  # the WAL and its index now exist
            files = {p.name: mode(p) for p in data.iterdir()}
            (tmp_path / "backups").mkdir()  # backup() creates no folders
            backup = await store.backup(tmp_path / "backups" / "b.sqlite3")
        (tmp_path / "config.toml").write_text(f'[database]\npath = "{db}"\n')
        cli_backup = tmp_path / "cli-backup.sqlite3"
        args = ["--config", str(tmp_path / "config.toml"), "db", "backup", str(cli_backup)]
        _, err, code = await run_cli(tmp_path, args)
        assert code == 0, err
    assert mode(data) == 0o700
    assert files == {
        "p.sqlite3": 0o600,
        "p.sqlite3-wal": 0o600,
        "p.sqlite3-shm": 0o600,
        "p.sqlite3.index": 0o700,  # the search index's folder (issue 19)
        "p.sqlite3.index.lock": 0o600,  # its rebuild lock
        "p.sqlite3.index.write.lock": 0o600,  # its write lock
    }
    assert mode(backup) == 0o600
    assert mode(cli_backup) == 0o600
    record_figures("data/permissions", files={**files, "backup": 0o600})


# ---- a locked, read-only or full database ----------------------------------------------------


def hold_exclusive(db: Path) -> sqlite3.Connection:
    """Another process's connection holding the write lock (BEGIN EXCLUSIVE)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


async def short_busy_timeout(live: LiveBot) -> None:
    """The product waits 5 s for a lock; the story needs the same outcome sooner."""
    for conn in live.store.connections.each():
        await conn.execute("PRAGMA busy_timeout = 50")


async def test_a_locked_database_is_a_clear_error_and_the_next_round_delivers_once(
    live: LiveBot,
) -> None:
    fake = live.fake
    feed = await live.feed("locked", live.world.papers.id)
    await live.owe([feed], [make_paper(n) for n in range(1, 6)])
    await short_busy_timeout(live)
    lock = hold_exclusive(Path(live.store.path))
    try:
        with pytest.raises(StoreError, match="database is locked"):
            await live.bot.publisher.publish_due()
        assert fake.messages() == []  # nothing was sent without its attempt being recorded
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    await live.deliver_all()
    assert await live.states(feed) == {"sent": 5}
    assert not duplicates(posts_by_pair(fake)) and len(fake.messages()) == 5
    assert await live.store.integrity_check() == "ok"


class _Scripted:
    name = "huggingface"

    def __init__(self, papers: list[object]) -> None:
        self.result = FetchResult(papers)  # type: ignore[arg-type]

    async def poll(self, now: object) -> FetchResult:
        return self.result


@pytest.mark.parametrize("fault", ["locked", "read-only", "full"])
async def test_a_poll_into_an_unwritable_database_keeps_nothing_half_and_recovers(
    tmp_path: Path, fault: str
) -> None:
    db = tmp_path / "p.sqlite3"
    papers = [make_paper(n, abstract="word " * 400) for n in range(1, 301)]
    async with open_store(str(db)) as store:
        feed = await store.feeds.add(
            FeedSpec(name="all", channel_id=1, query="delivery", backfill=0), guild_id=1
        )
        # a bot that has been running: what the listing brings is news, not backlog
        await store.sources.mark_listings_seen("huggingface", ["huggingface"], utcnow())
        poller = Poller(store, [_Scripted(papers)], utcnow)
        conn = store.connections.each()[0]  # the writer
        await conn.execute("PRAGMA busy_timeout = 50")
        lock = None
        if fault == "locked":
            lock = hold_exclusive(db)
        elif fault == "read-only":
            await conn.execute("PRAGMA query_only = ON")
        else:
            pages = (await (await conn.execute("PRAGMA page_count")).fetchone())[0]
            await conn.execute(f"PRAGMA max_page_count = {pages + 5}")
        try:
            # recorded as the run's error, or (when even the record cannot be written) raised
            try:
                message = (await poller.poll_source("huggingface")).error or ""
            except StoreError as exc:
                message = str(exc)
        finally:
            if lock is not None:
                lock.execute("ROLLBACK")
                lock.close()
        expected = {"locked": "locked", "read-only": "readonly", "full": "full"}[fault]
        assert expected in message and "Traceback" not in message
        # nothing half-written: no paper, no delivery, and the file is sound
        assert await store.papers.count() == 0
        assert await store.outbox.deliveries(feed_id=feed.id) == []
        assert await store.integrity_check() == "ok"
        # the fault ends: the next poll stores everything and queues it once
        await conn.execute("PRAGMA query_only = OFF")
        await conn.execute("PRAGMA max_page_count = 1073741823")
        report = await poller.poll_source("huggingface")
        assert report.error is None and report.new == 300 and report.queued == 300
        assert len(await store.outbox.deliveries(feed_id=feed.id)) == 300
        assert (await store.sources.health("huggingface")).consecutive_failures == 0
        assert await store.integrity_check() == "ok"
    record_figures(f"data/{fault}", error=message)
