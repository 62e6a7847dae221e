"""Issue 6: /search, /paper and /trending with the real discord.py client against the loopback Discord."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.discord.cogs.reader import RecentQueries, feed_name_for, trending_body
from bot.discord.limits import EMBED_TOTAL_MAX, embed_length
from bot.errors import QueryError
from bot.models import Paper, SearchPage
from bot.query.compile import CompiledQuery, compile_query
from bot.services.library import Library
from bot.store import open_store
from bot.store.interfaces import Database
from tests.discord.conftest import Harness, Upstream, make_paper, reader_cog
from tests.factories import NOW
from tests.fakes.discord.records import InteractionRecord, Message
from tests.sources.samples import api_feed, hf_item

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "hf_style_corpus.jsonl"
CALLBACK_MESSAGE, CALLBACK_DEFERRED, CALLBACK_UPDATE = 4, 5, 7
_ENTRY_TITLE = re.compile(r"\*\*\d+\.\*\* \[(.+?)\]\(")


async def run_search(store: Database, compiled: CompiledQuery, **options: Any) -> SearchPage:
    """One page of /search results, as the library service gives the reader commands."""
    return await Library(store, lambda: NOW).search(compiled, **options)


def corpus() -> list[Paper]:
    """~25 papers written in the style of a Hugging Face Papers page (see the fixture)."""
    papers = []
    for line in CORPUS.read_text().splitlines():
        d = json.loads(line)
        papers.append(
            Paper(
                id=d["id"],
                title=d["title"],
                abstract=d["abstract"],
                version=1,
                authors=tuple(d["authors"]),
                categories=tuple(d["categories"]),
                published=datetime.fromisoformat(d["published"]),
                hf_submitted_at=datetime.fromisoformat(d["hf_submitted_at"]),
                upvotes=d["upvotes"],
                sources=frozenset({"huggingface", "arxiv"}),
            )
        )
    return papers


TITLES = {p.id: p.title for p in corpus()}


def titles_in(embed: dict[str, Any]) -> list[str]:
    """The titles listed in a results embed, in order."""
    return _ENTRY_TITLE.findall(embed.get("description", ""))


def ids_in(embed: dict[str, Any]) -> list[str]:
    by_title = {t: i for i, t in TITLES.items()}
    return [by_title.get(t, t) for t in titles_in(embed)]


def custom_ids(message: Message) -> dict[str, dict[str, Any]]:
    """Every component of a message by custom_id."""
    found: dict[str, dict[str, Any]] = {}
    for row in message.components:
        for comp in row.get("components", []):
            found[comp["custom_id"]] = comp
    return found


def answered_in_time(record: InteractionRecord, kind: int) -> None:
    """The first callback came within Discord's 3 s, was of this type, and was accepted."""
    first = record.first_callback
    assert first is not None and first.type == kind, record.callbacks
    assert first.status in (200, 204) and first.code is None
    assert record.latency is not None and record.latency < 3


async def with_corpus(h: Harness) -> None:
    await h.store.papers.upsert(corpus())


# -- ranking (the store query /search runs, on a fixed corpus) ----------------------------------


@pytest.mark.parametrize(
    ("query", "top", "absent"),
    [
        # all three papers with both words in the title outrank those with one in the abstract
        ("diffusion video", {"2611.10001", "2611.10002", "2611.10023"}, set()),
        # the exact phrase ("vision-language"), but not the survey, nor words apart (10008)
        ('"vision language" -survey', {"2611.10006", "2611.10007"}, {"2611.10005", "2611.10008"}),
        # the author's papers, not those of "Mei Chen, Kenji Tanaka"
        ('author:"Mei Tanaka"', {"2611.10001", "2611.10006"}, {"2611.10016"}),
        # reasoning in cs.CL titles first; the cs.LG reasoning paper is filtered out
        ("cat:cs.CL reasoning", {"2611.10009", "2611.10010"}, {"2611.10011"}),
        ("transform*", {"2611.10002", "2611.10011", "2611.10018"}, set()),
    ],
)
async def test_search_ranks_a_fixed_corpus(query: str, top: set[str], absent: set[str]) -> None:
    async with open_store(":memory:", clock=lambda: NOW) as store:
        await store.papers.upsert(corpus())
        page = await run_search(store, compile_query(query), per_page=10)
    ids = [h.paper.id for h in page.hits]
    assert set(ids[: len(top)]) == top, [TITLES[i] for i in ids]
    assert not absent & set(ids)


