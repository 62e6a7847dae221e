"""Hostile input: property-based tests of everything that reads text from outside.

* the query parser: tests/test_query.py already runs 300 examples each of any text and of
  grammar soup through `compile_query` (only QueryError; what compiles is safe FTS5 syntax
  that round-trips); it is not repeated here;
* the configuration loader: any text, generated TOML documents and mutations of
  config.example.toml give a Config or a one-line ConfigError naming the file, nothing else;
* both upstream parsers: mutated real-shape JSON and XML (bytes and structure) give a result
  or a SourceResponseError, nothing else; XML entities are never expanded or fetched;
* slash command options through the loopback Discord, and paper titles and abstracts in
  posts: see the last two sections.
"""

from __future__ import annotations

import json
import math
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.config import Config, parse_config_text
from bot.errors import ConfigError, SourceResponseError
from bot.sources.arxiv_parse import parse_api_feed, parse_listing
from bot.sources.huggingface_parse import parse_paper_list
from tests.reliability.conftest import LiveBot
from tests.reliability.support import make_paper, record_figures

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "upstream"
EXAMPLE_CONFIG = (REPO / "config.example.toml").read_text(encoding="utf-8")
ENV = {"DISCORD_TOKEN": "MTA5.hostile-input.token"}

PROPERTIES = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TRIED: dict[str, int] = {}


def tried(what: str) -> None:
    TRIED[what] = TRIED.get(what, 0) + 1


@pytest.fixture(autouse=True, scope="module")
def _report_counts() -> Any:
    yield
    record_figures("hostile-input/examples", **TRIED)


# ---- the configuration loader ----------------------------------------------------------------

KNOWN_KEYS = [
    *("discord", "token_file", "api_base", "gateway_url", "dev_guild_ids", "alerts_channel_id"),
    *("token", "database", "path", "sources", "huggingface", "arxiv", "enabled", "base_url"),
    *("interval", "categories", "api_url", "rss_url", "health", "host", "port", "logging"),
    *("level", "format", "levels", "feeds", "name", "channel_id", "query", "min_upvotes"),
    *("mode", "digest_time", "digest_size", "backfill"),
]
PLAUSIBLE = st.sampled_from(
    ["20m", "0s", "1d", "09:00", "24:00", "cs.LG", "cs", "http://127.0.0.1:1", "ws://x", "",
     "DEBUG", "json", "instant", "digest", "huggingface", "causal -survey", "(((", "\u0000"]
)  # fmt: skip
SCALARS = (
    PLAUSIBLE
    | st.text(max_size=12)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.booleans()
    | st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))
)
KEYS = st.sampled_from(KNOWN_KEYS) | st.text(min_size=1, max_size=8)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, except that DEL must be escaped too)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(doc: dict[str, Any], path: tuple[str, ...] = ()) -> str:
    """Plain keys first, then [tables] and [[arrays of tables]], recursively."""
    lines = []
    tables: list[tuple[str, Any]] = []
    for key, value in doc.items():
        if isinstance(value, dict) or (
            isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        ):
            tables.append((key, value))
        else:
            lines.append(f"{toml_string(key)} = {toml_value(value)}")
    out = "\n".join(lines) + "\n"
    for key, value in tables:
        name = ".".join(toml_string(k) for k in (*path, key))
        if isinstance(value, dict):
            out += f"[{name}]\n" + toml_document(value, (*path, key))
        else:
            for item in value:
                out += f"[[{name}]]\n" + toml_document(item, (*path, key))
    return out


DOCUMENTS = st.dictionaries(
    KEYS,
    st.dictionaries(KEYS, VALUES, max_size=6)
    | st.lists(st.dictionaries(KEYS, VALUES, max_size=8), min_size=1, max_size=3)
    | VALUES,
    max_size=6,
)


def parse_or_refuse(text: str) -> Config | None:
    try:
        return parse_config_text(text, ENV, "config.toml")
    except ConfigError as exc:
        assert str(exc).startswith("config.toml: "), str(exc)
        return None


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Relative paths in generated configs (token_file) resolve in an empty directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@PROPERTIES
@given(text=st.text(max_size=2000))
@example(text="a = " + "[" * 5000 + "]" * 5000)  # nesting deeper than the parser recurses
@example(text='[discord]\ntoken_file = "a\\u0000b"\n')  # a path no file system accepts
@example(text="[discord]\ntoken_file = " + toml_string("x" * 5000) + "\n")
def test_any_text_is_a_config_or_one_config_error(elsewhere: Path, text: str) -> None:
    tried("config: any text")
    parse_or_refuse(text)


