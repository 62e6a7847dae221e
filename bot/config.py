"""Configuration: a TOML file (optional) plus the environment, read once into frozen dataclasses.

No file at all is a complete set-up: every key has a working default. A bad file is refused with
one line naming the file, the key and what was expected (ConfigError, exit status 2). Unknown keys
are errors too, so a typo is never silently ignored. The Discord token comes only from
`$DISCORD_TOKEN` or the file named by `[discord] token_file`, and never shows in a repr.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bot.errors import ConfigError
from bot.models import FeedMode, FeedSpec
from bot.secrets import DatabaseUrl, Secret, redact_url
from bot.services.feeds import EXPECTED, FeedSpecError, validate
from bot.sources.arxiv_categories import category_problem

DEFAULT_CONFIG_PATH = "config.toml"
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z\-]*(\.[A-Za-z][A-Za-z\-]*)?$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_SNOWFLAKE_MAX = 2**63 - 1
# Discord ids carry their creation time (ms since 2015 shifted left 22 bits): every id made
# since Discord opened has at least 17 digits, so a small number is a placeholder or a typo.
_SNOWFLAKE_MIN = 10**16
# Politeness floors: arXiv's listings change once a day and its terms ask for restraint; Hugging
# Face's daily list changes over hours. Polling faster gains nothing and risks being blocked.
# The floors guard the public services only: a mirror or a test server of your own (a URL on
# another host) may be polled as often as you like.
POLL_FLOORS = {"arxiv": timedelta(minutes=15), "huggingface": timedelta(minutes=5)}
PUBLIC_HOSTS = {"arxiv": ("arxiv.org",), "huggingface": ("huggingface.co", "hf.co")}


@dataclass(frozen=True)
class DiscordConfig:
    token: Secret = field(default_factory=lambda: Secret(""))
    token_file: str = ""
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str = ""
    dev_guild_ids: tuple[int, ...] = ()
    alerts_channel_id: int = 0
    shard_ids: tuple[int, ...] = ()  # the gateway shards this process runs; () = all of them
    shard_count: int = 0  # 0: as many as Discord recommends


@dataclass(frozen=True)
class DatabaseConfig:
    path: str = "data/paperfeed.sqlite3"
    url: DatabaseUrl | None = None  # set: PostgreSQL, and `path` is ignored

    @property
    def backend(self) -> str:
        """Which database the program uses: "postgresql" when a URL is set, else "sqlite"."""
        return "postgresql" if self.url else "sqlite"


@dataclass(frozen=True)
class HuggingFaceConfig:
    enabled: bool = True
    base_url: str = "https://huggingface.co"
    interval: timedelta = timedelta(minutes=20)


@dataclass(frozen=True)
class ArxivConfig:
    enabled: bool = True
    categories: tuple[str, ...] = ("cs.LG", "cs.CL", "cs.AI", "cs.CV")
    api_url: str = "https://export.arxiv.org/api/query"
    rss_url: str = "https://rss.arxiv.org/rss"
    interval: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class SourcesConfig:
    huggingface: HuggingFaceConfig = field(default_factory=HuggingFaceConfig)
    arxiv: ArxivConfig = field(default_factory=ArxivConfig)


@dataclass(frozen=True)
class HealthConfig:
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    format: str = "text"
    levels: tuple[tuple[str, str], ...] = ()  # per-logger levels, e.g. ("bot.sources", "DEBUG")


ROLES = ("gateway", "poller", "publisher")


@dataclass(frozen=True)
class ClusterConfig:
    roles: tuple[str, ...] = ("all",)  # "all", or some of ROLES

    def has(self, role: str) -> bool:
        """Whether this process does `role`'s work ("all" does every role's)."""
        return "all" in self.roles or role in self.roles


@dataclass(frozen=True)
class FollowsConfig:
    """Personal follows delivered by DM (issue 16)."""

    enabled: bool = True
    max_per_user: int = 20
    default_time: str = "08:00"  # UTC, daily follows
    daily_size: int = 10
    instant_window: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class SemanticConfig:
    """like: / about: filters in feeds and follows (issue 17); docs/semantic.md has the numbers."""

    about_threshold: float = 0.40
    like_threshold: float = 0.60


@dataclass(frozen=True)
class SearchConfig:
    """Where the Tantivy search index lives (issue 19); "" = the default of the backend."""

    index_path: str = ""


@dataclass(frozen=True)
class Config:
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    feeds: tuple[FeedSpec, ...] = ()
    path: str | None = None  # the file it came from, None when defaults only
    follows: FollowsConfig = field(default_factory=FollowsConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    semantic: SemanticConfig = field(default_factory=SemanticConfig)
    search: SearchConfig = field(default_factory=SearchConfig)


def resolve_config_path(cli_path: str | None, env: Mapping[str, str]) -> tuple[Path, bool]:
    """Pick the file: --config, else $PAPERFEED_CONFIG, else ./config.toml; say if it was named."""
    if cli_path:
        return Path(cli_path), True
    if env.get("PAPERFEED_CONFIG"):
        return Path(env["PAPERFEED_CONFIG"]), True
    return Path(DEFAULT_CONFIG_PATH), False


def load_config(cli_path: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the configuration; a missing default file means defaults, a missing named file is an error."""
    env = os.environ if env is None else env
    path, named = resolve_config_path(cli_path, env)
    if not path.exists():
        if named:
            raise ConfigError(f"{path}: no such configuration file")
        return _build({}, str(path), env, from_file=False)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return _build(raw, str(path), env, from_file=True)