async def test_search_ranking_by_recency_and_upvotes() -> None:
    async with open_store(":memory:", clock=lambda: NOW) as store:
        await store.papers.upsert(corpus())
        compiled = compile_query("diffusion video")
        recent = await run_search(store, compiled, sort="recent")
        voted = await run_search(store, compiled, sort="upvotes")
        since = await run_search(store, compiled, since=datetime(2026, 11, 20, tzinfo=NOW.tzinfo))
    assert [h.paper.id for h in recent.hits][:2] == ["2611.10023", "2611.10001"]
    assert [h.paper.id for h in voted.hits][:3] == ["2611.10001", "2611.10002", "2611.10004"]
    assert {h.paper.id for h in since.hits} == {"2611.10001", "2611.10023"}


# -- /search --------------------------------------------------------------------------------------


async def test_search_answers_at_once_with_a_compact_private_list(harness: Harness) -> None:
    h = harness
    await with_corpus(h)
    record = await h.fake.invoke("search", {"query": "diffusion video"})
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_MESSAGE)  # no remote step: answered directly
    assert reply.ephemeral
    (embed,) = reply.embeds
    assert embed["title"] == "Search: diffusion video"
    assert set(ids_in(embed)[:3]) == {"2611.10001", "2611.10002", "2611.10023"}
    assert "\nMei Tanaka, Jonas Berg" in embed["description"]
    assert embed["footer"]["text"] == "Page 1 of 1 · 5 results"
    components = custom_ids(reply)
    # one page: no page buttons; alice (no Manage Channels) is offered her DMs, not a feed
    assert set(components) == {"search:open", "search:follow-dm"}
    assert [o["value"] for o in components["search:open"]["options"]] == ids_in(embed)
    assert reply.request["allowed_mentions"] == {"parse": []}


async def test_search_results_show_year_and_upvotes(harness: Harness) -> None:
    h = harness
    await with_corpus(h)
    record = await h.fake.invoke("search", {"query": "temporal anchors"})
    reply = await h.fake.wait_for_original(record)
    assert "Mei Tanaka, Jonas Berg, Ines Duarte · 2026 · ▲ 84" in reply.embeds[0]["description"]


