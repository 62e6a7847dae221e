"""Discord bodies: every documented limit holds, the official OpenAPI spec accepts them, hostile text is inert."""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from bot.cli import main
from bot.discord.embeds import (
    alert_message,
    comment_line,
    feed_message,
    forum_post,
    link_buttons,
    paper_embed,
    paper_forum_post,
    paper_message,
    thread_name,
)
from bot.discord.limits import cut, embed_length, fit_message, summary_text
from bot.discord.listings import digest_forum_post, digest_message, search_results_embed
from bot.models import Paper, SearchHit
from tests.factories import BOTH, make_paper
from tests.fakes.discord import rules
from tests.fakes.discord.schema import spec_or_skip

Body = dict[str, Any]

# Discord's documented limits (reference/upstream.md §3.1-3.2), restated here on purpose so the
# tests do not trust the module's own constants.
LIMITS = {"title": 256, "description": 4096, "field.name": 256, "field.value": 1024}
FOOTER, AUTHOR, FIELDS, EMBEDS, TOTAL, CONTENT, URL, THREAD = (
    2048,
    256,
    25,
    10,
    6000,
    2000,
    2048,
    100,
)
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
HOSTILE = (
    "@everyone @here @EveryOne <@123> <@!124> <@&456> <#789> </paper:42> "
    "[click me](http://evil.example) **bold** __under__ ~~strike~~ `code` ||spoiler|| "
    "> quote # heading \\ back\\slash \u202eevil\u202c \u2066isolated\u2069 zero\u200bwidth "
    "\x00nul\x07bell\x1b[31m \ud800 done."
)


# ---- helpers ------------------------------------------------------------------------------------