@PROPERTIES
@given(doc=DOCUMENTS)
def test_any_toml_document_is_a_config_or_one_config_error(
    elsewhere: Path, doc: dict[str, Any]
) -> None:
    tried("config: generated TOML documents")
    text = toml_document(doc)
    config = parse_or_refuse(text)
    if config is not None:  # accepted: then every value is of the documented kind
        assert all(isinstance(g, int) and g > 0 for g in config.discord.dev_guild_ids)
        assert config.health.port in range(65536)
        assert all(1 <= len(f.name) <= 64 for f in config.feeds)


@PROPERTIES
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, len(EXAMPLE_CONFIG)),
            st.integers(0, 12),
            st.sampled_from(['"', "'", "[", "]", "=", "\n", "#", "{", "\\", "0", "-", ".", "x"])
            | st.text(max_size=6),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_mutated_example_config_is_a_config_or_one_config_error(
    elsewhere: Path, edits: list[tuple[int, int, str]]
) -> None:
    tried("config: mutated config.example.toml")
    text = EXAMPLE_CONFIG
    for at, cut, insert in edits:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + cut :]
    parse_or_refuse(text)


# ---- the upstream parsers --------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
HF_BODIES = [FIXTURES / n for n in ("hf_daily_papers.json", "hf_search.json", "hf_trending.json")]
XML_BODIES = {
    "arxiv_listing.xml": parse_listing,
    "arxiv_api_listing_ids.xml": parse_api_feed,
    "arxiv_api_oldstyle.xml": parse_api_feed,
    "arxiv_api_error.xml": parse_api_feed,
}
BYTE_EDITS = st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(0, 64), st.binary(max_size=16)),
    min_size=1,
    max_size=8,
)


def mutate(body: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    for at, cut, insert in edits:
        at = at % (len(body) + 1)
        body = body[:at] + insert + body[at + cut :]
    return body


def hf_result_or_refusal(body: bytes | str) -> None:
    try:
        page = parse_paper_list(body)
    except SourceResponseError as exc:
        assert exc.source == "huggingface" and str(exc)
        return
    assert len(page.papers) <= page.count
    assert all(p.id and p.title for p in page.papers)


def arxiv_result_or_refusal(parse: Any, body: bytes) -> None:
    try:
        result = parse(body)
    except SourceResponseError as exc:
        assert exc.source == "arxiv" and str(exc)
        return
    assert all(p.id and p.title for p in result.papers)


@PROPERTIES
@given(which=st.sampled_from(HF_BODIES), edits=BYTE_EDITS)
def test_hugging_face_bytes_mutated_parse_or_are_refused(
    which: Path, edits: list[tuple[int, int, bytes]]
) -> None:
    tried("huggingface: byte mutations")
    hf_result_or_refusal(mutate(which.read_bytes(), edits))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@PROPERTIES
@given(which=st.sampled_from(HF_BODIES), data=st.data())
def test_hugging_face_structure_mutated_parses_or_is_refused(
    which: Path, data: st.DataObject
) -> None:
    """Any node of a real answer (a field, an author, a whole item) replaced by any JSON."""
    tried("huggingface: structural mutations")
    doc = json.loads(which.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(_paths(doc)))
        value = data.draw(JSON_VALUES)
        if not path:
            doc = value
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = value
    hf_result_or_refusal(json.dumps(doc))


@PROPERTIES
@given(which=st.sampled_from(sorted(XML_BODIES)), edits=BYTE_EDITS)
def test_arxiv_bytes_mutated_parse_or_are_refused(
    which: str, edits: list[tuple[int, int, bytes]]
) -> None:
    tried("arxiv: byte mutations")
    arxiv_result_or_refusal(XML_BODIES[which], mutate((FIXTURES / which).read_bytes(), edits))


TEXT_NODE = re.compile(rb">([^<]*)<")
HOSTILE_XML_TEXT = st.sampled_from(
    [b"", b"&", b"<", b"]]>", b"&amp;", b"&#0;", b"&#x110000;", b"\x00", b"\xff\xfe", b"<b>x</b>",
     b"2609.1", b"not-a-date", b"<![CDATA[x]]>", b"&undefined;"]
) | st.binary(max_size=12)  # fmt: skip


@PROPERTIES
@given(which=st.sampled_from(sorted(XML_BODIES)), data=st.data())
def test_arxiv_element_text_replaced_parses_or_is_refused(which: str, data: st.DataObject) -> None:
    """The text of any element (an id, a date, a title, a category) replaced, escaped or not."""
    tried("arxiv: element mutations")
    body = (FIXTURES / which).read_bytes()
    nodes = list(TEXT_NODE.finditer(body))
    for _ in range(data.draw(st.integers(1, 4))):
        node = data.draw(st.sampled_from(nodes))
        body = body[: node.start(1)] + data.draw(HOSTILE_XML_TEXT) + body[node.end(1) :]
        nodes = list(TEXT_NODE.finditer(body)) or nodes
        if not list(TEXT_NODE.finditer(body)):
            break
    arxiv_result_or_refusal(XML_BODIES[which], body)


def test_xml_entities_are_neither_fetched_nor_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    listing = (FIXTURES / "arxiv_listing.xml").read_bytes()
    head, rest = listing.split(b"?>", 1)
    external = (
        head + b"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM \"" + secret.as_uri().encode() + b"\">]>"
        + rest.replace(b"<title>", b"<title>&xxe;", 1)
    )  # fmt: skip
    laughs = b"".join(
        [b'<!ENTITY l0 "lollollollollollollollollollol">']
        + [f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">'.encode() for n in range(1, 10)]
    )
    bomb = (
        head + b"?>\n<!DOCTYPE rss [" + laughs + b"]>" + rest.replace(b"<title>", b"<title>&l9;", 1)
    )
    for body in (external, bomb):
        started = time.monotonic()
        try:
            result = parse_listing(body)
        except SourceResponseError:
            continue
        finally:
            assert time.monotonic() - started < 5.0
        text = " ".join(f"{p.title} {p.abstract}" for p in result.papers)
        assert "TOP-SECRET" not in text and len(text) < 1_000_000


# ---- slash command options through the loopback Discord --------------------------------------

FRAGMENTS = [
    "@everyone", "@here", "<@1>", "<@&1>", "<#1>", "</feed add:1>", "[x](https://evil.example)",
    "**bold**", "`code`", "```", "> quote", "# head", "||spoiler||", "\u202e", "\u2066", "\u200b",
    "\u200f", "\ufeff", "\n", "\t", "\\", '"', "'", "AND", "OR", "NOT", "-", "(", ")", "*",
    "cat:", "author:", "NEAR(", "🙂", "𝕏", "İ", "e" + "\u0301" * 20, "'; DROP TABLE feeds; --",
    "%s", "{0}", "${x}", "\x00", "2401.01234", "https://huggingface.co/papers/2401.01234",
]  # fmt: skip
HOSTILE = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=10), max_size=12).map("".join)
SLASH = settings(PROPERTIES, max_examples=30)
APOLOGY = "Something went wrong on my side"