async def test_pages_turn_for_the_searcher_only(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await with_corpus(h)
    record = await h.fake.invoke("search", {"query": "cat:cs", "sort": "upvotes", "public": True})
    reply = await h.fake.wait_for_original(record)
    assert not reply.ephemeral
    assert reply.embeds[0]["footer"]["text"] == "Page 1 of 5 · 25 results"
    assert custom_ids(reply)["search:previous"].get("disabled") is True
    first_page = ids_in(reply.embeds[0])

    refused = await h.fake.click(reply, "search:next", member=world.mod)
    refusal = await h.fake.wait_for_original(refused)
    answered_in_time(refused, CALLBACK_MESSAGE)
    assert refusal.ephemeral and "Only the person who searched" in refusal.content
    assert ids_in(h.fake.message(reply.id).embeds[0]) == first_page  # unchanged

    turned = await h.fake.click(reply, "search:next", member=world.alice)
    await h.fake.wait_for_callback(turned)
    answered_in_time(turned, CALLBACK_UPDATE)
    page2 = h.fake.message(reply.id)
    assert page2.embeds[0]["footer"]["text"] == "Page 2 of 5 · 25 results"
    assert page2.embeds[0]["description"].startswith("**6.** ")
    assert not set(ids_in(page2.embeds[0])) & set(first_page)
    assert custom_ids(page2)["search:open"]["options"][0]["label"].startswith("6. ")

    back = await h.fake.click(page2, "search:previous", member=world.alice)
    await h.fake.wait_for_callback(back)
    assert ids_in(h.fake.message(reply.id).embeds[0]) == first_page
    # each click answered once: by the view, never by the expired-results fallback as well
    assert [len(r.callbacks) for r in (refused, turned, back)] == [1, 1, 1]


async def test_buttons_stop_after_the_timeout(harness: Harness) -> None:
    h = harness
    await with_corpus(h)
    reader_cog(h).view_timeout = 0.2
    record = await h.fake.invoke("search", {"query": "cat:cs"})
    reply = await h.fake.wait_for_original(record)
    assert not custom_ids(reply)["search:next"].get("disabled")

    def all_disabled() -> bool:
        comps = custom_ids(h.fake.message(reply.id))
        return bool(comps) and all(c.get("disabled") for c in comps.values())

    await h.fake.wait_until(all_disabled, what="the search components to be disabled")


async def test_a_click_on_results_nobody_holds_any_more_is_answered(harness: Harness) -> None:
    h = harness
    await with_corpus(h)
    record = await h.fake.invoke("search", {"query": "cat:cs"})
    reply = await h.fake.wait_for_original(record)
    for view in list(reader_cog(h)._views):  # as after a restart: no view holds the message
        view.stop()
    click = await h.fake.click(reply, "search:next")
    refusal = await h.fake.wait_for_original(click)
    answered_in_time(click, CALLBACK_MESSAGE)
    assert refusal.ephemeral and "expired" in refusal.content
    assert len(click.callbacks) == 1


async def test_the_select_opens_one_paper_in_full_privately(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await with_corpus(h)
    record = await h.fake.invoke("search", {"query": "diffusion video", "public": True})
    reply = await h.fake.wait_for_original(record)
    picked = await h.fake.select(reply, "search:open", ["2611.10001"], member=world.mod)
    shown = await h.fake.wait_for_original(picked)
    answered_in_time(picked, CALLBACK_MESSAGE)
    assert shown.ephemeral
    (embed,) = shown.embeds
    assert embed["title"] == "Temporal Anchors for Long Video Diffusion"
    assert embed["url"] == "https://huggingface.co/papers/2611.10001"
    assert "temporal anchors" in embed["description"]
    assert {f["name"] for f in embed["fields"]} >= {"Upvotes", "Categories"}
    assert "arXiv:2611.10001v1" in embed["footer"]["text"]


async def test_follow_creates_a_feed_for_a_manager(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await with_corpus(h)
    query = '"vision language" -survey'
    names = []
    # the same search followed in a thread too gets a feed name of its own
    for channel in (world.papers, world.thread):
        record = await h.fake.invoke("search", {"query": query}, member=world.mod, channel=channel)
        reply = await h.fake.wait_for_original(record)
        click = await h.fake.click(reply, "search:follow", member=world.mod)
        done = await h.fake.wait_for_original(click)
        answered_in_time(click, CALLBACK_DEFERRED)
        assert done.ephemeral and "Following" in done.content
        names.append(re.search(r"as feed \*\*(.+?)\*\*", done.content).group(1))  # type: ignore[union-attr]
    assert names == ["vision-language-survey", "vision-language-survey-2"]
    feeds = await h.store.feeds.list(guild_id=world.guild.id)
    assert [(f.name, f.spec.query, f.channel_id) for f in feeds] == [
        (names[0], query, world.papers.id),
        (names[1], query, world.thread.id),
    ]
    # following it again where it is already followed says so instead of duplicating it
    again = await h.fake.click(reply, "search:follow", member=world.mod)
    said = await h.fake.wait_for_original(again)
    assert "already follows this search" in said.content
    assert len(await h.store.feeds.list()) == 2


async def test_follow_is_refused_without_manage_channels(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await with_corpus(h)
    # a public search offers the channel feed to whoever manages channels; alice does not
    record = await h.fake.invoke(
        "search", {"query": "diffusion video", "public": True}, member=world.alice
    )
    reply = await h.fake.wait_for_original(record)
    click = await h.fake.click(reply, "search:follow", member=world.alice)
    refusal = await h.fake.wait_for_original(click)
    answered_in_time(click, CALLBACK_MESSAGE)
    assert refusal.ephemeral and "Manage Channels" in refusal.content
    assert await h.store.feeds.list() == []


async def test_follow_is_refused_where_the_bot_cannot_post(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await with_corpus(h)
    record = await h.fake.invoke(
        "search", {"query": "diffusion video"}, member=world.mod, channel=world.readonly
    )
    reply = await h.fake.wait_for_original(record)
    click = await h.fake.click(reply, "search:follow", member=world.mod)
    refusal = await h.fake.wait_for_original(click)
    assert refusal.ephemeral and "Send Messages" in refusal.content
    assert await h.store.feeds.list() == []


async def test_search_in_a_direct_message_offers_no_channel_feed(harness: Harness) -> None:
    h = harness
    await with_corpus(h)
    record = await h.fake.invoke("search", {"query": "cat:cs"}, dm=True)
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_MESSAGE)
    assert set(custom_ids(reply)) == {
        "search:open",
        "search:previous",
        "search:next",
        "search:follow-dm",
    }


@pytest.mark.parametrize("query", ["-survey", "a OR -b", "x" * 301, "()"])
async def test_a_refused_query_gets_the_parsers_explanation(harness: Harness, query: str) -> None:
    h = harness
    with pytest.raises(QueryError) as refused:
        compile_query(query)
    if len(query) > 300:  # Discord's client would not even send it (max_length)
        return
    record = await h.fake.invoke("search", {"query": query})
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_MESSAGE)
    assert reply.ephemeral and reply.content == f"That query can't be used: {refused.value}"


async def test_since_must_be_a_duration(harness: Harness) -> None:
    h = harness
    record = await h.fake.invoke("search", {"query": "diffusion", "since": "soon"})
    reply = await h.fake.wait_for_original(record)
    assert reply.ephemeral and '"7d"' in reply.content


async def test_few_local_results_also_ask_hugging_face(
    harness: Harness, upstream: Upstream
) -> None:
    h = harness
    await with_corpus(h)
    upstream.answer(
        "/api/papers/search",
        200,
        [
            hf_item("2611.10019", "Speculative Decoding with Tree-Structured Drafts"),
            hf_item(
                "2611.20001",
                "Speculative Decoding with Diffusion Drafters",
                summary="A discrete diffusion drafter makes speculative decoding cheaper.",
                upvotes=31,
            ),
            hf_item("2611.20002", "Something Else Entirely"),
        ],
    )
    record = await h.fake.invoke("search", {"query": "speculative decoding"})
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_DEFERRED)  # deferred before asking upstream
    assert reply.ephemeral
    (embed,) = reply.embeds
    listed = titles_in(embed)
    assert set(listed) == {
        "Speculative Decoding with Tree-Structured Drafts",
        "Speculative Decoding with Diffusion Drafters",
    }
    number = listed.index("Speculative Decoding with Diffusion Drafters") + 1
    (marker,) = embed["fields"]
    assert marker["name"] == "From Hugging Face" and marker["value"].startswith(f"Result {number}:")
    options = custom_ids(reply)["search:open"]["options"]
    assert "from Hugging Face" in options[number - 1]["description"]
    stored = await h.store.papers.get("2611.20001")
    assert stored is not None and stored.sources == frozenset({"huggingface"})
    assert upstream.seen[0].url.params["q"] == "speculative decoding"


@pytest.mark.parametrize(
    ("trouble", "said"),
    [("500", "is not answering right now"), ("hang", "did not answer in time")],
)
async def test_a_failing_hugging_face_search_still_gets_an_answer(
    harness: Harness, upstream: Upstream, trouble: str, said: str
) -> None:
    h = harness
    await with_corpus(h)
    if trouble == "hang":
        upstream.hang("/api/papers/search")
    else:
        upstream.answer("/api/papers/search", 500, {"error": "Internal Error"})
    record = await h.fake.invoke("search", {"query": "speculative decoding"})
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_DEFERRED)
    assert said in reply.content and "local results only" in reply.content
    assert titles_in(reply.embeds[0]) == ["Speculative Decoding with Tree-Structured Drafts"]


async def test_autocomplete_suggests_recent_queries(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await with_corpus(h)
    for query, public in (('"vision language" -survey', True), ("diffusion video", False)):
        done = await h.fake.invoke("search", {"query": query, "public": public})
        await h.fake.wait_for_original(done)
    mine = await h.fake.autocomplete("search", {"query": ""}, focused="query")
    await h.fake.wait_for_callback(mine)
    answered_in_time(mine, 8)
    assert [c["value"] for c in mine.autocomplete_choices or []] == [
        "diffusion video",
        '"vision language" -survey',
    ]
    # another member sees the public search only; typing narrows the list
    theirs = await h.fake.autocomplete("search", {"query": ""}, focused="query", member=world.mod)
    await h.fake.wait_for_callback(theirs)
    assert [c["value"] for c in theirs.autocomplete_choices or []] == ['"vision language" -survey']
    typed = await h.fake.autocomplete("search", {"query": "VIDEO"}, focused="query")
    await h.fake.wait_for_callback(typed)
    assert [c["value"] for c in typed.autocomplete_choices or []] == ["diffusion video"]


async def test_autocomplete_never_offers_more_than_25(harness: Harness) -> None:
    h = harness
    recent = reader_cog(h).recent
    world = h.fake.world
    assert world is not None
    for n in range(40):
        recent.remember(world.guild.id, world.alice.user.id, f"topic {n}", shared=True)
    recent.remember(
        world.guild.id, world.alice.user.id, "y" * 150, shared=True
    )  # too long to offer
    record = await h.fake.autocomplete("search", {"query": "topic"}, focused="query")
    await h.fake.wait_for_callback(record)
    answered_in_time(record, 8)
    choices = record.autocomplete_choices or []
    assert len(choices) == 25 and choices[0]["value"] == "topic 39"
    assert all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)


def test_recent_queries_are_bounded_and_deduplicated() -> None:
    recent = RecentQueries(per_guild=3, guilds=2)
    for q in ("a", "b", "A", "c", "d"):
        recent.remember(1, 7, q, shared=False)
    assert recent.suggest(1, 7, "") == ["d", "c", "A"]
    assert recent.suggest(1, 8, "") == []  # private searches stay with their author
    recent.remember(2, 7, "x", shared=True)
    recent.remember(3, 7, "y", shared=True)  # the oldest guild is forgotten
    assert recent.suggest(1, 7, "") == []
    assert recent.suggest(None, 7, "") == []


def test_feed_names_come_from_the_query_and_are_unique() -> None:
    assert feed_name_for('"vision language" -survey', []) == "vision-language-survey"
    assert feed_name_for('author:"Mei Tanaka" cat:cs.CL', []) == "author-mei-tanaka-cat-cs-cl"
    assert feed_name_for("causal", ["Causal", "causal-2"]) == "causal-3"
    assert feed_name_for("()", []) == "search"
    assert len(feed_name_for("word " * 100, [])) <= 64


# -- /paper ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    ["2611.10006", "arXiv:2611.10006v2", "https://huggingface.co/papers/2611.10006",
     "https://arxiv.org/abs/2611.10006v1"],
)  # fmt: skip
async def test_paper_from_the_store_in_any_id_form(harness: Harness, given: str) -> None:
    h = harness
    await with_corpus(h)
    record = await h.fake.invoke("paper", {"id": given})
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_MESSAGE)
    assert reply.ephemeral
    (embed,) = reply.embeds
    assert embed["title"] == "Vision-Language Models Can Count When Asked the Right Way"
    assert embed["author"]["name"] == "Amara Okafor, Mei Tanaka"