@functools.cache
def load_spec() -> dict[str, Any]:
    """Discord's OpenAPI spec from beside the repository (required in CI; see the fake's schema.py)."""
    return json.loads(spec_or_skip().read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@functools.cache
def validator(schema: str) -> jsonschema.Draft202012Validator:
    """A validator for one schema of the spec, resolving its `$ref`s through a registry."""
    resource = Resource.from_contents(load_spec(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:discord", resource)
    ref = {"$ref": f"urn:discord#/components/schemas/{schema}"}
    return jsonschema.Draft202012Validator(ref, registry=registry)


@pytest.fixture
def message_schema() -> jsonschema.Draft202012Validator:
    return validator("MessageCreateRequest")


@pytest.fixture
def forum_schema() -> jsonschema.Draft202012Validator:
    return validator("CreateForumThreadRequest")


def strings(node: Any) -> list[str]:
    """Every string anywhere in a body."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


def check_url(url: Any) -> None:
    assert isinstance(url, str) and len(url) <= URL, url
    assert re.fullmatch(r"https?://[^\s/?#]+\S*", url), url


def check_limits(body: Body) -> None:
    """Every limit of reference/upstream.md §3.1-3.2, measured independently of the module."""
    content = body.get("content")
    if content is not None:
        assert content.strip() and len(content) <= CONTENT
    embeds = body.get("embeds") or []
    assert len(embeds) <= EMBEDS
    assert content or embeds, "an empty message is refused (50006)"
    total = 0
    for embed in embeds:
        title = embed.get("title", "")
        description = embed.get("description", "")
        assert len(title) <= LIMITS["title"]
        assert len(description) <= LIMITS["description"]
        total += len(title) + len(description)
        fields = embed.get("fields", [])
        assert len(fields) <= FIELDS
        for fld in fields:
            assert fld["name"].strip() and len(fld["name"]) <= LIMITS["field.name"]
            assert fld["value"].strip() and len(fld["value"]) <= LIMITS["field.value"]
            total += len(fld["name"]) + len(fld["value"])
        if "footer" in embed:
            text = embed["footer"]["text"]
            assert text.strip() and len(text) <= FOOTER
            total += len(text)
        if "author" in embed:
            name = embed["author"]["name"]
            assert name.strip() and len(name) <= AUTHOR
            total += len(name)
        for key in ("url",):
            if key in embed:
                check_url(embed[key])
        for key in ("thumbnail", "image"):
            if key in embed:
                check_url(embed[key]["url"])
        if "color" in embed:
            assert 0 <= embed["color"] <= 0xFFFFFF
        if "timestamp" in embed:
            datetime.fromisoformat(embed["timestamp"])
        assert any(embed.get(k) for k in ("title", "description", "fields", "author", "footer"))
    assert total <= TOTAL, total
    for text in strings(body):
        text.encode("utf-8")  # no lone surrogates: the body must be sendable as UTF-8 JSON


def check_inert(body: Body) -> None:
    """No string can ping, reorder text or carry control characters."""
    for text in strings(body):
        assert not re.search(r"@(everyone|here)", text, re.IGNORECASE), text
        assert not re.search(r"<[@#/]", text), text
        assert not set(text) & set(BIDI), text
        assert all(ch == "\n" or unicodedata.category(ch) != "Cc" for ch in text), text
    if "message" in body:
        body = body["message"]
    assert body.get("allowed_mentions") == {"parse": []}


def rendered(text: str) -> str:
    """Roughly what a reader sees: markdown escapes undone, our zero-width spaces invisible."""
    return re.sub(r"\\([^A-Za-z0-9\s])", r"\1", text).replace("\u200b", "")


def words(n: int, word: str = "lorem") -> str:
    return " ".join(f"{word}{i}" for i in range(n))


def paper(**changes: Any) -> Paper:
    """A paper with every optional part filled in, so each can be shown, shortened or dropped."""
    full = {
        "version": 2,
        "title": "Causal Discovery from Heterogeneous Time Series",
        "abstract": "We study causal discovery. Our method scales to hundreds of variables.",
        "authors": ("Kun Zhang", "Bernhard Schölkopf"),
        "categories": ("cs.LG", "stat.ML"),
        "published": datetime(2024, 10, 7, 12, 0, tzinfo=UTC),
        "upvotes": 42,
        "num_comments": 3,
        "github_repo": "https://github.com/example/causal",
        "github_stars": 1200,
        "project_page": "https://example.org/causal",
        "thumbnail": "https://cdn.example.org/thumb.png",
        "sources": BOTH,
    }
    return make_paper(changes.pop("id", "2410.00101"), **{**full, **changes})


LONG_URL = "https://example.org/" + "a" * (2049 - len("https://example.org/"))


def enormous(n: int = 0, **changes: Any) -> Paper:
    """A paper with every text field far beyond what Discord allows."""
    assert len(LONG_URL) == 2049
    fields: dict[str, Any] = dict(
        id=f"2410.{n:05d}",
        title=words(1500, "Title*_") + " " + "x" * 10_000,
        abstract=words(15_000, "abstract") + ". " + "y" * 100_000,
        authors=tuple(f"Author{i} " + "Z" * 300 for i in range(500)),
        categories=tuple(f"cat.{i}" + "Q" * 50 for i in range(200)),
        ai_summary=words(20_000, "summary"),
        github_repo=LONG_URL,
        project_page=LONG_URL,
        thumbnail=LONG_URL,
        upvotes=10**12,
        num_comments=10**12,
        github_stars=10**12,
    )
    fields.update(changes)
    return paper(**fields)


# ---- limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_ai", [True, False])
def test_enormous_paper_fits_every_limit(
    with_ai: bool, message_schema: jsonschema.Draft202012Validator
) -> None:
    big = enormous() if with_ai else enormous(ai_summary=None)
    body = paper_message(big, feed_name="f" * 10_000, source="s" * 10_000)
    check_limits(body)
    message_schema.validate(body)
    embed = body["embeds"][0]
    assert LONG_URL not in json.dumps(body)  # 2,049 characters: dropped, not sent
    assert "thumbnail" not in embed
    assert embed["title"].endswith("…") and embed["author"]["name"].endswith("et al.")
    assert "Categories" in [f["name"] for f in embed["fields"]]
    assert "more" in embed["fields"][-1]["value"]  # 200 categories: the rest are counted


def test_digest_of_25_enormous_papers_fits(message_schema: jsonschema.Draft202012Validator) -> None:
    papers = [enormous(i) for i in range(25)]
    body = digest_message(papers, feed_name="causality" * 1000, more=10**6, date_label="d" * 5000)
    check_limits(body)
    message_schema.validate(body)
    description = body["embeds"][0]["description"]
    for i in range(1, 26):
        assert f"**{i}.** [" in description  # every paper listed, each still a link
    assert "1,000,000 more" in description


def test_digest_of_25_normal_papers_keeps_whole_titles(
    message_schema: jsonschema.Draft202012Validator,
) -> None:
    papers = [
        paper(id=f"2410.{i:05d}", title=f"Paper number {i} on causal discovery") for i in range(25)
    ]
    body = digest_message(papers, feed_name="causality", more=3, date_label="2024-10-08")
    check_limits(body)
    message_schema.validate(body)
    description = body["embeds"][0]["description"]
    for i, p in enumerate(papers, 1):
        assert f"**{i}.** [{p.title}](https://huggingface.co/papers/{p.id})" in description
    assert "Kun Zhang, Bernhard Schölkopf · ▲ 42" in description
    assert description.endswith("3 more matching papers (try `/search`).")
    assert body["embeds"][0]["footer"]["text"] == "causality · 25 of 28 papers"


def test_digest_over_25_papers_counts_the_rest_as_more() -> None:
    body = digest_message(
        [paper(id=f"2410.{i:05d}") for i in range(30)], feed_name="f", more=2, date_label="today"
    )
    description = body["embeds"][0]["description"]
    assert "**25.**" in description and "**26.**" not in description
    assert "7 more matching papers" in description


def test_empty_digest_is_still_a_valid_message(
    message_schema: jsonschema.Draft202012Validator,
) -> None:
    body = digest_message([], feed_name="causality", more=0, date_label="2024-10-08")
    check_limits(body)
    message_schema.validate(body)
    assert "No new papers" in body["embeds"][0]["description"]


def test_search_results_of_25_enormous_hits_fit(
    message_schema: jsonschema.Draft202012Validator,
) -> None:
    hits = [SearchHit(enormous(i), 1.0) for i in range(25)]
    embed = search_results_embed(hits, query="q" * 10_000, page=3, pages=9, total=250, per_page=25)
    body = {"embeds": [embed], "allowed_mentions": {"parse": []}}
    check_limits(body)
    message_schema.validate(body)
    assert "**51.** [" in embed["description"] and "**75.** [" in embed["description"]
    assert embed["footer"]["text"] == "Page 3 of 9 · 250 results"


def test_a_capped_total_is_said_to_be_a_lower_bound() -> None:
    hits = [SearchHit(paper(), 1.0)]
    embed = search_results_embed(
        hits, query="framework", page=1, pages=200, total=2000, per_page=10, total_exact=False
    )
    assert embed["footer"]["text"] == "Page 1 of 200+ · more than 2,000 results"


def test_search_results_show_title_authors_year_upvotes() -> None:
    embed = search_results_embed(
        [SearchHit(paper(), 3.2)], query="causal", page=1, pages=1, total=1
    )
    assert embed["title"] == "Search: causal"
    assert embed["description"] == (
        "**1.** [Causal Discovery from Heterogeneous Time Series]"
        "(https://huggingface.co/papers/2410.00101)\nKun Zhang, Bernhard Schölkopf · 2024 · ▲ 42"
    )
    empty = search_results_embed([], query="nothing", page=1, pages=1, total=0)
    assert empty["description"] == "No papers match this search."


def test_fit_message_trims_descriptions_before_fields(
    message_schema: jsonschema.Draft202012Validator,
) -> None:
    body = {
        "embeds": [
            {
                "title": "t" * 300,
                "description": "d " * 3000,
                "fields": [{"name": f"n{i}", "value": "v" * 1500} for i in range(30)],
                "footer": {"text": "f" * 3000},
                "author": {"name": "a" * 300},
                "url": LONG_URL,
                "thumbnail": {"url": "javascript:alert(1)"},
            }
        ]
        * 12,
        "content": "c" * 2500,
        "allowed_mentions": {"parse": []},
    }
    before = json.dumps(body)
    fitted = fit_message(body)
    assert json.dumps(body) == before  # the input is not modified
    check_limits(fitted)
    message_schema.validate(fitted)
    assert "url" not in fitted["embeds"][0] and "thumbnail" not in fitted["embeds"][0]

    one = {
        "embeds": [
            {
                "title": "t" * 256,
                "description": "word " * 819,
                "fields": [{"name": "n", "value": "v" * 1024} for _ in range(2)],
            }
        ]
    }
    assert embed_length(one["embeds"][0]) > TOTAL
    fitted = fit_message(one)
    embed = fitted["embeds"][0]
    assert embed["fields"] == one["embeds"][0]["fields"]  # fields untouched: description went first
    assert embed["description"].endswith("…")
    assert embed_length(embed) <= TOTAL


def test_fit_message_repairs_what_discord_would_refuse(
    message_schema: jsonschema.Draft202012Validator,
) -> None:
    body = {
        "embeds": [
            {
                "type": "video",
                "title": "   ",
                "color": 2**30,
                "timestamp": "yesterday",
                "fields": [{"name": " ", "value": "v"}, "junk", {"name": "n", "value": "ok"}],
                "footer": {"text": "  "},
                "author": {
                    "name": "a",
                    "url": "javascript:x",
                    "icon_url": "https://ok.example/i.png",
                },
            },
            {"title": "   ", "description": "\n"},
        ]
    }
    fitted = fit_message(body)
    message_schema.validate(fitted)
    check_limits(fitted)
    assert fitted["embeds"] == [
        {
            "fields": [{"name": "n", "value": "ok"}],
            "author": {"name": "a", "icon_url": "https://ok.example/i.png"},
        }
    ]
    assert fit_message(fitted) == fitted


_FIELD = st.fixed_dictionaries(
    {
        "name": st.builds(lambda n: "n" * n, st.integers(0, 300)),
        "value": st.builds(lambda n: "v " * n, st.integers(0, 600)),
    }
)
_EMBED = st.fixed_dictionaries(
    {},
    optional={
        "title": st.builds(lambda n: "t " * n, st.integers(0, 200)),
        "description": st.builds(lambda n: "d " * n, st.integers(0, 2500)),
        "fields": st.lists(_FIELD, max_size=30),
        "footer": st.builds(lambda n: {"text": "f " * n}, st.integers(0, 1200)),
        "author": st.builds(lambda n: {"name": "a " * n}, st.integers(0, 200)),
        "url": st.sampled_from(["https://example.org/x", LONG_URL, "nope"]),
    },
)


@settings(max_examples=40, deadline=None)
@given(
    embeds=st.lists(_EMBED, max_size=12), content=st.builds(lambda n: "c" * n, st.integers(0, 2500))
)
def test_fit_message_always_fits(embeds: list[Body], content: str) -> None:
    fitted = fit_message({"content": content, "embeds": embeds})
    if fitted.get("content") or fitted["embeds"]:
        check_limits(fitted)
    validator("MessageCreateRequest").validate(fitted)
    assert fit_message(fitted) == fitted


def test_fit_message_keeps_a_body_that_already_fits() -> None:
    body = paper_message(paper())
    assert fit_message(body) == body


def test_embed_length_counts_what_discord_counts() -> None:
    embed = {
        "title": "ab",
        "description": "cde",
        "url": "https://not.counted",
        "fields": [{"name": "f", "value": "gh"}],
        "footer": {"text": "ijkl", "icon_url": "https://not.counted"},
        "author": {"name": "m"},
        "timestamp": "2024-01-01T00:00:00+00:00",
    }
    assert embed_length(embed) == 2 + 3 + 1 + 2 + 4 + 1
    body = paper_message(enormous())
    e = body["embeds"][0]
    independent = (
        len(e["title"])
        + len(e["description"])
        + sum(len(f["name"]) + len(f["value"]) for f in e["fields"])
        + len(e["footer"]["text"])
        + len(e["author"]["name"])
    )
    assert embed_length(e) == independent


def test_urls_longer_than_2048_or_not_http_are_dropped() -> None:
    ok = "https://example.org/" + "a" * (2048 - len("https://example.org/"))
    embed = paper_embed(
        paper(github_repo=ok, project_page="ftp://example.org/x", thumbnail=LONG_URL)
    )
    assert (
        f"[Code]({ok})" in embed["description"] or len(ok) > 1000
    )  # kept, or too long for the line
    assert "[Project]" not in embed["description"]
    assert "thumbnail" not in embed
    assert "url" not in paper_embed(paper(id="x" * 2100))


def test_cut_never_leaves_a_dangling_escape() -> None:
    assert cut("abc", 3) == "abc"
    assert cut("ab\\*cd", 4) == "ab…"
    assert cut("a\\\\bcd", 4) == "a\\\\…"
    assert len(cut("x" * 50, 10)) == 10


# ---- the OpenAPI spec --------------------------------------------------------------------------


def test_the_validator_is_not_vacuous(message_schema: jsonschema.Draft202012Validator) -> None:
    too_many = {"embeds": [{"title": "x"}] * 11}
    too_long = {"embeds": [{"title": "x" * 257}]}
    for body in (too_many, too_long):
        with pytest.raises(jsonschema.ValidationError):
            message_schema.validate(body)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            lambda: paper_message(paper(), feed_name="causality", source="huggingface"), id="normal"
        ),
        pytest.param(
            lambda: paper_message(paper(sources=frozenset({"arxiv"}), upvotes=None)),
            id="arxiv-only",
        ),
        pytest.param(
            lambda: paper_message(paper(title=HOSTILE, abstract=HOSTILE, authors=(HOSTILE,))),
            id="hostile",
        ),
        pytest.param(
            lambda: digest_message(
                [paper()] * 10, feed_name="causality", more=5, date_label="2024-10-08"
            ),
            id="digest",
        ),
        pytest.param(
            lambda: alert_message("Feed causality paused: Missing Permissions"), id="alert"
        ),
    ],
)
def test_bodies_validate_against_discords_spec(
    body: Any, message_schema: jsonschema.Draft202012Validator
) -> None:
    made = body()
    check_limits(made)
    check_inert(made)
    message_schema.validate(made)


def test_forum_posts_validate_against_discords_spec(
    forum_schema: jsonschema.Draft202012Validator,
) -> None:
    posts = [
        paper_forum_post(paper(), feed_name="causality", source="arxiv"),
        paper_forum_post(enormous()),
        paper_forum_post(paper(title=HOSTILE)),
        digest_forum_post(
            [enormous(i) for i in range(25)], feed_name="causality", more=3, date_label="2024-10-08"
        ),
        forum_post({"embeds": [{"title": "x"}], "nonce": "123", "enforce_nonce": True}, name=""),
    ]
    for post in posts:
        forum_schema.validate(post)
        assert 1 <= len(post["name"]) <= THREAD
        check_limits(post["message"])
        check_inert(post)
    assert posts[0]["name"] == "Causal Discovery from Heterogeneous Time Series"
    assert posts[1]["name"].endswith("…")
    assert posts[3]["name"] == "causality digest · 2024-10-08"
    assert "nonce" not in posts[4]["message"]  # the forum starter message takes no nonce


def test_thread_name_is_one_short_nonempty_line() -> None:
    assert thread_name("  Deep\n\tlearning  ") == "Deep learning"
    assert thread_name("") == "New paper"
    assert thread_name(" \n\u200b\u202e ") == "New paper"
    assert len(thread_name("w " * 1000)) <= THREAD


# ---- hostile text ------------------------------------------------------------------------------


def test_hostile_text_is_inert_and_readable(
    message_schema: jsonschema.Draft202012Validator,
) -> None:
    hostile = paper(
        title=HOSTILE,
        abstract=HOSTILE,
        ai_summary=None,
        authors=("@everyone", "<@123>", "Nor\u202emal"),
        categories=("cs.LG", "<@&456>"),
    )
    body = paper_message(hostile, feed_name="@here <#789>", source="huggingface")
    check_limits(body)
    check_inert(body)
    message_schema.validate(body)
    embed = body["embeds"][0]
    title, summary = embed["title"], embed["description"].split("\n\n")[0]
    for text in (title, summary):
        assert "](http" not in text  # the masked link cannot form
        assert "**bold**" not in text and "`code`" not in text and "||spoiler||" not in text
        seen = rendered(text)
        assert "[click me](http://evil.example)" in seen  # ... but reads literally
        assert "@everyone @here" in seen and "<@123> <@!124> <@&456> <#789>" in seen
        assert "**bold** __under__ ~~strike~~ `code` ||spoiler||" in seen
        assert "back\\slash" in seen and "evil isolated zerowidth" in seen.replace("  ", " ")
    assert embed["author"]["name"].replace("\u200b", "") == "@everyone, <@123>, Normal"
    assert body["allowed_mentions"] == {"parse": []}

    digest = digest_message([hostile] * 25, feed_name="@everyone", more=1, date_label="<@1>")
    check_limits(digest)
    check_inert(digest)
    message_schema.validate(digest)
    assert "](http://evil" not in digest["embeds"][0]["description"]


def test_alert_pings_nobody_and_fits(message_schema: jsonschema.Draft202012Validator) -> None:
    body = alert_message("@everyone feed paused\n\n\n\n" + "x" * 10_000)
    check_limits(body)
    check_inert(body)
    message_schema.validate(body)
    assert body["content"].startswith("@\u200beveryone feed paused\n\nxxx")
    assert alert_message("")["content"].strip()


# ---- content: summary, links, fields, footer ---------------------------------------------------


def test_ai_summary_is_preferred() -> None:
    embed = paper_embed(paper(ai_summary="A new score-based method finds causal graphs."))
    assert embed["description"].startswith(
        "*AI summary:* A new score-based method finds causal graphs.\n\n"
    )


def test_abstract_is_cut_at_a_sentence_boundary() -> None:
    sentences = [f"Sentence number {i} explains one more part of the method." for i in range(40)]
    abstract = "  " + "\n  ".join(sentences) + "\n"
    embed = paper_embed(paper(abstract=abstract, ai_summary=None))
    summary = embed["description"].split("\n\n")[0]
    assert summary.endswith(". …")
    shown = summary[: -len(" …")]
    assert " ".join(abstract.split()).startswith(shown)
    assert 300 <= len(shown) <= 600


def test_one_long_sentence_is_cut_at_a_word() -> None:
    text = words(200)
    cut_text = summary_text(text)
    assert cut_text.endswith("…") and len(cut_text) <= 600
    assert text.startswith(cut_text[:-1]) and text[len(cut_text) - 1] == " "


def test_abbreviations_do_not_end_a_sentence() -> None:
    text = words(60) + " as shown e.g. Fig. 3 of Smith et al. The end " + words(100, "tail")
    cut_text = summary_text(text)
    assert not cut_text.endswith(("e.g. …", "Fig. …", "al. …"))


def test_short_abstract_is_shown_whole() -> None:
    embed = paper_embed(paper(ai_summary=None))
    assert embed["description"].startswith(
        "We study causal discovery. Our method scales to hundreds of variables.\n\n"
    )


def test_links_line_shows_existing_links_in_order() -> None:
    full = paper_embed(paper())["description"].split("\n\n")[-1]
    assert full == (
        "[arXiv](https://arxiv.org/abs/2410.00101) · [PDF](https://arxiv.org/pdf/2410.00101) · "
        "[Hugging Face](https://huggingface.co/papers/2410.00101) · "
        "[Code](https://github.com/example/causal) · [Project](https://example.org/causal)"
    )
    bare = paper(
        sources=frozenset({"arxiv"}), github_repo=None, project_page="github.com/no/scheme"
    )
    line = paper_embed(bare)["description"].split("\n\n")[-1]
    assert (
        line
        == "[arXiv](https://arxiv.org/abs/2410.00101) · [PDF](https://arxiv.org/pdf/2410.00101)"
    )
    parens = paper_embed(paper(github_repo="https://github.com/a/b_(c)"))["description"]
    assert "[Code](https://github.com/a/b_%28c%29)" in parens


def test_embed_layout() -> None:
    embed = paper_embed(paper(), feed_name="causality", source="huggingface")
    assert embed["title"] == "Causal Discovery from Heterogeneous Time Series"
    assert embed["url"] == "https://huggingface.co/papers/2410.00101"
    assert embed["author"] == {"name": "Kun Zhang, Bernhard Schölkopf"}
    assert embed["fields"] == [
        {"name": "Upvotes", "value": "42", "inline": True},
        {"name": "Comments", "value": "3", "inline": True},
        {"name": "Stars", "value": "1,200", "inline": True},
        {"name": "Categories", "value": "**cs.LG** · stat.ML", "inline": True},
    ]
    assert embed["thumbnail"] == {"url": "https://cdn.example.org/thumb.png"}
    assert embed["footer"] == {"text": "causality · via Hugging Face · arXiv:2410.00101v2"}
    assert embed["timestamp"] == "2024-10-07T12:00:00+00:00"
    assert isinstance(embed["color"], int)


def test_unknown_numbers_are_not_shown_but_zero_is() -> None:
    embed = paper_embed(
        paper(
            upvotes=0,
            num_comments=None,
            github_stars=None,
            categories=(),
            thumbnail=None,
            authors=tuple(f"A{i}" for i in range(5)),
            published=None,
            hf_submitted_at=datetime(2024, 10, 8, 9, 0),
        )
    )
    assert embed["fields"] == [{"name": "Upvotes", "value": "0", "inline": True}]
    assert embed["author"]["name"] == "A0, A1, A2 et al."
    assert "thumbnail" not in embed
    assert embed["timestamp"] == "2024-10-08T09:00:00+00:00"  # naive times are UTC


def test_paper_message_is_exactly_the_body() -> None:
    body = paper_message(paper())
    assert set(body) == {"embeds", "allowed_mentions"}
    assert body["allowed_mentions"] == {"parse": []}
    assert len(body["embeds"]) == 1


# ---- what a feed posts: link buttons, arXiv's comment line, the footer -------------------------


def fake_discord_errors(body: Body, kind: str = "create") -> dict[str, Any]:
    """What the loopback Discord's hand-written rules say about a body (empty: accepted)."""
    errors = rules.FormErrors()
    rules.check_message(errors, body, kind=kind)
    return errors.tree


def test_feed_posts_carry_link_buttons(message_schema: jsonschema.Draft202012Validator) -> None:
    body = feed_message(paper(), "causality")
    assert body["components"] == [
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 5, "label": "Abstract", "url": "https://arxiv.org/abs/2410.00101"},
                {"type": 2, "style": 5, "label": "PDF", "url": "https://arxiv.org/pdf/2410.00101"},
                {"type": 2, "style": 5, "label": "Hugging Face", "url": "https://huggingface.co/papers/2410.00101"},
                {"type": 2, "style": 5, "label": "Code", "url": "https://github.com/example/causal"},
                {"type": 2, "style": 5, "label": "Project", "url": "https://example.org/causal"},
            ],
        }
    ]  # fmt: skip
    # The buttons carry every link, so the description does not repeat them.
    assert "](https://" not in body["embeds"][0]["description"]
    message_schema.validate(body)
    assert fake_discord_errors(body) == {}