def leaf_commands(commands: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """("feed add", option definitions) for every command and sub-command the bot registered."""
    leaves = []
    for command in commands:
        options = command.get("options") or []
        subs = [o for o in options if o["type"] == 1]
        if subs:
            leaves += [(f"{command['name']} {s['name']}", s.get("options") or []) for s in subs]
        else:
            leaves.append((command["name"], options))
    return sorted(leaves)


def fit(text: str, definition: dict[str, Any]) -> str:
    low, high = definition.get("min_length", 1), definition.get("max_length", 6000)
    text = text[:high]
    return text + "x" * max(0, low - len(text))


def options_for(
    definitions: list[dict[str, Any]], data: st.DataObject, channel: int
) -> dict[str, Any]:
    """Hostile strings in every string option; valid values elsewhere; optional ones or not."""
    chosen: dict[str, Any] = {}
    for d in definitions:
        if not d.get("required") and not data.draw(st.booleans()):
            continue
        if d.get("choices"):
            chosen[d["name"]] = data.draw(st.sampled_from([c["value"] for c in d["choices"]]))
        elif d["type"] == 3:
            chosen[d["name"]] = fit(data.draw(HOSTILE), d)
        elif d["type"] in (4, 10):
            low, high = d.get("min_value", -(2**31)), d.get("max_value", 2**31)
            chosen[d["name"]] = data.draw(st.integers(int(low), int(high)))
        elif d["type"] == 5:
            chosen[d["name"]] = data.draw(st.booleans())
        elif d["type"] == 7:
            chosen[d["name"]] = channel
    return chosen


class Moderators:
    """Fresh members with Manage Channels, one per interaction: per-user cooldowns stay out of
    the way of the inputs under test (test_hostile_users.py spams on purpose)."""

    def __init__(self, live: LiveBot) -> None:
        self.live = live
        self.count = 0

    def next(self) -> Any:
        self.count += 1
        state, world = self.live.fake.state, self.live.world
        return state.add_member(
            world.guild.id, state.add_user(f"moderator-{self.count}"), roles=[world.moderators.id]
        )


async def answered(fake: Any, record: Any) -> Any:
    """The interaction's final answer: acknowledged in time, then a visible, ping-free message."""
    await fake.wait_for_callback(record, timeout=10)
    first = record.callbacks[0]
    assert first.status < 300, (first.status, first.code, first.body)
    assert record.latency < 3
    message = await fake.wait_for_original(record, timeout=10)
    assert message.content or message.embeds
    assert not message.pings.any
    assert APOLOGY not in message.content, f"/{record.name}: {message.content}"
    return message


@SLASH
@given(data=st.data())
def test_hostile_slash_options_always_get_a_clear_answer(
    live: LiveBot, data: st.DataObject
) -> None:
    """Every registered command and sub-command (the /feed group, and /search, /paper... when
    they exist), hostile strings in every string option, as a member allowed to use them."""
    fake = live.fake
    moderators = getattr(live, "_moderators", None) or Moderators(live)
    live._moderators = moderators  # type: ignore[attr-defined]

    async def story() -> None:
        for path, definitions in leaf_commands(fake.commands()):
            options = options_for(definitions, data, live.world.papers.id)
            tried(f"slash: /{path}")
            record = await fake.invoke(path, options, member=moderators.next())
            await answered(fake, record)
            for d in definitions:  # every autocompleting option, with a hostile partial value
                if not d.get("autocomplete"):
                    continue
                tried(f"slash: /{path} autocomplete")
                typed = fit(data.draw(HOSTILE), {**d, "min_length": 0})
                auto = await fake.autocomplete(
                    path, {**options, d["name"]: typed}, focused=d["name"], member=moderators.next()
                )
                await fake.wait_for_callback(auto, timeout=10)
                (callback,) = auto.callbacks
                assert callback.status < 300 and callback.type == 8
                choices = callback.body["data"]["choices"]
                assert len(choices) <= 25 and all(1 <= len(c["name"]) <= 100 for c in choices)

    live.loop.run_until_complete(story())
    assert not live.started.errors, [e.getMessage() for e in live.started.errors]


# ---- paper text in posts ---------------------------------------------------------------------

BIDI_AND_INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\ufeff]")
WORDS = st.sampled_from(["Attention", "graphs", "causal", "diffusion", "Transformers", "κ-means"])
PAPER_TEXT = st.lists(WORDS | st.sampled_from(FRAGMENTS), min_size=1, max_size=10).map(" ".join)