async def test_paper_can_be_shown_to_the_channel(harness: Harness) -> None:
    h = harness
    await with_corpus(h)
    record = await h.fake.invoke("paper", {"id": "2611.10001", "public": True})
    reply = await h.fake.wait_for_original(record)
    assert not reply.ephemeral and not reply.pings.any


async def test_paper_fetched_from_hugging_face_is_stored(
    harness: Harness, upstream: Upstream
) -> None:
    h = harness
    detail = hf_item("2611.20005", "Latent Planning for Web Agents", upvotes=12)["paper"]
    upstream.answer("/api/papers/2611.20005", 200, detail)
    record = await h.fake.invoke("paper", {"id": "https://huggingface.co/papers/2611.20005"})
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_DEFERRED)
    assert reply.ephemeral and reply.embeds[0]["title"] == "Latent Planning for Web Agents"
    stored = await h.store.papers.get("2611.20005")
    assert stored is not None and stored.upvotes == 12
    assert upstream.asked("/api/query") == 0  # Hugging Face had it: arXiv is not asked


async def test_paper_falls_back_to_arxiv_when_hugging_face_fails(
    harness: Harness, upstream: Upstream
) -> None:
    h = harness
    upstream.answer("/api/papers/2611.30001", 500, {"error": "Internal Error"})
    upstream.answer("/api/query", 200, api_feed(["2611.30001"]))
    record = await h.fake.invoke("paper", {"id": "2611.30001"})
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_DEFERRED)
    assert reply.embeds[0]["title"] == "Generated Paper 2611.30001"
    stored = await h.store.papers.get("2611.30001")
    assert stored is not None and stored.sources == frozenset({"arxiv"})