def test_links_that_cannot_be_buttons_stay_in_the_text(
    message_schema: jsonschema.Draft202012Validator,
) -> None:
    long_repo = "https://github.com/example/" + "r" * 600  # a valid URL, too long for a button
    body = feed_message(paper(github_repo=long_repo, project_page="ftp://x.org"), "f")
    labels = [b["label"] for b in body["components"][0]["components"]]
    assert labels == ["Abstract", "PDF", "Hugging Face"]
    description = body["embeds"][0]["description"]
    assert description.endswith(f"[Code]({long_repo})")
    assert "arxiv.org/abs" not in description and "Project" not in description
    message_schema.validate(body)
    assert fake_discord_errors(body) == {}
    for hostile in (enormous(), paper(title=HOSTILE, github_repo=HOSTILE, project_page=LONG_URL)):
        made = feed_message(hostile, HOSTILE)
        for row in made["components"]:
            assert 1 <= len(row["components"]) <= 5
            for button in row["components"]:
                check_url(button["url"])
                assert len(button["url"]) <= 512 and 1 <= len(button["label"]) <= 80
        check_limits(made)
        check_inert(made)
        message_schema.validate(made)
        assert fake_discord_errors(made) == {}


def test_replies_keep_links_as_text_without_components() -> None:
    body = paper_message(paper())
    assert "components" not in body
    assert "[arXiv](https://arxiv.org/abs/2410.00101)" in body["embeds"][0]["description"]
    assert link_buttons(paper(sources=frozenset({"arxiv"}), github_repo=None, project_page=None)) == [
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 5, "label": "Abstract", "url": "https://arxiv.org/abs/2410.00101"},
                {"type": 2, "style": 5, "label": "PDF", "url": "https://arxiv.org/pdf/2410.00101"},
            ],
        }
    ]  # fmt: skip