def parse_config_text(text: str, env: Mapping[str, str], name: str = "config.toml") -> Config:
    """Parse TOML text as if it were a file named `name` (tests and `feeds import` use this)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError(f"{name}: not valid TOML: nested too deeply") from None
    return _build(raw, name, env, from_file=True)


def parse_duration(text: str) -> timedelta:
    """Turn "45s", "20m", "6h", "1d" into a timedelta; ValueError otherwise."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(text)
    return timedelta(seconds=int(match.group(1)) * _DURATION_UNITS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration, in the largest exact unit."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class _Reader:
    """Walks one TOML table, checking keys and types and naming the key in every error."""

    def __init__(self, filename: str, section: str, table: Any) -> None:
        self.filename = filename
        self.section = section
        if not isinstance(table, dict):
            raise self.error("", "expected a table", table)
        self.table: dict[str, Any] = table

    def where(self, key: str) -> str:
        return f"{self.section} {_one_line(key)}".strip() if key else self.section

    def error(self, key: str, expected: str, got: object) -> ConfigError:
        return ConfigError(f"{self.filename}: {self.where(key)}: {expected}, got {_show(got)}")

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.table:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise ConfigError(
                    f"{self.filename}: {self.where(key)}: unknown key (known keys: {known})"
                )

    def get(self, key: str, default: T, check: Callable[[Any], T], expected: str) -> T:
        if key not in self.table:
            return default
        value = self.table[key]
        try:
            return check(value)
        except (TypeError, ValueError):
            raise self.error(key, expected, value) from None


T = TypeVar("T")


def _show(value: object) -> str:
    """A value as the error line quotes it: control characters escaped, so it stays one line."""
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(text: str) -> str:
    """Keys are user text too: escape what would break the one-line error."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError
    return value


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _as_int(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError
        return value

    return check


def _as_whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError
    return value


def _as_snowflake(value: Any) -> int:
    """A Discord id: a positive integer (a numeric string is accepted, since ids exceed JS ints)."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError
    if not _SNOWFLAKE_MIN <= value <= _SNOWFLAKE_MAX:
        raise ValueError
    return value


def _as_snowflake_or_zero(value: Any) -> int:
    if value == 0 or value == "0":
        return 0
    return _as_snowflake(value)


def _as_list(item: Callable[[Any], T]) -> Callable[[Any], tuple[T, ...]]:
    def check(value: Any) -> tuple[T, ...]:
        if not isinstance(value, list):
            raise TypeError
        return tuple(item(v) for v in value)

    return check


def _as_url(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
        raise ValueError
    return value.rstrip("/")


def _as_ws_url_or_empty(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    if value and not re.match(r"^wss?://[^\s/]+", value):
        raise ValueError
    return value


def _as_duration(value: Any) -> timedelta:
    if not isinstance(value, str):
        raise TypeError
    return parse_duration(value)


def _as_category(value: Any) -> str:
    if not isinstance(value, str) or not _CATEGORY.match(value):
        raise ValueError
    return value


def _as_level(value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in _LOG_LEVELS:
        raise ValueError
    return value.upper()


def _as_choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError
        return str(value)

    return check


def _build(raw: dict[str, Any], filename: str, env: Mapping[str, str], from_file: bool) -> Config:
    top = _Reader(filename, "", raw)
    top.check_keys(
        {"discord", "database", "sources", "health", "logging", "feeds", "follows", "cluster",
         "semantic", "search"}
    )  # fmt: skip
    discord = _discord(_Reader(filename, "[discord]", raw.get("discord", {})), env)
    database = _database(_Reader(filename, "[database]", raw.get("database", {})), env)
    sources_table = _Reader(filename, "[sources]", raw.get("sources", {}))
    sources_table.check_keys({"huggingface", "arxiv"})
    sources = SourcesConfig(
        huggingface=_huggingface(
            _Reader(filename, "[sources.huggingface]", sources_table.table.get("huggingface", {}))
        ),
        arxiv=_arxiv(_Reader(filename, "[sources.arxiv]", sources_table.table.get("arxiv", {}))),
    )
    health = _health(_Reader(filename, "[health]", raw.get("health", {})))
    logging_ = _logging(_Reader(filename, "[logging]", raw.get("logging", {})))
    follows = _follows(_Reader(filename, "[follows]", raw.get("follows", {})))
    feeds_raw = raw.get("feeds", [])
    if not isinstance(feeds_raw, list):
        raise ConfigError(f"{filename}: feeds: expected [[feeds]] tables, got {_show(feeds_raw)}")
    feeds = tuple(
        _feed(_Reader(filename, f"[[feeds]] #{n}", table)) for n, table in enumerate(feeds_raw, 1)
    )
    seen: set[str] = set()
    for spec in feeds:
        if spec.name.casefold() in seen:
            raise ConfigError(f'{filename}: [[feeds]] name: "{spec.name}" is used twice')
        seen.add(spec.name.casefold())
    cluster_table = _Reader(filename, "[cluster]", raw.get("cluster", {}))
    cluster_table.check_keys({"roles"})
    cluster = ClusterConfig(
        roles=cluster_table.get("roles", ClusterConfig().roles, parse_roles, _ROLES_EXPECTED)
    )
    semantic = _semantic(_Reader(filename, "[semantic]", raw.get("semantic", {})))
    search = _search(_Reader(filename, "[search]", raw.get("search", {})))
    config = Config(
        discord=discord,
        database=database,
        sources=sources,
        health=health,
        logging=logging_,
        feeds=feeds,
        path=filename if from_file else None,
        follows=follows,
        cluster=cluster,
        semantic=semantic,
        search=search,
    )
    problem = cluster_problem(config)
    if problem is not None:
        raise ConfigError(f"{filename}: {problem}")
    return config


_ROLES_EXPECTED = 'expected "all" or a list of gateway, poller, publisher'
_SHARDS_EXPECTED = 'expected shard numbers like [0, 1, 2, 3] or a range like "0-3"'


def parse_roles(value: Any) -> tuple[str, ...]:
    """`"gateway,publisher"` or `["gateway", "publisher"]` to a tuple; "all" absorbs the rest."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise TypeError
    roles: list[str] = []
    for item in items:
        if not isinstance(item, str) or item.strip() not in (*ROLES, "all"):
            raise ValueError
        if item.strip() not in roles:
            roles.append(item.strip())
    if not roles:
        raise ValueError
    return ("all",) if "all" in roles else tuple(r for r in ROLES if r in roles)


def parse_shards(value: Any) -> tuple[int, ...]:
    """`"0-3"`, `"5"`, `"0-3,6"` or a list of whole numbers to sorted distinct shard ids ([]:
    none named, so every shard)."""
    if isinstance(value, list):
        if not value:
            return ()  # the file's way to say "every shard"
        ids = [_as_int(0, 65535)(v) for v in value]
    elif isinstance(value, str):
        ids = []
        for part in value.split(","):
            low, dash, high = part.strip().partition("-")
            if not low.isdigit() or (dash and not high.isdigit()):
                raise ValueError
            first, last = int(low), int(high or low)
            if last < first or last > 65535:
                raise ValueError
            ids.extend(range(first, last + 1))
    else:
        raise TypeError
    if not ids:
        raise ValueError
    return tuple(sorted(set(ids)))


def format_shards(ids: Sequence[int], count: int) -> str:
    """Shard ids as ranges with the count: (0, 1, 2, 3), 8 → "0-3/8"; "" when none are set."""
    if not ids:
        return f"all/{count}" if count else ""
    runs: list[str] = []
    start = prev = ids[0]
    for n in [*ids[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ",".join(runs) + (f"/{count}" if count else "")


def cluster_problem(config: Config) -> str | None:
    """Why the roles and shards cannot run on this configuration, or None when they can."""
    d = config.discord
    roles = config.cluster.roles
    if config.database.backend == "sqlite" and roles != ("all",):
        return (
            f"role {','.join(roles)} needs PostgreSQL ([database] url): "
            "a SQLite file serves one process, which runs every role (role all)"
        )
    if d.shard_ids and not d.shard_count:
        return "[discord] shard_ids needs shard_count (how many shards the bot has in all)"
    if d.shard_ids and d.shard_ids[-1] >= d.shard_count:
        return (
            f"[discord] shard_ids: shard {d.shard_ids[-1]} is out of range for "
            f"shard_count {d.shard_count} (shards are 0 to {d.shard_count - 1})"
        )
    if d.shard_ids and not config.cluster.has("gateway"):
        return "[discord] shard_ids: only the gateway role connects shards"
    if d.shard_ids and config.database.backend == "sqlite" and len(d.shard_ids) < d.shard_count:
        return "[discord] shard_ids: a subset of the shards needs PostgreSQL ([database] url)"
    return None


def with_cluster(
    config: Config,
    roles: str | None = None,
    shards: str | None = None,
    shard_count: int | None = None,
) -> Config:
    """The configuration with `run --role/--shards/--shard-count` applied, checked as a whole."""
    cluster, discord = config.cluster, config.discord
    try:
        if roles is not None:
            cluster = ClusterConfig(roles=parse_roles(roles))
    except (TypeError, ValueError):
        raise ConfigError(f"--role: {_ROLES_EXPECTED}, got {_show(roles)}") from None
    try:
        if shards is not None:
            discord = replace(discord, shard_ids=parse_shards(shards))
    except (TypeError, ValueError):
        raise ConfigError(f"--shards: {_SHARDS_EXPECTED}, got {_show(shards)}") from None
    if shard_count is not None:
        if not 1 <= shard_count <= 65536:
            raise ConfigError(f"--shard-count: expected a number from 1, got {shard_count}")
        discord = replace(discord, shard_count=shard_count)
    updated = replace(config, cluster=cluster, discord=discord)
    problem = cluster_problem(updated)
    if problem is not None:
        raise ConfigError(problem)
    return updated


def _as_hhmm(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError
    return value


def _follows(r: _Reader) -> FollowsConfig:
    r.check_keys({"enabled", "max_per_user", "default_time", "daily_size", "instant_window"})
    d = FollowsConfig()
    return FollowsConfig(
        enabled=r.get("enabled", d.enabled, _as_bool, "expected true or false"),
        max_per_user=r.get("max_per_user", d.max_per_user, _as_int(1, 1000), "expected a whole number from 1 to 1000"),
        default_time=r.get("default_time", d.default_time, _as_hhmm, 'expected a UTC time like "08:00"'),
        daily_size=r.get("daily_size", d.daily_size, _as_int(1, 50), "expected a whole number from 1 to 50"),
        instant_window=r.get("instant_window", d.instant_window, _as_duration, 'expected a duration like "5m"'),
    )  # fmt: skip


def _as_cosine(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not -1 <= value <= 1:
        raise ValueError
    return float(value)


def _semantic(r: _Reader) -> SemanticConfig:
    r.check_keys({"about_threshold", "like_threshold"})
    d = SemanticConfig()
    expected = "expected a cosine similarity from -1 to 1, e.g. 0.4"
    return SemanticConfig(
        about_threshold=r.get("about_threshold", d.about_threshold, _as_cosine, expected),
        like_threshold=r.get("like_threshold", d.like_threshold, _as_cosine, expected),
    )


def _as_index_path(value: Any) -> str:
    """ "" (the default), or a path whose last part names the index folder."""
    if not isinstance(value, str):
        raise TypeError
    if value == "":
        return value
    if not value.strip() or "\x00" in value or Path(value).name in ("", ".", ".."):
        raise ValueError
    return value


def _search(r: _Reader) -> SearchConfig:
    r.check_keys({"index_path"})
    expected = (
        'expected "" (the default) or a folder path like "/data/search-index" '
        "(its last part names the index)"
    )
    return SearchConfig(index_path=r.get("index_path", "", _as_index_path, expected))


def search_index_path(config: Config) -> Path:
    """The index folder ([search] index_path): by default beside the SQLite file
    (`<file>.index`); on PostgreSQL `search-index` in the folder of [database] path, under
    which each process takes a slot (`search-index.0`, ...)."""
    if config.search.index_path:
        return Path(config.search.index_path)
    path = Path(config.database.path)
    if config.database.url is not None:
        return path.parent / "search-index"
    return path.with_name(path.name + ".index")


def _discord(r: _Reader, env: Mapping[str, str]) -> DiscordConfig:
    r.check_keys(
        {"token_file", "api_base", "gateway_url", "dev_guild_ids", "alerts_channel_id", "token",
         "shard_ids", "shard_count"}
    )  # fmt: skip
    if "token" in r.table:
        raise ConfigError(
            f"{r.filename}: [discord] token: the token must not be in a config file; "
            "set $DISCORD_TOKEN or [discord] token_file"
        )
    d = DiscordConfig()
    token_file = r.get("token_file", d.token_file, _as_str, "expected a file path")
    token = _read_token(r, token_file, env)
    return DiscordConfig(
        token=token,
        token_file=token_file,
        api_base=r.get("api_base", d.api_base, _as_url, 'expected an http(s) URL like "https://discord.com/api/v10"'),
        gateway_url=r.get("gateway_url", d.gateway_url, _as_ws_url_or_empty, 'expected "" or a ws(s):// URL'),
        dev_guild_ids=r.get("dev_guild_ids", d.dev_guild_ids, _as_list(_as_snowflake), "expected a list of Discord guild ids (snowflakes of 17 to 19 digits; Developer Mode, Copy ID)"),
        alerts_channel_id=r.get("alerts_channel_id", d.alerts_channel_id, _as_snowflake_or_zero, "expected a Discord channel id or 0 (a snowflake of 17 to 19 digits; Developer Mode, Copy ID)"),
        shard_ids=r.get("shard_ids", d.shard_ids, parse_shards, _SHARDS_EXPECTED),
        shard_count=r.get("shard_count", d.shard_count, _as_int(0, 65536), "expected the number of shards (0: as Discord recommends)"),
    )  # fmt: skip


def _read_token(r: _Reader, token_file: str, env: Mapping[str, str]) -> Secret:
    """The token file wins over the environment (it is the Docker-secrets way); never echo it."""
    if token_file:
        try:
            return Secret(Path(token_file).read_text(encoding="utf-8").strip())
        except (OSError, ValueError) as exc:  # ValueError: undecodable, or a NUL in the path
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
            raise ConfigError(
                f"{r.filename}: [discord] token_file: cannot read {token_file}: {reason}"
            ) from None
    return Secret(env.get("DISCORD_TOKEN", "").strip())


_DATABASE_URL_EXPECTED = 'expected a URL like "postgresql://user@host/dbname" (or "")'


def _database(r: _Reader, env: Mapping[str, str]) -> DatabaseConfig:
    """`url` in the file wins over $PAPERFEED_DATABASE_URL (as token_file wins over the token)."""
    r.check_keys({"path", "url"})
    d = DatabaseConfig()
    path = r.get("path", d.path, _as_str, "expected a file path")
    if not path.strip():
        raise r.error("path", "expected a file path", path)
    raw = r.table.get("url", "")
    key = "url"
    if raw == "" and env.get("PAPERFEED_DATABASE_URL", "").strip():
        raw, key = env["PAPERFEED_DATABASE_URL"].strip(), "$PAPERFEED_DATABASE_URL"
    if not isinstance(raw, str):
        raise r.error("url", _DATABASE_URL_EXPECTED, raw)
    if not raw:
        return DatabaseConfig(path=path)
    if not _is_postgres_url(raw):
        where = r.where("url") if key == "url" else key
        # Never quote the password back, even in an error about the URL.
        raise ConfigError(
            f"{r.filename}: {where}: {_DATABASE_URL_EXPECTED}, got {_show(redact_url(raw))}"
        )
    return DatabaseConfig(path=path, url=DatabaseUrl(raw))


def database_url_error(text: str) -> str | None:
    """Why `text` is not a PostgreSQL URL (the password never quoted), or None if it is one."""
    if _is_postgres_url(text):
        return None
    return f"{_DATABASE_URL_EXPECTED}, got {_show(redact_url(text))}"


def _is_postgres_url(text: str) -> bool:
    """postgresql:// or postgres://, one line, no spaces, a numeric port if any."""
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        return False
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("postgresql", "postgres")


def _huggingface(r: _Reader) -> HuggingFaceConfig:
    r.check_keys({"enabled", "base_url", "interval"})
    d = HuggingFaceConfig()
    base_url = r.get("base_url", d.base_url, _as_url, "expected an http(s) URL")
    return HuggingFaceConfig(
        enabled=r.get("enabled", d.enabled, _as_bool, "expected true or false"),
        base_url=base_url,
        interval=_interval(
            r, "huggingface", d.interval, 'expected a duration like "20m"', [base_url]
        ),
    )


def _arxiv(r: _Reader) -> ArxivConfig:
    r.check_keys({"enabled", "categories", "api_url", "rss_url", "interval"})
    d = ArxivConfig()
    api_url = r.get("api_url", d.api_url, _as_url, "expected an http(s) URL")
    rss_url = r.get("rss_url", d.rss_url, _as_url, "expected an http(s) URL")
    return ArxivConfig(
        enabled=r.get("enabled", d.enabled, _as_bool, "expected true or false"),
        categories=_categories(r, d.categories, archives=False),
        api_url=api_url,
        rss_url=rss_url,
        interval=_interval(r, "arxiv", d.interval, 'expected a duration like "30m"', [api_url, rss_url]),
    )  # fmt: skip


def _is_public(url: str, source: str) -> bool:
    """Whether a URL points at the public service itself (or a subdomain of it)."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in PUBLIC_HOSTS[source])


def _interval(
    r: _Reader, source: str, default: timedelta, expected: str, urls: Sequence[str]
) -> timedelta:
    """A poll interval, no shorter than the politeness floor when a URL is the public service."""
    interval = r.get("interval", default, _as_duration, expected)
    floor = POLL_FLOORS[source]
    if interval < floor and any(_is_public(url, source) for url in urls):
        raise r.error(
            "interval",
            f'expected at least "{format_duration(floor)}" (polling {source} more often '
            "gains nothing and is impolite to it)",
            r.table["interval"],
        )
    return interval


def _categories(r: _Reader, default: tuple[str, ...], *, archives: bool) -> tuple[str, ...]:
    """arXiv category codes, checked against arXiv's taxonomy; feeds may also name an archive
    (the arXiv source needs real categories: each is a listing it polls)."""
    expected = 'expected a list of arXiv categories like ["cs.LG"]'
    codes = r.get("categories", default, _as_list(_as_category), expected)
    for code in codes:
        problem = category_problem(code, archives=archives)
        if problem is not None:
            raise ConfigError(f"{r.filename}: {r.where('categories')}: {_one_line(problem)}")
    return codes


def _health(r: _Reader) -> HealthConfig:
    r.check_keys({"host", "port"})
    d = HealthConfig()
    host = r.get("host", d.host, _as_str, 'expected a host like "127.0.0.1"')
    if not host.strip():
        raise r.error("host", 'expected a host like "127.0.0.1"', host)
    return HealthConfig(
        host=host,
        port=r.get("port", d.port, _as_int(0, 65535), "expected a port from 0 (off) to 65535"),
    )


def _logging(r: _Reader) -> LoggingConfig:
    r.check_keys({"level", "format", "levels"})
    d = LoggingConfig()
    empty: dict[str, str] = {}
    levels = r.get(
        "levels", empty, _as_level_table, 'expected a table like {"bot.sources" = "DEBUG"}'
    )
    return LoggingConfig(
        level=r.get("level", d.level, _as_level, "expected one of " + ", ".join(_LOG_LEVELS)),
        format=r.get("format", d.format, _as_choice("text", "json"), 'expected "text" or "json"'),
        levels=tuple(sorted(levels.items())),
    )


def _as_level_table(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise TypeError
    return {str(k): _as_level(v) for k, v in value.items()}


def _feed(r: _Reader) -> FeedSpec:
    """A [[feeds]] table: TOML types are checked here, the values by the feeds service's gate."""
    if "name" not in r.table:
        raise ConfigError(f"{r.filename}: {r.where('name')}: missing (every feed needs a name)")
    name = r.get("name", "", _as_str, EXPECTED["name"])
    r.section = f'[[feeds]] "{_one_line(name.strip())}"'
    r.check_keys({f.name for f in fields(FeedSpec)})
    for required in ("channel_id", "query"):
        if required not in r.table:
            raise ConfigError(f"{r.filename}: {r.where(required)}: missing")
    d = FeedSpec(name=name, channel_id=1, query="")
    mode = r.get("mode", d.mode.value, _as_choice("instant", "digest"), EXPECTED["mode"])
    spec = FeedSpec(
        name=name,
        channel_id=r.get("channel_id", 0, _as_snowflake, "expected a Discord channel id (a snowflake of 17 to 19 digits; Developer Mode, Copy ID)"),
        query=r.get("query", "", _as_str, "expected a query string"),
        categories=r.get("categories", d.categories, _as_list(_as_str), 'expected a list of arXiv categories like ["cs.LG"]'),
        sources=r.get("sources", d.sources, _as_list(_as_str), EXPECTED["sources"]),
        min_upvotes=r.get("min_upvotes", d.min_upvotes, _as_whole, EXPECTED["min_upvotes"]),
        mode=FeedMode(mode),
        digest_time=r.get("digest_time", d.digest_time, _as_str, EXPECTED["digest_time"]),
        digest_size=r.get("digest_size", d.digest_size, _as_whole, EXPECTED["digest_size"]),
        backfill=r.get("backfill", d.backfill, _as_whole, EXPECTED["backfill"]),
    )  # fmt: skip
    try:
        return validate(spec)
    except FeedSpecError as exc:
        raise ConfigError(f"{r.filename}: {r.where(exc.field)}: {exc.reason}") from None


def describe(config: Config) -> dict[str, Any]:
    """What the program understood, as plain data for `check-config` (the token only as set/unset)."""
    d = config.discord
    return {
        "file": config.path,
        "discord": {
            "token": "set" if d.token else "not set",
            "token_file": d.token_file,
            "api_base": d.api_base,
            "gateway_url": d.gateway_url,
            "dev_guild_ids": [str(g) for g in d.dev_guild_ids],
            "alerts_channel_id": str(d.alerts_channel_id),
            "shard_ids": list(d.shard_ids),
            "shard_count": d.shard_count,
        },
        "cluster": {"roles": list(config.cluster.roles)},
        "backend": config.database.backend,
        "database": _describe_database(config.database),
        "sources": {
            "huggingface": {
                "enabled": config.sources.huggingface.enabled,
                "base_url": config.sources.huggingface.base_url,
                "interval": format_duration(config.sources.huggingface.interval),
            },
            "arxiv": {
                "enabled": config.sources.arxiv.enabled,
                "categories": list(config.sources.arxiv.categories),
                "api_url": config.sources.arxiv.api_url,
                "rss_url": config.sources.arxiv.rss_url,
                "interval": format_duration(config.sources.arxiv.interval),
            },
        },
        "health": {"host": config.health.host, "port": config.health.port},
        "logging": {
            "level": config.logging.level,
            "format": config.logging.format,
            "levels": dict(config.logging.levels),
        },
        "feeds": [feed_spec_to_dict(f) for f in config.feeds],
        "follows": {
            "enabled": config.follows.enabled,
            "max_per_user": config.follows.max_per_user,
            "default_time": config.follows.default_time,
            "daily_size": config.follows.daily_size,
            "instant_window": format_duration(config.follows.instant_window),
        },
        "semantic": {
            "about_threshold": config.semantic.about_threshold,
            "like_threshold": config.semantic.like_threshold,
        },
        "search": {"index_path": config.search.index_path},
    }


def _describe_database(database: DatabaseConfig) -> dict[str, str]:
    """The [database] keys as understood; the URL only with its password hidden."""
    return {"path": database.path, "url": database.url.redacted() if database.url else ""}


def feed_spec_to_dict(spec: FeedSpec) -> dict[str, Any]:
    """A feed as the keys of a [[feeds]] table, for printing and export."""
    return {
        "name": spec.name,
        "channel_id": spec.channel_id,
        "query": spec.query,
        "categories": list(spec.categories),
        "sources": list(spec.sources),
        "min_upvotes": spec.min_upvotes,
        "mode": spec.mode.value,
        "digest_time": spec.digest_time,
        "digest_size": spec.digest_size,
        "backfill": spec.backfill,
    }