async def test_paper_unknown_everywhere(harness: Harness, upstream: Upstream) -> None:
    h = harness
    upstream.answer("/api/query", 200, api_feed([]))  # Hugging Face: 404 by default
    record = await h.fake.invoke("paper", {"id": "2611.99999"})
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_DEFERRED)
    assert reply.ephemeral and reply.embeds == []
    assert (
        reply.content == "There is no paper **2611.99999** on Hugging Face or arXiv: check the id."
    )


async def test_paper_lookup_that_fails_everywhere_still_answers(
    harness: Harness, upstream: Upstream
) -> None:
    h = harness
    upstream.hang("/api/papers/2611.40001")
    upstream.answer("/api/query", 503, "Service Unavailable")
    record = await h.fake.invoke("paper", {"id": "2611.40001"})
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_DEFERRED)
    assert "couldn't find **2611.40001**" in reply.content
    assert "Hugging Face did not answer in time" in reply.content
    assert "arXiv is not answering right now" in reply.content


async def test_paper_with_garbage_or_no_sources(harness: Harness) -> None:
    h = harness
    garbage = await h.fake.invoke("paper", {"id": "'; DROP TABLE papers; --"})
    reply = await h.fake.wait_for_original(garbage)
    answered_in_time(garbage, CALLBACK_MESSAGE)
    assert reply.ephemeral and reply.content.startswith("That is not an arXiv id or paper URL")
    unknown = await h.fake.invoke("paper", {"id": "2611.99999"})  # no source enabled here
    reply = await h.fake.wait_for_original(unknown)
    answered_in_time(unknown, CALLBACK_MESSAGE)
    assert "no source is enabled" in reply.content