def test_forum_starter_messages_carry_the_buttons(
    forum_schema: jsonschema.Draft202012Validator,
) -> None:
    post = paper_forum_post(paper(), feed_name="causality", source="arxiv", buttons=True)
    assert post["message"]["components"] == feed_message(paper(), "causality")["components"]
    forum_schema.validate(post)
    errors = rules.FormErrors()
    rules.check_thread(errors, post, parent_type=15, forum=True)
    assert errors.tree == {}


def test_arxivs_comment_line_is_shown_when_the_source_has_it(
    message_schema: jsonschema.Draft202012Validator,
) -> None:
    with_comment = paper(comments="12 pages, 5 figures", sources=frozenset({"arxiv"}))
    description = feed_message(with_comment, "f")["embeds"][0]["description"]
    summary_part, comment = description.split("\n\n")[:2]
    assert summary_part.startswith("We study causal discovery.")
    assert comment == "*12 pages, 5 figures*"
    assert "12 pages" not in paper_embed(paper())["description"]  # no comment, no line
    assert comment_line(paper(comments="  \n ")) == ""
    long = feed_message(paper(comments="Accepted at NeurIPS. " * 100), "f")
    line = long["embeds"][0]["description"].split("\n\n")[1]
    assert line.startswith("*Accepted at NeurIPS.") and line.endswith("…*") and len(line) <= 302
    hostile = feed_message(paper(comments=HOSTILE), "f")
    check_inert(hostile)
    message_schema.validate(hostile)
    check_limits(feed_message(enormous(comments="c" * 100_000), "f"))