def visible(text: str) -> str:
    """What a reader sees: markdown escapes and the inert-making zero-width spaces gone."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


@settings(PROPERTIES, max_examples=40)
@given(title=PAPER_TEXT, abstract=PAPER_TEXT, author=PAPER_TEXT)
def test_hostile_titles_and_abstracts_are_posted_inert_and_readable(
    live: LiveBot, title: str, abstract: str, author: str
) -> None:

    tried("posts: hostile titles, abstracts, authors")
    number = TRIED["posts: hostile titles, abstracts, authors"]
    paper = make_paper(number, title=title, abstract=abstract, authors=(author, "Rosa Delgado"))

    async def story() -> Any:
        feed_id = getattr(live, "_hostile_feed", None)
        if feed_id is None:
            feed_id = live._hostile_feed = await live.feed("hostile", live.world.papers.id)  # type: ignore[attr-defined]
        before = len(live.fake.messages(live.world.papers))
        await live.owe([feed_id], [paper])
        await live.bot.publisher.publish_due()
        return (await live.fake.wait_for_messages(live.world.papers, before + 1))[-1]

    message = live.loop.run_until_complete(story())
    assert not message.pings.any
    assert message.request.get("allowed_mentions") == {"parse": []}
    (embed,) = message.embeds
    rendered = [embed.get("title", ""), embed.get("description", "")]  # markdown is rendered
    plain = [
        (embed.get("author") or {}).get("name", ""),
        (embed.get("footer") or {}).get("text", ""),
    ]
    for text in rendered + plain:
        assert not re.search(r"@(everyone|here)", text), text  # broken by a zero-width space
        assert not re.search(r"<[@#/]", text), text
        assert not BIDI_AND_INVISIBLE.search(text)
    for text in rendered:
        assert "](https://evil.example" not in text  # a masked link only as escaped text
    # readable: every word of the title is still there for a reader
    for word in re.findall(r"[A-Za-zκ-]{4,}", BIDI_AND_INVISIBLE.sub("", title)):
        assert word in visible(embed["title"]) or embed["title"].endswith("…"), (
            word,
            embed["title"],
        )