async def test_reader_commands_have_a_per_user_cooldown(harness: Harness) -> None:
    h = harness
    world = h.fake.world
    assert world is not None
    await with_corpus(h)
    for _ in range(5):
        ok = await h.fake.invoke("paper", {"id": "2611.10001"})
        assert (await h.fake.wait_for_original(ok)).embeds
    slow = await h.fake.invoke("paper", {"id": "2611.10001"})
    reply = await h.fake.wait_for_original(slow)
    answered_in_time(slow, CALLBACK_MESSAGE)
    assert reply.ephemeral and reply.content.startswith("Slow down")
    other = await h.fake.invoke("paper", {"id": "2611.10001"}, member=world.mod)
    assert (await h.fake.wait_for_original(other)).embeds  # per user, not per channel


# -- /trending ------------------------------------------------------------------------------------


async def test_trending_lists_the_most_upvoted_of_the_period(harness: Harness) -> None:
    h = harness
    await with_corpus(h)
    week = await h.fake.invoke("trending", {"period": "week"})
    reply = await h.fake.wait_for_original(week)
    answered_in_time(week, CALLBACK_MESSAGE)  # no Hugging Face to refresh from: direct
    (embed,) = reply.embeds
    assert embed["title"] == "Trending on Hugging Face · last 7 days"
    assert ids_in(embed) == ["2611.10001", "2611.10010", "2611.10020", "2611.10002",
                             "2611.10014", "2611.10009", "2611.10022", "2611.10006",
                             "2611.10005", "2611.10019"]  # fmt: skip
    assert embed["footer"]["text"] == "Top 10 of 17 by Hugging Face upvotes"
    today = await h.fake.invoke("trending", {"period": "today"})
    reply = await h.fake.wait_for_original(today)
    assert ids_in(reply.embeds[0]) == ["2611.10022", "2611.10024"]