def test_feed_footer_names_the_feed_and_the_source() -> None:
    hf = feed_message(paper(), "causality")["embeds"][0]["footer"]["text"]
    assert hf == "causality · via Hugging Face · arXiv:2410.00101v2"
    arxiv_only = paper(sources=frozenset({"arxiv"}))
    text = feed_message(arxiv_only, "causality")["embeds"][0]["footer"]["text"]
    assert text == "causality · via arXiv · arXiv:2410.00101v2"


# ---- property ----------------------------------------------------------------------------------

_PIECES = ["@everyone", "@here", "<@1>", "<@&2>", "<#3>", "](http://x)", "e.g. ", ". A", "…", "😀"]
_SPICE = st.sampled_from(
    [
        *_PIECES,
        *list("\\*_~`|>#[]()\n \u202e\u2066\u200b\u200d\x00\u0301\ud800"),
    ]
)
_CHARS = st.one_of(st.characters(exclude_categories=()), _SPICE)
_TEXT = st.lists(_CHARS, max_size=120).map("".join)
_BIG = st.builds(lambda s, n: s * n, _TEXT, st.integers(1, 60))
_ANY_TEXT = st.one_of(_TEXT, _BIG)
_URL = st.one_of(st.none(), _TEXT, _TEXT.map(lambda s: "https://example.org/" + s))
_NUM = st.one_of(st.none(), st.integers(-(10**15), 10**15))
_WHEN = st.one_of(st.none(), st.datetimes(timezones=st.sampled_from([None, UTC])))

papers_strategy = st.builds(
    Paper,
    id=_TEXT,
    title=_ANY_TEXT,
    abstract=_ANY_TEXT,
    version=st.one_of(st.none(), st.integers(1, 99)),
    authors=st.lists(_ANY_TEXT, max_size=8).map(tuple),
    categories=st.lists(_TEXT, max_size=8).map(tuple),
    published=_WHEN,
    hf_submitted_at=_WHEN,
    upvotes=_NUM,
    num_comments=_NUM,
    github_repo=_URL,
    github_stars=_NUM,
    project_page=_URL,
    ai_summary=st.one_of(st.none(), _ANY_TEXT),
    thumbnail=_URL,
    sources=st.frozensets(st.sampled_from(["huggingface", "arxiv", "import"])),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    p=papers_strategy,
    feed=_ANY_TEXT,
    source=st.one_of(st.none(), _TEXT),
    copies=st.integers(1, 25),
    more=st.integers(0, 10**9),
)
def test_any_text_gives_valid_inert_bodies(
    p: Paper, feed: str, source: str | None, copies: int, more: int
) -> None:
    message = validator("MessageCreateRequest")
    forum = validator("CreateForumThreadRequest")
    for body in (
        paper_message(p, feed_name=feed, source=source),
        feed_message(p, feed),
        digest_message([p] * copies, feed_name=feed, more=more, date_label=feed),
        {"embeds": [search_results_embed([p] * copies, query=feed, page=1, pages=1, total=copies)], "allowed_mentions": {"parse": []}},
        alert_message(feed),
    ):  # fmt: skip
        check_limits(body)
        check_inert(body)
        message.validate(body)
        assert fake_discord_errors(body) == {}
    post = paper_forum_post(p, feed_name=feed, source=source, buttons=True)
    forum.validate(post)
    assert 1 <= len(post["name"]) <= THREAD and post["name"].strip()