async def test_trending_filtered_by_a_query(harness: Harness) -> None:
    h = harness
    await with_corpus(h)
    record = await h.fake.invoke("trending", {"period": "month", "query": "cat:cs.CL reasoning"})
    reply = await h.fake.wait_for_original(record)
    (embed,) = reply.embeds
    assert "cat:cs.CL reasoning" in embed["title"]
    assert ids_in(embed) == ["2611.10010", "2611.10009", "2611.10012"]
    bad = await h.fake.invoke("trending", {"query": "-survey"})
    reply = await h.fake.wait_for_original(bad)
    assert reply.content.startswith("That query can't be used: ")
    none = await h.fake.invoke("trending", {"period": "today", "query": "protein"})
    reply = await h.fake.wait_for_original(none)
    assert "No Hugging Face paper matches this query" in reply.embeds[0]["description"]


async def test_trending_refreshes_from_hugging_face_once_in_a_while(
    harness: Harness, upstream: Upstream
) -> None:
    h = harness
    await with_corpus(h)
    fresh = hf_item(
        "2611.20009", "A Paper Everyone Upvoted", upvotes=900,
        publishedAt="2026-11-24T10:00:00.000Z", submittedOnDailyAt="2026-11-25T06:00:00.000Z",
    )  # fmt: skip
    upstream.answer("/api/daily_papers", 200, [fresh])
    first = await h.fake.invoke("trending", {"period": "week"})
    reply = await h.fake.wait_for_original(first)
    answered_in_time(first, CALLBACK_DEFERRED)
    assert ids_in(reply.embeds[0])[0] == "A Paper Everyone Upvoted"
    assert upstream.seen[0].url.params["week"] == "2026-W48"
    again = await h.fake.invoke("trending", {"period": "week"})
    await h.fake.wait_for_original(again)
    answered_in_time(again, CALLBACK_MESSAGE)  # refreshed a moment ago: straight from the store
    assert upstream.asked("/api/daily_papers") == 1


async def test_trending_when_hugging_face_fails(harness: Harness, upstream: Upstream) -> None:
    h = harness
    await with_corpus(h)
    upstream.hang("/api/daily_papers")
    record = await h.fake.invoke("trending", {"period": "week"})
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_DEFERRED)
    assert "did not answer in time" in reply.content
    assert ids_in(reply.embeds[0])[0] == "2611.10001"


def test_trending_body_respects_discords_limits() -> None:
    huge = [
        make_paper(i, "T" * 400 + " <@&1> @everyone", authors=tuple("A" * 300 for _ in range(9)))
        for i in range(10)
    ]
    body = trending_body(huge, period="week", query="x" * 300, matched=10_000)
    (embed,) = body["embeds"]
    assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
    assert embed_length(embed) <= EMBED_TOTAL_MAX
    assert "@everyone" not in embed["description"] and body["allowed_mentions"] == {"parse": []}