# ---- the command line ----------------------------------------------------------------------------


@pytest.fixture
def env(cli_env: Path) -> Path:
    """A config pointing at a fresh database with the fixture corpus imported."""
    return cli_env


def test_show_payload_prints_the_exact_body(
    env: Path, capsys: pytest.CaptureFixture[str], message_schema: jsonschema.Draft202012Validator
) -> None:
    capsys.readouterr()
    assert main(["show", "arXiv:2410.00101v1", "--payload"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert set(body) == {"embeds", "allowed_mentions", "components"}
    assert body["allowed_mentions"] == {"parse": []}
    embed = body["embeds"][0]
    assert (
        embed["title"] == "Causal Discovery from Heterogeneous Time Series with Latent Confounders"
    )
    assert embed["url"] == "https://arxiv.org/abs/2410.00101"
    assert embed["author"]["name"] == "Kun Zhang, Bernhard Scholkopf"
    check_limits(body)
    message_schema.validate(body)

    assert main(["show", "2410.00101", "--payload", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == body


def test_show_payload_is_exactly_what_a_feed_posts(
    env: Path, capsys: pytest.CaptureFixture[str], message_schema: jsonschema.Draft202012Validator
) -> None:
    import asyncio

    from bot.discord.runner import paper_body
    from bot.store import open_store

    async def stored() -> Paper:
        async with open_store(str(env / "papers.sqlite3")) as store:
            found = await store.papers.get("2410.00101")
        assert found is not None
        return found

    posted = paper_body(asyncio.run(stored()), "causality")
    capsys.readouterr()
    assert main(["show", "2410.00101", "--payload", "--feed", "causality"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == posted
    footer = printed["embeds"][0]["footer"]["text"]
    assert footer == "causality · via arXiv · arXiv:2410.00101v1"
    assert [b["label"] for b in printed["components"][0]["components"]] == ["Abstract", "PDF"]
    assert "*12 pages*" in printed["embeds"][0]["description"]  # the fixture's comment line
    message_schema.validate(printed)
    assert fake_discord_errors(printed) == {}

    assert main(["show", "2410.00101", "--payload"]) == 0
    default = json.loads(capsys.readouterr().out)["embeds"][0]["footer"]["text"]
    assert default == "<feed> · via arXiv · arXiv:2410.00101v1"


def test_show_payload_of_an_unknown_paper_fails_in_one_line(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["show", "2499.99999", "--payload"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "not in the local database" in captured.err
